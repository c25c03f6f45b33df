"""Every parser is linear in its input: doubling a hostile shape at most doubles time and memory.

Each case builds a feed of size ``n`` in one adversarial shape (many columns, a long field, deep
nesting, many distinct element names, many attributes, long lines), grows ``n`` until parsing
takes long enough to time, then parses the ``2n`` feed too. CPU time (best of three) and the
``tracemalloc`` peak may at most about double: a quadratic parser would quadruple them. A case
whose work stays flat (the XML name bound) checks a fixed ceiling instead.
"""

from __future__ import annotations

import collections
import time
import tracemalloc
from collections.abc import Callable
from dataclasses import dataclass, field, replace

import pytest

from commerce_kit.feeds import FeedLimitError, FeedLimits, parse_feed
from commerce_kit.feeds._merchant import GOOGLE_NS
from tests.doubling import assert_linear_memory, assert_linear_time

# Generous limits, so that the size of the hostile part is what grows, not an error.
WIDE = FeedLimits(
    max_bytes=1 << 30,
    max_field_chars=1 << 28,
    max_record_chars=1 << 28,
    max_depth=100_000,
    max_names=1 << 24,
)
#: The parse of size n must take this long (CPU seconds) before it is compared with 2n.
FLOOR = 0.02
#: The most n may grow to, so a case can never run away.
MAX_N = 1 << 22


@dataclass(frozen=True)
class Shape:
    """One hostile feed shape: ``make(n)`` returns the feed's bytes."""

    id: str
    format: str
    make: Callable[[int], bytes]
    start: int
    #: The limits to read the feed of size n within.
    limits: Callable[[int], FeedLimits] = field(default=lambda _n: WIDE)
    #: The largest n to try (nesting stays under the interpreter's recursion limit).
    max_n: int = MAX_N


def _deep(n: int) -> FeedLimits:
    """Depth just allowed, so that the value walk enforcing ``max_depth`` runs on every record."""
    return replace(WIDE, max_depth=n + 1)


#: Records per feed in the nesting shapes: depth is what doubles.
COPIES = 400
#: Records per feed in the wide shapes: keys (or attributes) per record is what doubles. One
#: object of a million keys is slower per key in the standard library's decoders themselves (a
#: dict outgrows the CPU caches); ``max_record_chars`` keeps real records far smaller.
WIDE_COPIES = 40
#: Rows under a header of n columns: few, so that reading the header weighs in the time.
WIDE_ROWS = 8


def _columns(n: int, sep: str = ",") -> bytes:
    header = sep.join(f"column{i}" for i in range(n))
    row = sep.join(str(i % 10) for i in range(n)) + "\n"
    return f"{header}\n{row * WIDE_ROWS}".encode()


def _repeated_columns(n: int) -> bytes:
    row = "A," + ",".join(["t"] * n) + "\n"
    return ("sku," + ",".join(["tag"] * n) + "\n" + row * WIDE_ROWS).encode()


def _long_cell(n: int, sep: str = ",") -> bytes:
    return f"sku{sep}description\nA{sep}{'x' * n}\n".encode()


def _quoted_lines(n: int) -> bytes:
    return ('sku,description\nA,"' + "line\n" * n + '"\n').encode()


def _json_deep(n: int) -> bytes:
    record = '{"a": ' + "[" * n + "1" + "]" * n + "}"
    return ("[" + ",\n".join([record] * COPIES) + "]").encode()


def _json_deep_objects(n: int) -> bytes:
    record = '{"a": ' * (n + 1) + "1" + "}" * (n + 1)
    return ("[" + ",\n".join([record] * COPIES) + "]").encode()


def _json_wide(n: int) -> bytes:
    record = "{" + ", ".join(f'"k{i}": {i}' for i in range(n)) + "}"
    return ("[" + ",\n".join([record] * WIDE_COPIES) + "]").encode()


def _json_long_string(n: int) -> bytes:
    return ('[{"a": "' + "x" * n + '"}]').encode()


def _json_cr_lines(n: int) -> bytes:
    return ("[" + ",\r".join(f'{{"sku": "S{i}"}}' for i in range(n)) + "]").encode()


def _ndjson_long_line(n: int) -> bytes:
    return ("{" + ", ".join(f'"k{i}": "v"' for i in range(n)) + "}\n").encode() * WIDE_COPIES


def _ndjson_deep(n: int) -> bytes:
    return ('{"a": ' + "[" * n + "]" * n + "}\n").encode() * COPIES


def _xml_names(n: int) -> bytes:
    items = "".join(f"<p{i}><t{i}>x</t{i}></p{i}>\n" for i in range(n))
    return f"<products>\n{items}</products>".encode()


def _xml_attributes(n: int) -> bytes:
    attributes = " ".join(f'a{i}="{i}"' for i in range(n))
    return f"<products>{f'<product {attributes}/>' * WIDE_COPIES}</products>".encode()


def _xml_attribute_value(n: int) -> bytes:
    return f'<products><product><price currency="{"U" * n}">1</price></product></products>'.encode()


def _xml_deep(n: int) -> bytes:
    record = "<product>" + "<a>" * n + "</a>" * n + "</product>\n"
    return ("<products>" + record * COPIES + "</products>").encode()


def _xml_long_text(n: int) -> bytes:
    return f"<products><product><d>{'x' * n}</d></product></products>".encode()


def _xml_long_line(n: int) -> bytes:
    items = "".join(f"<product><sku>S{i}</sku></product>" for i in range(n))
    return f"<products>{items}</products>".encode()


def _merchant_tsv_columns(n: int) -> bytes:
    extra = "\t".join(f"custom_label_{i}" for i in range(n))
    values = "\t".join("v" for _ in range(n))
    row = f"A\tMug\t5.00 USD\thttps://x\t{values}\n"
    return f"id\ttitle\tprice\tlink\t{extra}\n{row * WIDE_ROWS}".encode()


def _merchant_rss(n: int) -> bytes:
    items = "".join(
        f"<item><g:id>S{i}</g:id><g:price>{i}.00 USD</g:price><title>Mug</title></item>"
        for i in range(n)
    )
    return f'<rss xmlns:g="{GOOGLE_NS}"><channel>{items}</channel></rss>'.encode()


def _merchant_long_description(n: int) -> bytes:
    item = f"<item><g:id>A</g:id><g:description>{'d' * n}</g:description></item>"
    return f'<rss xmlns:g="{GOOGLE_NS}"><channel>{item}</channel></rss>'.encode()


SHAPES = [
    Shape("csv-many-columns", "csv", _columns, 256, max_n=16_384),
    Shape("csv-repeated-columns", "csv", _repeated_columns, 256, max_n=16_384),
    Shape("csv-long-cell", "csv", _long_cell, 1 << 14),
    Shape("csv-quoted-line-breaks", "csv", _quoted_lines, 1 << 12),
    Shape("tsv-many-columns", "tsv", lambda n: _columns(n, "\t"), 256, max_n=16_384),
    Shape("tsv-long-cell", "tsv", lambda n: _long_cell(n, "\t"), 1 << 14),
    Shape("json-deep-arrays", "json", _json_deep, 32, _deep, 256),
    Shape("json-deep-objects", "json", _json_deep_objects, 32, _deep, 256),
    Shape("json-wide-objects", "json", _json_wide, 256, max_n=16_384),
    Shape("json-long-string", "json", _json_long_string, 1 << 14),
    Shape("json-cr-line-breaks", "json", _json_cr_lines, 1 << 10),
    Shape("ndjson-long-lines", "ndjson", _ndjson_long_line, 256, max_n=16_384),
    Shape("ndjson-deep", "ndjson", _ndjson_deep, 32, _deep, 256),
    Shape("xml-distinct-names", "xml", _xml_names, 256),
    Shape("xml-many-attributes", "xml", _xml_attributes, 64, max_n=16_384),
    Shape("xml-long-attribute", "xml", _xml_attribute_value, 1 << 14),
    Shape("xml-deep", "xml", _xml_deep, 64, max_n=8192),
    Shape("xml-long-text", "xml", _xml_long_text, 1 << 14),
    Shape("xml-one-long-line", "xml", _xml_long_line, 1 << 10),
    Shape("merchant-tsv-many-columns", "google-merchant", _merchant_tsv_columns, 256, max_n=16_384),
    Shape("merchant-rss-many-items", "google-merchant", _merchant_rss, 1 << 10),
    Shape("merchant-long-description", "google-merchant", _merchant_long_description, 1 << 14),
]


def _parse(shape: Shape, n: int, data: bytes) -> None:
    records = parse_feed(data, format=shape.format, limits=shape.limits(n))
    collections.deque(records, maxlen=0)


def _size_to_time(shape: Shape) -> int:
    """Grow n until one parse takes at least :data:`FLOOR` seconds of CPU."""
    n = shape.start
    while n < shape.max_n // 2:
        data = shape.make(n)
        started = time.process_time()
        _parse(shape, n, data)
        if time.process_time() - started >= FLOOR:
            break
        n *= 2
    return n


@pytest.mark.parametrize("shape", SHAPES, ids=[shape.id for shape in SHAPES])
def test_doubling_the_input_at_most_doubles_time_and_memory(shape: Shape) -> None:
    n = _size_to_time(shape)
    small_data, large_data = shape.make(n), shape.make(2 * n)
    assert_linear_time(
        lambda: _parse(shape, n, small_data), lambda: _parse(shape, 2 * n, large_data)
    )
    # Memory is measured at a quarter of the size: tracemalloc slows parsing several times.
    m = max(n // 4, shape.start)
    small_m, large_m = shape.make(m), shape.make(2 * m)
    assert_linear_memory(
        lambda: _parse(shape, m, small_m), lambda: _parse(shape, 2 * m, large_m), floor=1
    )


def test_memory_stays_flat_however_many_distinct_xml_names_a_feed_uses() -> None:
    """The parser keeps every name it meets; ``max_names`` stops a feed of ever-new names."""
    peaks = []
    for n in (20_000, 40_000):
        data = _xml_names(n)
        tracemalloc.start()
        try:
            with pytest.raises(FeedLimitError) as caught:
                _parse(Shape("names", "xml", _xml_names, n, lambda _n: FeedLimits()), n, data)
            peaks.append(tracemalloc.get_traced_memory()[1])
        finally:
            tracemalloc.stop()
        assert "max_names" == caught.value.limit
    assert max(peaks) < 8 * 1024 * 1024
    assert max(peaks) / min(peaks) < 1.2

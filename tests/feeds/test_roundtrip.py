"""Round trips: rows written by the standard library's writers read back exactly, with lines."""

from __future__ import annotations

import json
from typing import Any
from unittest import mock

from hypothesis import assume, given, settings
from hypothesis import strategies as st

from commerce_kit.feeds import _json as json_module
from commerce_kit.feeds import parse_feed
from tests.feeds.formats import write_delimited, write_json, write_ndjson, write_xml

# Names valid as CSV headers (no surrounding spaces), JSON keys and XML element names.
names = st.from_regex(r"[a-z][a-z0-9_]{0,8}", fullmatch=True).filter(
    lambda name: not name.startswith("xml")
)
Table = tuple[list[str], list[dict[str, Any]]]
Row = tuple[dict[str, Any], int, int, str | None]

keys_lists = st.lists(names, min_size=1, max_size=5, unique=True)
# Any text UTF-8 can carry: quotes, delimiters, line breaks of every kind, NUL, BOM, emoji.
any_text = st.text(st.characters(exclude_categories=["Cs"]), max_size=12)
# XML 1.0 characters, minus CR (which XML parsers turn into LF by design).
xml_text = st.text(
    st.characters(
        exclude_categories=["Cs"],
        exclude_characters="\r\ufffe\uffff",
        min_codepoint=0x9,
    ).filter(lambda c: c in "\t\n" or ord(c) >= 0x20),
    max_size=12,
)
json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | any_text,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(any_text, inner, max_size=3),
    max_leaves=8,
)


@st.composite
def tables(draw: st.DrawFn, values: st.SearchStrategy[Any]) -> Table:
    keys = draw(keys_lists)
    rows = draw(st.lists(st.fixed_dictionaries(dict.fromkeys(keys, values)), max_size=8))
    return keys, rows


def read(data: bytes, format_name: str) -> list[Row]:
    return [(dict(r.data), r.line, r.index, r.error) for r in parse_feed(data, format=format_name)]


def expected(rows: list[dict[str, Any]], lines: list[int]) -> list[Row]:
    return [(row, line, n, None) for n, (row, line) in enumerate(zip(rows, lines, strict=True), 1)]


@given(tables(any_text), st.sampled_from(["\r\n", "\n", "\r"]))
def test_csv_written_by_the_csv_module_reads_back_with_its_lines(
    table: Table, terminator: str
) -> None:
    keys, rows = table
    data, lines = write_delimited(rows, keys, ",", terminator)
    assert expected(rows, lines) == read(data, "csv")


@given(tables(any_text))
def test_tsv_written_by_the_csv_module_reads_back_with_its_lines(table: Table) -> None:
    keys, rows = table
    data, lines = write_delimited(rows, keys, "\t")
    assert expected(rows, lines) == read(data, "tsv")


@given(tables(json_values), st.sampled_from([None, 0, 2]), st.booleans())
def test_json_written_by_json_dumps_reads_back_with_its_lines(
    table: Table, indent: int | None, ascii_only: bool
) -> None:
    keys, rows = table
    data, lines = write_json(rows, keys, indent, ensure_ascii=ascii_only)
    assert expected(rows, lines) == read(data, "json")


@settings(max_examples=50)
@given(tables(json_values), st.sampled_from([None, 2]), st.integers(1, 24))
def test_json_reads_the_same_whatever_the_read_size(
    table: Table, indent: int | None, chunk: int
) -> None:
    keys, rows = table
    data, lines = write_json(rows, keys, indent, ensure_ascii=False)
    with mock.patch.object(json_module, "_CHUNK", chunk):
        actual = read(data, "json")
    assert expected(rows, lines) == actual


@settings(max_examples=50)
@given(st.lists(json_values, max_size=6), st.integers(1, 16))
def test_elements_of_any_json_type_are_split_exactly(values: list[object], chunk: int) -> None:
    document = json.dumps({"version": 1, "items": values, "next": None}, indent=1)
    with mock.patch.object(json_module, "_CHUNK", chunk):
        records = list(parse_feed(document.encode(), format="json"))
    objects = [value for value in values if isinstance(value, dict)]
    assert objects == [record.data for record in records if record.error is None]
    assert len(values) == len(records)


@given(tables(json_values), st.booleans())
def test_ndjson_written_by_json_dumps_reads_back_with_its_lines(
    table: Table, ascii_only: bool
) -> None:
    keys, rows = table
    assume(rows)  # an NDJSON feed of no rows is an empty file, refused as such
    data, lines = write_ndjson(rows, keys, ensure_ascii=ascii_only)
    assert expected(rows, lines) == read(data, "ndjson")


@given(tables(xml_text))
def test_xml_written_with_escaping_reads_back_with_its_lines(table: Table) -> None:
    keys, rows = table
    data, lines = write_xml(rows, keys)
    assert expected(rows, lines) == read(data, "xml")

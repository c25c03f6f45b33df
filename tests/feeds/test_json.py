"""JSON (streamed array) and NDJSON: shapes, errors with positions, limits."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any
from unittest import mock

import pytest

from commerce_kit.feeds import (
    FeedFormatError,
    FeedLimitError,
    FeedLimits,
    JsonAdapter,
    NdjsonAdapter,
    parse_feed,
)
from commerce_kit.feeds import _json as json_module

Row = tuple[dict[str, object], int, int, str | None]


def rows(data: bytes, format_name: str = "json", **options: Any) -> list[Row]:
    records = parse_feed(data, format=format_name, **options)
    return [(dict(r.data), r.line, r.index, r.error) for r in records]


def failure(data: bytes, format_name: str = "json", **options: Any) -> FeedFormatError:
    with pytest.raises(FeedFormatError) as caught:
        rows(data, format_name, **options)
    return caught.value


def test_the_fixture_feed_reads_from_under_its_products_key(fixtures: Path) -> None:
    records = list(parse_feed(fixtures / "products.json"))
    assert [
        (4, "MUG-001", None),
        (12, "MUG-002", None),
        (13, None, "the element is a string, not an object"),
        (14, "CAP-020", None),
    ] == [(r.line, r.data.get("sku"), r.error) for r in records]
    assert ["cap", "summer"] == records[3].data["tags"]


@pytest.mark.parametrize("key", json_module.RECORD_KEYS)
def test_each_record_key_holds_the_records(key: str) -> None:
    data = json.dumps({"meta": {"n": [1, {"x": []}]}, key: [{"a": 1}], "after": "x"}).encode()
    assert [({"a": 1}, 1, 1, None)] == rows(data)


def test_an_empty_object_member_list_has_no_records_array() -> None:
    error = failure(b"{}")
    assert "without an array of records under any of 'products', 'items'" in str(error)


def test_a_records_key_holding_an_object_is_not_an_array_of_records() -> None:
    assert "without an array of records" in str(failure(b'{"products": {"a": 1}}'))


def test_two_arrays_of_records_are_refused() -> None:
    error = failure(b'{"products": [],\n "items": [{"a": 1}]}')
    assert (2, "'products' and 'items'") == (error.line, str(error).split("records, ")[1][:22])


@pytest.mark.parametrize(
    ("value", "kind"),
    [
        (1, "a number"),
        (1.5, "a number"),
        (True, "a boolean"),
        (None, "null"),
        ("s", "a string"),
        ([1], "an array"),
    ],
)
def test_an_element_that_is_not_an_object_is_flagged_in_place(value: object, kind: str) -> None:
    data = ("[\n" + ",\n".join(json.dumps(v) for v in ({"a": 1}, value, {"b": 2})) + "\n]").encode()
    assert [
        ({"a": 1}, 2, 1, None),
        ({}, 3, 2, f"the element is {kind}, not an object"),
        ({"b": 2}, 4, 3, None),
    ] == rows(data)


@pytest.mark.parametrize(
    ("document", "line", "column", "message"),
    [
        (b'[\n {"a": 1}\n {"b": 2}]', 3, 2, "expected ',' or ']' after an element"),
        (b'[\n {"a": 1,, "b": 2}]', 2, 10, "invalid JSON: Expecting property name"),
        (b'[{"a": 1}] x', 1, 12, "expected the end of the feed"),
        (b"  nope", 1, 3, "expected '[' or '{' at the start"),
        (b'{"a": 1 "b": 2}', 1, 9, "expected ',' or '}' after a member"),
        (b"{products: []}", 1, 2, "expected a member name in double quotes"),
        (b'{"products" []}', 1, 13, "expected ':' after a member name"),
        (b'[{"a": 1}, {"b": ', 1, 18, "invalid JSON: Expecting value"),
        (b'[{"a": 1}', 1, 10, "expected ',' or ']'"),
    ],
)
def test_a_syntax_error_stops_the_feed_naming_line_and_column(
    document: bytes, line: int, column: int, message: str
) -> None:
    error = failure(document)
    assert (line, column) == (error.line, error.column)
    assert message in str(error)


def test_columns_stay_right_when_the_error_is_far_into_a_long_line() -> None:
    document = b'[{"a": "' + b"x" * 100 + b'"}, {"b": 1,, }]'
    with mock.patch.object(json_module, "_CHUNK", 7):
        error = failure(document)
    assert (1, 121) == (error.line, error.column)


def test_records_before_a_syntax_error_are_yielded_first() -> None:
    records = parse_feed(b'[{"a": 1},\n{"b": 2},\n{"c" 3}]', format="json")
    assert ({"a": 1}, {"b": 2}) == (next(records).data, next(records).data)
    with pytest.raises(FeedFormatError):
        next(records)


def test_bytes_that_are_not_utf8_stop_a_json_feed_naming_the_line() -> None:
    with mock.patch.object(json_module, "_CHUNK", 4):
        error = failure(b'[{"a": "x"},\n{"a": "caf\xe9"}]')
    assert 2 == error.line


def test_utf16_json_is_read() -> None:
    assert [({"a": "é"}, 1, 1, None)] == rows('[{"a": "é"}]'.encode("utf-16"))


def test_a_large_element_spanning_many_reads_is_decoded_once_whole() -> None:
    big = "z" * 300_000
    data = json.dumps([{"a": 1}, {"big": big}, {"c": 3}]).encode()
    limits = FeedLimits(max_field_chars=400_000)
    assert [{"a": 1}, {"big": big}, {"c": 3}] == [r[0] for r in rows(data, limits=limits)]


def test_an_element_longer_than_max_record_chars_is_refused_at_its_line() -> None:
    data = b'[\n{"a": 1},\n{"b": "' + b"y" * 5_000 + b'"}]'
    with pytest.raises(FeedLimitError) as caught:
        rows(data, limits=FeedLimits(max_record_chars=1_000, max_field_chars=10_000))
    assert ("max_record_chars", 3) == (caught.value.limit, caught.value.line)


def test_an_element_cut_off_beyond_max_record_chars_is_refused_while_reading() -> None:
    data = b'[{"b": "' + b"y" * 200_000
    with pytest.raises(FeedLimitError) as caught:
        rows(data, limits=FeedLimits(max_record_chars=100_000))
    assert ("max_record_chars", 1) == (caught.value.limit, caught.value.line)


def test_a_nesting_bomb_fails_fast() -> None:
    started = time.perf_counter()
    with pytest.raises(FeedLimitError) as caught:
        rows(b"[" * 1_000_000)
    assert ("max_depth", 1) == (caught.value.limit, caught.value.line)
    assert time.perf_counter() - started < 1.0


def test_a_nesting_bomb_in_a_skipped_member_fails_fast() -> None:
    with pytest.raises(FeedLimitError) as caught:
        rows(b'{"meta": ' + b"[" * 100_000)
    assert "max_depth" == caught.value.limit


def test_a_skipped_member_is_held_to_the_limits_too() -> None:
    with pytest.raises(FeedLimitError) as caught:
        rows(
            b'{"meta": "' + b"m" * 50 + b'", "products": []}', limits=FeedLimits(max_field_chars=40)
        )
    assert "max_field_chars" == caught.value.limit


def test_a_skipped_member_longer_than_max_record_chars_is_refused() -> None:
    data = b'{"meta": "' + b"m" * 200 + b'", "products": []}'
    with pytest.raises(FeedLimitError) as caught:
        rows(data, limits=FeedLimits(max_record_chars=100))
    assert ("max_record_chars", 1) == (caught.value.limit, caught.value.line)


def test_a_long_string_deep_in_a_record_is_refused() -> None:
    data = json.dumps([{"a": {"b": ["x" * 60]}}]).encode()
    with pytest.raises(FeedLimitError) as caught:
        rows(data, limits=FeedLimits(max_field_chars=50))
    assert "max_field_chars" == caught.value.limit


def test_a_long_key_is_refused_like_a_long_value() -> None:
    data = json.dumps([{"k" * 60: 1}]).encode()
    with pytest.raises(FeedLimitError):
        rows(data, limits=FeedLimits(max_field_chars=50))


def test_many_flat_brackets_are_not_mistaken_for_depth() -> None:
    data = json.dumps([{"list": [[1]] * 40, "more": [{}] * 40}]).encode()
    assert 1 == len(rows(data, limits=FeedLimits(max_depth=4)))


@pytest.mark.parametrize("chunk", range(1, 48))
def test_numbers_cut_after_their_point_or_exponent_are_read_whole(chunk: int) -> None:
    document = b'[{"a": 1e5, "b": 2.5, "c": -1.5E-7}, 12.75e3, 3.0]'
    with mock.patch.object(json_module, "_CHUNK", chunk):
        records = rows(document)
    assert [({"a": 1e5, "b": 2.5, "c": -1.5e-7}, 1, 1, None)] == records[:1]
    assert ["the element is a number, not an object"] * 2 == [r[3] for r in records[1:]]


@pytest.mark.parametrize("chunk", [9, 16, 23, 40])
def test_long_runs_of_whitespace_between_elements_span_reads(chunk: int) -> None:
    pad = " " * 30
    document = f'[{{"a": 1}}{pad},{pad}\n{{"b": 2}}{pad}\n,{{"c": 3}}{pad}]'.encode()
    with mock.patch.object(json_module, "_CHUNK", chunk):
        records = rows(document)
    assert [({"a": 1}, 1, 1, None), ({"b": 2}, 2, 2, None), ({"c": 3}, 3, 3, None)] == records


def test_a_number_cut_by_the_end_of_a_read_is_read_whole() -> None:
    with mock.patch.object(json_module, "_CHUNK", 1):
        assert [({}, 1, 1, "the element is a number, not an object")] * 1 == rows(b"[12345]")[:1]
        assert ["the element is a number, not an object"] * 3 == [
            r[3] for r in rows(b"[1,\n22, 333 ]")
        ]


@pytest.mark.parametrize("chunk", [7, 64 * 1024])
def test_an_integer_too_long_for_int_is_read_as_a_float(chunk: int) -> None:
    digits = "9" * 5000
    document = f'[{{"sku": "A", "price": {digits}}}, {{"n": -{digits}, "m": 1}}]'.encode()
    with mock.patch.object(json_module, "_CHUNK", chunk):
        records = rows(document)
    expected = [
        ({"sku": "A", "price": float("inf")}, 1, 1, None),
        ({"n": float("-inf"), "m": 1}, 1, 2, None),
    ]
    assert expected == records


def test_an_integer_too_long_for_int_is_read_in_a_skipped_member() -> None:
    document = ('{"count": ' + "1" * 5000 + ', "products": [{"a": 1}]}').encode()
    assert [({"a": 1}, 1, 1, None)] == rows(document)


# -- NDJSON ------------------------------------------------------------------------------------


def test_the_ndjson_fixture_flags_bad_lines_and_reads_on(fixtures: Path) -> None:
    records = list(parse_feed(fixtures / "products.ndjson"))
    assert [
        (1, "MUG-001", None),
        (2, "MUG-002", None),
        (4, None, "invalid JSON at column 55: Expecting ',' delimiter"),
        (5, None, "the line holds an array, not an object"),
        (6, "CAP-020", None),
    ] == [(r.line, r.data.get("sku"), r.error) for r in records]


def test_ndjson_reports_a_cut_line_at_its_end_column() -> None:
    assert [({}, 1, 1, "invalid JSON at column 7: Expecting value")] == rows(
        b'{"a": \r\n', "ndjson"
    )


def test_ndjson_flags_a_line_that_is_not_utf8() -> None:
    assert [
        ({}, 1, 1, "column 8 holds bytes that are not valid UTF-8"),
        ({"b": "é"}, 2, 2, None),
    ] == rows(b'{"a": "\xff"}\n{"b": "\xc3\xa9"}\n', "ndjson")


def test_ndjson_refuses_a_line_longer_than_max_record_chars() -> None:
    with pytest.raises(FeedLimitError) as caught:
        rows(
            b'{"a": 1}\n{"b": "' + b"x" * 100 + b'"}\n',
            "ndjson",
            limits=FeedLimits(max_record_chars=50),
        )
    assert ("max_record_chars", 2) == (caught.value.limit, caught.value.line)


def test_ndjson_refuses_a_nesting_bomb_line() -> None:
    with pytest.raises(FeedLimitError) as caught:
        rows(b'{"a": 1}\n' + b"[" * 100_000 + b"\n", "ndjson")
    assert ("max_depth", 2) == (caught.value.limit, caught.value.line)


def test_ndjson_reads_an_integer_too_long_for_int_as_a_float() -> None:
    document = ('{"a": ' + "9" * 5000 + "}\n" + '{"b": ' + "9" * 5000 + ", }\n").encode()
    records = rows(document, "ndjson")
    assert [({"a": float("inf")}, 1, 1, None), ({}, 2, 2, "invalid JSON at column 5009")] == [
        records[0],
        (*records[1][:3], (records[1][3] or "").split(":")[0]),
    ]


@pytest.mark.parametrize(
    ("head", "json_score", "ndjson_score"),
    [
        (b'[{"a": 1}]', 0.9, 0.0),
        (b"\xef\xbb\xbf  [\n", 0.9, 0.0),
        (b'{"products": [{"a": 1}]}', 0.5, 0.0),
        (b'{"products": [{"a": 1}]}\n', 0.5, 0.0),
        (b'{\n  "products": []\n}\n', 0.5, 0.0),
        (b'{"a": 1}\n{"a": 2}\n', 0.5, 0.8),
        (b'{"a": 1}\r\n{"a"', 0.5, 0.8),
        (b'{"a": 1}\n[1]\n{"a": 2}', 0.5, 0.8),
        (b'[1]\n{"a": 1}\n', 0.9, 0.0),
        (b'{"a": 1', 0.5, 0.0),
        (b"sku,title\n", 0.0, 0.0),
    ],
)
def test_sniffers_tell_json_from_ndjson(
    head: bytes, json_score: float, ndjson_score: float
) -> None:
    assert (json_score, ndjson_score) == (JsonAdapter().sniff(head), NdjsonAdapter().sniff(head))

"""Hostile feeds: limits that hold, specific errors, and no record lost before a fatal error."""

from __future__ import annotations

import csv
import io
import threading
import time
from pathlib import Path
from typing import Any
from unittest import mock

import pytest

from commerce_kit.feeds import (
    FeedFormatError,
    FeedLimitError,
    FeedLimits,
    FeedRecord,
    UnknownFeedFormatError,
    parse_feed,
    parse_feed_text,
)
from commerce_kit.feeds import _json as json_module


def read(data: bytes, format_name: str | None, **options: Any) -> list[FeedRecord]:
    return list(parse_feed(data, format=format_name, **options))


# -- CSV: the csv module's own field limit never overrides FeedLimits --------------------------
def test_a_cell_longer_than_the_csv_modules_limit_is_read_when_the_limits_allow_it() -> None:
    cell = "x" * 150_000
    data = f"sku,description\nA,{cell}\n".encode()
    limits = FeedLimits(max_field_chars=200_000)
    assert [{"sku": "A", "description": cell}] == [r.data for r in read(data, "csv", limits=limits)]


def test_a_cell_longer_than_the_csv_modules_limit_is_a_limit_error_at_the_default() -> None:
    data = b"sku,description\nA,short\nB," + b"x" * 150_000 + b"\n"
    records = parse_feed(data, format="csv")
    assert {"sku": "A", "description": "short"} == next(records).data
    with pytest.raises(FeedLimitError) as caught:
        next(records)
    assert ("max_field_chars", 10_000, 3) == (
        caught.value.limit,
        caught.value.maximum,
        caught.value.line,
    )


def test_a_header_cell_longer_than_the_limit_is_a_limit_error() -> None:
    data = b"sku," + b"h" * 150_000 + b"\nA,B\n"
    with pytest.raises(FeedLimitError) as caught:
        read(data, "csv")
    assert ("max_field_chars", 1) == (caught.value.limit, caught.value.line)


def test_a_long_cell_in_a_ragged_row_is_a_limit_error_too() -> None:
    data = b"sku,title\nA," + b"x" * 20_000 + b",extra\n"
    with pytest.raises(FeedLimitError) as caught:
        read(data, "csv")
    assert ("max_field_chars", 2) == (caught.value.limit, caught.value.line)


def test_the_csv_modules_limit_is_left_as_it_was() -> None:
    before = csv.field_size_limit()
    data = f"sku,description\nA,{'x' * 150_000}\n".encode()
    records = parse_feed(data, format="csv", limits=FeedLimits(max_field_chars=200_000))
    next(records)
    records.close()
    assert before == csv.field_size_limit()


def test_a_limit_the_application_set_meanwhile_is_kept() -> None:
    before = csv.field_size_limit()
    data = f"sku,description\nA,{'x' * 150_000}\nB,y\n".encode()
    records = parse_feed(data, format="csv", limits=FeedLimits(max_field_chars=200_000))
    next(records)
    csv.field_size_limit(1_000_000)
    try:
        assert 2 == len([*records]) + 1
        assert 1_000_000 == csv.field_size_limit()
    finally:
        csv.field_size_limit(before)


def test_concurrent_feeds_each_keep_their_own_limit() -> None:
    """One feed finishing while another is mid-way never lowers the limit under the other."""
    before = csv.field_size_limit()
    big = f"sku,description\nA,{'x' * 150_000}\nB,{'y' * 150_000}\n".encode()
    small = b"sku,description\nA,x\n"
    limits = FeedLimits(max_field_chars=200_000)
    first = parse_feed(big, format="csv", limits=limits)
    assert 150_000 == len(str(next(first).data["description"]))
    errors: list[BaseException] = []

    def other() -> None:
        try:
            for _ in range(20):
                list(parse_feed(small, format="csv", limits=limits))
                list(parse_feed(big, format="csv", limits=limits))
        except BaseException as error:
            errors.append(error)

    thread = threading.Thread(target=other)
    thread.start()
    thread.join()
    assert [] == errors
    assert 150_000 == len(str(next(first).data["description"]))
    first.close()
    assert before == csv.field_size_limit()


# -- XML ---------------------------------------------------------------------------------------
def test_an_xml_attribute_longer_than_max_field_chars_is_a_limit_error() -> None:
    data = b'<products><product><price currency="' + b"U" * 20_000 + b'">1</price></product>'
    data += b"</products>"
    with pytest.raises(FeedLimitError) as caught:
        read(data, "xml")
    assert ("max_field_chars", 1) == (caught.value.limit, caught.value.line)


def test_an_attribute_of_the_record_element_is_held_to_the_limit_too() -> None:
    data = b'<products>\n<product sku="' + b"S" * 20_000 + b'"/></products>'
    with pytest.raises(FeedLimitError) as caught:
        read(data, "xml")
    assert ("max_field_chars", 2) == (caught.value.limit, caught.value.line)


def test_an_attribute_within_the_limit_is_kept() -> None:
    data = b'<products><product sku="' + b"S" * 9_000 + b'"/></products>'
    assert [{"sku": "S" * 9_000}] == [r.data for r in read(data, "xml")]


def test_a_tag_longer_than_max_record_chars_is_stopped_while_it_streams() -> None:
    """A huge start tag before any record is bounded, and not rescanned chunk after chunk."""
    data = b'<products note="' + b"n" * 12_000_000 + b'"><product/></products>'
    started = time.process_time()
    with pytest.raises(FeedLimitError) as caught:
        read(data, "xml")
    assert time.process_time() - started < 0.3
    assert ("max_record_chars", 1) == (caught.value.limit, caught.value.line)


def test_a_feed_of_ever_new_element_names_is_stopped_at_max_names() -> None:
    items = "".join(f"<i{n}>x</i{n}>\n" for n in range(20))
    with pytest.raises(FeedLimitError) as caught:
        read(f"<p>\n{items}</p>".encode(), "xml", limits=FeedLimits(max_names=10))
    assert ("max_names", 10) == (caught.value.limit, caught.value.maximum)


def test_a_long_feed_of_new_names_stops_soon_after_max_names() -> None:
    items = "".join(f"<i{n}>x</i{n}>\n" for n in range(100_000))
    seen: list[object] = []
    with pytest.raises(FeedLimitError) as caught:
        seen.extend(parse_feed(f"<p>\n{items}</p>".encode(), format="xml"))
    assert 10_000 <= len(seen) < 20_000
    assert caught.value.line is not None
    assert 10_000 < caught.value.line < 20_000


def test_attribute_names_count_towards_max_names() -> None:
    attributes = " ".join(f'a{n}="1"' for n in range(20))
    with pytest.raises(FeedLimitError, match="max_names=10 "):
        read(f"<p><i {attributes}/></p>".encode(), "xml", limits=FeedLimits(max_names=10))


def test_names_seen_again_do_not_count_twice() -> None:
    items = "".join(f'<i n="{n}"><t>{n}</t><u/></i>' for n in range(1_000))
    data = f"<p>{items}</p>".encode()
    assert 1_000 == len(read(data, "xml", limits=FeedLimits(max_names=5)))


@pytest.mark.parametrize(
    ("encoding", "data"),
    [
        ("Shift_JIS", '<?xml version="1.0" encoding="Shift_JIS"?>\n<p><i><t>ア</t></i></p>'),
        ("UTF-32", '<?xml version="1.0" encoding="UTF-32"?>\n<p><i><t>x</t></i></p>'),
        ("x-no-such", '<?xml version="1.0" encoding="x-no-such"?>\n<p><i><t>x</t></i></p>'),
    ],
)
def test_an_xml_encoding_the_parser_cannot_read_is_a_format_error(encoding: str, data: str) -> None:
    raw = data.encode("shift_jis") if encoding == "Shift_JIS" else data.encode()
    with pytest.raises(FeedFormatError) as caught:
        read(raw, "xml")
    assert 1 == caught.value.line
    assert encoding in str(caught.value)
    assert "UTF-8" in str(caught.value)


def test_records_before_a_fatal_xml_error_are_yielded_first() -> None:
    items = "".join(f"<i><t>{n}</t></i>\n" for n in range(10))
    data = f"<p>\n{items}<i><t>x</u></i></p>".encode()
    records = parse_feed(data, format="xml")
    seen: list[object] = []
    with pytest.raises(FeedFormatError) as caught:
        seen.extend(record.data["t"] for record in records)
    assert [str(n) for n in range(10)] == seen
    assert 12 == caught.value.line


def test_records_before_a_limit_error_in_the_same_chunk_are_yielded_first() -> None:
    data = b"<p><i><t>1</t></i><i><t>2</t></i><i><t>" + b"x" * 20_000 + b"</t></i></p>"
    seen: list[object] = []
    with pytest.raises(FeedLimitError):
        seen.extend(record.data["t"] for record in parse_feed(data, format="xml"))
    assert ["1", "2"] == seen


# -- JSON --------------------------------------------------------------------------------------
def test_records_before_an_invalid_utf8_byte_in_json_are_yielded_first() -> None:
    data = b'[{"a": 1},\n{"a": 2},\n{"a": "caf\xe9"}]'
    seen: list[object] = []
    with pytest.raises(FeedFormatError) as caught:
        seen.extend(record.data["a"] for record in parse_feed(data, format="json"))
    assert [1, 2] == seen
    assert 3 == caught.value.line


@pytest.mark.parametrize("newline", ["\n", "\r", "\r\n"])
def test_json_counts_every_kind_of_line_break(newline: str) -> None:
    text = newline.join(["[", '{"a": 1},', "", '{"a": 2},', '{"a" 3}]'])
    records = parse_feed(text.encode(), format="json")
    assert [2, 4] == [next(records).line, next(records).line]
    with pytest.raises(FeedFormatError) as caught:
        next(records)
    assert (5, 6) == (caught.value.line, caught.value.column)


def test_a_crlf_cut_by_the_end_of_a_read_is_one_line_break() -> None:
    text = '[{"a": 1},' + "\r\n" * 40 + '{"a": 2}]'
    for chunk in range(1, 12):
        with mock.patch.object(json_module, "_CHUNK", chunk):
            lines = [r.line for r in parse_feed(text.encode(), format="json")]
        assert [1, 41] == lines, chunk


# -- text sources ------------------------------------------------------------------------------
@pytest.mark.parametrize("format_name", ["csv", "json", "ndjson", "xml"])
def test_a_lone_surrogate_in_a_text_file_is_a_format_error_naming_its_line(
    tmp_path: Path, format_name: str
) -> None:
    lines = {
        "csv": b"sku,title\nA,ok\nB,caf\xe9\n",
        "json": b'[{"a": "ok"},\n{"a": "x"},\n{"a": "caf\xe9"}]',
        "ndjson": b'{"a": "ok"}\n{"a": "x"}\n{"a": "caf\xe9"}\n',
        "xml": b"<p><i>ok</i>\n<i>x</i>\n<i>caf\xe9</i></p>",
    }
    path = tmp_path / "feed.txt"
    path.write_bytes(lines[format_name])
    with (
        path.open(encoding="utf-8", errors="surrogateescape", newline="") as file,
        pytest.raises(FeedFormatError) as caught,
    ):
        list(parse_feed(file, format=format_name))
    assert 3 == caught.value.line
    assert "surrogate" in str(caught.value)


def test_a_lone_surrogate_in_feed_text_is_a_format_error() -> None:
    with pytest.raises(FeedFormatError) as caught:
        parse_feed_text("sku\rA\r\ud800\n", format="csv")
    assert 3 == caught.value.line


# -- empty feeds -------------------------------------------------------------------------------
EMPTY = [b"", b"   ", b"\n\r\n\t \n", b"\xef\xbb\xbf", b"\xef\xbb\xbf \n"]


@pytest.mark.parametrize("data", EMPTY)
@pytest.mark.parametrize(
    "format_name", [None, "csv", "tsv", "json", "ndjson", "xml", "google-merchant"]
)
def test_an_empty_feed_is_refused_in_any_format(data: bytes, format_name: str | None) -> None:
    with pytest.raises(FeedFormatError, match="the feed is empty") as caught:
        read(data, format_name)
    assert not isinstance(caught.value, UnknownFeedFormatError)


@pytest.mark.parametrize("suffix", [".json", ".csv", ".xml", ".ndjson", ".tsv", ".txt"])
def test_an_empty_file_is_refused_whatever_its_name(tmp_path: Path, suffix: str) -> None:
    path = tmp_path / f"feed{suffix}"
    path.write_bytes(b"")
    with pytest.raises(FeedFormatError, match="the feed is empty"):
        list(parse_feed(path))


def test_an_empty_stream_and_empty_text_are_refused() -> None:
    with pytest.raises(FeedFormatError, match="the feed is empty"):
        list(parse_feed(io.BytesIO(b"")))
    with pytest.raises(FeedFormatError, match="the feed is empty"):
        list(parse_feed(io.StringIO("  \n")))
    with pytest.raises(FeedFormatError, match="the feed is empty"):
        list(parse_feed_text("", format="json"))


@pytest.mark.parametrize("format_name", ["csv", "json", "ndjson", "xml"])
def test_a_long_blank_feed_is_empty_too(format_name: str) -> None:
    with pytest.raises(FeedFormatError, match="the feed is empty"):
        read(b" \n" * 50_000, format_name)


@pytest.mark.parametrize(
    ("data", "format_name"),
    [(b"sku,title\n", "csv"), (b"[]", "json"), (b'{"products": []}', "json"), (b"<p/>", "xml")],
)
def test_a_feed_with_no_records_is_not_empty(data: bytes, format_name: str) -> None:
    assert [] == read(data, format_name)

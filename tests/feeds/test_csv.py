"""CSV and TSV: what a partner's spreadsheet export can throw at the reader."""

from __future__ import annotations

import codecs
import time
from pathlib import Path
from typing import Any

import pytest

from commerce_kit.feeds import (
    CsvAdapter,
    FeedFormatError,
    FeedLimitError,
    FeedLimits,
    FeedRecord,
    TsvAdapter,
    parse_feed,
)


def read(data: bytes, format_name: str = "csv", **options: Any) -> list[FeedRecord]:
    return list(parse_feed(data, format=format_name, **options))


def rows(data: bytes, **options: Any) -> list[tuple[dict[str, object], int, int, str | None]]:
    return [(dict(r.data), r.line, r.index, r.error) for r in read(data, **options)]


class EndlessBytes:
    """A binary file object that never ends and never sends a line break."""

    def __init__(self) -> None:
        self.sent = 0

    def read(self, size: int = -1) -> bytes:
        size = 65_536 if size < 0 else size
        self.sent += size
        return b"a" * size


def test_the_fixture_feed_reads_with_physical_lines_and_a_ragged_row(fixtures: Path) -> None:
    records = list(parse_feed(fixtures / "products.csv"))
    assert [
        (2, "MUG-001", "Stoneware, 350 ml.\r\nDishwasher safe.", None),
        (4, "MUG-002", "Hand glazed.", None),
        (
            6,
            "TEE-010",
            "100% cotton.",
            "6 values but the header has 8 columns (missing: url, image_url)",
        ),
        (7, "CAP-020", "Embroidered.", None),
    ] == [(r.line, r.data["sku"], r.data["description"], r.error) for r in records]


def test_a_byte_order_mark_is_not_part_of_the_first_column_name() -> None:
    assert [({"sku": "A"}, 2, 1, None)] == rows(codecs.BOM_UTF8 + b"sku\nA\n")


def test_utf16_with_a_byte_order_mark_is_read() -> None:
    data = "sku,title\r\nA,Café\r\n".encode("utf-16")
    assert [({"sku": "A", "title": "Café"}, 2, 1, None)] == rows(data)


def test_semicolons_are_detected_as_the_delimiter() -> None:
    assert [({"sku": "A", "price": "1,50"}, 2, 1, None)] == rows(b"sku;price\nA;1,50\n")


def test_header_names_are_stripped_and_repeated_names_collect_a_list() -> None:
    data = b" sku , image ,image\nA,a.jpg,b.jpg\n"
    assert [({"sku": "A", "image": ["a.jpg", "b.jpg"]}, 2, 1, None)] == rows(data)


def test_blank_lines_are_skipped_but_still_counted() -> None:
    data = b"\n\nsku\n\nA\n\n\nB\n"
    assert [({"sku": "A"}, 5, 1, None), ({"sku": "B"}, 8, 2, None)] == rows(data)


def test_a_row_with_too_few_values_names_the_missing_columns() -> None:
    data = b"a,b,c,d,e,f,g,h\n1\n"
    assert [
        (
            {"a": "1"},
            2,
            1,
            "1 value but the header has 8 columns (missing: b, c, d, e, f, ...)",
        )
    ] == rows(data)


def test_a_row_with_too_many_values_says_how_many_are_extra() -> None:
    data = b"a\n1,2,3\n4\n"
    assert [
        ({"a": "1"}, 2, 1, "3 values but the header has 1 column (2 extra)"),
        ({"a": "4"}, 3, 2, None),
    ] == rows(data)


def test_bytes_that_are_not_utf8_flag_their_record_and_line_only() -> None:
    data = b'sku,title\nA,"Caf\xe9\nau lait"\nB,ok\n'
    assert [
        (
            {"sku": "A", "title": "Caf\ufffd\nau lait"},
            2,
            1,
            "line 2, column 7 holds bytes that are not valid UTF-8; save the file as UTF-8",
        ),
        ({"sku": "B", "title": "ok"}, 4, 2, None),
    ] == rows(data)


def test_a_header_that_is_not_utf8_stops_the_feed_naming_line_and_column() -> None:
    with pytest.raises(FeedFormatError) as caught:
        read(b"sku,t\xeftle\nA,B\n")
    assert (1, 6) == (caught.value.line, caught.value.column)
    assert "not valid UTF-8" in str(caught.value)


def test_broken_quoting_flags_the_row_and_reading_goes_on() -> None:
    data = b'sku,title\nA,"x"y\nB,ok\n'
    assert [
        ({}, 2, 1, "the row cannot be read: ',' expected after '\"'"),
        ({"sku": "B", "title": "ok"}, 3, 2, None),
    ] == rows(data)


def test_a_quote_left_open_at_the_end_flags_the_row_it_opened_in() -> None:
    data = b'sku,title\nA,ok\nB,"never closed\nC,x\n'
    assert [
        ({"sku": "A", "title": "ok"}, 2, 1, None),
        ({}, 3, 2, "the row cannot be read: unexpected end of data"),
    ] == rows(data)


def test_a_header_with_broken_quoting_stops_the_feed() -> None:
    with pytest.raises(FeedFormatError) as caught:
        read(b'"sku"x,title\nA,B\n')
    assert 1 == caught.value.line


def test_a_quote_left_open_for_too_long_is_a_limit_error_at_its_start_line() -> None:
    data = b'sku,title\nA,ok\nB,"' + b"line\n" * 1_000 + b'"\n'
    with pytest.raises(FeedLimitError) as caught:
        read(data, limits=FeedLimits(max_record_chars=500))
    assert ("max_record_chars", 3) == (caught.value.limit, caught.value.line)
    assert "unclosed quote" in str(caught.value)


def test_an_endless_line_fails_fast_after_reading_about_one_record() -> None:
    source = EndlessBytes()
    started = time.perf_counter()
    with pytest.raises(FeedLimitError) as caught:
        list(parse_feed(source, format="csv"))
    elapsed = time.perf_counter() - started
    assert ("max_record_chars", 1) == (caught.value.limit, caught.value.line)
    assert source.sent < 2 * FeedLimits().max_record_chars
    assert elapsed < 1.0


def test_a_header_longer_than_max_record_chars_is_refused() -> None:
    with pytest.raises(FeedLimitError) as caught:
        read(b"a," * 100 + b"\n", limits=FeedLimits(max_record_chars=50))
    assert ("max_record_chars", 1) == (caught.value.limit, caught.value.line)


def test_a_header_after_blank_lines_too_long_is_refused_at_its_own_line() -> None:
    with pytest.raises(FeedLimitError) as caught:
        read(b"\n\n" + b"a," * 100 + b"\n", limits=FeedLimits(max_record_chars=50))
    assert ("max_record_chars", 3) == (caught.value.limit, caught.value.line)


def test_a_long_value_is_refused_naming_its_column() -> None:
    with pytest.raises(FeedLimitError, match="line 3, column 'title'"):
        read(b"sku,title\nA,ok\nB," + b"x" * 30 + b"\n", limits=FeedLimits(max_field_chars=20))


def test_a_long_row_of_short_values_is_accepted() -> None:
    data = b"a,b,c\n" + b",".join([b"x" * 15] * 3) + b"\n"
    assert 1 == len(read(data, limits=FeedLimits(max_field_chars=20)))


def test_tsv_keeps_commas_inside_values() -> None:
    data = b"sku\ttitle\nA\tRed, large\n"
    assert [({"sku": "A", "title": "Red, large"}, 2, 1, None)] == rows(data, format_name="tsv")


@pytest.mark.parametrize(
    ("head", "csv_score", "tsv_score"),
    [
        (b"sku,title,price\nA,B,C\n", 0.3, 0.0),
        (b"sku;title\n", 0.3, 0.0),
        (b"sku\ttitle\tprice\n", 0.0, 0.4),
        (b"sku\ttitle,price\n", 0.0, 0.4),
        (b'{"sku": "A", "t": 1}\n', 0.0, 0.0),
        (b"<products>,</products>", 0.0, 0.0),
        (b"just one column\r", 0.0, 0.0),
        (b"", 0.0, 0.0),
    ],
)
def test_sniffers_recognise_their_delimiter(
    head: bytes, csv_score: float, tsv_score: float
) -> None:
    assert (csv_score, tsv_score) == (CsvAdapter().sniff(head), TsvAdapter().sniff(head))

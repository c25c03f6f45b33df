"""parse_feed: sources, eager errors, closing, byte and record limits, hooks."""

from __future__ import annotations

import io
import logging
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any, BinaryIO

import pytest

from commerce_kit.feeds import (
    FeedAdapterRegistry,
    FeedFinished,
    FeedLimitError,
    FeedLimits,
    FeedProgress,
    FeedRecord,
    UnknownFeedFormatError,
    parse_feed,
    parse_feed_text,
)
from commerce_kit.feeds._source import (
    FeedStream,
    buffered,
    detect_encoding,
    open_source,
)

CSV = b"sku,title\nA,Red\nB,Blue\n"
EXPECTED = [({"sku": "A", "title": "Red"}, 2, 1), ({"sku": "B", "title": "Blue"}, 3, 2)]


def summary(records: Iterable[FeedRecord]) -> list[tuple[dict[str, object], int, int]]:
    return [(dict(r.data), r.line, r.index) for r in records]


class Tracked(io.BytesIO):
    """A caller's file object: it must be left open."""


class NoFileno:
    """A minimal binary reader, with neither fileno nor name."""

    def __init__(self, data: bytes) -> None:
        self._data = io.BytesIO(data)

    def read(self, size: int = -1) -> bytes:
        return self._data.read(size)


@pytest.mark.parametrize(
    "make",
    [
        lambda path: CSV,
        lambda path: bytearray(CSV),
        lambda path: memoryview(CSV),
        str,
        lambda path: path,
        lambda path: NoFileno(CSV),
        lambda path: io.StringIO(CSV.decode()),
    ],
    ids=["bytes", "bytearray", "memoryview", "str-path", "pathlike", "binary-file", "text-file"],
)
def test_every_kind_of_source_reads_the_same(
    tmp_path: Path, make: Callable[[Path], object]
) -> None:
    path = tmp_path / "feed.csv"
    path.write_bytes(CSV)
    assert EXPECTED == summary(parse_feed(make(path), format="csv"))  # type: ignore[arg-type]


def test_an_open_binary_file_is_read_and_left_open(tmp_path: Path) -> None:
    path = tmp_path / "feed.csv"
    path.write_bytes(CSV)
    with path.open("rb") as file:
        records = summary(parse_feed(file))
        assert (EXPECTED, False) == (records, file.closed)


def test_a_str_holding_feed_text_is_refused_with_a_pointer_to_parse_feed_text() -> None:
    with pytest.raises(TypeError, match="use parse_feed_text"):
        parse_feed(CSV.decode(), format="csv")


def test_parse_feed_text_reads_text_already_in_memory() -> None:
    assert EXPECTED == summary(parse_feed_text("\ufeff" + CSV.decode()))


@pytest.mark.parametrize("source", [42, None, ["a,b"]])
def test_an_unreadable_source_type_is_refused(source: object) -> None:
    with pytest.raises(TypeError, match="cannot read a feed from"):
        parse_feed(source, format="csv")  # type: ignore[arg-type]


def test_a_file_object_returning_neither_bytes_nor_text_is_refused() -> None:
    class Odd:
        def read(self, size: int = -1) -> int:
            return 0

    with pytest.raises(TypeError, match="returned int"):
        parse_feed(Odd(), format="csv")  # type: ignore[arg-type]


def test_a_text_file_that_turns_to_bytes_is_refused() -> None:
    class Fickle:
        def __init__(self) -> None:
            self.calls = 0

        def read(self, size: int = -1) -> str | bytes:
            self.calls += 1
            return "" if self.calls == 1 else b"a,b\n"

    with pytest.raises(TypeError, match="returned bytes after returning text"):
        list(parse_feed(Fickle(), format="csv"))


def test_a_missing_file_and_an_unknown_format_fail_at_the_call(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError):
        parse_feed(tmp_path / "missing.csv")
    with pytest.raises(UnknownFeedFormatError, match="supported formats: csv"):
        parse_feed(tmp_path / "missing.csv", format="yaml")


def test_a_file_parse_feed_opened_is_closed_when_exhausted_or_closed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "feed.csv"
    path.write_bytes(CSV)
    opened: list[FeedStream] = []
    real = open_source

    def spy(*args: Any, **kwargs: Any) -> FeedStream:
        opened.append(real(*args, **kwargs))
        return opened[-1]

    monkeypatch.setattr("commerce_kit.feeds._parse.open_source", spy)
    list(parse_feed(path))
    partial = parse_feed(path)
    next(partial)
    partial.close()
    assert [True, True] == [stream.closed for stream in opened]


def test_the_file_is_closed_when_the_format_cannot_be_told(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "feed.bin"
    path.write_bytes(b"\x00\x01")
    opened: list[FeedStream] = []
    real = open_source

    def spy(*args: Any, **kwargs: Any) -> FeedStream:
        opened.append(real(*args, **kwargs))
        return opened[-1]

    monkeypatch.setattr("commerce_kit.feeds._parse.open_source", spy)
    with pytest.raises(UnknownFeedFormatError):
        parse_feed(path)
    assert [True] == [stream.closed for stream in opened]


def test_a_caller_file_object_is_never_closed() -> None:
    source = Tracked(CSV)
    records = parse_feed(source, format="csv")
    next(records)
    records.close()
    assert False is source.closed


def test_a_file_name_or_content_type_picks_the_format_for_bytes() -> None:
    data = b"sku\ttitle\nA\tx\n"
    by_name = summary(parse_feed(data, filename="upload.tsv"))
    by_type = summary(parse_feed(data, content_type="text/tab-separated-values"))
    assert [({"sku": "A", "title": "x"}, 2, 1)] * 2 == [*by_name, *by_type]


def test_the_name_of_an_open_file_gives_its_extension(tmp_path: Path) -> None:
    path = tmp_path / "feed.ndjson"
    path.write_bytes(b'{"a": 1}\n')
    with path.open("rb") as file:
        assert [({"a": 1}, 1, 1)] == summary(parse_feed(file))


# -- limits -------------------------------------------------------------------------------------


def test_bytes_over_max_bytes_are_refused_before_reading(tmp_path: Path) -> None:
    path = tmp_path / "big.csv"
    path.write_bytes(CSV)
    limits = FeedLimits(max_bytes=len(CSV) - 1)
    for source in (CSV, path):
        with pytest.raises(FeedLimitError) as caught:
            parse_feed(source, format="csv", limits=limits)
        assert ("max_bytes", len(CSV) - 1, None) == (
            caught.value.limit,
            caught.value.maximum,
            caught.value.line,
        )


def test_a_stream_of_unknown_size_is_cut_at_max_bytes_naming_the_line() -> None:
    data = b"sku\n" + b"".join(b"%d\n" % n for n in range(100))
    records = parse_feed(NoFileno(data), format="csv", limits=FeedLimits(max_bytes=50))
    with pytest.raises(FeedLimitError) as caught:
        list(records)
    assert ("max_bytes", 20) == (caught.value.limit, caught.value.line)


def test_a_feed_of_exactly_max_bytes_is_accepted() -> None:
    assert EXPECTED == summary(
        parse_feed(NoFileno(CSV), format="csv", limits=FeedLimits(max_bytes=len(CSV)))
    )


@pytest.mark.parametrize("value", [0, -1, 1.5, True, "10"])
def test_limits_must_be_positive_integers(value: object) -> None:
    with pytest.raises(ValueError, match="max_records must be a positive integer"):
        FeedLimits(max_records=value)  # type: ignore[arg-type]


# -- hooks ----------------------------------------------------------------------------------------


def test_hooks_see_progress_then_one_finished_event(tmp_path: Path) -> None:
    path = tmp_path / "feed.csv"
    data = b"sku,title\n" + b"".join(b"S%d,title %d\n" % (n, n) for n in range(20_000)) + b"B,\n"
    path.write_bytes(data)
    events: list[object] = []
    records = list(parse_feed(path, hooks=[events.append], limits=FeedLimits()))
    progress = [e for e in events if isinstance(e, FeedProgress)]
    assert isinstance(events[-1], FeedFinished)
    assert FeedFinished("csv", 20_001, 0, len(data)) == events[-1]
    assert len(progress) >= 3
    assert sorted(p.bytes_read for p in progress) == [p.bytes_read for p in progress]
    assert {("csv", len(data))} == {(p.format, p.total_bytes) for p in progress}
    assert 20_001 == len(records)


def test_the_finished_event_counts_records_with_errors() -> None:
    events: list[object] = []
    list(parse_feed(b"a,b\n1\n2,3\n", format="csv", hooks=[events.append]))
    assert FeedFinished("csv", 2, 1, 10) == events[-1]


def test_a_hook_that_raises_is_logged_and_reading_goes_on(caplog: pytest.LogCaptureFixture) -> None:
    def broken(event: object) -> None:
        raise RuntimeError("metrics backend down")

    seen: list[object] = []
    with caplog.at_level(logging.ERROR, logger="commerce_kit.feeds"):
        records = summary(parse_feed(CSV, format="csv", hooks=[broken, seen.append]))
    assert (EXPECTED, True) == (records, isinstance(seen[-1], FeedFinished))
    assert caplog.records
    assert all("failed on Feed" in r.getMessage() for r in caplog.records)
    assert {"commerce_kit.feeds"} == {r.name for r in caplog.records}


# -- the source plumbing --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("head", "known", "codec"),
    [
        (b"\xef\xbb\xbfa", None, "utf-8-sig"),
        (b"\xff\xfea\x00", None, "utf-16"),
        (b"\xfe\xff\x00a", None, "utf-16"),
        (b"abc", None, "utf-8"),
        (b"\xef\xbb\xbfa", "utf-8", "utf-8-sig"),
        (b"abc", "latin-1", "latin-1"),
        (b"\xff\xfea\x00", "utf-8", "utf-16"),
    ],
)
def test_the_codec_comes_from_the_byte_order_mark_or_what_is_known(
    head: bytes, known: str | None, codec: str
) -> None:
    assert codec == detect_encoding(head, known)


def test_a_buffered_stream_is_used_as_it_is() -> None:
    stream = io.BufferedReader(io.BytesIO(b"x"))
    assert stream is buffered(stream)


def test_a_feed_stream_counts_bytes_only_over_its_own_reader() -> None:
    plain = FeedStream(io.BytesIO(b"abc"))
    counted = open_source(b"abc", max_bytes=10)
    counted.read()
    assert (0, 3) == (plain.bytes_read, counted.bytes_read)


def test_a_text_file_of_wide_characters_is_encoded_in_bounded_pieces() -> None:
    text = "a\n" + "\U0001f600" * 40_000 + "\n"
    records = list(
        parse_feed(io.StringIO(text), format="csv", limits=FeedLimits(max_field_chars=50_000))
    )
    assert [({"a": "\U0001f600" * 40_000}, 2, 1)] == summary(records)


def test_closing_the_raw_reader_twice_is_harmless() -> None:
    stream = open_source(b"abc", max_bytes=10)
    stream.raw.close()
    stream.raw.close()
    assert stream.raw.closed


def test_an_adapter_may_return_any_iterator() -> None:
    class Listing:
        name = "listing"
        content_types = ()
        extensions = ()

        def parse(self, stream: BinaryIO, limits: FeedLimits) -> Iterator[FeedRecord]:
            return iter([FeedRecord({"n": stream.read().decode()}, 1, 1)])

    registry = FeedAdapterRegistry([Listing()])
    assert [({"n": "x"}, 1, 1)] == summary(parse_feed(b"x", format="listing", registry=registry))


def test_records_are_plain_equal_values() -> None:
    record = next(parse_feed(CSV, format="csv"))
    assert FeedRecord({"sku": "A", "title": "Red"}, 2, 1) == record
    with pytest.raises(AttributeError):
        record.line = 3  # type: ignore[misc]

"""Delimited text feeds: CSV (comma or semicolon) and TSV, one record per row after a header.

Rows are read with the standard :mod:`csv` module in strict mode over a line source that counts
characters, so a record that never ends (an unclosed quote, a gigabyte without a line break) is
stopped at ``max_record_chars`` instead of filling memory, and the physical line where each record
starts is known even when quoted cells hold line breaks.
"""

from __future__ import annotations

import csv
import itertools
from collections.abc import Callable, Iterator
from typing import BinaryIO

from commerce_kit._errors import FeedFormatError, FeedLimitError
from commerce_kit.feeds._limits import FeedLimits
from commerce_kit.feeds._record import (
    FeedRecord,
    make_record,
    new,
    set_data,
    set_error,
    set_index,
    set_line,
)
from commerce_kit.feeds._source import head_text, repair, text_of, undecodable_column

__all__ = ["CsvAdapter", "TsvAdapter", "read_delimited"]

Transform = Callable[[dict[str, object]], dict[str, object]]


class _RecordTooLong(Exception):  # noqa: N818 - internal signal, turned into FeedLimitError
    """Raised by the line source when the current record outgrows ``max_record_chars``."""


def _lines(readline: Callable[[int], str], cap: int, state: list[int]) -> Iterator[str]:
    """Yield physical lines, counting the current record's characters in ``state[0]``.

    ``state[1]`` and ``state[2]`` receive the line and column of the first undecodable byte of
    the current record (0 when none); the reader resets all three when a record completes.
    """
    limit = cap + 1
    number = 0
    while line := readline(limit):
        number += 1
        size = state[0] + len(line)
        if size > cap:
            raise _RecordTooLong
        state[0] = size
        if not state[1] and not line.isascii():
            column = undecodable_column(line)
            if column is not None:
                state[1] = number
                state[2] = column
        yield line


def _first_line(head: str) -> str:
    end = len(head)
    for mark in ("\n", "\r"):
        at = head.find(mark)
        if at != -1:
            end = min(end, at)
    return head[:end]


def _record_too_long(line: int, limits: FeedLimits) -> FeedLimitError:
    return FeedLimitError(
        f"line {line}: the record starting here is longer than max_record_chars="
        f"{limits.max_record_chars:,} characters (an unclosed quote?)",
        limit="max_record_chars",
        maximum=limits.max_record_chars,
        line=line,
    )


def _field_too_long(line: int, column: str, limits: FeedLimits) -> FeedLimitError:
    return FeedLimitError(
        f"line {line}, column {column!r}: the value is longer than max_field_chars="
        f"{limits.max_field_chars:,} characters",
        limit="max_field_chars",
        maximum=limits.max_field_chars,
        line=line,
    )


def _plural(count: int, word: str) -> str:
    return f"{count} {word}" if count == 1 else f"{count} {word}s"


def _ragged(row: list[str], names: list[str]) -> str:
    got, want = len(row), len(names)
    head = f"{_plural(got, 'value')} but the header has {_plural(want, 'column')}"
    if got < want:
        missing = names[got:]
        shown = ", ".join(missing[:5]) + (", ..." if len(missing) > 5 else "")
        return f"{head} (missing: {shown})"
    return f"{head} ({got - want} extra)"


def _pack_repeated(names: list[str], repeated: frozenset[str], row: list[str]) -> dict[str, object]:
    data: dict[str, object] = {}
    for name, value in zip(names, row, strict=False):
        if name in repeated:
            values = data.setdefault(name, [])
            values.append(value)  # type: ignore[attr-defined]  # a list, set just above
        else:
            data[name] = value
    return data


def read_delimited(
    stream: BinaryIO,
    limits: FeedLimits,
    *,
    delimiter: str | None = None,
    transform: Transform | None = None,
) -> Iterator[FeedRecord]:
    """Yield one record per row of a delimited text feed whose first row names the columns.

    Args:
        stream: The feed, as bytes (UTF-8, or UTF-16/UTF-8 with a byte-order mark).
        limits: Bounds on record and field size.
        delimiter: The cell separator; ``None`` picks ``","`` or ``";"``, whichever the header
            line holds more of.
        transform: Applied to each record's data.

    Yields:
        Records in row order; blank lines are skipped. A row with the wrong number of cells,
        broken quoting or bytes that are not UTF-8 is yielded with ``error`` set.

    Raises:
        FeedFormatError: The header row cannot be read.
        FeedLimitError: A record or a value is longer than the limits allow.
    """
    with text_of(stream) as text:
        state = [0, 0, 0]
        lines = _lines(text.readline, limits.max_record_chars, state)
        try:
            first = next(lines, None)
        except _RecordTooLong:
            raise _record_too_long(1, limits) from None
        if first is None:
            return
        if delimiter is None:
            delimiter = ";" if first.count(";") > first.count(",") else ","
        reader = csv.reader(itertools.chain((first,), lines), delimiter=delimiter, strict=True)
        header: list[str] = []
        start = 1
        try:
            while not header:  # blank lines before the header
                start = reader.line_num + 1
                header = next(reader)
        except StopIteration:
            return
        except csv.Error as error:
            raise FeedFormatError(
                f"line {reader.line_num}: the header row cannot be read: {error}",
                line=reader.line_num,
            ) from None
        except _RecordTooLong:
            raise _record_too_long(start, limits) from None
        bad_line, bad_column = state[1], state[2]
        if bad_line:
            raise FeedFormatError(
                f"line {bad_line}, column {bad_column}: the header holds bytes that are not "
                "valid UTF-8; save the file as UTF-8",
                line=bad_line,
                column=bad_column,
            )
        names = [name.strip() for name in header]
        width = len(names)
        repeated = frozenset(name for name in names if names.count(name) > 1)
        max_field = limits.max_field_chars
        state[0] = 0
        prev = reader.line_num
        index = 0
        while True:
            try:
                for row in reader:
                    start = prev + 1
                    prev = reader.line_num
                    chars = state[0]
                    state[0] = 0
                    if not row:
                        continue
                    index += 1
                    if state[1] or len(row) != width:
                        yield _problem(row, names, start, index, state, transform=transform)
                        continue
                    if chars > max_field:
                        for name, value in zip(names, row, strict=False):
                            if len(value) > max_field:
                                raise _field_too_long(start, name, limits)
                    data: dict[str, object] = (
                        _pack_repeated(names, repeated, row)
                        if repeated
                        else dict(zip(names, row, strict=False))
                    )
                    if transform is not None:
                        data = transform(data)
                    record = new(FeedRecord)
                    set_data(record, data)
                    set_line(record, start)
                    set_index(record, index)
                    set_error(record, None)
                    yield record
            except csv.Error as error:
                start = prev + 1
                prev = reader.line_num
                state[0] = state[1] = 0
                index += 1
                yield make_record({}, start, index, f"the row cannot be read: {error}")
                continue
            except _RecordTooLong:
                raise _record_too_long(prev + 1, limits) from None
            return


def _problem(
    row: list[str],
    names: list[str],
    start: int,
    index: int,
    state: list[int],
    *,
    transform: Transform | None,
) -> FeedRecord:
    if state[1]:
        message = (
            f"line {state[1]}, column {state[2]} holds bytes that are not valid UTF-8; "
            "save the file as UTF-8"
        )
        row = [repair(value) for value in row]
        state[1] = state[2] = 0
    else:
        message = _ragged(row, names)
    data: dict[str, object] = dict(zip(names, row, strict=False))
    return make_record(data if transform is None else transform(data), start, index, message)


class CsvAdapter:
    """Comma-separated values with a header row (RFC 4180; semicolons are detected too).

    Each row becomes a record mapping the header's column names (stripped of surrounding
    spaces) to the row's cells, as strings. Quoted cells may hold delimiters, quotes (doubled) and
    line breaks; :attr:`FeedRecord.line` is the line the row starts on. A column name used twice
    maps to the list of its cells. The text is UTF-8, with or without a byte-order mark; UTF-16
    with a byte-order mark is read too. Blank lines are skipped.

    A row that cannot be read whole is yielded in its place with :attr:`FeedRecord.error` set,
    and reading goes on: a row with more or fewer cells than the header (the cells there are
    kept), broken quoting, or bytes that are not UTF-8 (shown as U+FFFD). A header that cannot be
    read raises :class:`~commerce_kit.FeedFormatError`; a row longer than ``max_record_chars``
    (an unclosed quote, usually) or a cell longer than ``max_field_chars`` raises
    :class:`~commerce_kit.FeedLimitError`.

    .. versionadded:: 0.1.0
    """

    name = "csv"
    content_types: tuple[str, ...] = ("text/csv", "application/csv", "text/x-csv")
    extensions: tuple[str, ...] = (".csv",)

    def sniff(self, head: bytes) -> float:
        """Rate the first bytes as CSV: a first line holding commas or semicolons."""
        line = _first_line(head_text(head))
        if line.lstrip()[:1] in {"<", "{", "["}:
            return 0.0
        commas = max(line.count(","), line.count(";"))
        return 0.3 if commas > line.count("\t") else 0.0

    def parse(self, stream: BinaryIO, limits: FeedLimits) -> Iterator[FeedRecord]:
        """Yield one record per row after the header."""
        return read_delimited(stream, limits)


class TsvAdapter:
    """Tab-separated values with a header row, read like :class:`CsvAdapter` with tabs.

    .. versionadded:: 0.1.0
    """

    name = "tsv"
    content_types: tuple[str, ...] = ("text/tab-separated-values",)
    extensions: tuple[str, ...] = (".tsv", ".tab")

    def sniff(self, head: bytes) -> float:
        """Rate the first bytes as TSV: a first line holding more tabs than commas."""
        line = _first_line(head_text(head))
        tabs = line.count("\t")
        return 0.4 if tabs and tabs >= line.count(",") else 0.0

    def parse(self, stream: BinaryIO, limits: FeedLimits) -> Iterator[FeedRecord]:
        """Yield one record per row after the header."""
        return read_delimited(stream, limits, delimiter="\t")

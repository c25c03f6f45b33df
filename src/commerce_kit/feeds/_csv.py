"""Delimited text feeds: CSV (comma or semicolon) and TSV, one record per row after a header.

Rows are read with the standard :mod:`csv` module in strict mode over a line source that counts
characters, so a record that never ends (an unclosed quote, a gigabyte without a line break) is
stopped at ``max_record_chars`` instead of filling memory, and the physical line where each record
starts is known even when quoted cells hold line breaks.
"""

from __future__ import annotations

import csv
import itertools
import threading
from collections import Counter
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


class _FieldSizeLimit:
    """Keeps the :mod:`csv` module's own field limit out of the way of :class:`FeedLimits`.

    The C reader refuses a field longer than :func:`csv.field_size_limit` (131,072 characters
    unless changed), a limit shared by the whole process. While any feed needs more
    (``max_field_chars`` above it), the limit is raised to the largest need, and put back to
    what it was when the last such feed finishes; a value the application set in between is
    left alone. It is never lowered under what anyone set, so a reader on another thread never
    loses a field it was allowed; other readers may accept longer fields while a feed is read.
    A field over ``max_field_chars`` is then always reported as a :class:`FeedLimitError`.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._needs: list[int] = []
        self._saved = 0  # the limit before it was raised
        self._set: int | None = None  # the limit as raised, None when untouched

    def _apply(self) -> None:
        current = csv.field_size_limit()
        if self._set is not None and current != self._set:
            self._set = None  # the application set its own limit since: keep it
        if self._set is None:
            self._saved = current
        wanted = max(self._needs, default=0)
        target = max(self._saved, wanted)
        if target != current:
            csv.field_size_limit(target)
        self._set = target if target != self._saved else None

    def acquire(self, need: int) -> None:
        with self._lock:
            self._needs.append(need)
            self._apply()

    def release(self, need: int) -> None:
        with self._lock:
            self._needs.remove(need)
            self._apply()


_field_size_limit = _FieldSizeLimit()


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


def _field_too_long(line: int, column: str | None, limits: FeedLimits) -> FeedLimitError:
    where = f"line {line}" if column is None else f"line {line}, column {column!r}"
    return FeedLimitError(
        f"{where}: the value is longer than max_field_chars={limits.max_field_chars:,} characters",
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
    need = limits.max_field_chars
    _field_size_limit.acquire(need)
    try:
        yield from _read_delimited(stream, limits, delimiter, transform)
    finally:
        _field_size_limit.release(need)


def _is_field_limit(error: csv.Error) -> bool:
    return str(error).startswith("field larger than field limit")


def _blank(row: list[str]) -> bool:
    return not any(cell.strip() for cell in row)


def _read_delimited(
    stream: BinaryIO,
    limits: FeedLimits,
    delimiter: str | None,
    transform: Transform | None,
) -> Iterator[FeedRecord]:
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
            while _blank(header):  # blank lines before the header
                start = reader.line_num + 1
                header = next(reader)
        except StopIteration:
            return
        except csv.Error as error:
            if _is_field_limit(error):
                raise _field_too_long(start, None, limits) from None
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
        max_field = limits.max_field_chars
        for name in header:
            if len(name) > max_field:
                raise _field_too_long(start, None, limits)
        names = [name.strip() for name in header]
        width = len(names)
        repeated = frozenset(name for name, count in Counter(names).items() if count > 1)
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
                    if chars > max_field:
                        for at, value in enumerate(row):
                            if len(value) > max_field:
                                raise _field_too_long(
                                    start, names[at] if at < width else None, limits
                                )
                    if state[1] or len(row) != width:
                        yield _problem(row, names, start, index, state, transform=transform)
                        continue
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
                if _is_field_limit(error):
                    raise _field_too_long(start, None, limits) from None
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
    (an unclosed quote, usually) or a cell (header, ragged rows included) longer than
    ``max_field_chars`` raises :class:`~commerce_kit.FeedLimitError`, whatever
    :func:`csv.field_size_limit` says: cells up to ``max_field_chars`` are read even past it.

    .. versionadded:: 0.1.0
    .. versionchanged:: 0.2.0
       ``max_field_chars`` alone bounds a cell; lines of only white space before the header
       are skipped.
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

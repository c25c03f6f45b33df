"""The unit every feed adapter yields."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class FeedRecord:
    """One raw record read from a partner feed, before validation.

    A record the adapter could only partly read (a CSV row with the wrong number of cells, an
    NDJSON line that is not JSON, bytes that are not UTF-8) still comes out, in its place, with
    :attr:`error` saying what is wrong, so one bad record does not stop the import of the others.

    Attributes:
        data: The record's fields as read, keyed by field name; values are as the format gives
            them (strings for CSV and XML, JSON types for JSON). For a record with an
            :attr:`error`, whatever could be read (possibly nothing).
        line: The physical 1-based line of the source where the record starts.
        index: The 1-based position of the record in the feed (among the records yielded:
            rows a column map skips as not products are not counted).
        error: ``None`` for a record read whole; otherwise a sentence saying why it could not
            be, such as ``"7 values but the header has 8 columns (missing: stock)"``.

    .. versionadded:: 0.1.0
    """

    data: Mapping[str, object]
    line: int
    index: int
    error: str | None = None


# A frozen dataclass sets each field through ``object.__setattr__``; writing the slots through
# their descriptors is about twice as fast, which counts when a feed holds a million records.
# The result is an ordinary, equal, immutable FeedRecord.
_slots = vars(FeedRecord)
new = object.__new__
set_data = _slots["data"].__set__
set_line = _slots["line"].__set__
set_index = _slots["index"].__set__
set_error = _slots["error"].__set__


def make_record(
    data: Mapping[str, object], line: int, index: int, error: str | None = None
) -> FeedRecord:
    """Return ``FeedRecord(data, line, index, error)``, built through the slot descriptors."""
    record: FeedRecord = new(FeedRecord)
    set_data(record, data)
    set_line(record, line)
    set_index(record, index)
    set_error(record, error)
    return record

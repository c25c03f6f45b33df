"""The unit every feed adapter yields."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class FeedRecord:
    """One raw record read from a partner feed, before validation.

    Attributes:
        data: The record's fields as read, keyed by field name; values are as the format gives
            them (strings for CSV and XML, JSON types for JSON).
        line: The physical 1-based line of the source where the record starts.
        index: The 1-based position of the record in the feed.
    """

    data: Mapping[str, object]
    line: int
    index: int

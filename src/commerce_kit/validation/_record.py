"""What the validator reads from a feed's records: the fields, where they came from, read errors."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Protocol

__all__ = ["SourceRecord"]


class SourceRecord(Protocol):
    """A record read from a feed, as :class:`~commerce_kit.validation.Validator` reads it.

    :class:`commerce_kit.feeds.FeedRecord` is one; any object with these attributes is one too,
    so the validator depends on no parser.

    Attributes:
        data: The record's fields, keyed by field name.
        line: The 1-based line of the source where the record starts, named in errors.
        index: The 1-based position of the record in the feed.
        error: ``None`` for a record read whole, otherwise why it could not be read.

    .. versionadded:: 0.2.0
    """

    @property
    def data(self) -> Mapping[str, object]: ...

    @property
    def line(self) -> int | None: ...

    @property
    def index(self) -> int: ...

    @property
    def error(self) -> str | None: ...

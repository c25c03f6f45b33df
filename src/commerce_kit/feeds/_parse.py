"""``parse_feed``: open a source, choose its adapter, stream its records within the limits."""

from __future__ import annotations

import logging
from collections.abc import Callable, Generator, Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import Literal, TypeAlias

from commerce_kit._errors import FeedFormatError, FeedLimitError, UnknownFeedFormatError
from commerce_kit._hooks import emit
from commerce_kit.feeds._adapter import FeedAdapter
from commerce_kit.feeds._columns import FieldMap, Mapper, resolve_columns
from commerce_kit.feeds._limits import DEFAULT_LIMITS, FeedLimits
from commerce_kit.feeds._record import FeedRecord
from commerce_kit.feeds._registry import FeedAdapterRegistry
from commerce_kit.feeds._registry import registry as default_registry
from commerce_kit.feeds._source import (
    FeedSource,
    FeedStream,
    empty_feed,
    encode_text,
    open_source,
)

__all__ = [
    "FeedEvent",
    "FeedFinished",
    "FeedProgress",
    "RecordSkipped",
    "parse_feed",
    "parse_feed_text",
]

logger = logging.getLogger("commerce_kit.feeds")


@dataclass(frozen=True, slots=True)
class FeedProgress:
    """Emitted each time a chunk of the feed is read (every 64 KiB or so).

    Attributes:
        format: The name of the format the feed is read as.
        bytes_read: Bytes read from the source so far (including read-ahead).
        total_bytes: The source's size, when known in advance (files, bytes), else ``None``.

    .. versionadded:: 0.1.0
    """

    format: str
    bytes_read: int
    total_bytes: int | None


@dataclass(frozen=True, slots=True)
class RecordSkipped:
    """Emitted for each row a column map skips because it is not a product.

    Attributes:
        format: The name of the format the feed is read as.
        line: The line the skipped row starts on.
        reason: Why the row is not a product, such as ``"a variable product, whose variations
            are the products"``.

    .. versionadded:: 0.1.0
    """

    format: str
    line: int
    reason: str


@dataclass(frozen=True, slots=True)
class FeedFinished:
    """Emitted once the last record of a feed has been read.

    Attributes:
        format: The name of the format the feed was read as.
        records: How many records were yielded.
        errors: How many of them carry an :attr:`~FeedRecord.error`.
        bytes_read: The size of the feed in bytes.
        skipped: How many rows a column map skipped as not products (not counted in
            ``records``).
        columns: The name of the column map applied (``"shopify"``, ``"custom"``, ...), or
            ``None`` when the columns were read as they are.

    .. versionadded:: 0.1.0
    """

    format: str
    records: int
    errors: int
    bytes_read: int
    skipped: int = 0
    columns: str | None = None


#: What a feed hook receives.
FeedEvent: TypeAlias = FeedProgress | RecordSkipped | FeedFinished
FeedHook: TypeAlias = Callable[[FeedEvent], None]
#: What ``columns=`` accepts.
Columns: TypeAlias = FieldMap | Mapping[str, str] | str | None


def _emit(hooks: tuple[FeedHook, ...], event: FeedEvent) -> None:
    emit(hooks, event, logger)


class _Progress:
    """The stream's progress callback: emits :class:`FeedProgress` once the format is known."""

    __slots__ = ("format", "hooks", "total")

    def __init__(self, hooks: tuple[FeedHook, ...]) -> None:
        self.hooks = hooks
        self.format = ""
        self.total: int | None = None

    def __call__(self, bytes_read: int) -> None:
        if self.format:
            _emit(self.hooks, FeedProgress(self.format, bytes_read, self.total))


def parse_feed(
    source: FeedSource,
    *,
    format: str | None = None,  # noqa: A002 - the word users know
    content_type: str | None = None,
    filename: str | None = None,
    limits: FeedLimits | None = None,
    registry: FeedAdapterRegistry | None = None,
    hooks: Iterable[FeedHook] = (),
    columns: Columns = None,
) -> Generator[FeedRecord, None, None]:
    """Read a partner feed record by record, in whatever format it comes in.

    The source is opened and its format chosen right away, so a missing file, an unknown format
    or an oversized file raise here; the records themselves are read lazily, one chunk of the
    feed at a time, so memory stays flat however large the feed is.

    Args:
        source: A path (``str`` or :class:`os.PathLike`: a ``str`` is always a path), the feed's
            content as ``bytes``, or a file object open in binary mode (text mode works too,
            read as UTF-8). For feed text in a ``str``, use :func:`parse_feed_text`.
        format: The format's registered name (``"csv"``, ``"tsv"``, ``"json"``, ``"ndjson"``,
            ``"xml"``, ``"google-merchant"``, or a plugin's); by default it is chosen from
            ``content_type``, then the file extension, then the feed's first bytes.
        content_type: The ``Content-Type`` the feed was sent with, such as ``"text/csv"``.
        filename: The feed's file name, for its extension, when ``source`` is bytes or a file
            object without one (an upload, say).
        limits: Bounds on the feed; :class:`FeedLimits` defaults when ``None``.
        registry: Where to look adapters up; the module's :data:`registry` by default.
        hooks: Callables receiving :class:`FeedProgress`, :class:`RecordSkipped` and
            :class:`FeedFinished` events; one that raises is logged and ignored.
        columns: How the feed's columns become product fields. ``None`` (the default) keeps
            them as they are. A preset's name (``"shopify"``, ``"woocommerce"``,
            ``"magento"``: see :data:`FIELD_MAPS`), a :class:`FieldMap`, or a plain
            ``{source column: product field}`` mapping renames them, and a preset also skips
            the rows that are not products. ``"auto"`` applies the preset whose columns the
            first record has, if exactly one matches, and nothing otherwise.

    Returns:
        A generator of :class:`FeedRecord`; closing it (or exhausting it) closes the source
        if ``parse_feed`` opened it. With a column map, records are numbered (``index``)
        among the records yielded, skipped rows left out.

    Raises:
        ValueError: ``columns`` names no preset.
        UnknownFeedFormatError: The format is not registered or cannot be told.
        FeedFormatError: The feed is empty (no bytes, or only white space), in any format:
            raised right away when the format is to be told from the content, else while
            iterating.
        FeedLimitError: The feed exceeds a limit (``max_bytes`` can be raised right away, the
            others while iterating).
        FeedFormatError: While iterating, the feed cannot be read on (bad JSON or XML syntax, an
            unreadable CSV header), or has none of the columns of the map named in
            ``columns``; or a text file object holds a lone surrogate (undecodable bytes read
            with ``errors="surrogateescape"``).
        UnsafeFeedError: While iterating, the XML feed carries a DTD or entity attack.
        TypeError: ``source`` is not one of the accepted kinds.
        OSError: The path cannot be opened.

    .. versionadded:: 0.1.0
    .. versionchanged:: 0.2.0
       An empty feed raises :class:`~commerce_kit.FeedFormatError` whatever its format;
       a lone surrogate in text raises it too, instead of :class:`UnicodeEncodeError`.
    """
    return _open(
        source,
        encoding=None,
        format=format,
        content_type=content_type,
        filename=filename,
        limits=limits,
        registry=registry,
        hooks=hooks,
        columns=columns,
    )


def parse_feed_text(
    text: str,
    *,
    format: str | None = None,  # noqa: A002 - the word users know
    content_type: str | None = None,
    filename: str | None = None,
    limits: FeedLimits | None = None,
    registry: FeedAdapterRegistry | None = None,
    hooks: Iterable[FeedHook] = (),
    columns: Columns = None,
) -> Generator[FeedRecord, None, None]:
    """Read a feed held in a ``str``, like :func:`parse_feed` reads one from a file.

    The text is read as UTF-8 whatever an XML declaration in it says, since it is already
    decoded. The arguments are those of :func:`parse_feed`.

    Raises:
        FeedFormatError: The text holds a lone surrogate, which is not a character (raised
            right away), or is empty.

    .. versionadded:: 0.1.0
    .. versionchanged:: 0.2.0
       A lone surrogate raises :class:`~commerce_kit.FeedFormatError`, not
       :class:`UnicodeEncodeError`; empty text is refused as an empty feed.
    """
    return _open(
        encode_text(text),
        encoding="utf-8",
        format=format,
        content_type=content_type,
        filename=filename,
        limits=limits,
        registry=registry,
        hooks=hooks,
        columns=columns,
    )


def _open(
    source: FeedSource,
    *,
    encoding: str | None,
    format: str | None,  # noqa: A002 - as in parse_feed
    content_type: str | None,
    filename: str | None,
    limits: FeedLimits | None,
    registry: FeedAdapterRegistry | None,
    hooks: Iterable[FeedHook],
    columns: Columns,
) -> Generator[FeedRecord, None, None]:
    """Resolve the arguments, open the source and choose the adapter: the work both faces share."""
    limits = DEFAULT_LIMITS if limits is None else limits
    chosen = default_registry if registry is None else registry
    field_map = resolve_columns(columns)
    hook_list = tuple(hooks)
    adapter: FeedAdapter | None = None if format is None else chosen.get(format)
    progress = _Progress(hook_list) if hook_list else None
    stream = open_source(
        source,
        max_bytes=limits.max_bytes,
        progress=progress,
        filename=filename,
        encoding=encoding,
    )
    return _start(
        stream,
        adapter=adapter,
        registry=chosen,
        content_type=content_type,
        limits=limits,
        progress=progress,
        hooks=hook_list,
        field_map=field_map,
    )


def _start(
    stream: FeedStream,
    *,
    adapter: FeedAdapter | None,
    registry: FeedAdapterRegistry,
    content_type: str | None,
    limits: FeedLimits,
    progress: _Progress | None,
    hooks: tuple[FeedHook, ...],
    field_map: FieldMap | Literal["auto"] | None,
) -> Generator[FeedRecord, None, None]:
    try:
        if adapter is None:
            try:
                adapter = registry.select(
                    content_type=content_type, filename=stream.filename, head=stream.head()
                )
            except UnknownFeedFormatError:
                if stream.is_empty():
                    raise empty_feed() from None
                raise
        if progress is not None:
            progress.format = adapter.name
            progress.total = stream.total_bytes
        records = adapter.parse(stream, limits)
    except BaseException:
        stream.close()
        raise
    mapper = None
    if field_map is not None:
        on_skip = _SkipHook(adapter.name, hooks) if hooks else None
        mapper = Mapper(records, field_map, on_skip)
    return _records(records, stream, adapter.name, limits, hooks, mapper=mapper)


class _SkipHook:
    """The column mapper's skip callback: emits :class:`RecordSkipped`."""

    __slots__ = ("format", "hooks")

    def __init__(self, format: str, hooks: tuple[FeedHook, ...]) -> None:  # noqa: A002
        self.format = format
        self.hooks = hooks

    def __call__(self, line: int, reason: str) -> None:
        _emit(self.hooks, RecordSkipped(self.format, line, reason))


def _records(
    records: Iterator[FeedRecord],
    stream: FeedStream,
    name: str,
    limits: FeedLimits,
    hooks: tuple[FeedHook, ...],
    *,
    mapper: Mapper | None,
) -> Generator[FeedRecord, None, None]:
    """Map columns, enforce ``max_records``, emit the final event, close the source at the end."""
    max_records = limits.max_records
    count = errors = 0
    try:
        try:
            for record in records if mapper is None else mapper:
                count += 1
                if count > max_records:
                    raise FeedLimitError(
                        f"line {record.line}: the feed holds more than max_records="
                        f"{max_records:,} records",
                        limit="max_records",
                        maximum=max_records,
                        line=record.line,
                    )
                if hooks and record.error is not None:
                    errors += 1
                yield record
        except FeedFormatError:
            # Whatever an adapter makes of white space (no root element, no array), an empty
            # feed gets one error in every format.
            if not count and stream.is_empty():
                raise empty_feed() from None
            raise
        if not count and stream.is_empty():
            raise empty_feed()
        if hooks:
            skipped, applied = (0, None) if mapper is None else (mapper.skipped, mapper.applied)
            _emit(hooks, FeedFinished(name, count, errors, stream.bytes_read, skipped, applied))
    finally:
        close = getattr(records, "close", None)
        try:
            if callable(close):
                close()
        finally:
            stream.close()

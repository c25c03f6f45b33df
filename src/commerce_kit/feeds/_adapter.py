"""What a feed adapter is, and what a feed can be read from."""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING, BinaryIO, Protocol, runtime_checkable

from commerce_kit.feeds._source import FeedFile, FeedSource

if TYPE_CHECKING:
    from commerce_kit.feeds._limits import FeedLimits
    from commerce_kit.feeds._record import FeedRecord

__all__ = ["FeedAdapter", "FeedFile", "FeedSource"]


@runtime_checkable
class FeedAdapter(Protocol):
    """Reads one feed format into :class:`~commerce_kit.feeds.FeedRecord` objects.

    Register an adapter with :data:`commerce_kit.feeds.registry` (or publish it under the entry
    point group ``commerce_kit.feed_adapters``) and :func:`commerce_kit.feeds.parse_feed` reads
    its format, chosen by name, content type, file extension or sniffing.

    Contract:

    * :attr:`name` is the format's registry key (``"csv"``); :attr:`content_types` and
      :attr:`extensions` (lower case, with the dot: ``".csv"``) are what select it.
    * :meth:`parse` yields records lazily, in feed order, numbering them from 1 and giving the
      physical line each starts on; it reads the stream incrementally and never closes it.
    * It stays within ``limits`` (field size, record size, depth) and raises
      :class:`~commerce_kit.feeds.FeedLimitError` when the feed does not;
      :func:`~commerce_kit.feeds.parse_feed` itself enforces ``max_bytes`` and ``max_records``.
    * A record that cannot be read whole but leaves the rest readable is yielded with
      :attr:`~commerce_kit.feeds.FeedRecord.error` set; a feed that cannot be read on raises
      :class:`~commerce_kit.feeds.FeedFormatError`.
    * Optionally, a method ``sniff(head: bytes) -> float`` rates how sure the adapter is, from
      the feed's first bytes (up to 8 KiB), that the feed is in its format: ``0.0`` for no,
      ``1.0`` for certain. Formats are detected with it when nothing else says which to use.

    .. versionadded:: 0.1.0
    .. versionchanged:: 0.2.0
       Importable from :mod:`commerce_kit.typing` only.
    """

    @property
    def name(self) -> str:
        """The format's registry key, such as ``"csv"``."""
        ...

    @property
    def content_types(self) -> tuple[str, ...]:
        """The media types that select this format, such as ``("text/csv",)``."""
        ...

    @property
    def extensions(self) -> tuple[str, ...]:
        """The file extensions that select this format, such as ``(".csv",)``."""
        ...

    def parse(self, stream: BinaryIO, limits: FeedLimits) -> Iterator[FeedRecord]:
        """Yield the feed's records, reading ``stream`` incrementally within ``limits``.

        Raises:
            FeedFormatError: The feed cannot be read on.
            FeedLimitError: The feed exceeds one of ``limits``.
        """
        ...

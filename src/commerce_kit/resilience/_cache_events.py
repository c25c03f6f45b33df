"""What a :class:`~commerce_kit.TTLCache` reports: the events its hooks receive and its counters."""

from __future__ import annotations

from collections.abc import Hashable
from dataclasses import dataclass
from enum import Enum
from typing import TypeAlias

__all__ = ["CacheEvent", "CacheStats", "EntryEvicted", "EvictionReason", "LoadFinished"]


class EvictionReason(Enum):
    """Why an entry left the cache without being deleted.

    .. versionadded:: 0.1.0
    """

    #: The cache was full and this was its least recently used entry.
    SIZE = "size"
    #: The entry's lifetime (``ttl`` plus any ``stale_ttl``) had ended.
    EXPIRED = "expired"


@dataclass(frozen=True, slots=True)
class LoadFinished:
    """A loader call finished, by returning or by raising.

    Attributes:
        key: The key that was loaded.
        duration: Seconds the loader took, measured with the cache's clock.
        error: The exception the loader raised, or ``None`` when it returned a value.
        background: Whether this was a background refresh (stale-while-revalidate or early
            refresh) that no caller was waiting for when it started.

    .. versionadded:: 0.1.0
    """

    key: Hashable
    duration: float
    error: BaseException | None = None
    background: bool = False

    @property
    def ok(self) -> bool:
        """Whether the loader returned a value."""
        return self.error is None


@dataclass(frozen=True, slots=True)
class EntryEvicted:
    """An entry left the cache because it was full or because it had expired.

    Explicit :meth:`TTLCache.delete` and :meth:`TTLCache.clear` calls emit no event.

    Attributes:
        key: The key that left the cache.
        reason: Why it left.

    .. versionadded:: 0.1.0
    """

    key: Hashable
    reason: EvictionReason


#: What a cache hook receives.
CacheEvent: TypeAlias = LoadFinished | EntryEvicted


@dataclass(frozen=True, slots=True)
class CacheStats:
    """A snapshot of a cache's counters, taken by :attr:`TTLCache.stats`.

    Attributes:
        hits: Reads answered from the cache, stale values included.
        misses: Reads that found no usable entry (including reads answered by re-raising a
            negatively cached failure).
        stale_hits: The part of ``hits`` that served a stale value while a refresh ran.
        loads: Loader calls made.
        load_failures: The part of ``loads`` that raised (or were cancelled).
        evictions: Entries dropped because the cache was full.
        expirations: Expired entries removed (lazily, by :meth:`TTLCache.expire`, or when they were
            the eviction victim).

    .. versionadded:: 0.1.0
    """

    hits: int = 0
    misses: int = 0
    stale_hits: int = 0
    loads: int = 0
    load_failures: int = 0
    evictions: int = 0
    expirations: int = 0

    @property
    def hit_rate(self) -> float:
        """``hits / (hits + misses)``, or ``0.0`` before the first read."""
        total = self.hits + self.misses
        return self.hits / total if total else 0.0

"""Remembering accepted deliveries until a replay of them could no longer pass the clock check."""

from __future__ import annotations

import threading
import time
from heapq import heapify, heappop, heappush
from typing import Protocol

from commerce_kit._duration import positive_int
from commerce_kit._types import Clock


class ReplayStore(Protocol):
    """Where a verifier remembers the deliveries it accepted, so it can refuse them again.

    A verifier calls :meth:`seen_or_add` only after the signature verified, so a forger cannot
    fill the store or block a genuine id in advance. Implement it over any shared store (for
    example Redis ``SET key 1 NX EXAT expires_at``, then ``EXPIREAT key expires_at GT`` when the
    key existed) to share the guard between processes.

    .. versionadded:: 0.1.0
    """

    def seen_or_add(self, key: str, expires_at: float) -> bool:
        """Tell whether ``key`` is remembered, remembering it until at least ``expires_at``.

        The check and the insertion must be one atomic step.

        Args:
            key: What identifies the delivery (the ``webhook-id`` for Standard Webhooks).
            expires_at: The Unix time (seconds) up to which, inclusive, the key must be
                remembered. When the key is already remembered, its expiry becomes the later of
                the two, because the new delivery can be replayed for that long.

        Returns:
            ``True`` if ``key`` was remembered (a replay); ``False`` if it was new.
        """
        ...


class MemoryReplayStore:
    """A bounded, thread-safe :class:`ReplayStore` in this process's memory.

    Entries are forgotten once the clock is strictly past their expiry. When ``maxsize`` live
    entries are held, adding one more first forgets the entry that expires soonest (ties broken
    by key): only authenticated deliveries reach the store, so this happens only when a sender
    delivers more than ``maxsize`` messages within one tolerance window, and the store then
    protects the most recent ones.

    Args:
        maxsize: The most keys held at once.
        clock: Wall-clock Unix seconds, like the timestamps in the headers; default
            :func:`time.time`.

    Raises:
        ValueError: ``maxsize`` is smaller than 1.

    Example:
        >>> from commerce_kit.testing import ManualClock
        >>> from commerce_kit.webhooks import MemoryReplayStore
        >>> store = MemoryReplayStore(clock=ManualClock(1000.0))
        >>> store.seen_or_add("msg_1", expires_at=1300.0), store.seen_or_add("msg_1", 1300.0)
        (False, True)

    .. versionadded:: 0.1.0

    .. versionchanged:: 0.2.0
       ``max_size`` is spelled ``maxsize``, as in :func:`functools.lru_cache`.
    """

    __slots__ = ("_clock", "_expiry", "_heap", "_lock", "_maxsize")

    def __init__(self, maxsize: int = 100_000, *, clock: Clock = time.time) -> None:
        positive_int(maxsize, "maxsize")
        self._maxsize = maxsize
        self._clock = clock
        self._lock = threading.Lock()
        # key -> expiry of the live entries, and a min-heap of (expiry, key) over them. A key
        # whose expiry was extended leaves its older heap item behind; such stale items are
        # recognised by disagreeing with ``_expiry`` and skipped when they surface.
        self._expiry: dict[str, float] = {}
        self._heap: list[tuple[float, str]] = []

    def __repr__(self) -> str:
        return f"MemoryReplayStore(size={len(self._expiry)}, maxsize={self._maxsize})"

    def __len__(self) -> int:
        """Return how many keys are held (expired ones may linger until the next call)."""
        return len(self._expiry)

    def seen_or_add(self, key: str, expires_at: float) -> bool:
        """Tell whether ``key`` is remembered, remembering it until at least ``expires_at``.

        Args:
            key: What identifies the delivery.
            expires_at: The Unix time up to which, inclusive, the key must be remembered. A
                time already past is not stored.

        Returns:
            ``True`` if ``key`` was remembered (a replay); ``False`` if it was new.
        """
        now = self._clock()
        expiry = self._expiry
        heap = self._heap
        with self._lock:
            while heap and heap[0][0] < now:
                when, old = heappop(heap)
                if expiry.get(old) == when:
                    del expiry[old]
            known = expiry.get(key)
            if known is not None:
                if expires_at <= known:
                    return True
                seen = True
            elif expires_at < now:
                return False
            else:
                seen = False
                if len(expiry) >= self._maxsize:
                    while True:
                        when, old = heappop(heap)
                        if expiry.get(old) == when:
                            del expiry[old]
                            break
            expiry[key] = expires_at
            heappush(heap, (expires_at, key))
            if len(heap) > 2 * self._maxsize:
                # Too many stale items left by extended expiries: rebuild from the live ones.
                heap[:] = [(when, k) for k, when in expiry.items()]
                heapify(heap)
            return seen

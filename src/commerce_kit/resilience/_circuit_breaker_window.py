"""Calls and failures over a rolling time window, in O(1) per call (failure-rate mode).

The window is cut into ``buckets`` buckets of ``window / buckets`` seconds, numbered by
``now // width``. A bucket counts while its number is among the ``buckets`` latest, so a call stays
counted for between ``window - width`` and ``window`` seconds: resilience4j's time-based window
and Polly's advanced breaker make the same trade, bounded memory for a bucket's precision.

Not thread-safe on its own: the breaker and the retry budget (which counts attempts and marks
retries) hold a lock around every call.
"""

from __future__ import annotations

_NEVER = -(2**62)  # the bucket number before the first call: every bucket counts as expired


class RollingWindow:
    """Counts of calls and failures in the last ``buckets`` buckets of ``width`` seconds."""

    __slots__ = ("_calls", "_failures", "_head", "_size", "_width", "calls", "failures")

    def __init__(self, window: float, buckets: int) -> None:
        self._width = window / buckets
        self._size = buckets
        self._calls = [0] * buckets
        self._failures = [0] * buckets
        self._head = _NEVER
        #: Calls in the window as of the latest :meth:`add` or :meth:`advance`.
        self.calls = 0
        #: Failed calls in the window as of the latest :meth:`add` or :meth:`advance`.
        self.failures = 0

    def clear(self) -> None:
        """Forget every call."""
        size = self._size
        self._calls = [0] * size
        self._failures = [0] * size
        self._head = _NEVER
        self.calls = 0
        self.failures = 0

    def advance(self, now: float) -> int:
        """Expire the buckets that fell out of the window at ``now``; return ``now``'s bucket."""
        number = int(now // self._width)
        head = self._head
        if number <= head:
            return number
        size = self._size
        if number - head >= size:
            for slot in range(size):
                self._calls[slot] = 0
                self._failures[slot] = 0
            self.calls = 0
            self.failures = 0
        else:
            calls = self._calls
            failures = self._failures
            for expired in range(head + 1, number + 1):
                slot = expired % size
                self.calls -= calls[slot]
                self.failures -= failures[slot]
                calls[slot] = 0
                failures[slot] = 0
        self._head = number
        return number

    def add(self, now: float, *, failed: bool) -> None:
        """Count one call that ended at ``now``.

        A call whose bucket already left the window (its clock was read long before another
        thread's) is dropped.
        """
        number = int(now // self._width)
        if number != self._head:
            self.advance(now)
            if number <= self._head - self._size:
                return
        slot = number % self._size
        self._calls[slot] += 1
        self.calls += 1
        if failed:
            self._failures[slot] += 1
            self.failures += 1

"""A retry budget: retries stay within a fraction of recent calls, plus a small floor.

Retrying is cheap for one caller and ruinous for a struggling service when every caller does it:
three attempts per call triple the load exactly when the service can least take it. A budget
shared by all the callers of one service caps the extra load: retries are allowed only while,
over the last ``window`` seconds, they stay within ``ratio`` of the calls made, plus a floor of
``min_retries_per_second`` so that a quiet service can still be retried. This is the model of
Finagle's ``RetryBudget`` and of gRPC's retry throttling.
"""

from __future__ import annotations

import math
import threading
import time
from datetime import timedelta

from commerce_kit._duration import to_finite, to_seconds
from commerce_kit._types import Clock

__all__ = ["RetryBudget"]


class RetryBudget:
    """Allows a retry only while retries stay within a fraction of recent calls, plus a floor.

    Each call counts once, with :meth:`deposit` (the :func:`~commerce_kit.retry` decorator does
    it on every call); each retry asks :meth:`try_withdraw`, which allows it only if, counted over
    the sliding window, ``retries + 1 <= ratio * calls + min_retries_per_second * window``.

    The window slides in ``slices`` steps: at any moment it covers the current slice (partly
    elapsed) and the ``slices - 1`` before it, so counts expire one slice at a time, with memory
    and work independent of the traffic. Share one budget between every function that calls the
    same service. It is safe to use from many threads and from asyncio code (the lock is held for
    a few arithmetic operations only).

    Args:
        ratio: Retries allowed per call: ``0.1`` lets retries add at most 10% to the load.
        min_retries_per_second: A floor of retries allowed regardless of traffic, spread over the
            window, so a rarely called function can still be retried.
        window: How far back calls and retries are counted, in seconds or as a timedelta.
        slices: How many steps the window slides in; more is smoother and costs a little memory.
        clock: Monotonic seconds; pass a :class:`~commerce_kit.testing.ManualClock` in tests.

    Raises:
        TypeError: An argument has the wrong type (``slices=2.0``, ``ratio="0.1"``).
        ValueError: ``ratio`` or ``min_retries_per_second`` is negative or not finite,
            ``window`` is not positive, or ``slices`` is less than 1.

    Example:
        >>> from commerce_kit import RetryBudget
        >>> from commerce_kit.testing import ManualClock
        >>> clock = ManualClock()
        >>> budget = RetryBudget(ratio=0.5, min_retries_per_second=0, window=10, clock=clock)
        >>> for _ in range(4):
        ...     budget.deposit()
        >>> [budget.try_withdraw() for _ in range(3)]
        [True, True, False]

    .. versionadded:: 0.1.0
    .. versionchanged:: 0.2.0
       An argument of the wrong type raises :class:`TypeError` (it was :class:`ValueError`).
    """

    __slots__ = (
        "_calls",
        "_clock",
        "_head",
        "_lock",
        "_reserve",
        "_retries",
        "_slice_seconds",
        "_total_calls",
        "_total_retries",
        "min_retries_per_second",
        "ratio",
        "slices",
        "window",
    )

    def __init__(
        self,
        *,
        ratio: float = 0.1,
        min_retries_per_second: float = 10.0,
        window: float | timedelta = 10.0,
        slices: int = 10,
        clock: Clock = time.monotonic,
    ) -> None:
        ratio = to_finite(ratio, name="ratio", minimum=0)
        min_retries_per_second = to_finite(
            min_retries_per_second, name="min_retries_per_second", minimum=0
        )
        if type(slices) is not int:
            raise TypeError(f"slices must be an int >= 1, got {type(slices).__name__}")
        if slices < 1:
            raise ValueError(f"slices must be an int >= 1, got {slices!r}")
        if not callable(clock):
            raise TypeError(f"clock must be a callable, got {type(clock).__name__}")
        #: Retries allowed per call counted in the window.
        self.ratio = ratio
        #: Retries allowed per second of window regardless of traffic.
        self.min_retries_per_second = min_retries_per_second
        #: The length of the sliding window, in seconds.
        self.window = to_seconds(window, name="window")
        #: The number of steps the window slides in.
        self.slices = slices
        self._reserve = self.min_retries_per_second * self.window
        self._slice_seconds = self.window / slices
        self._clock = clock
        self._lock = threading.Lock()
        self._calls = [0] * slices
        self._retries = [0] * slices
        self._total_calls = 0
        self._total_retries = 0
        self._head = self._slice_of(clock())

    def __repr__(self) -> str:
        return (
            f"RetryBudget(ratio={self.ratio!r}, "
            f"min_retries_per_second={self.min_retries_per_second!r}, window={self.window!r})"
        )

    def _slice_of(self, now: float) -> int:
        return int(now // self._slice_seconds)

    def _roll(self, now: float) -> int:
        """Expire the slices that left the window by ``now``; return the ring index of now."""
        current = self._slice_of(now)
        head = self._head
        size = self.slices
        if current > head:
            calls = self._calls
            retries = self._retries
            if current - head >= size:
                calls[:] = [0] * size
                retries[:] = [0] * size
                self._total_calls = 0
                self._total_retries = 0
            else:
                for step in range(head + 1, current + 1):
                    slot = step % size
                    self._total_calls -= calls[slot]
                    self._total_retries -= retries[slot]
                    calls[slot] = 0
                    retries[slot] = 0
            self._head = current
        # A clock that steps back (it should not) counts into the newest slice.
        return self._head % size

    def deposit(self) -> None:
        """Count one call (a first attempt, not a retry) at the current time."""
        now = self._clock()
        with self._lock:
            self._calls[self._roll(now)] += 1
            self._total_calls += 1

    def try_withdraw(self) -> bool:
        """Spend one retry if the budget allows it now.

        Returns:
            Whether the retry may go ahead; ``False`` leaves the budget unchanged.
        """
        now = self._clock()
        with self._lock:
            slot = self._roll(now)
            if self._total_retries + 1 > self.ratio * self._total_calls + self._reserve:
                return False
            self._retries[slot] += 1
            self._total_retries += 1
            return True

    def available(self) -> int:
        """Return how many retries the budget would allow right now.

        Returns:
            The number of :meth:`try_withdraw` calls that would succeed if made now, with no
            call deposited in between.
        """
        now = self._clock()
        with self._lock:
            self._roll(now)
            allowance = math.floor(self.ratio * self._total_calls + self._reserve)
            return max(0, allowance - self._total_retries)

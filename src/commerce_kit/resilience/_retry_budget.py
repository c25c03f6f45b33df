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

from commerce_kit._duration import positive_int, to_finite, to_seconds
from commerce_kit._types import Clock
from commerce_kit.resilience._circuit_breaker_window import RollingWindow

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
        "_clock",
        "_latest",
        "_lock",
        "_reserve",
        "_ring",
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
        positive_int(slices, "slices")
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
        self._clock = clock
        self._lock = threading.Lock()
        # The breaker's ring of slices: every attempt is a call, and a retry is also marked
        # "failed", so ``failures`` counts the retries and ``calls - failures`` the first calls.
        self._ring = RollingWindow(self.window, slices)
        self._latest = clock()

    def __repr__(self) -> str:
        return (
            f"RetryBudget(ratio={self.ratio!r}, "
            f"min_retries_per_second={self.min_retries_per_second!r}, window={self.window!r})"
        )

    def _now(self) -> float:
        """Read the clock; call with the lock held.

        A clock that steps back (it should not) reads as the latest time seen, so the call
        counts into the newest slice instead of an expired one.
        """
        now = self._clock()
        if now < self._latest:
            return self._latest
        self._latest = now
        return now

    def deposit(self) -> None:
        """Count one call (a first attempt, not a retry) at the current time."""
        with self._lock:
            self._ring.add(self._now(), failed=False)

    def try_withdraw(self) -> bool:
        """Spend one retry if the budget allows it now.

        Returns:
            Whether the retry may go ahead; ``False`` leaves the budget unchanged.
        """
        with self._lock:
            now = self._now()
            ring = self._ring
            ring.advance(now)
            retries = ring.failures
            if retries + 1 > self.ratio * (ring.calls - retries) + self._reserve:
                return False
            ring.add(now, failed=True)
            return True

    def available(self) -> int:
        """Return how many retries the budget would allow right now.

        Returns:
            The number of :meth:`try_withdraw` calls that would succeed if made now, with no
            call deposited in between.
        """
        with self._lock:
            ring = self._ring
            ring.advance(self._now())
            retries = ring.failures
            allowance = math.floor(self.ratio * (ring.calls - retries) + self._reserve)
            return max(0, allowance - retries)

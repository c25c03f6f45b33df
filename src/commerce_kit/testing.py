"""Helpers for testing code that uses commerce_kit, without real time passing.

:class:`ManualClock` controls time. The sandbox payment providers (:class:`SandboxCard`,
:class:`SandboxWallet`, :class:`SandboxCrypto`, with failure injection and a :class:`LedgerEntry`
per money movement) fake real providers; they load on first use, so this module stays free of
the payments layer until asked.

.. versionadded:: 0.1.0
.. versionchanged:: 0.2.0
   The one home of the payment sandboxes (no longer exported by :mod:`commerce_kit.payments`).
"""

from __future__ import annotations

import asyncio
import threading
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from commerce_kit._duration import to_seconds

if TYPE_CHECKING:
    from commerce_kit.payments._sandbox import (
        LedgerEntry,
        LedgerKind,
        SandboxCard,
        SandboxCrypto,
        SandboxProvider,
        SandboxWallet,
    )

__all__ = [
    "LedgerEntry",
    "LedgerKind",
    "ManualClock",
    "SandboxCard",
    "SandboxCrypto",
    "SandboxProvider",
    "SandboxWallet",
]

_FROM_PAYMENTS = frozenset(
    {
        "LedgerEntry",
        "LedgerKind",
        "SandboxCard",
        "SandboxCrypto",
        "SandboxProvider",
        "SandboxWallet",
    }
)


def __getattr__(name: str) -> Any:
    if name in _FROM_PAYMENTS:
        from commerce_kit.payments import _sandbox  # noqa: PLC0415 - payments load on first use

        return getattr(_sandbox, name)
    raise AttributeError(f"module 'commerce_kit.testing' has no attribute {name!r}")


class ManualClock:
    """A clock that moves only when told to: pass it as ``clock=`` and ``sleep=``.

    Calling the clock returns the current time in seconds. :meth:`sleep` and :meth:`asleep` advance
    it instead of waiting, and record each requested duration in :attr:`sleeps`, so a test can
    assert on backoff schedules. It is safe to share between threads.

    Args:
        start: The initial reading, in seconds.

    Example:
        >>> from commerce_kit.testing import ManualClock
        >>> clock = ManualClock()
        >>> clock()
        0.0
        >>> clock.advance(1.5)
        >>> clock.sleep(2)
        >>> clock(), clock.sleeps
        (3.5, [2.0])
    """

    def __init__(self, start: float = 0.0) -> None:
        self._now = float(start)
        self._lock = threading.Lock()
        #: Every duration passed to :meth:`sleep` or :meth:`asleep`, in order.
        self.sleeps: list[float] = []

    def __call__(self) -> float:
        """Return the current reading, in seconds."""
        return self._now

    def __repr__(self) -> str:
        return f"ManualClock(now={self._now!r})"

    def advance(self, seconds: float | timedelta) -> None:
        """Move the clock forward.

        Args:
            seconds: How far to move, as seconds or a timedelta; zero is allowed.

        Raises:
            ValueError: ``seconds`` is negative: a monotonic clock never goes back.
        """
        delta = to_seconds(seconds, name="seconds", allow_zero=True)
        with self._lock:
            self._now += delta

    def sleep(self, seconds: float) -> None:
        """Record ``seconds`` and advance the clock by it, returning at once."""
        delta = to_seconds(seconds, name="seconds", allow_zero=True)
        with self._lock:
            self.sleeps.append(delta)
            self._now += delta

    async def asleep(self, seconds: float) -> None:
        """Async variant of :meth:`sleep`; yields to the event loop once, then returns."""
        self.sleep(seconds)
        await asyncio.sleep(0)

"""The few callable types every layer speaks of: a clock and the two kinds of sleep.

The base of the package, with :mod:`commerce_kit._errors`: it imports nothing of commerce_kit.
Users import these from :mod:`commerce_kit.typing`.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TypeAlias

__all__ = ["AsyncSleep", "Clock", "Sleep"]

#: A zero-argument callable returning monotonic seconds, such as :func:`time.monotonic` or
#: :class:`commerce_kit.testing.ManualClock`.
Clock: TypeAlias = Callable[[], float]

#: A callable that blocks for the given number of seconds, such as :func:`time.sleep`.
Sleep: TypeAlias = Callable[[float], None]

#: An awaitable sleep, such as :func:`asyncio.sleep`.
AsyncSleep: TypeAlias = Callable[[float], Awaitable[None]]

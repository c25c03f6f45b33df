"""Public types and protocols shared across commerce_kit.

Import them for annotations in your own code; they never change behaviour.
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

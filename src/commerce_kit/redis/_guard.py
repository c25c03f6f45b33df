"""A circuit breaker around Redis itself: when Redis fails, each backend falls back at once.

Every Redis backend sends its commands through a :class:`RedisGuard`. While Redis answers, the
guard is a closed :class:`~commerce_kit.CircuitBreaker` and costs one attribute check. When a
command fails with a connection or server error, the backend takes its documented fallback for
that call (the caller never sees the error); a few such failures open the guard, and from then on
the backends skip Redis without waiting on it until ``reset_timeout`` has passed and a trial
command finds it back. The guard logs one line when it opens and one when Redis answers again.
"""

from __future__ import annotations

import enum
import logging
import time
from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import Final, ParamSpec, TypeVar

import redis

from commerce_kit._duration import to_seconds
from commerce_kit._errors import CircuitOpenError
from commerce_kit._types import Clock
from commerce_kit.resilience._circuit_breaker import CircuitBreaker
from commerce_kit.resilience._circuit_breaker_machine import CircuitState

__all__ = ["RedisGuard"]

T = TypeVar("T")
P = ParamSpec("P")


class Failed(enum.Enum):
    """The type of ``FAILED``."""

    FAILED = "failed"


#: What :meth:`RedisGuard.attempt` returns when the backend must take its fallback.
FAILED: Final = Failed.FAILED

_log = logging.getLogger("commerce_kit.redis")

#: What counts as Redis failing: its own errors (connection, timeout, server replies) and the
#: socket errors underneath them.
_REDIS_ERRORS: tuple[type[Exception], ...] = (redis.RedisError, OSError)


class RedisGuard:
    """Decides, per command, whether to try Redis or take the fallback straight away.

    Share one guard between the backends that use the same Redis server, so that they fall back
    together and the outage is logged once.

    Args:
        name: Names the guard in the log lines and in its breaker.
        failure_threshold: Failed commands within ``window`` that open the guard.
        window: Seconds (or a timedelta) over which failures add up.
        reset_timeout: Seconds (or a timedelta) the backends skip Redis before one trial command.
        clock: Monotonic seconds; :class:`~commerce_kit.testing.ManualClock` in tests.

    Example:
        >>> from commerce_kit.redis import RedisGuard
        >>> guard = RedisGuard(reset_timeout=2.0)
        >>> guard.available
        True

    .. versionadded:: 0.2.0
    """

    __slots__ = ("_breaker", "_call", "_down", "_fallbacks", "_name", "_reset_timeout")

    def __init__(
        self,
        name: str = "redis",
        *,
        failure_threshold: int = 3,
        window: float | timedelta = 10.0,
        reset_timeout: float | timedelta = 5.0,
        clock: Clock = time.monotonic,
    ) -> None:
        self._name = name
        self._fallbacks: dict[str, str] = {}
        self._down = False
        self._reset_timeout = to_seconds(reset_timeout, name="reset_timeout")
        self._breaker = CircuitBreaker(
            name,
            failure_threshold=failure_threshold,
            window=window,
            reset_timeout=reset_timeout,
            consecutive=True,
            failure_on=_REDIS_ERRORS,
            clock=clock,
        )
        self._call = self._breaker.call

    def __repr__(self) -> str:
        return f"<RedisGuard {self._name!r} {'up' if self.available else 'down'}>"

    @property
    def available(self) -> bool:
        """Whether the backends try Redis now (``False`` while the guard is open)."""
        return self._breaker.state is not CircuitState.OPEN

    @property
    def reset_timeout(self) -> float:
        """Seconds the backends skip Redis, once the guard opens, before a trial command."""
        return self._reset_timeout

    def describe(self, component: str, fallback: str) -> None:
        """Record what ``component`` does while Redis is down, for the outage log line.

        Args:
            component: The backend, for example ``"rate limiter 'api'"``.
            fallback: Its fallback, for example ``"admits every hit (fail open)"``.
        """
        self._fallbacks[component] = fallback

    def run(self, command: Callable[[], T], fallback: Callable[[], T]) -> T:
        """Return ``command()``, or ``fallback()`` when Redis fails or the guard is open.

        Args:
            command: Talks to Redis.
            fallback: Decides without Redis.

        Returns:
            What ``command`` or ``fallback`` returned.
        """
        try:
            result = self._breaker.call(command)
        except CircuitOpenError:
            return fallback()
        except _REDIS_ERRORS as error:
            self._failed(error)
            return fallback()
        if self._down:
            self._recovered()
        return result

    def attempt(self, command: Callable[P, T], /, *args: P.args, **kwargs: P.kwargs) -> T | Failed:
        """Return ``command(*args, **kwargs)``, or ``FAILED`` when Redis failed or is skipped.

        The form of :meth:`run` for hot paths: no closures to build per call.

        Args:
            command: Talks to Redis.
            *args: Positional arguments for ``command``.
            **kwargs: Keyword arguments for ``command``.

        Returns:
            What ``command`` returned, or ``FAILED``.
        """
        try:
            result = self._call(command, *args, **kwargs)
        except CircuitOpenError:
            return FAILED
        except _REDIS_ERRORS as error:
            self._failed(error)
            return FAILED
        if self._down:
            self._recovered()
        return result

    async def arun(
        self, command: Callable[[], Awaitable[T]], fallback: Callable[[], Awaitable[T]]
    ) -> T:
        """Async face of :meth:`run`.

        Args:
            command: Talks to Redis.
            fallback: Decides without Redis.

        Returns:
            What ``command`` or ``fallback`` returned.
        """
        try:
            result = await self._breaker.acall(command)
        except CircuitOpenError:
            return await fallback()
        except _REDIS_ERRORS as error:
            self._failed(error)
            return await fallback()
        if self._down:
            self._recovered()
        return result

    def _failed(self, error: BaseException) -> None:
        if self._down or self._breaker.state is not CircuitState.OPEN:
            return
        self._down = True
        fallbacks = "; ".join(f"{c} {f}" for c, f in sorted(self._fallbacks.items()))
        _log.warning(
            "Redis %r is failing (%s); until it answers again: %s",
            self._name,
            _describe_error(error),
            fallbacks or "the backends use their fallback",
        )

    def _recovered(self) -> None:
        self._down = False
        _log.warning("Redis %r answers again; the backends share their state again", self._name)


def _describe_error(error: BaseException) -> str:
    return f"{type(error).__name__}: {error}"

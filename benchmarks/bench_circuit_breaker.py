"""The circuit breaker against pybreaker, circuitbreaker and aiobreaker, with hand-written floors.

Closed path: call a function that returns at once through a closed breaker. Open path: call
through an open breaker and catch the error it raises (the function is never run). Each peer is
used the way its documentation shows: ``pybreaker.CircuitBreaker.call``, the ``circuitbreaker``
decorator (its ``call`` method skips the open check, so the decorator is the fair path) and
``aiobreaker.CircuitBreaker.call`` / ``call_async``. pybreaker's async support needs tornado, so
it sits out the async rows.

The floors: a hand-written breaker (a failure counter and a state flag, forwarding ``*args`` and
``**kwargs``) for the closed path, and a bare ``raise`` caught by ``except`` for the open path.
"""

from __future__ import annotations

import contextlib
import functools
from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import Any

import aiobreaker  # type: ignore[import-untyped]
import circuitbreaker  # type: ignore[import-untyped]
import pybreaker

from benchmarks._harness import Case
from commerce_kit import CircuitBreaker, CircuitBreakerRegistry, CircuitOpenError

_OPEN_FOR = 3600.0  # seconds: every open breaker stays open for the whole run


def _ok() -> int:
    return 1


async def _aok() -> int:
    return 1


class _FloorOpenError(Exception):
    pass


class _MinimalBreaker:
    """The least a breaker can do: check a flag, call, count failures, reset on success."""

    __slots__ = ("failures", "is_open")

    def __init__(self) -> None:
        self.failures = 0
        self.is_open = False

    def call(self, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        if self.is_open:
            raise _FloorOpenError
        try:
            result = fn(*args, **kwargs)
        except Exception:
            self.failures += 1
            if self.failures >= 5:
                self.is_open = True
            raise
        self.failures = 0
        return result

    async def acall(self, fn: Callable[..., Awaitable[Any]], *args: Any, **kwargs: Any) -> Any:
        if self.is_open:
            raise _FloorOpenError
        try:
            result = await fn(*args, **kwargs)
        except Exception:
            self.failures += 1
            if self.failures >= 5:
                self.is_open = True
            raise
        self.failures = 0
        return result


# -- closed path, sync --------------------------------------------------------------------------


def _ours_call() -> Callable[[], object]:
    return functools.partial(CircuitBreaker(failure_threshold=5).call, _ok)


def _ours_decorator() -> Callable[[], object]:
    return CircuitBreaker(failure_threshold=5)(_ok)


def _ours_rate_mode() -> Callable[[], object]:
    breaker = CircuitBreaker(failure_rate_threshold=0.5, minimum_calls=10)
    return functools.partial(breaker.call, _ok)


def _ours_registry() -> Callable[[], object]:
    breakers = CircuitBreakerRegistry(functools.partial(CircuitBreaker, failure_threshold=5))

    def op() -> object:
        return breakers.get("paypal").call(_ok)

    return op


def _pybreaker_call() -> Callable[[], object]:
    return functools.partial(pybreaker.CircuitBreaker(fail_max=5).call, _ok)


def _circuitbreaker_decorator() -> Callable[[], object]:
    return circuitbreaker.CircuitBreaker(failure_threshold=5)(_ok)  # type: ignore[no-any-return]


def _aiobreaker_call() -> Callable[[], object]:
    return functools.partial(aiobreaker.CircuitBreaker(fail_max=5).call, _ok)


def _floor_call() -> Callable[[], object]:
    return functools.partial(_MinimalBreaker().call, _ok)


# -- closed path, async -------------------------------------------------------------------------


def _ours_async() -> Callable[[], object]:
    return functools.partial(CircuitBreaker(failure_threshold=5).acall, _aok)


def _ours_async_decorator() -> Callable[[], object]:
    return CircuitBreaker(failure_threshold=5)(_aok)


def _aiobreaker_async() -> Callable[[], object]:
    return functools.partial(aiobreaker.CircuitBreaker(fail_max=5).call_async, _aok)


def _circuitbreaker_async() -> Callable[[], object]:
    return circuitbreaker.CircuitBreaker(failure_threshold=5)(_aok)  # type: ignore[no-any-return]


def _floor_async() -> Callable[[], object]:
    return functools.partial(_MinimalBreaker().acall, _aok)


# -- open path: raise and catch -----------------------------------------------------------------


def _catching(call: Callable[[], object], error: type[BaseException]) -> Callable[[], object]:
    def op() -> object:
        try:
            call()
        except error:
            return None
        raise AssertionError("the breaker let the call through")  # pragma: no cover

    return op


def _ours_open() -> Callable[[], object]:
    breaker = CircuitBreaker(failure_threshold=5, reset_timeout=_OPEN_FOR)
    breaker.open()
    return _catching(functools.partial(breaker.call, _ok), CircuitOpenError)


def _pybreaker_open() -> Callable[[], object]:
    breaker = pybreaker.CircuitBreaker(fail_max=5, reset_timeout=_OPEN_FOR)
    breaker.open()
    return _catching(functools.partial(breaker.call, _ok), pybreaker.CircuitBreakerError)


def _circuitbreaker_open() -> Callable[[], object]:
    breaker = circuitbreaker.CircuitBreaker(failure_threshold=1, recovery_timeout=_OPEN_FOR)

    def fail() -> int:
        raise RuntimeError

    guarded: Callable[[], int] = breaker(fail)
    with contextlib.suppress(RuntimeError):
        guarded()
    return _catching(guarded, circuitbreaker.CircuitBreakerError)


def _aiobreaker_open() -> Callable[[], object]:
    breaker = aiobreaker.CircuitBreaker(fail_max=5, timeout_duration=timedelta(seconds=_OPEN_FOR))
    breaker.open()
    return _catching(functools.partial(breaker.call, _ok), aiobreaker.CircuitBreakerError)


def _floor_open() -> Callable[[], object]:
    def op() -> object:
        try:
            raise _FloorOpenError  # noqa: TRY301 - raising and catching is the whole floor
        except _FloorOpenError:
            return None

    return op


def cases() -> list[Case]:
    closed = "circuit breaker: closed path, sync call"
    closed_async = "circuit breaker: closed path, async call"
    closed_more = "circuit breaker: closed path, other modes (ours)"
    fast_fail = "circuit breaker: open fast-fail, raise + catch"
    return [
        Case(closed, "commerce_kit CircuitBreaker.call", "ours", _ours_call),
        Case(closed, "commerce_kit @CircuitBreaker", "ours", _ours_decorator),
        Case(closed, "pybreaker 1.4 call", "peer", _pybreaker_call),
        Case(closed, "circuitbreaker 2.1 @circuit", "peer", _circuitbreaker_decorator),
        Case(closed, "aiobreaker 1.2 call", "peer", _aiobreaker_call),
        Case(closed, "hand-written breaker", "floor", _floor_call),
        Case(closed_async, "commerce_kit acall", "ours", _ours_async, is_async=True),
        Case(
            closed_async,
            "commerce_kit @CircuitBreaker async",
            "ours",
            _ours_async_decorator,
            is_async=True,
        ),
        Case(closed_async, "aiobreaker 1.2 call_async", "peer", _aiobreaker_async, is_async=True),
        Case(
            closed_async,
            "circuitbreaker 2.1 @circuit async",
            "peer",
            _circuitbreaker_async,
            is_async=True,
        ),
        Case(closed_async, "hand-written async breaker", "floor", _floor_async, is_async=True),
        Case(closed_more, "commerce_kit failure-rate mode call", "ours", _ours_rate_mode),
        Case(closed_more, "commerce_kit registry.get(key).call", "ours", _ours_registry),
        Case(closed_more, "hand-written breaker", "floor", _floor_call),
        Case(fast_fail, "commerce_kit CircuitOpenError", "ours", _ours_open),
        Case(fast_fail, "pybreaker 1.4", "peer", _pybreaker_open),
        Case(fast_fail, "circuitbreaker 2.1", "peer", _circuitbreaker_open),
        Case(fast_fail, "aiobreaker 1.2", "peer", _aiobreaker_open),
        Case(fast_fail, "bare raise + except", "floor", _floor_open),
    ]

"""Never executed: mypy checks that the circuit breaker API reads well from a user's side."""

from __future__ import annotations

import functools
from collections.abc import Coroutine
from datetime import timedelta
from typing import Any

from commerce_kit import CircuitBreaker, CircuitBreakerRegistry, CircuitOpenError, CircuitState
from commerce_kit.resilience import (
    BreakerRecord,
    BreakerSnapshot,
    CallFailed,
    CallRejected,
    CallSucceeded,
    MemoryBreakerStore,
    StateChanged,
)
from commerce_kit.testing import ManualClock
from commerce_kit.typing import BreakerCell, BreakerEvent, BreakerStore, ExceptionMatcher


class DeclinedError(Exception):
    pass


def log_event(event: BreakerEvent) -> None:
    if isinstance(event, StateChanged):
        old: CircuitState = event.old
        at: float = event.at
    elif isinstance(event, CallFailed):
        error: Exception | None = event.error
    elif isinstance(event, CallRejected):
        wait: float = event.retry_after
    elif isinstance(event, CallSucceeded):
        took: float = event.duration


def is_server_error(error: BaseException) -> bool:
    return isinstance(error, ConnectionError)


breaker = CircuitBreaker(failure_threshold=3, window=60.0, reset_timeout=30.0)
tuned = CircuitBreaker(
    "paypal",
    failure_rate_threshold=0.5,
    minimum_calls=10,
    window=timedelta(minutes=1),
    reset_timeout=timedelta(seconds=30),
    slow_call_threshold=2.0,
    half_open_max_calls=2,
    success_threshold=2,
    failure_on=is_server_error,
    exclude=(DeclinedError,),
    hooks=[log_event],
    clock=ManualClock(),
    store=MemoryBreakerStore(),
)
on_types: ExceptionMatcher = (ConnectionError, TimeoutError)
CircuitBreaker(failure_on=on_types)


def charge(amount: int, *, currency: str = "EUR") -> str:
    return f"{amount} {currency}"


async def acharge(amount: int) -> str:
    return str(amount)


result: str = breaker.call(charge, 5, currency="USD")
pending: Coroutine[Any, Any, str] = breaker.acall(acharge, 5)

guarded = breaker(charge)
text: str = guarded(5, currency="EUR")
aguarded = breaker(acharge)
later: Coroutine[Any, Any, str] = aguarded(5)


@breaker
def refund(order: str) -> bool:
    return True


ok: bool = refund("o-1")


class Capture:
    async def __call__(self, amount: int) -> str:
        return str(amount)


acapture = breaker(Capture())
captured: Coroutine[Any, Any, str] = acapture(5)
predicate: ExceptionMatcher = lambda error: isinstance(error, ConnectionError)  # noqa: E731
CircuitBreaker(failure_on=predicate)

state: CircuitState = breaker.state
is_open: bool = state is CircuitState.OPEN
snapshot: BreakerSnapshot = breaker.snapshot()
rate: float | None = snapshot.failure_rate
breaker.open()
breaker.force_open()
breaker.disable()
breaker.close()
breaker.reset()
name: str = breaker.name

try:
    breaker.call(charge, 1)
except CircuitOpenError as error:
    retry_in: float = error.retry_after
    which: str = error.name

breakers = CircuitBreakerRegistry(
    functools.partial(CircuitBreaker, failure_threshold=3), maxsize=100
)
paypal: CircuitBreaker = breakers.get("paypal")
every: list[CircuitBreaker] = list(breakers)
by_key: dict[str, BreakerSnapshot] = breakers.snapshots()
breakers.discard("paypal")


@breakers.protect(key=lambda method, amount: method)
def pay(method: str, amount: int) -> str:
    return method


paid: str = pay("paypal", 3)

store: BreakerStore = MemoryBreakerStore()
cell: BreakerCell = store.cell("paypal")
record: BreakerRecord = cell.record
swapped: bool = cell.compare_and_set(record, BreakerRecord(CircuitState.OPEN, 12.0))

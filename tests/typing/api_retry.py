"""Never executed: mypy checks that the retry API reads well from a user's side."""

from __future__ import annotations

import dataclasses
from datetime import timedelta

from typing_extensions import Unpack

from commerce_kit import CircuitOpenError, RetryBudget, RetryPolicy, retry, retrying
from commerce_kit.payments import PaymentUnavailableError
from commerce_kit.resilience import (
    Attempt,
    GiveUpReason,
    Jitter,
    RetryGaveUp,
    RetryLoop,
    RetryScheduled,
    retry_after_hint,
)
from commerce_kit.testing import ManualClock
from commerce_kit.typing import ExceptionMatcher, RetryEvent, RetryHook, RetryOptions

clock = ManualClock()
budget = RetryBudget(ratio=0.1, min_retries_per_second=10, window=timedelta(seconds=10))


def log_retries(event: RetryEvent) -> None:
    if isinstance(event, RetryScheduled):
        wait: float = event.wait
        attempt: int = event.attempt
        hinted: bool = event.hinted
    elif isinstance(event, RetryGaveUp):
        reason: GiveUpReason = event.reason
        error: Exception = event.error


hook: RetryHook = log_retries
transient: ExceptionMatcher = (PaymentUnavailableError, CircuitOpenError)


@retry(on=ConnectionError, attempts=3, wait_initial=0.1, wait_max=2.0, deadline=5.0)
def charge(amount: int, *, currency: str = "EUR") -> str:
    return f"{amount} {currency}"


@retry(
    on=transient,
    deadline=timedelta(seconds=5),
    jitter=Jitter.EQUAL,
    budget=budget,
    idempotent=False,
    hooks=[hook],
    clock=clock,
    sleep=clock.sleep,
    asleep=clock.asleep,
)
async def charge_async(amount: int, *, idempotency_key: str | None = None) -> int:
    return amount


@retry(on=lambda error: isinstance(error, OSError) and error.errno == 503, jitter="none")
def fetch(url: str) -> bytes:
    return url.encode()


def order_key(order: dict[str, str]) -> str | None:
    return order.get("id")


@retry(on=ConnectionError, idempotent=False, idempotency_key=order_key, hint=None)
def place(order: dict[str, str]) -> None:
    pass


receipt: str = charge(100, currency="USD")
body: bytes = fetch("https://psp.example/health")
hint: float | None = retry_after_hint(CircuitOpenError("open", name="psp", retry_after=1.0))
available: int = budget.available()
allowed: bool = budget.try_withdraw()


async def checkout() -> int:
    paid: int = await charge_async(100, idempotency_key="order-1")
    async for attempt in retrying(on=TimeoutError, asleep=clock.asleep):
        with attempt:
            paid += 1
    return paid


loop: RetryLoop = retrying(on=TimeoutError, deadline=5.0, max_hint=1.0, name="stock")
for each in loop:
    step: Attempt = each
    number: int = each.number
    with each:
        pass


# One policy shared by several functions and a block.
psp = RetryPolicy(on=transient, attempts=4, deadline=timedelta(seconds=5), budget=budget)
psp_deadline: float | None = psp.deadline
psp_jitter: Jitter = psp.jitter
patient = dataclasses.replace(psp, attempts=6)


@psp.decorate
def capture(amount: int) -> int:
    return amount


async def acapture(amount: int) -> int:
    return amount


captured: int = capture(5)
acaptured = psp.decorate(acapture, name="capture")
stock_loop: RetryLoop = psp.retrying(name="stock")


def resilient(**options: Unpack[RetryOptions]) -> RetryPolicy:
    return RetryPolicy(on=ConnectionError, **options)


quick = resilient(attempts=2, jitter="none")

# Mistakes a type checker catches.
retry(on=ConnectionError, attempts="3")  # type: ignore[arg-type]
retry(on=ConnectionError, atempts=3)  # type: ignore[call-arg]
retrying(on=TimeoutError, jitter="random")  # type: ignore[arg-type]

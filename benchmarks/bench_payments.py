"""What the payment gateway's policy costs over calling a sandbox provider directly.

Every case charges one request (a fresh idempotency key each time) through a card sandbox with no
latency and no failures, so the numbers are the pipeline's own overhead: breaker, retry, timeout
and bookkeeping. The sandbox's own work (decision, ledger entry) is in every case, including the
floor.
"""

from __future__ import annotations

import functools
import itertools
from collections.abc import Awaitable, Callable
from decimal import Decimal

from benchmarks._harness import Case
from commerce_kit.payments import (
    PaymentGateway,
    PaymentMethodRegistry,
    PaymentRequest,
    PaymentResult,
    PaymentStatus,
    RefundResult,
    SyncPaymentStrategy,
)
from commerce_kit.testing import SandboxCard

GROUP_SYNC = "payments: one successful sandbox charge, sync"
GROUP_ASYNC = "payments: one successful sandbox charge, async"
GROUP_NOOP = "payments: gateway overhead over a no-op strategy, sync"
GROUP_NOOP_ASYNC = "payments: gateway overhead over a no-op strategy, async"


class _Noop(SyncPaymentStrategy):
    """Answers at once with one prepared result: what is left to time is the pipeline."""

    name = "noop"
    display_name = "No-op"

    def __init__(self) -> None:
        self.result = PaymentResult(
            "p", PaymentStatus.SUCCEEDED, Decimal(1), "EUR", "noop", "k", "o", "r"
        )

    def charge(self, request: PaymentRequest) -> PaymentResult:
        return self.result

    def refund(self, payment_id: str, amount: Decimal, *, idempotency_key: str) -> RefundResult:
        raise NotImplementedError

    async def acharge(self, request: PaymentRequest) -> PaymentResult:
        return self.result


_REQUEST = PaymentRequest(Decimal(1), "EUR", "o", idempotency_key="k")


def _noop_direct() -> Callable[[], PaymentResult]:
    charge = _Noop().charge
    return lambda: charge(_REQUEST)


def _noop_gateway(**options: object) -> Callable[[], Callable[[], PaymentResult]]:
    def setup() -> Callable[[], PaymentResult]:
        methods = PaymentMethodRegistry(entry_point_group=None)
        methods.register(_Noop())
        charge = PaymentGateway(methods, **options).charge  # type: ignore[arg-type]
        return lambda: charge("noop", _REQUEST)

    return setup


def _noop_direct_async() -> Callable[[], Awaitable[PaymentResult]]:
    return functools.partial(_Noop().acharge, _REQUEST)


def _noop_gateway_async(
    **options: object,
) -> Callable[[], Callable[[], Awaitable[PaymentResult]]]:
    def setup() -> Callable[[], Awaitable[PaymentResult]]:
        methods = PaymentMethodRegistry(entry_point_group=None)
        methods.register(_Noop())
        acharge = PaymentGateway(methods, **options).acharge  # type: ignore[arg-type]
        return functools.partial(acharge, "noop", _REQUEST)

    return setup


def _requests() -> Callable[[], PaymentRequest]:
    amount = Decimal("19.99")
    counter = itertools.count()
    return lambda: PaymentRequest(amount, "EUR", "order", idempotency_key=f"k-{next(counter)}")


def _bare() -> Callable[[], PaymentResult]:
    card = SandboxCard()
    make = _requests()
    charge = card.charge
    return lambda: charge(make())


def _gateway(**options: object) -> Callable[[], Callable[[], PaymentResult]]:
    def setup() -> Callable[[], PaymentResult]:
        methods = PaymentMethodRegistry(entry_point_group=None)
        methods.register(SandboxCard())
        gateway = PaymentGateway(methods, **options)  # type: ignore[arg-type]
        make = _requests()
        charge = gateway.charge
        return lambda: charge("card", make())

    return setup


def _bare_async() -> Callable[[], Awaitable[PaymentResult]]:
    card = SandboxCard()
    make = _requests()
    acharge = card.acharge

    async def op() -> PaymentResult:
        return await acharge(make())

    return op


def _gateway_async(**options: object) -> Callable[[], Callable[[], Awaitable[PaymentResult]]]:
    def setup() -> Callable[[], Awaitable[PaymentResult]]:
        methods = PaymentMethodRegistry(entry_point_group=None)
        methods.register(SandboxCard())
        gateway = PaymentGateway(methods, **options)  # type: ignore[arg-type]
        make = _requests()
        acharge = gateway.acharge

        async def op() -> PaymentResult:
            return await acharge("card", make())

        return op

    return setup


def cases() -> list[Case]:
    return [
        Case(GROUP_NOOP, "strategy.charge called directly", "floor", _noop_direct),
        Case(
            GROUP_NOOP,
            "PaymentGateway.charge, attempt_timeout=None (inline)",
            "ours",
            _noop_gateway(attempt_timeout=None),
        ),
        Case(
            GROUP_NOOP,
            "PaymentGateway.charge, 2 s timeout (worker thread)",
            "ours",
            _noop_gateway(),
            number=5_000,
        ),
        Case(
            GROUP_NOOP_ASYNC,
            "strategy.acharge awaited directly",
            "floor",
            _noop_direct_async,
            is_async=True,
        ),
        Case(
            GROUP_NOOP_ASYNC,
            "PaymentGateway.acharge, attempt_timeout=None",
            "ours",
            _noop_gateway_async(attempt_timeout=None),
            is_async=True,
        ),
        Case(
            GROUP_NOOP_ASYNC,
            "PaymentGateway.acharge, 2 s timeout (wait_for)",
            "ours",
            _noop_gateway_async(),
            number=10_000,
            is_async=True,
        ),
        Case(GROUP_SYNC, "bare SandboxCard.charge", "floor", _bare, number=20_000),
        Case(
            GROUP_SYNC,
            "PaymentGateway.charge, attempt_timeout=None (inline)",
            "ours",
            _gateway(attempt_timeout=None),
            number=20_000,
        ),
        Case(
            GROUP_SYNC,
            "PaymentGateway.charge, 2 s timeout (worker thread)",
            "ours",
            _gateway(),
            number=5_000,
        ),
        Case(GROUP_ASYNC, "bare SandboxCard.acharge", "floor", _bare_async, is_async=True),
        Case(
            GROUP_ASYNC,
            "PaymentGateway.acharge, attempt_timeout=None",
            "ours",
            _gateway_async(attempt_timeout=None),
            is_async=True,
        ),
        Case(
            GROUP_ASYNC,
            "PaymentGateway.acharge, 2 s timeout (wait_for)",
            "ours",
            _gateway_async(),
            number=10_000,
            is_async=True,
        ),
    ]

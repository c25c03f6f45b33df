"""Never executed: mypy checks that the payments API reads well from a user's side."""

from __future__ import annotations

import asyncio
from decimal import Decimal

from commerce_kit import CircuitState, PaymentError
from commerce_kit.http import UserMessage, user_message_for
from commerce_kit.payments import (
    PaymentAttempted,
    PaymentDeclinedError,
    PaymentGateway,
    PaymentMethodInfo,
    PaymentMethodRegistry,
    PaymentOutcome,
    PaymentRequest,
    PaymentResult,
    PaymentStatus,
    RefundResult,
    SyncPaymentStrategy,
    registry,
)
from commerce_kit.testing import ManualClock, SandboxCard, SandboxCrypto, SandboxWallet
from commerce_kit.typing import PaymentEvent, PaymentStrategy


class Invoice(SyncPaymentStrategy):
    name = "invoice"
    display_name = "Pay by invoice"

    def charge(self, request: PaymentRequest) -> PaymentResult:
        return PaymentResult(
            payment_id=f"inv-{request.order_id}",
            status=PaymentStatus.PENDING,
            amount=request.amount,
            currency=request.currency,
            method=self.name,
            idempotency_key=request.idempotency_key,
            order_id=request.order_id,
            provider_reference="",
        )

    def refund(self, payment_id: str, amount: Decimal, *, idempotency_key: str) -> RefundResult:
        raise PaymentDeclinedError("invoices are credited by hand", decline_code="manual")


methods = PaymentMethodRegistry(entry_point_group=None)
invoice_class: type[Invoice] = methods.register(Invoice)
card: SandboxCard = methods.register(SandboxCard(failure_rate=0.1, seed=1))
methods.register(lambda: SandboxWallet(name="paypal"))
strategy: PaymentStrategy = SandboxCrypto()
listing: tuple[PaymentMethodInfo, ...] = registry.available()
for name, label in methods.available():
    shown: str = f"{name}: {label}"

clock = ManualClock()
seen: list[PaymentEvent] = []


def on_event(event: PaymentEvent) -> None:
    if isinstance(event, PaymentAttempted) and event.outcome is PaymentOutcome.TIMED_OUT:
        seen.append(event)


gateway = PaymentGateway(
    methods,
    attempts=3,
    deadline=5.0,
    attempt_timeout=None,
    jitter="none",
    hooks=[on_event],
    clock=clock,
    sleep=clock.sleep,
    asleep=clock.asleep,
)
request = PaymentRequest(Decimal("19.99"), "EUR", "order-1", metadata={"campaign": "flash"})
try:
    result: PaymentResult = gateway.charge("card", request)
    refund: RefundResult = gateway.refund(
        "card", result.payment_id, Decimal("5.00"), idempotency_key="r-1"
    )
except PaymentError as error:
    answer: UserMessage = user_message_for(error)
    status: int = answer.http_status
    headers: dict[str, str] = answer.headers
later: PaymentResult = asyncio.run(gateway.acharge(strategy, request))
state: CircuitState = gateway.breaker("card").state
with PaymentGateway(methods) as scoped:
    scoped.charge(card, request)

"""Scenario M2: a payment method shipped as a package, and one contract for every method.

A real wheel is built and pip-installed into a folder on ``sys.path``; the registry finds it
through the ``commerce_kit.payment_methods`` entry-point group, the checkout listing shows it, and
the gateway charges through it, with no change to any existing code. The behaviour suite then runs
over every registered method: the three sandboxes and the plugin.
"""

from __future__ import annotations

import asyncio
import logging
import sys
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

import pytest

from commerce_kit.payments import (
    PaymentDeclinedError,
    PaymentGateway,
    PaymentMethodInfo,
    PaymentMethodRegistry,
    PaymentRequest,
    PaymentStatus,
)
from commerce_kit.testing import ManualClock, SandboxCard, SandboxCrypto, SandboxWallet
from commerce_kit.typing import PaymentStrategy
from tests._plugins import installed_plugin

PLUGIN = '''
"""A crypto payment method from a third party: it knows commerce_kit's public API only."""

import threading
from decimal import Decimal

from commerce_kit.payments import PaymentDeclinedError
from commerce_kit.payments import PaymentResult, PaymentStatus, RefundResult, SyncPaymentStrategy


class CryptoDemo(SyncPaymentStrategy):
    name = "crypto-demo"
    display_name = "Crypto (demo plugin)"

    def __init__(self):
        self._lock = threading.Lock()
        self._charges = {}
        self._payments = {}
        self._refunds = {}
        self._refunded = {}

    def charge(self, request):
        with self._lock:
            result = self._charges.get(request.idempotency_key)
            if result is None:
                payment_id = f"demo-{len(self._charges) + 1}"
                result = PaymentResult(
                    payment_id=payment_id,
                    status=PaymentStatus.PENDING,
                    amount=request.amount,
                    currency=request.currency,
                    method=self.name,
                    idempotency_key=request.idempotency_key,
                    order_id=request.order_id,
                    provider_reference="0xdemo",
                )
                self._charges[request.idempotency_key] = result
                self._payments[payment_id] = result
            return result

    def refund(self, payment_id, amount, *, idempotency_key):
        with self._lock:
            if idempotency_key in self._refunds:
                return self._refunds[idempotency_key]
            payment = self._payments.get(payment_id)
            if payment is None:
                raise PaymentDeclinedError("unknown payment", decline_code="unknown_payment")
            refunded = self._refunded.get(payment_id, Decimal(0))
            if refunded + amount > payment.amount:
                raise PaymentDeclinedError("too much", decline_code="amount_exceeds_remaining")
            self._refunded[payment_id] = refunded + amount
            result = RefundResult(
                refund_id=f"demo-re-{len(self._refunds) + 1}",
                payment_id=payment_id,
                amount=amount,
                currency=payment.currency,
                method=self.name,
                idempotency_key=idempotency_key,
                provider_reference="0xdemo",
            )
            self._refunds[idempotency_key] = result
            return result


NOT_A_STRATEGY = object()


def card_clash():
    from commerce_kit.testing import SandboxCard

    return SandboxCard(display_name="Card from a plugin")
'''

ENTRY_POINTS = {
    "commerce_kit.payment_methods": {
        "crypto-demo": "ck_crypto_demo:CryptoDemo",
        "broken": "ck_crypto_demo:does_not_exist",
        "not-a-strategy": "ck_crypto_demo:NOT_A_STRATEGY",
        "card-clash": "ck_crypto_demo:card_clash",
    }
}


@pytest.fixture(scope="module")
def plugin_site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    with installed_plugin(
        tmp_path_factory.mktemp("plugin"),
        dist="ck-crypto-demo",
        module="ck_crypto_demo",
        source=PLUGIN,
        entry_points=ENTRY_POINTS,
    ) as site:
        yield site


@pytest.fixture
def methods(plugin_site: Path) -> PaymentMethodRegistry:
    """The checkout's registry: the built-in sandboxes registered, plugins discovered."""
    sys.modules.pop("ck_crypto_demo", None)
    methods = PaymentMethodRegistry()
    for kind in (SandboxCard, SandboxWallet, SandboxCrypto):
        methods.register(kind())
    return methods


# -- M2 --------------------------------------------------------------------------------------------
def test_m2_the_plugin_is_loaded_only_on_first_lookup(methods: PaymentMethodRegistry) -> None:
    assert "ck_crypto_demo" not in sys.modules
    assert "crypto-demo" in methods
    assert "ck_crypto_demo" in sys.modules


def test_m2_checkout_lists_the_new_method(methods: PaymentMethodRegistry) -> None:
    assert (
        PaymentMethodInfo("card", "Credit or debit card"),
        PaymentMethodInfo("wallet", "PayPal-style wallet"),
        PaymentMethodInfo("crypto", "Cryptocurrency"),
        PaymentMethodInfo("crypto-demo", "Crypto (demo plugin)"),
    ) == methods.available()


def test_m2_the_gateway_charges_through_the_plugin(methods: PaymentMethodRegistry) -> None:
    clock = ManualClock()
    with PaymentGateway(methods, clock=clock, sleep=clock.sleep) as gateway:
        result = gateway.charge("crypto-demo", PaymentRequest(Decimal("0.50"), "EUR", "o-1"))
        assert ("crypto-demo", PaymentStatus.PENDING) == (result.method, result.status)
        assert ["card", "wallet", "crypto", "crypto-demo"] == [m.name for m in gateway.available()]


def test_m2_broken_plugins_are_logged_and_skipped(
    methods: PaymentMethodRegistry, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.WARNING, logger="commerce_kit.payments"):
        names = methods.names()
    assert ("card", "wallet", "crypto", "crypto-demo") == names
    logged = caplog.text
    assert "'broken'" in logged
    assert "'not-a-strategy'" in logged
    assert "provides 'card', which is already registered" in logged


def test_m2_a_plugin_gives_way_to_an_explicit_registration_made_later(
    plugin_site: Path,
) -> None:
    methods = PaymentMethodRegistry()
    assert "Card from a plugin" == methods.get("card").display_name
    mine = methods.register(SandboxCard())
    assert mine is methods.get("card")


def test_m2_a_registry_without_a_group_ignores_installed_plugins(plugin_site: Path) -> None:
    assert () == PaymentMethodRegistry(entry_point_group=None).names()


# -- one behaviour suite for every payment method --------------------------------------------------
ALL_METHODS = ["card", "wallet", "crypto", "crypto-demo"]


@pytest.fixture(params=ALL_METHODS)
def strategy(request: pytest.FixtureRequest, methods: PaymentMethodRegistry) -> PaymentStrategy:
    return methods.get(request.param)


def _request(key: str, amount: str = "25.00") -> PaymentRequest:
    return PaymentRequest(Decimal(amount), "EUR", f"order-{key}", idempotency_key=key)


def test_contract_is_a_payment_strategy(strategy: PaymentStrategy) -> None:
    assert isinstance(strategy, PaymentStrategy)
    assert strategy.display_name
    assert strategy.name in ALL_METHODS


def test_contract_charge_echoes_the_request(strategy: PaymentStrategy) -> None:
    result = strategy.charge(_request("k-1"))
    assert (Decimal("25.00"), "EUR", strategy.name, "k-1", "order-k-1") == (
        result.amount,
        result.currency,
        result.method,
        result.idempotency_key,
        result.order_id,
    )
    assert result.status in {PaymentStatus.SUCCEEDED, PaymentStatus.PENDING}
    assert result.payment_id


def test_contract_a_repeated_key_returns_the_first_charge(strategy: PaymentStrategy) -> None:
    assert strategy.charge(_request("k-1")) == strategy.charge(_request("k-1"))
    assert (
        strategy.charge(_request("k-2")).payment_id != strategy.charge(_request("k-1")).payment_id
    )


def test_contract_refunds_up_to_the_amount_then_declines(strategy: PaymentStrategy) -> None:
    paid = strategy.charge(_request("k-1"))
    first = strategy.refund(paid.payment_id, Decimal(20), idempotency_key="r-1")
    assert (paid.payment_id, Decimal(20), "EUR") == (first.payment_id, first.amount, first.currency)
    assert first == strategy.refund(paid.payment_id, Decimal(20), idempotency_key="r-1")
    with pytest.raises(PaymentDeclinedError):
        strategy.refund(paid.payment_id, Decimal(6), idempotency_key="r-2")


def test_contract_refund_of_an_unknown_payment_declines(strategy: PaymentStrategy) -> None:
    with pytest.raises(PaymentDeclinedError):
        strategy.refund("no-such-payment", Decimal(1), idempotency_key="r-1")


def test_contract_async_faces_agree_with_the_sync_ones(strategy: PaymentStrategy) -> None:
    async def main() -> None:
        paid = await strategy.acharge(_request("k-1"))
        assert paid == strategy.charge(_request("k-1"))
        refund = await strategy.arefund(paid.payment_id, Decimal(5), idempotency_key="r-1")
        assert refund == strategy.refund(paid.payment_id, Decimal(5), idempotency_key="r-1")

    asyncio.run(main())


def test_contract_the_gateway_treats_every_method_alike(strategy: PaymentStrategy) -> None:
    clock = ManualClock()
    methods = PaymentMethodRegistry(entry_point_group=None)
    methods.register(strategy)
    with PaymentGateway(methods, clock=clock, sleep=clock.sleep) as gateway:
        paid = gateway.charge(strategy.name, _request("k-1"))
        again = asyncio.run(gateway.acharge(strategy.name, _request("k-1")))
        refund = gateway.refund(strategy.name, paid.payment_id, Decimal(5), idempotency_key="r")
    assert (paid, Decimal(5)) == (again, refund.amount)

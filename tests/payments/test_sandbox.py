"""The sandbox providers: declines, idempotency, ledger, refunds, failure injection, latency."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    Bundle,
    RuleBasedStateMachine,
    initialize,
    invariant,
    rule,
)

from commerce_kit.payments import (
    PaymentDeclinedError,
    PaymentRequest,
    PaymentStatus,
    PaymentUnavailableError,
)
from commerce_kit.payments._sandbox import _luhn_valid
from commerce_kit.testing import (
    LedgerKind,
    ManualClock,
    SandboxCard,
    SandboxCrypto,
    SandboxProvider,
    SandboxWallet,
)
from tests.strategies import few_keys

SANDBOXES = [SandboxCard, SandboxWallet, SandboxCrypto]


def _request(
    amount: str = "19.99", *, key: str = "k-1", source: str | None = None, order: str = "o-1"
) -> PaymentRequest:
    return PaymentRequest(Decimal(amount), "EUR", order, source=source, idempotency_key=key)


def _decline_code(sandbox: SandboxProvider, request: PaymentRequest) -> str:
    with pytest.raises(PaymentDeclinedError) as caught:
        sandbox.charge(request)
    assert sandbox.name == caught.value.method
    return caught.value.decline_code


# -- declines --------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("source", "code"),
    [
        ("4000 0000 0000 0002", "card_declined"),
        ("4000-0000-0000-9995", "insufficient_funds"),
        ("4000000000000069", "expired_card"),
        ("4242424242424241", "incorrect_number"),
    ],
)
def test_card_test_numbers_decline_with_their_code(source: str, code: str) -> None:
    assert code == _decline_code(SandboxCard(), _request(source=source))


@pytest.mark.parametrize("source", [None, "4242 4242 4242 4242", "tok_visa", "42"])
def test_card_other_sources_succeed(source: str | None) -> None:
    assert PaymentStatus.SUCCEEDED == SandboxCard().charge(_request(source=source)).status


def test_card_failing_number_fails_transiently_every_time() -> None:
    card = SandboxCard()
    for attempt in range(3):
        with pytest.raises(PaymentUnavailableError):
            card.charge(_request(source="4000000000000119"))
        assert attempt + 1 == card.calls
    assert () == card.ledger


def test_no_error_message_carries_the_card_number() -> None:
    card = SandboxCard()
    for number in ("4000000000000002", "4242424242424241", "4000000000000119"):
        with pytest.raises((PaymentDeclinedError, PaymentUnavailableError)) as caught:
            card.charge(_request(source=number, key=number))
        assert number not in str(caught.value)


def test_documented_test_cards_pass_luhn() -> None:
    cards = [*SandboxCard.DECLINING_CARDS, SandboxCard.FAILING_CARD, "4242424242424242"]
    assert [True] * len(cards) == [_luhn_valid(c) for c in cards]


@given(st.text(alphabet="0123456789", min_size=1, max_size=19))
def test_luhn_matches_a_reference(digits: str) -> None:
    doubled = (
        int(c) for i, d in enumerate(reversed(digits)) for c in str(int(d) * (2 if i % 2 else 1))
    )
    assert (sum(doubled) % 10 == 0) == _luhn_valid(digits)


@pytest.mark.parametrize(
    ("source", "code"),
    [
        ("declined@example.com", "instrument_declined"),
        ("Insufficient@example.com", "insufficient_funds"),
        ("restricted@example.com", "payer_account_restricted"),
    ],
)
def test_wallet_magic_accounts_decline(source: str, code: str) -> None:
    assert code == _decline_code(SandboxWallet(), _request(source=source))


def test_crypto_blocked_address_declines() -> None:
    assert "address_blocked" == _decline_code(SandboxCrypto(), _request(source="0xABCDEAD"))


@pytest.mark.parametrize("kind", SANDBOXES)
def test_every_sandbox_declines_the_decline_amount(kind: type[SandboxProvider]) -> None:
    assert "do_not_honor" == _decline_code(kind(), _request("402.00"))


@pytest.mark.parametrize("kind", SANDBOXES)
def test_a_decline_moves_no_money(kind: type[SandboxProvider]) -> None:
    sandbox = kind()
    _decline_code(sandbox, _request("402"))
    assert () == sandbox.ledger


# -- idempotency -----------------------------------------------------------------------------------
@pytest.mark.parametrize("kind", SANDBOXES)
def test_same_key_returns_the_first_result_and_charges_once(kind: type[SandboxProvider]) -> None:
    sandbox = kind()
    first = sandbox.charge(_request())
    second = sandbox.charge(_request())
    assert first == second
    assert 1 == len(sandbox.charges)


def test_a_repeated_declined_key_replays_the_decline() -> None:
    card = SandboxCard()
    request = _request(source="4000000000009995")
    assert ["insufficient_funds"] * 2 == [_decline_code(card, request) for _ in range(2)]


def test_a_key_reused_for_a_different_request_is_refused() -> None:
    card = SandboxCard()
    card.charge(_request("10.00"))
    assert "idempotency_key_reused" == _decline_code(card, _request("11.00"))
    assert 1 == len(card.charges)


def test_transient_failures_are_not_remembered() -> None:
    card = SandboxCard(outage=True)
    with pytest.raises(PaymentUnavailableError, match="outage"):
        card.charge(_request())
    card.outage = False
    assert PaymentStatus.SUCCEEDED == card.charge(_request()).status


def test_ids_and_references_look_like_their_provider() -> None:
    card, wallet, crypto = (kind().charge(_request()) for kind in SANDBOXES)
    assert ["ch_sbx_000001", "PAYID-SBX-000001", "cc_sbx_000001"] == [
        card.payment_id,
        wallet.payment_id,
        crypto.payment_id,
    ]
    assert card.provider_reference.startswith("auth_")
    assert wallet.provider_reference.startswith("PAY-")
    assert (True, 66) == (
        crypto.provider_reference.startswith("0x"),
        len(crypto.provider_reference),
    )


# -- refunds ---------------------------------------------------------------------------------------
def test_partial_refunds_add_up_to_the_payment() -> None:
    card = SandboxCard()
    paid = card.charge(_request("30.00"))
    card.refund(paid.payment_id, Decimal("10.00"), idempotency_key="r-1")
    card.refund(paid.payment_id, Decimal("20.00"), idempotency_key="r-2")
    assert Decimal("30.00") == card.refunded(paid.payment_id)
    assert [Decimal(10), Decimal(20)] == [e.amount for e in card.refunds]
    with pytest.raises(PaymentDeclinedError) as caught:
        card.refund(paid.payment_id, Decimal("0.01"), idempotency_key="r-3")
    assert "amount_exceeds_remaining" == caught.value.decline_code


def test_a_repeated_refund_key_refunds_once() -> None:
    card = SandboxCard()
    paid = card.charge(_request("30.00"))
    first = card.refund(paid.payment_id, Decimal(5), idempotency_key="r-1")
    again = card.refund(paid.payment_id, Decimal(5), idempotency_key="r-1")
    assert first == again
    assert (Decimal(5), 1) == (card.refunded(paid.payment_id), len(card.refunds))


def test_refund_of_an_unknown_payment_is_declined_and_replayed() -> None:
    card = SandboxCard()
    for _ in range(2):
        with pytest.raises(PaymentDeclinedError) as caught:
            card.refund("ch_nope", Decimal(1), idempotency_key="r-1")
        assert "unknown_payment" == caught.value.decline_code


def test_refund_key_reused_for_another_amount_is_refused() -> None:
    card = SandboxCard()
    paid = card.charge(_request("30.00"))
    card.refund(paid.payment_id, Decimal(5), idempotency_key="r-1")
    with pytest.raises(PaymentDeclinedError) as caught:
        card.refund(paid.payment_id, Decimal(6), idempotency_key="r-1")
    assert "idempotency_key_reused" == caught.value.decline_code


@pytest.mark.parametrize(
    ("amount", "error"),
    [(5.0, TypeError), (Decimal(0), ValueError), (Decimal("0.001"), ValueError)],
)
def test_refund_amount_is_validated(amount: object, error: type[Exception]) -> None:
    card = SandboxCard()
    paid = card.charge(_request("30.00"))
    with pytest.raises(error):
        card.refund(paid.payment_id, amount, idempotency_key="r-1")  # type: ignore[arg-type]


def test_refunds_fail_transiently_during_an_outage() -> None:
    card = SandboxCard()
    paid = card.charge(_request())
    card.outage = True
    with pytest.raises(PaymentUnavailableError):
        card.refund(paid.payment_id, Decimal(1), idempotency_key="r-1")
    assert Decimal(0) == card.refunded(paid.payment_id)


# -- failure injection and latency -----------------------------------------------------------------
def _succeeds(sandbox: SandboxProvider, request: PaymentRequest) -> bool:
    try:
        sandbox.charge(request)
    except PaymentUnavailableError:
        return False
    return True


def test_failure_rate_is_reproducible_with_a_seed() -> None:
    def outcomes(seed: int) -> list[bool]:
        sandbox = SandboxCard(failure_rate=0.5, seed=seed)
        return [_succeeds(sandbox, _request(key=f"k-{i}")) for i in range(50)]

    assert outcomes(7) == outcomes(7)
    assert outcomes(7) != outcomes(8)


def test_failure_rate_is_close_to_the_configured_rate() -> None:
    sandbox = SandboxWallet(failure_rate=0.3, seed=1)
    failures = sum(not _succeeds(sandbox, _request(key=f"k-{i}")) for i in range(4000))
    # Binomial(4000, 0.3): the standard deviation is 29, so +-150 is over five of them.
    assert 1050 <= failures <= 1350
    assert 4000 - failures == len(sandbox.charges)


@pytest.mark.parametrize("rate", [-0.1, 1.5])
def test_failure_rate_outside_unit_interval_is_refused(rate: float) -> None:
    with pytest.raises(ValueError, match="failure_rate"):
        SandboxCard(failure_rate=rate)


def test_full_failure_rate_always_fails() -> None:
    sandbox = SandboxCrypto(failure_rate=1.0)
    with pytest.raises(PaymentUnavailableError, match="injected"):
        sandbox.charge(_request())


def test_latency_passes_through_the_injected_sleep() -> None:
    clock = ManualClock()
    card = SandboxCard(latency=timedelta(milliseconds=250), sleep=clock.sleep)
    card.charge(_request())
    with pytest.raises(PaymentDeclinedError):
        card.charge(_request("402", key="k-2"))
    assert ([0.25, 0.25], 0.5) == (clock.sleeps, clock())


def test_async_faces_wait_through_asleep() -> None:
    clock = ManualClock()
    card = SandboxCard(latency=0.5, sleep=clock.sleep, asleep=clock.asleep)

    async def main() -> tuple[str, str]:
        paid = await card.acharge(_request())
        refund = await card.arefund(paid.payment_id, Decimal(1), idempotency_key="r")
        return paid.payment_id, refund.payment_id

    paid_id, refunded_id = asyncio.run(main())
    assert (paid_id, [0.5, 0.5]) == (refunded_id, clock.sleeps)


def test_async_charge_shares_state_with_the_sync_face() -> None:
    card = SandboxCard()
    first = card.charge(_request())
    assert first == asyncio.run(card.acharge(_request()))
    assert 1 == len(card.charges)


def test_name_and_display_name_can_be_overridden() -> None:
    card = SandboxCard(name="card-eu", display_name="Card (EU)")
    assert ("card-eu", "Card (EU)", "SandboxCard(name='card-eu')") == (
        card.name,
        card.display_name,
        repr(card),
    )
    assert "card-eu" == card.charge(_request()).method


def test_negative_latency_is_refused() -> None:
    with pytest.raises(ValueError, match="latency"):
        SandboxCard(latency=-1)


# -- stateful: the sandbox against a model of what a provider must do ------------------------------
KEYS = few_keys("k-")
AMOUNTS = st.sampled_from([Decimal("5.00"), Decimal("12.50"), Decimal("402.00")])
SOURCES = st.sampled_from([None, "4242424242424242", "4000000000000002"])


class SandboxMachine(RuleBasedStateMachine):
    """Charges and refunds with reused keys and outages never move money twice."""

    payments = Bundle("payments")

    @initialize()
    def start(self) -> None:
        self.card = SandboxCard()
        self.charge_model: dict[str, tuple[tuple[object, ...], object]] = {}
        self.paid: dict[str, Decimal] = {}
        self.refund_model: dict[str, tuple[tuple[object, ...], object]] = {}
        self.refunded: dict[str, Decimal] = {}

    @rule(on=st.booleans())
    def outage(self, on: bool) -> None:
        self.card.outage = on

    def _expect_charge(self, request: PaymentRequest) -> object:
        fingerprint = (request.amount, request.source)
        seen = self.charge_model.get(request.idempotency_key)
        if seen is not None:
            return seen[1] if seen[0] == fingerprint else "idempotency_key_reused"
        if request.source == "4000000000000002":
            outcome: object = "card_declined"
        elif request.amount == Decimal(402):
            outcome = "do_not_honor"
        else:
            outcome = "new"
        self.charge_model[request.idempotency_key] = (fingerprint, outcome)
        return outcome

    @rule(target=payments, key=KEYS, amount=AMOUNTS, source=SOURCES)
    def charge(self, key: str, amount: Decimal, source: str | None) -> str:
        request = PaymentRequest(amount, "EUR", "o", source=source, idempotency_key=key)
        if self.card.outage:
            with pytest.raises(PaymentUnavailableError):
                self.card.charge(request)
            return "none"
        expected = self._expect_charge(request)
        try:
            result = self.card.charge(request)
        except PaymentDeclinedError as error:
            assert expected == error.decline_code
            return "none"
        if expected == "new":
            self.charge_model[key] = (self.charge_model[key][0], result.payment_id)
            self.paid[result.payment_id] = amount
        else:
            assert expected == result.payment_id
        return result.payment_id

    @rule(payment=payments, key=KEYS, amount=AMOUNTS)
    def refund(self, payment: str, key: str, amount: Decimal) -> None:
        if self.card.outage:
            with pytest.raises(PaymentUnavailableError):
                self.card.refund(payment, amount, idempotency_key=key)
            return
        fingerprint = (payment, amount)
        seen = self.refund_model.get(key)
        if seen is not None:
            expected = seen[1] if seen[0] == fingerprint else "idempotency_key_reused"
        elif payment not in self.paid:
            expected = "unknown_payment"
        elif self.refunded.get(payment, Decimal(0)) + amount > self.paid[payment]:
            expected = "amount_exceeds_remaining"
        else:
            expected = "refunded"
            self.refunded[payment] = self.refunded.get(payment, Decimal(0)) + amount
        if seen is None:
            self.refund_model[key] = (fingerprint, expected)
        try:
            self.card.refund(payment, amount, idempotency_key=key)
        except PaymentDeclinedError as error:
            assert expected == error.decline_code
        else:
            assert "refunded" == expected

    @invariant()
    def ledger_matches_the_model(self) -> None:
        charges = self.card.charges
        assert sorted(self.paid) == sorted(e.payment_id for e in charges)
        assert len(charges) == len({e.idempotency_key for e in charges})
        for payment_id, amount in self.paid.items():
            refunded = self.refunded.get(payment_id, Decimal(0))
            assert refunded == self.card.refunded(payment_id)
            assert refunded <= amount
        assert all(e.kind is LedgerKind.REFUND for e in self.card.refunds)


TestSandboxMachine = SandboxMachine.TestCase
TestSandboxMachine.settings = settings(max_examples=60, stateful_step_count=30, deadline=None)


def test_configuration_can_be_read_back_and_changed() -> None:
    clock = ManualClock()
    wallet = SandboxWallet(failure_rate=0.25, latency=timedelta(seconds=2), sleep=clock.sleep)
    assert (0.25, 2.0) == (wallet.failure_rate, wallet.latency)
    wallet.latency = 0.5
    wallet.failure_rate = 0.0
    paid = wallet.charge(_request())
    wallet.refund(paid.payment_id, Decimal(1), idempotency_key="r-1")
    assert [0.5, 0.5] == clock.sleeps


@pytest.mark.parametrize("source", [None, "buyer@example.com"])
def test_wallet_ordinary_payers_succeed(source: str | None) -> None:
    assert PaymentStatus.SUCCEEDED == SandboxWallet().charge(_request(source=source)).status

"""The resilient gateway: scenario A2 with a manual clock, timeouts, hooks, the composed policy."""

from __future__ import annotations

import asyncio
import contextvars
import logging
import random
import threading
import time
from collections.abc import Iterator
from decimal import Decimal

import pytest
from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, precondition, rule

from commerce_kit import CircuitBreaker, CircuitBreakerRegistry, CircuitOpenError, CircuitState
from commerce_kit.http import user_message_for
from commerce_kit.payments import (
    PaymentAttempted,
    PaymentDeclinedError,
    PaymentFinished,
    PaymentGateway,
    PaymentMethodRegistry,
    PaymentOperation,
    PaymentOutcome,
    PaymentRequest,
    PaymentResult,
    PaymentUnavailableError,
    RefundResult,
    SyncPaymentStrategy,
    UnknownPaymentMethodError,
)
from commerce_kit.testing import ManualClock, SandboxCard, SandboxWallet
from commerce_kit.typing import PaymentEvent

SERVICE_UNAVAILABLE = "System experiencing high traffic. Please try again shortly."
PAYMENT_FAILED = "Payment could not be processed. Please try again or use different payment method."


class Setup:
    """A manual clock, a card sandbox on it, a registry and a gateway with recorded events."""

    def __init__(self, **gateway_options: object) -> None:
        self.clock = ManualClock()
        self.card = SandboxCard(sleep=self.clock.sleep, asleep=self.clock.asleep)
        self.methods = PaymentMethodRegistry(entry_point_group=None)
        self.methods.register(self.card)
        self.events: list[PaymentEvent] = []
        options: dict[str, object] = {
            "clock": self.clock,
            "sleep": self.clock.sleep,
            "asleep": self.clock.asleep,
            "random": random.Random(0).random,
            "hooks": [self.events.append],
            **gateway_options,
        }
        self.gateway = PaymentGateway(self.methods, **options)  # type: ignore[arg-type]

    def charge(self, amount: str = "19.99", **fields: str) -> PaymentResult:
        return self.gateway.charge("card", _request(amount, **fields))

    def outcome(self, amount: str = "19.99", **fields: str) -> tuple[str, float]:
        """Charge, and return the type of the answer and how long it took on the clock."""
        start = self.clock()
        try:
            self.charge(amount, **fields)
        except Exception as error:
            return type(error).__name__, self.clock() - start
        return "PaymentResult", self.clock() - start


def _request(amount: str = "19.99", **fields: str) -> PaymentRequest:
    return PaymentRequest(Decimal(amount), "EUR", fields.pop("order", "o-1"), **fields)  # type: ignore[arg-type]


@pytest.fixture
def setup() -> Iterator[Setup]:
    created = Setup()
    yield created
    created.gateway.close()


# -- the plain path --------------------------------------------------------------------------------
def test_a_charge_goes_through_and_reports_one_attempt(setup: Setup) -> None:
    result = setup.charge()
    assert ("card", Decimal("19.99"), 1) == (result.method, result.amount, len(setup.card.charges))
    assert [
        PaymentAttempted("card", PaymentOperation.CHARGE, 1, PaymentOutcome.SUCCEEDED, 0.0, None),
        PaymentFinished("card", PaymentOperation.CHARGE, PaymentOutcome.SUCCEEDED, 1, 0.0, None),
    ] == setup.events


def test_a_strategy_object_can_be_passed_directly(setup: Setup) -> None:
    wallet = SandboxWallet()
    assert "wallet" == setup.gateway.charge(wallet, _request()).method


def test_an_unknown_method_fails_before_any_breaker_exists(setup: Setup) -> None:
    with pytest.raises(UnknownPaymentMethodError):
        setup.gateway.charge("bitcoin", _request())
    assert "bitcoin" not in setup.gateway._breakers


# -- retries ---------------------------------------------------------------------------------------
class Flaky(SyncPaymentStrategy):
    """Fails transiently the first ``failures`` times, with an optional retry hint."""

    name = "flaky"
    display_name = "Flaky"

    def __init__(self, failures: int, error: Exception | None = None) -> None:
        self.failures = failures
        self.error = error or PaymentUnavailableError("503 from provider")
        self.keys: list[str] = []
        self.card = SandboxCard(name="flaky")

    def charge(self, request: PaymentRequest) -> PaymentResult:
        self.keys.append(request.idempotency_key)
        if self.failures:
            self.failures -= 1
            raise self.error
        return self.card.charge(request)

    def refund(self, payment_id: str, amount: Decimal, *, idempotency_key: str) -> RefundResult:
        self.keys.append(idempotency_key)
        if self.failures:
            self.failures -= 1
            raise self.error
        return self.card.refund(payment_id, amount, idempotency_key=idempotency_key)


@pytest.mark.parametrize(
    "error", [PaymentUnavailableError("503"), ConnectionResetError(), TimeoutError()]
)
def test_transient_failures_are_retried_with_the_same_key(setup: Setup, error: Exception) -> None:
    flaky = Flaky(2, error)
    request = _request()
    result = setup.gateway.charge(flaky, request)
    assert [request.idempotency_key] * 3 == flaky.keys
    assert (request.idempotency_key, 1) == (result.idempotency_key, len(flaky.card.charges))


def test_three_attempts_at_most(setup: Setup) -> None:
    flaky = Flaky(5)
    with pytest.raises(PaymentUnavailableError):
        setup.gateway.charge(flaky, _request())
    assert 3 == len(flaky.keys)


def test_a_provider_retry_hint_sets_the_wait(setup: Setup) -> None:
    flaky = Flaky(1, PaymentUnavailableError("busy", retry_after=0.75))
    setup.gateway.charge(flaky, _request())
    assert [0.75] == setup.clock.sleeps


def test_exhausted_builtin_errors_become_payment_unavailable_with_the_cause(setup: Setup) -> None:
    with pytest.raises(PaymentUnavailableError) as caught:
        setup.gateway.charge(Flaky(3, ConnectionRefusedError("refused")), _request())
    assert ("flaky", ConnectionRefusedError) == (caught.value.method, type(caught.value.__cause__))
    assert SERVICE_UNAVAILABLE == user_message_for(caught.value).message


def test_a_provider_error_without_a_method_is_labelled(setup: Setup) -> None:
    with pytest.raises(PaymentUnavailableError) as caught:
        setup.gateway.charge(Flaky(3), _request())
    assert "flaky" == caught.value.method


def test_an_unexpected_error_is_neither_retried_nor_counted(setup: Setup) -> None:
    flaky = Flaky(9, ValueError("bug"))
    for _ in range(4):
        with pytest.raises(ValueError, match="bug"):
            setup.gateway.charge(flaky, _request())
    assert (4, CircuitState.CLOSED) == (len(flaky.keys), setup.gateway.breaker("flaky").state)
    assert PaymentOutcome.FAILED == setup.events[-1].outcome


# -- declines --------------------------------------------------------------------------------------
def test_a_decline_is_not_retried_and_keeps_the_breaker_closed(setup: Setup) -> None:
    for i in range(5):
        with pytest.raises(PaymentDeclinedError) as caught:
            setup.charge(source="4000000000000002", order=f"o-{i}")
        assert ("card", "card_declined") == (caught.value.method, caught.value.decline_code)
    assert (5, CircuitState.CLOSED) == (setup.card.calls, setup.gateway.breaker("card").state)
    assert PaymentOutcome.DECLINED == setup.events[-1].outcome
    assert PAYMENT_FAILED == user_message_for(caught.value).message


def test_a_decline_clears_the_count_of_consecutive_failures(setup: Setup) -> None:
    setup.card.outage = True
    setup.outcome(order="a")
    setup.outcome(order="b")
    setup.card.outage = False
    setup.outcome("402.00", order="c")
    setup.card.outage = True
    setup.outcome(order="d")
    setup.outcome(order="e")
    assert CircuitState.CLOSED == setup.gateway.breaker("card").state


# -- scenario A2 -----------------------------------------------------------------------------------
def test_a2_provider_down_answers_within_the_deadline_then_fails_fast(setup: Setup) -> None:
    setup.card.outage = True
    setup.card.latency = 1.0  # each refused connection takes a second to come back
    answers = [setup.outcome(order=f"o-{i}") for i in range(3)]
    assert ["PaymentUnavailableError"] * 3 == [kind for kind, _ in answers]
    assert all(took <= 5.0 for _, took in answers), answers
    assert (9, CircuitState.OPEN) == (setup.card.calls, setup.gateway.breaker("card").state)
    # Open: the next customer gets an answer at once, and the provider is left alone.
    assert ("CircuitOpenError", 0.0) == setup.outcome(order="o-4")
    assert 9 == setup.card.calls


def test_a2_open_breaker_shows_the_service_unavailable_message(setup: Setup) -> None:
    setup.card.outage = True
    for i in range(3):
        setup.outcome(order=f"o-{i}")
    with pytest.raises(CircuitOpenError) as caught:
        setup.charge(order="o-4")
    answer = user_message_for(caught.value)
    assert (SERVICE_UNAVAILABLE, 503, "card") == (
        answer.message,
        answer.http_status,
        caught.value.name,
    )
    assert 0 < answer.retry_after <= 30.0  # type: ignore[operator]
    assert PaymentOutcome.REJECTED == setup.events[-1].outcome
    assert 0 == setup.events[-1].attempts  # type: ignore[union-attr]


def test_a2_breaker_half_opens_after_30_seconds_and_closes_on_recovery(setup: Setup) -> None:
    setup.card.outage = True
    for i in range(3):
        setup.outcome(order=f"o-{i}")
    opened = setup.clock()
    setup.clock.advance(29.9)
    assert CircuitState.OPEN == setup.gateway.breaker("card").state
    setup.clock.advance(opened + 30.0 - setup.clock())
    assert CircuitState.HALF_OPEN == setup.gateway.breaker("card").state
    setup.card.outage = False
    assert "PaymentResult" == setup.outcome(order="trial")[0]
    assert CircuitState.CLOSED == setup.gateway.breaker("card").state


def test_a2_failed_trial_opens_the_breaker_again(setup: Setup) -> None:
    setup.card.outage = True
    for i in range(3):
        setup.outcome(order=f"o-{i}")
    setup.clock.advance(30)
    assert "PaymentUnavailableError" == setup.outcome(order="trial")[0]
    assert CircuitState.OPEN == setup.gateway.breaker("card").state


def test_a2_failures_older_than_the_window_do_not_count(setup: Setup) -> None:
    setup.card.outage = True
    setup.outcome(order="a")
    setup.outcome(order="b")
    setup.clock.advance(61)
    setup.outcome(order="c")
    assert CircuitState.CLOSED == setup.gateway.breaker("card").state


def _charge_many(setup: Setup, count: int, *, use_async: bool = False) -> list[str]:
    """Charge ``count`` orders arriving one a second; return the type of each answer."""

    async def one_async(request: PaymentRequest) -> str:
        try:
            await setup.gateway.acharge("card", request)
        except Exception as error:
            return type(error).__name__
        return "PaymentResult"

    async def all_async() -> list[str]:
        answers = []
        for i in range(count):
            setup.clock.advance(1.0)
            answers.append(await one_async(_request(order=f"o-{i}")))
        return answers

    if use_async:
        return asyncio.run(all_async())
    answers = []
    for i in range(count):
        setup.clock.advance(1.0)
        answers.append(setup.outcome(order=f"o-{i}")[0])
    return answers


@pytest.mark.parametrize(("use_async", "count"), [(False, 2000), (True, 500)])
def test_a2_retries_recover_at_least_95_percent_at_a_30_percent_failure_rate(
    use_async: bool, count: int
) -> None:
    # Each attempt fails with p = 0.3, so all three fail with p = 0.3**3: 97.3% should recover.
    # Three failed payments in a row (p = 0.027**3 per payment) open the breaker, which then
    # turns away the next 30 seconds of orders; that loss counts against the 95% too.
    setup = Setup(hooks=())
    setup.card.failure_rate = 0.3
    setup.card._random.seed(2024)
    try:
        answers = _charge_many(setup, count, use_async=use_async)
    finally:
        setup.gateway.close()
    succeeded = answers.count("PaymentResult")
    reached = count - answers.count("CircuitOpenError")
    assert {"PaymentResult", "PaymentUnavailableError", "CircuitOpenError"} >= set(answers)
    assert succeeded / count >= 0.95, succeeded / count
    assert succeeded / reached >= 0.95, succeeded / reached
    charges = setup.card.charges
    assert succeeded == len(charges)
    assert len(charges) == len({c.idempotency_key for c in charges}), "a key was charged twice"


def test_a_timed_out_attempt_that_charged_is_not_charged_again(setup: Setup) -> None:
    # The first attempt charges but answers after 2.5 s, past the 2 s attempt timeout; the retry
    # sends the same key and gets that charge back, quickly.
    latencies = [2.5, 0.1]
    setup.card.latency = 1.0
    setup.card._sleep = lambda _: setup.clock.sleep(latencies.pop(0))
    result = setup.charge()
    assert [PaymentOutcome.TIMED_OUT, PaymentOutcome.SUCCEEDED] == [
        e.outcome for e in setup.events if isinstance(e, PaymentAttempted)
    ]
    assert [result.payment_id] == [c.payment_id for c in setup.card.charges]


# -- real timeouts (short, real time: a hung provider cannot be simulated by a clock) --------------
@pytest.fixture
def hung() -> Iterator[tuple[SandboxCard, threading.Event]]:
    release = threading.Event()

    def block(_: float) -> None:
        release.wait()

    card = SandboxCard(latency=1.0, sleep=block)
    yield card, release
    release.set()


def _real_gateway(card: SandboxCard, **options: object) -> PaymentGateway:
    methods = PaymentMethodRegistry(entry_point_group=None)
    methods.register(card)
    defaults: dict[str, object] = {
        "attempt_timeout": 0.05,
        "deadline": 0.2,
        "wait_initial": 0.01,
        "wait_max": 0.02,
    }
    return PaymentGateway(methods, **{**defaults, **options})  # type: ignore[arg-type]


def test_a_hung_provider_answers_within_the_deadline_sync(
    hung: tuple[SandboxCard, threading.Event],
) -> None:
    card, _ = hung
    with _real_gateway(card) as gateway:
        start = time.monotonic()
        with pytest.raises(PaymentUnavailableError) as caught:
            gateway.charge("card", _request())
        took = time.monotonic() - start
    assert isinstance(caught.value.__cause__, TimeoutError)
    assert took < 1.0, took  # the 0.2 s deadline, plus generous slack for a busy machine
    assert card.calls >= 2


def test_a_hung_provider_answers_within_the_deadline_async() -> None:
    never = asyncio.Event  # created inside the loop below

    async def main() -> tuple[float, BaseException | None]:
        gate = never()
        card = SandboxCard(latency=1.0, asleep=lambda _: gate.wait())  # type: ignore[arg-type,return-value]
        gateway = _real_gateway(card)
        start = time.monotonic()
        try:
            await gateway.acharge("card", _request())
        except PaymentUnavailableError as error:
            return time.monotonic() - start, error.__cause__
        return 0.0, None  # pragma: no cover - the charge must fail

    took, cause = asyncio.run(main())
    assert isinstance(cause, TimeoutError)
    assert took < 1.0, took


def test_an_attempt_queued_past_its_timeout_never_reaches_the_provider(
    hung: tuple[SandboxCard, threading.Event],
) -> None:
    card, release = hung
    other = SandboxWallet()
    gateway = _real_gateway(card, max_workers=1, attempts=1)
    gateway._methods.register(other)
    with pytest.raises(PaymentUnavailableError):
        gateway.charge("card", _request())  # its worker stays stuck in the hung provider
    with pytest.raises(PaymentUnavailableError):
        gateway.charge("wallet", _request())  # queued behind it, times out, is cancelled
    pool = gateway._pool
    release.set()
    assert pool is not None
    pool.shutdown(wait=True)
    assert (1, 0) == (card.calls, other.calls)


def test_without_an_attempt_timeout_the_strategy_runs_in_the_calling_thread() -> None:
    seen: list[str] = []

    class Here(Flaky):
        def charge(self, request: PaymentRequest) -> PaymentResult:
            seen.append(threading.current_thread().name)
            return super().charge(request)

    setup = Setup(attempt_timeout=None)
    setup.gateway.charge(Here(0), _request())
    assert [threading.current_thread().name] == seen


def test_the_worker_sees_the_callers_context_variables(setup: Setup) -> None:
    tenant: contextvars.ContextVar[str] = contextvars.ContextVar("tenant", default="none")
    seen: list[str] = []

    class Reads(Flaky):
        def charge(self, request: PaymentRequest) -> PaymentResult:
            seen.append(tenant.get())
            return super().charge(request)

    tenant.set("shop-7")
    setup.gateway.charge(Reads(0), _request())
    assert ["shop-7"] == seen


def test_close_releases_the_pool_and_the_gateway_stays_usable(setup: Setup) -> None:
    setup.charge(order="a")
    pools = [setup.gateway._pool]
    setup.gateway.close()
    pools.append(setup.gateway._pool)
    setup.gateway.close()
    assert (True, None) == (pools[0] is not None, pools[1])
    assert "card" == setup.charge(order="b").method


# -- refunds ---------------------------------------------------------------------------------------
def test_refunds_go_through_the_same_policy(setup: Setup) -> None:
    flaky = Flaky(0)
    paid = setup.gateway.charge(flaky, _request("30.00"))
    flaky.failures = 2
    refund = setup.gateway.refund(flaky, paid.payment_id, Decimal(10), idempotency_key="r-1")
    assert (Decimal(10), ["r-1"] * 3) == (refund.amount, flaky.keys[1:])
    assert PaymentOperation.REFUND == setup.events[-1].operation


def test_refund_declines_are_not_retried(setup: Setup) -> None:
    paid = setup.charge("30.00")
    calls = setup.card.calls
    with pytest.raises(PaymentDeclinedError):
        setup.gateway.refund("card", paid.payment_id, Decimal(31), idempotency_key="r-1")
    assert calls + 1 == setup.card.calls


@pytest.mark.parametrize(
    ("refund", "error", "match"),
    [
        (("p", Decimal(1), ""), ValueError, "idempotency_key must be a non-empty string"),
        (("p", Decimal(1), "k" * 256), ValueError, "idempotency_key must be at most 255"),
        (("", Decimal(1), "k"), ValueError, "payment_id must be a non-empty string"),
        (("p", Decimal(-1), "k"), ValueError, "amount must be a finite amount greater than zero"),
        (("p", 1.5, "k"), TypeError, "amount must be a decimal.Decimal"),
    ],
)
def test_a_bad_refund_is_refused_before_anything_is_sent(
    setup: Setup, refund: tuple[str, Decimal, str], error: type, match: str
) -> None:
    payment_id, amount, key = refund
    calls = setup.card.calls
    with pytest.raises(error, match=match):
        setup.gateway.refund("card", payment_id, amount, idempotency_key=key)
    with pytest.raises(error, match=match):
        asyncio.run(setup.gateway.arefund("card", payment_id, amount, idempotency_key=key))
    assert calls == setup.card.calls


def test_async_refund(setup: Setup) -> None:
    paid = setup.charge("30.00")

    async def main() -> RefundResult:
        return await setup.gateway.arefund(
            "card", paid.payment_id, Decimal("7.50"), idempotency_key="r-1"
        )

    assert Decimal("7.50") == asyncio.run(main()).amount
    assert Decimal("7.50") == setup.card.refunded(paid.payment_id)


def test_async_faces_share_the_breaker_with_the_sync_ones(setup: Setup) -> None:
    setup.card.outage = True
    setup.outcome(order="a")
    setup.outcome(order="b")

    async def main() -> None:
        with pytest.raises(PaymentUnavailableError):
            await setup.gateway.acharge("card", _request(order="c"))
        with pytest.raises(CircuitOpenError):
            await setup.gateway.acharge("card", _request(order="d"))

    asyncio.run(main())


def test_async_declines_and_manual_timeouts(setup: Setup) -> None:
    async def main() -> list[PaymentOutcome]:
        with pytest.raises(PaymentDeclinedError):
            await setup.gateway.acharge("card", _request("402.00"))
        setup.card.latency = 3.0  # past the 2 s attempt timeout on the manual clock
        with pytest.raises(PaymentUnavailableError):
            await setup.gateway.acharge("card", _request(order="slow"))
        return [e.outcome for e in setup.events if isinstance(e, PaymentFinished)]

    assert [PaymentOutcome.DECLINED, PaymentOutcome.TIMED_OUT] == asyncio.run(main())


def test_async_without_an_attempt_timeout() -> None:
    setup = Setup(attempt_timeout=None)
    assert "card" == asyncio.run(setup.gateway.acharge("card", _request())).method


# -- checkout listing, hooks, configuration --------------------------------------------------------
def test_available_leaves_out_methods_that_fail_fast(setup: Setup) -> None:
    setup.methods.register(SandboxWallet())
    setup.card.outage = True
    for i in range(3):
        setup.outcome(order=f"o-{i}")
    assert ["wallet"] == [m.name for m in setup.gateway.available()]
    setup.clock.advance(30)
    assert ["card", "wallet"] == [m.name for m in setup.gateway.available()]


def test_a_failing_hook_is_logged_and_the_payment_goes_on(caplog: pytest.LogCaptureFixture) -> None:
    def broken(event: PaymentEvent) -> None:
        raise RuntimeError("metrics down")

    setup = Setup(hooks=[broken])
    with caplog.at_level(logging.ERROR, logger="commerce_kit.payments"):
        assert "card" == setup.charge().method
    assert [
        f"hook {broken!r} failed on PaymentAttempted",
        f"hook {broken!r} failed on PaymentFinished",
    ] == [r.getMessage() for r in caplog.records]


def test_logs_and_events_never_carry_the_card_number(
    setup: Setup, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.DEBUG, logger="commerce_kit.payments"):
        for number in ("4000000000000002", "4000000000000119"):
            setup.outcome(source=number, order=number)
    text = caplog.text + repr(setup.events)
    assert "attempt 1" in caplog.text
    assert "0002" not in text
    assert "0119" not in text


def test_a_shared_breaker_registry_is_used() -> None:
    breakers = CircuitBreakerRegistry(lambda key: CircuitBreaker(key, failure_threshold=1))
    setup = Setup(breakers=breakers)
    setup.card.outage = True
    setup.outcome()
    assert CircuitState.OPEN == breakers.get("card").state


@pytest.mark.parametrize(
    ("option", "value"),
    [
        ("max_workers", 0),
        ("deadline", 0),
        ("attempt_timeout", -1),
        ("attempts", 0),
        ("failure_threshold", 0),
        ("window", 0),
        ("reset_timeout", -1),
    ],
)
def test_bad_configuration_is_refused(option: str, value: object) -> None:
    with pytest.raises(ValueError, match=option):
        PaymentGateway(PaymentMethodRegistry(entry_point_group=None), **{option: value})  # type: ignore[arg-type]


def test_repr_shows_the_policy() -> None:
    assert "PaymentGateway(deadline=5.0, attempt_timeout=2.0)" == repr(PaymentGateway())


# -- stateful: the composed pipeline against a model of breaker, retries and declines --------------
class GatewayMachine(RuleBasedStateMachine):
    """Outages, declines and time: the gateway answers as a reference model says it should."""

    use_async = False

    @initialize()
    def start(self) -> None:
        self.setup = Setup(hooks=())
        self.state = "closed"
        self.failures: list[float] = []
        self.opened_at = 0.0
        self.orders = 0

    def teardown(self) -> None:
        self.setup.gateway.close()

    @rule(on=st.booleans())
    def outage(self, on: bool) -> None:
        self.setup.card.outage = on

    @rule(seconds=st.sampled_from([1.0, 10.0, 29.5, 30.0, 61.0]))
    def advance(self, seconds: float) -> None:
        self.setup.clock.advance(seconds)

    def _model_answer(self, decline: bool) -> str:
        now = self.setup.clock()
        if self.state == "open":
            if now < self.opened_at + 30.0:
                return "CircuitOpenError"
            self.state = "half_open"
        if self.setup.card.outage:
            return "PaymentUnavailableError"
        return "PaymentDeclinedError" if decline else "PaymentResult"

    def _model_record(self, answer: str) -> None:
        now = self.setup.clock()
        if answer == "CircuitOpenError":
            return
        if answer != "PaymentUnavailableError":
            self.state, self.failures = "closed", []
            return
        if self.state == "half_open":
            self.state, self.opened_at, self.failures = "open", now, []
            return
        self.failures = [t for t in self.failures if t + 60.0 > now] + [now]
        if len(self.failures) >= 3:
            self.state, self.opened_at, self.failures = "open", now, []

    def _charge(self, request: PaymentRequest) -> str:
        try:
            if self.use_async:
                asyncio.run(self.setup.gateway.acharge("card", request))
            else:
                self.setup.gateway.charge("card", request)
        except Exception as error:
            return type(error).__name__
        return "PaymentResult"

    @rule(decline=st.booleans())
    def charge(self, decline: bool) -> None:
        self.orders += 1
        expected = self._model_answer(decline)
        calls = self.setup.card.calls
        amount = "402.00" if decline else "10.00"
        actual = self._charge(_request(amount, order=f"o-{self.orders}"))
        assert expected == actual
        sent = self.setup.card.calls - calls
        assert {"CircuitOpenError": 0, "PaymentUnavailableError": 3}.get(expected, 1) == sent
        self._model_record(actual)

    @precondition(lambda self: self.state != "half_open")
    @invariant()
    def breaker_state_matches(self) -> None:
        state = self.setup.gateway.breaker("card").state
        now = self.setup.clock()
        expected = self.state
        if expected == "open" and now >= self.opened_at + 30.0:
            expected = "half_open"
        assert expected == state.value

    @invariant()
    def one_charge_per_key(self) -> None:
        charges = self.setup.card.charges
        assert len(charges) == len({c.idempotency_key for c in charges})


class AsyncGatewayMachine(GatewayMachine):
    use_async = True


TestGatewayMachine = GatewayMachine.TestCase
TestGatewayMachine.settings = settings(max_examples=40, stateful_step_count=25, deadline=None)
TestAsyncGatewayMachine = AsyncGatewayMachine.TestCase
TestAsyncGatewayMachine.settings = settings(max_examples=15, stateful_step_count=20, deadline=None)


def test_the_pool_is_made_once() -> None:
    with PaymentGateway() as gateway:
        assert gateway._start_pool() is gateway._start_pool()


def test_no_timeout_and_no_hooks_reads_no_clock_after_the_attempt() -> None:
    reads: list[float] = []

    def clock() -> float:
        reads.append(0.0)
        return 0.0

    methods = PaymentMethodRegistry(entry_point_group=None)
    methods.register(SandboxCard())
    gateway = PaymentGateway(methods, attempt_timeout=None, clock=clock)
    assert "card" == gateway.charge("card", _request()).method
    assert 1 == len(reads)  # only the retry's, to start its deadline

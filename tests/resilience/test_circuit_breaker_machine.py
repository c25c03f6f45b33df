"""The pure decision functions with calls in flight, and the failure-rate window, against models.

Threads make interleavings hard to reach on purpose; the pure functions make them easy: a ticket
is a call that has been admitted and not yet finished, and hypothesis finishes tickets in any
order, across half-open rounds, while the clock moves and the circuit is switched by hand.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass, field

from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.stateful import Bundle, RuleBasedStateMachine, consumes, initialize, invariant, rule

from commerce_kit import CircuitBreaker, CircuitState
from commerce_kit.resilience._circuit_breaker_machine import (
    IDLE,
    Admission,
    BreakerRecord,
    Event,
    Policy,
    acquire,
    retry_after,
    step,
)
from commerce_kit.resilience._circuit_breaker_window import RollingWindow
from commerce_kit.testing import ManualClock


@dataclass(frozen=True)
class Ticket:
    trial: bool
    round: float  # the half-open round that admitted a trial


@dataclass
class Model:
    """The state machine, said imperatively, with trials in flight."""

    policy: Policy
    state: str = "closed"
    opened_at: float = 0.0
    failures: list[float] = field(default_factory=list)
    trials: int = 0
    trial_successes: int = 0

    def open(self, now: float, state: str = "open") -> None:
        self.state, self.opened_at = state, now
        self.failures, self.trials, self.trial_successes = [], 0, 0

    def close(self, state: str = "closed") -> None:
        self.state, self.opened_at = state, 0.0
        self.failures, self.trials, self.trial_successes = [], 0, 0

    def acquire(self, now: float) -> Ticket | None:
        if self.state == "open" and now >= self.opened_at + self.policy.reset_timeout:
            self.state, self.trials, self.trial_successes = "half_open", 0, 0
        if self.state in ("closed", "disabled"):
            return Ticket(trial=False, round=0.0)
        if self.state == "half_open" and self.trials < self.policy.half_open_max_calls:
            self.trials += 1
            return Ticket(trial=True, round=self.opened_at)
        return None

    def finish(self, ticket: Ticket, outcome: str, now: float) -> None:
        if ticket.trial:
            if self.state != "half_open" or self.opened_at != ticket.round:
                return
            if outcome == "failure":
                self.open(now)
                return
            self.trials -= 1
            if outcome == "success":
                self.trial_successes += 1
                if self.trial_successes >= self.policy.success_threshold:
                    self.close()
            return
        if self.state != "closed" or outcome == "release":
            return
        recent = [t for t in self.failures if now - t < self.policy.window]
        if outcome == "failure":
            self.failures = [*recent, now]
            threshold = self.policy.failure_threshold
            if threshold is not None and len(self.failures) >= threshold:
                self.open(now)
        elif self.policy.consecutive:
            self.failures = []
        else:
            self.failures = recent

    def as_record(self) -> BreakerRecord:
        return BreakerRecord(
            CircuitState(self.state),
            self.opened_at,
            tuple(self.failures),
            self.trials,
            self.trial_successes,
        )


EVENT_OF = {
    (False, "success"): Event.SUCCESS,
    (False, "failure"): Event.FAILURE,
    (True, "success"): Event.TRIAL_SUCCESS,
    (True, "failure"): Event.TRIAL_FAILURE,
    (True, "release"): Event.TRIAL_RELEASE,
}


class MachineVersusModel(RuleBasedStateMachine):
    """Feed the same admissions and outcomes to the pure functions and to the model."""

    tickets = Bundle("tickets")
    policy: Policy
    record: BreakerRecord
    model: Model
    now: float

    @initialize(
        failure_threshold=st.integers(min_value=1, max_value=4),
        half_open_max_calls=st.integers(min_value=1, max_value=3),
        success_threshold=st.integers(min_value=1, max_value=3),
        consecutive=st.booleans(),
    )
    def build(
        self,
        failure_threshold: int,
        half_open_max_calls: int,
        success_threshold: int,
        consecutive: bool,
    ) -> None:
        self.policy = Policy(
            failure_threshold=failure_threshold,
            window=10.0,
            reset_timeout=5.0,
            half_open_max_calls=half_open_max_calls,
            success_threshold=success_threshold,
            consecutive=consecutive,
        )
        self.record = IDLE
        self.model = Model(self.policy)
        self.now = 0.0

    @rule(target=tickets)
    def admit(self) -> Ticket | None:
        expected = self.model.acquire(self.now)
        self.record, admission = acquire(self.record, self.now, self.policy)
        if expected is None:
            assert Admission.REJECTED == admission
            assert retry_after(self.record, self.now, self.policy) > 0
        else:
            assert (Admission.TRIAL if expected.trial else Admission.NORMAL) == admission
        return expected

    @rule(ticket=consumes(tickets), outcome=st.sampled_from(["success", "failure", "release"]))
    def finish(self, ticket: Ticket | None, outcome: str) -> None:
        if ticket is None:
            return
        if not ticket.trial and outcome == "release":
            return  # a normal call's ignored outcome changes nothing and has no event
        self.model.finish(ticket, outcome, self.now)
        event = EVENT_OF[ticket.trial, outcome]
        self.record = step(self.record, event, self.now, self.policy, ticket.round)

    @rule(seconds=st.sampled_from([0.5, 2.5, 5.0, 10.0]))
    def advance(self, seconds: float) -> None:
        self.now += seconds

    @rule()
    def observe(self) -> None:
        self.record = step(self.record, Event.OBSERVE, self.now, self.policy)
        if self.model.state == "open" and self.now >= self.model.opened_at + 5.0:
            self.model.state, self.model.trials, self.model.trial_successes = "half_open", 0, 0

    @rule(switch=st.sampled_from(["open", "force_open", "close", "disable", "trip"]))
    def manual(self, switch: str) -> None:
        if switch == "trip":
            self.record = step(self.record, Event.TRIP, self.now, self.policy)
            if self.model.state == "closed":
                self.model.open(self.now)
            return
        event = {
            "open": Event.OPEN,
            "force_open": Event.FORCE_OPEN,
            "close": Event.CLOSE,
            "disable": Event.DISABLE,
        }[switch]
        self.record = step(self.record, event, self.now, self.policy)
        if switch == "open":
            self.model.open(self.now)
        elif switch == "force_open":
            self.model.open(self.now, "forced_open")
        else:
            self.model.close("closed" if switch == "close" else "disabled")

    @invariant()
    def records_agree(self) -> None:
        assert self.model.as_record() == self.record

    @invariant()
    def a_closed_empty_record_is_the_idle_object(self) -> None:
        if self.record == IDLE:
            assert self.record is IDLE

    @invariant()
    def trials_never_exceed_the_limit(self) -> None:
        assert 0 <= self.record.trials <= self.policy.half_open_max_calls


MachineVersusModel.TestCase.settings = settings(
    MachineVersusModel.TestCase.settings, stateful_step_count=50
)
test_machine_agrees_with_the_model = MachineVersusModel.TestCase


def test_step_returns_the_same_record_when_nothing_changes() -> None:
    policy = Policy(3, 10.0, 5.0, 1, 1, consecutive=True)
    opened = BreakerRecord(CircuitState.OPEN, 0.0)
    for event in (Event.SUCCESS, Event.FAILURE, Event.TRIP, Event.TRIAL_SUCCESS, Event.OBSERVE):
        assert opened is step(opened, event, 1.0, policy)


# -- the failure-rate window ----------------------------------------------------------------------

moves = st.lists(
    st.tuples(st.integers(min_value=-3, max_value=25).map(lambda n: n / 4), st.booleans()),
    max_size=60,
)


@given(
    window=st.sampled_from([1.0, 6.0, 10.0]),
    buckets=st.integers(min_value=1, max_value=10),
    moves=moves,
)
def test_rolling_window_counts_what_a_list_of_every_call_counts(
    window: float, buckets: int, moves: list[tuple[float, bool]]
) -> None:
    """Calls arrive with small steps of the clock, sometimes slightly out of order."""
    rolling = RollingWindow(window, buckets)
    width = window / buckets
    history: list[tuple[int, bool]] = []
    newest = None
    now = 100.0
    for step_by, failed in moves:
        now = max(0.0, now + step_by)
        number = int(now // width)
        newest = number if newest is None else max(newest, number)
        if number > newest - buckets:
            history.append((number, failed))
        rolling.add(now, failed=failed)
        counted = [f for n, f in history if n > newest - buckets]
        assert (len(counted), sum(counted)) == (rolling.calls, rolling.failures)


@given(window=st.sampled_from([1.0, 10.0]), idle=st.integers(min_value=0, max_value=40))
def test_rolling_window_advance_expires_old_buckets(window: float, idle: int) -> None:
    rolling = RollingWindow(window, 4)
    rolling.add(0.0, failed=True)
    rolling.add(window / 8, failed=False)
    rolling.advance(idle * window / 4)
    expected = (2, 1) if idle < 4 else (0, 0)
    assert expected == (rolling.calls, rolling.failures)


def first_trip(
    moves: list[tuple[float, bool]], window: float, buckets: int, minimum: int, rate: float
) -> int | None:
    """The index of the call that opens the circuit, by brute force over every call so far."""
    width = window / buckets
    history: list[tuple[int, bool]] = []
    now = 0.0
    for index, (step_by, failed) in enumerate(moves):
        now += step_by
        number = int(now // width)
        history.append((number, failed))
        counted = [f for n, f in history if n > number - buckets]
        if len(counted) >= minimum and sum(counted) / len(counted) >= rate:
            return index
    return None


@settings(max_examples=150)
@given(
    moves=st.lists(
        st.tuples(st.integers(min_value=0, max_value=12).map(lambda n: n / 4), st.booleans()),
        max_size=50,
    ),
    buckets=st.integers(min_value=1, max_value=10),
    minimum=st.integers(min_value=1, max_value=8),
    rate=st.sampled_from([0.25, 0.5, 0.6, 1.0]),
)
def test_failure_rate_mode_opens_exactly_when_the_brute_force_model_says(
    moves: list[tuple[float, bool]], buckets: int, minimum: int, rate: float
) -> None:
    clock = ManualClock()
    breaker = CircuitBreaker(
        failure_rate_threshold=rate,
        minimum_calls=minimum,
        window=5.0,
        window_buckets=buckets,
        reset_timeout=10_000.0,
        clock=clock,
    )
    expected = first_trip(moves, 5.0, buckets, minimum, rate)
    opened_at_call = None
    for index, (step_by, failed) in enumerate(moves):
        clock.advance(step_by)

        def dependency(failed: bool = failed) -> None:
            if failed:
                raise ConnectionError

        with contextlib.suppress(ConnectionError):
            breaker.call(dependency)
        if breaker.state is CircuitState.OPEN:
            opened_at_call = index
            break
    assert expected == opened_at_call


def test_rolling_window_drops_a_call_whose_bucket_already_left_the_window() -> None:
    rolling = RollingWindow(10.0, 5)
    rolling.add(100.0, failed=False)
    rolling.add(89.0, failed=True)  # a clock read long before: its bucket is gone
    rolling.add(92.5, failed=True)  # still inside the window
    assert (2, 1) == (rolling.calls, rolling.failures)

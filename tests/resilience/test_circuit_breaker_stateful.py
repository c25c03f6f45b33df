"""CircuitBreaker (count mode) against a reference model written from the specification.

The model is the specification in its plainest form: a list of failure times, a state string, an
"opened at" time. Hypothesis drives both with the same calls, clock moves and manual switches, and
checks after every step that they agree on the state, on whether the function ran, on the exact
``retry_after`` of every refusal, and on every count.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import pytest
from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, rule

from commerce_kit import CircuitBreaker, CircuitOpenError
from commerce_kit.testing import ManualClock
from tests.strategies import quarter_seconds


class ProviderDownError(ConnectionError):
    """Counts as a failure."""


class CardDeclinedError(ProviderDownError):
    """Matches ``failure_on`` but is excluded: never counts."""


@dataclass
class Config:
    failure_threshold: int
    window: float
    reset_timeout: float
    success_threshold: int
    consecutive: bool
    slow_call_threshold: float | None


@dataclass
class Model:
    """What the breaker should do, for calls made one at a time."""

    config: Config
    state: str = "closed"
    opened_at: float = 0.0
    failures: list[float] = field(default_factory=list)
    trial_successes: int = 0
    successes: int = 0
    failed: int = 0
    rejections: int = 0
    ignored: int = 0

    def observe(self, now: float) -> None:
        if self.state == "open" and now >= self.opened_at + self.config.reset_timeout:
            self.state = "half_open"
            self.trial_successes = 0

    def open(self, now: float) -> None:
        self.state, self.opened_at, self.failures = "open", now, []

    def close(self) -> None:
        self.state, self.failures = "closed", []

    def retry_after(self, now: float) -> float:
        if self.state == "open":
            return self.opened_at + self.config.reset_timeout - now
        if self.state == "forced_open":
            return math.inf
        return 0.0

    def admits(self, now: float) -> bool:
        self.observe(now)
        if self.state in ("open", "forced_open"):
            self.rejections += 1
            return False
        return True

    def outcome(self, kind: str, now: float) -> None:
        """Record how an admitted call ended: "success", "failure" or "ignored"."""
        if kind == "ignored":
            self.ignored += 1
            return
        if kind == "success":
            self.successes += 1
        else:
            self.failed += 1
        if self.state == "closed":
            window = self.config.window
            if kind == "failure":
                self.failures = [t for t in self.failures if now - t < window] + [now]
                if len(self.failures) >= self.config.failure_threshold:
                    self.open(now)
            elif self.config.consecutive:
                self.failures = []
        elif self.state == "half_open":
            if kind == "failure":
                self.open(now)
            else:
                self.trial_successes += 1
                if self.trial_successes >= self.config.success_threshold:
                    self.close()

    def failures_in_window(self, now: float) -> int:
        return sum(1 for t in self.failures if now - t < self.config.window)


quarters = quarter_seconds(max_seconds=70)
ERRORS = {
    "failure": ProviderDownError,
    "excluded": CardDeclinedError,
    "unlisted": KeyError,
    "interrupt": KeyboardInterrupt,
}


class BreakerVersusModel(RuleBasedStateMachine):
    """Drive a breaker and the model with the same steps; they must agree at every step."""

    clock: ManualClock
    breaker: CircuitBreaker
    model: Model

    @initialize(
        failure_threshold=st.integers(min_value=1, max_value=4),
        window=st.sampled_from([5.0, 60.0]),
        reset_timeout=st.sampled_from([2.5, 30.0]),
        success_threshold=st.integers(min_value=1, max_value=3),
        half_open_max_calls=st.integers(min_value=1, max_value=3),
        consecutive=st.booleans(),
        slow_call_threshold=st.sampled_from([None, 2.0]),
    )
    def build(  # noqa: PLR0917 - hypothesis passes the drawn values by keyword
        self,
        failure_threshold: int,
        window: float,
        reset_timeout: float,
        success_threshold: int,
        half_open_max_calls: int,
        consecutive: bool,
        slow_call_threshold: float | None,
    ) -> None:
        config = Config(
            failure_threshold,
            window,
            reset_timeout,
            success_threshold,
            consecutive,
            slow_call_threshold,
        )
        self.clock = ManualClock(1000.0)
        self.model = Model(config)
        self.breaker = CircuitBreaker(
            "dep",
            failure_threshold=failure_threshold,
            window=window,
            reset_timeout=reset_timeout,
            success_threshold=success_threshold,
            half_open_max_calls=half_open_max_calls,
            consecutive=consecutive,
            slow_call_threshold=slow_call_threshold,
            failure_on=ProviderDownError,
            exclude=CardDeclinedError,
            clock=self.clock,
        )

    @rule(
        ending=st.sampled_from(["success", "failure", "excluded", "unlisted", "interrupt"]),
        duration=st.sampled_from([0.0, 0.5, 2.0, 3.0]),
    )
    def call(self, ending: str, duration: float) -> None:
        ran: list[bool] = []

        def dependency() -> str:
            ran.append(True)
            self.clock.advance(duration)
            if ending != "success":
                raise ERRORS[ending]
            return "done"

        start = self.clock()
        admitted = self.model.admits(start)
        expected_wait = self.model.retry_after(start)
        try:
            assert "done" == self.breaker.call(dependency)
        except CircuitOpenError as error:
            assert expected_wait == error.retry_after
        except (ProviderDownError, KeyError, KeyboardInterrupt) as error:
            assert ERRORS[ending] is type(error)
        assert admitted == bool(ran)
        if not admitted:
            return
        end = self.clock()
        slow = self.model.config.slow_call_threshold
        if ending in ("excluded", "unlisted", "interrupt"):
            kind = "ignored"
        elif ending == "failure" or (slow is not None and duration > slow):
            kind = "failure"
        else:
            kind = "success"
        self.model.outcome(kind, end)

    @rule(seconds=quarters)
    def advance(self, seconds: float) -> None:
        self.clock.advance(seconds)

    @rule()
    def open(self) -> None:
        self.breaker.open()
        self.model.open(self.clock())

    @rule()
    def force_open(self) -> None:
        self.breaker.force_open()
        self.model.state, self.model.opened_at, self.model.failures = (
            "forced_open",
            self.clock(),
            [],
        )

    @rule()
    def close(self) -> None:
        self.breaker.close()
        self.model.close()

    @rule()
    def disable(self) -> None:
        self.breaker.disable()
        self.model.state, self.model.failures = "disabled", []

    @rule()
    def reset(self) -> None:
        self.breaker.reset()
        config = self.model.config
        self.model = Model(config)

    @invariant()
    def states_agree(self) -> None:
        now = self.clock()
        self.model.observe(now)
        assert self.model.state == self.breaker.state.value

    @invariant()
    def snapshots_agree(self) -> None:
        now = self.clock()
        self.model.observe(now)
        snapshot = self.breaker.snapshot()
        model = self.model
        is_open = model.state in ("open", "half_open", "forced_open")
        assert (
            model.state,
            model.opened_at if is_open else None,
            max(0.0, model.retry_after(now)),
            model.failures_in_window(now),
            model.successes,
            model.failed,
            model.rejections,
            model.ignored,
        ) == (
            snapshot.state.value,
            snapshot.opened_at,
            snapshot.retry_after,
            snapshot.failures_in_window,
            snapshot.successes,
            snapshot.failures,
            snapshot.rejections,
            snapshot.ignored,
        )


BreakerVersusModel.TestCase.settings = settings(
    BreakerVersusModel.TestCase.settings, stateful_step_count=40
)
test_breaker_agrees_with_the_model = BreakerVersusModel.TestCase


def test_the_model_opens_on_the_a2_numbers() -> None:
    """The model itself reads like scenario A2: 3 failures in 60 s open, 30 s to half-open."""
    model = Model(Config(3, 60.0, 30.0, 1, consecutive=True, slow_call_threshold=None))
    for now in (0.0, 30.0, 59.75):
        assert model.admits(now)
        model.outcome("failure", now)
    assert "open" == model.state
    model.observe(89.5)
    assert "open" == model.state
    model.observe(89.75)
    assert "half_open" == model.state


@pytest.mark.parametrize("gap", [60.0, 61.0])
def test_the_model_forgets_failures_a_window_apart(gap: float) -> None:
    model = Model(Config(3, 60.0, 30.0, 1, consecutive=True, slow_call_threshold=None))
    for index in range(3):
        model.outcome("failure", index * gap)
    assert "closed" == model.state

"""RetryBudget against a reference model, under threads, and wired into the decorator."""

from __future__ import annotations

import math
import threading
from datetime import timedelta
from typing import Any

import pytest
from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, rule

from commerce_kit import RetryBudget, retry, retrying
from commerce_kit.resilience import GiveUpReason, RetryGaveUp
from commerce_kit.testing import ManualClock
from commerce_kit.typing import RetryEvent
from tests.resilience.test_retry import MODES, Script, run


class BudgetModel:
    """Every deposit and withdrawal kept with its slice number; the window is a filter over them."""

    def __init__(self, ratio: float, floor: float, window: float, slices: int) -> None:
        self.ratio = ratio
        self.reserve = floor * window
        self.slice_seconds = window / slices
        self.slices = slices
        self.calls: list[int] = []
        self.retries: list[int] = []

    def _in_window(self, stamps: list[int], now: float) -> int:
        current = int(now // self.slice_seconds)
        return sum(1 for stamp in stamps if current - self.slices < stamp)

    def deposit(self, now: float) -> None:
        self.calls.append(int(now // self.slice_seconds))

    def allowance(self, now: float) -> float:
        return self.ratio * self._in_window(self.calls, now) + self.reserve

    def try_withdraw(self, now: float) -> bool:
        if self._in_window(self.retries, now) + 1 > self.allowance(now):
            return False
        self.retries.append(int(now // self.slice_seconds))
        return True

    def available(self, now: float) -> int:
        return max(0, math.floor(self.allowance(now)) - self._in_window(self.retries, now))


class BudgetMachine(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.clock = ManualClock()
        self.budget = RetryBudget(clock=self.clock)
        self.model = BudgetModel(0.1, 10, 10, 10)

    @initialize(
        ratio=st.sampled_from([0.0, 0.1, 0.5, 1.0, 2.5]),
        floor=st.sampled_from([0.0, 0.1, 0.3, 1.0]),
        window=st.sampled_from([1.0, 2.5, 10.0]),
        slices=st.integers(min_value=1, max_value=12),
        start=st.floats(min_value=0, max_value=1e6),
    )
    def configure(
        self, ratio: float, floor: float, window: float, slices: int, start: float
    ) -> None:
        self.clock = ManualClock(start)
        self.budget = RetryBudget(
            ratio=ratio,
            min_retries_per_second=floor,
            window=window,
            slices=slices,
            clock=self.clock,
        )
        self.model = BudgetModel(ratio, floor, window, slices)

    @rule(seconds=st.floats(min_value=0, max_value=3) | st.sampled_from([0.1, 0.25, 1.0, 40.0]))
    def advance(self, seconds: float) -> None:
        self.clock.advance(seconds)

    @rule(count=st.integers(min_value=1, max_value=5))
    def deposit(self, count: int) -> None:
        for _ in range(count):
            self.budget.deposit()
            self.model.deposit(self.clock())

    @rule()
    def try_withdraw(self) -> None:
        expected = self.model.try_withdraw(self.clock())
        assert expected == self.budget.try_withdraw()

    @invariant()
    def available_matches(self) -> None:
        assert self.model.available(self.clock()) == self.budget.available()


TestBudgetAgainstModel = BudgetMachine.TestCase
TestBudgetAgainstModel.settings = settings(max_examples=60, stateful_step_count=40, deadline=None)


def test_available_counts_the_withdrawals_that_would_succeed() -> None:
    clock = ManualClock()
    budget = RetryBudget(ratio=0.3, min_retries_per_second=0.05, window=10, clock=clock)
    for _ in range(7):
        budget.deposit()
    expected = budget.available()  # floor(0.3 * 7 + 0.5) = 2
    successes = sum(budget.try_withdraw() for _ in range(10))
    assert (2, 2) == (expected, successes)
    assert 0 == budget.available()


def test_counts_expire_one_slice_at_a_time() -> None:
    clock = ManualClock()
    budget = RetryBudget(ratio=1, min_retries_per_second=0, window=10, slices=10, clock=clock)
    budget.deposit()  # in slice [0, 1)
    clock.advance(5)
    budget.deposit()  # in slice [5, 6)
    assert 2 == budget.available()
    clock.advance(5)  # t=10: the first slice has left the window
    assert 1 == budget.available()
    clock.advance(5.5)  # t=15.5: both gone
    assert 0 == budget.available()


def test_a_clock_stepping_back_counts_into_the_newest_slice() -> None:
    clock = ManualClock(100)
    budget = RetryBudget(ratio=1, min_retries_per_second=0, window=10, clock=clock)
    budget.deposit()
    clock._now = 50.0  # a misbehaving clock; ManualClock itself cannot go back
    budget.deposit()
    assert 2 == budget.available()


def test_the_floor_allows_retries_without_traffic() -> None:
    budget = RetryBudget(ratio=0.1, min_retries_per_second=0.5, window=4, clock=ManualClock())
    assert [True, True, False] == [budget.try_withdraw() for _ in range(3)]


def test_window_accepts_a_timedelta_and_repr_shows_the_settings() -> None:
    budget = RetryBudget(window=timedelta(seconds=30), clock=ManualClock())
    assert 30.0 == budget.window
    assert "RetryBudget(ratio=0.1, min_retries_per_second=10.0, window=30.0)" == repr(budget)


@pytest.mark.parametrize(
    ("options", "match"),
    [
        ({"ratio": -0.1}, "ratio"),
        ({"ratio": float("nan")}, "ratio"),
        ({"min_retries_per_second": float("inf")}, "min_retries_per_second"),
        ({"window": 0}, "window"),
        ({"slices": 0}, "slices"),
        ({"ratio": 10**400}, "ratio must be a finite number"),
        ({"min_retries_per_second": -(10**400)}, "min_retries_per_second must be a finite"),
    ],
)
def test_invalid_settings_are_refused(options: dict[str, Any], match: str) -> None:
    with pytest.raises(ValueError, match=match):
        RetryBudget(**options)


@pytest.mark.parametrize(
    ("options", "match"),
    [
        ({"ratio": "0.1"}, "ratio must be a number"),
        ({"ratio": True}, "ratio must be a number"),
        ({"min_retries_per_second": None}, "min_retries_per_second must be a number"),
        ({"window": "10"}, "window"),
        ({"slices": 2.0}, "slices must be an int"),
        ({"slices": True}, "slices must be an int"),
        ({"clock": 0.0}, "clock must be a callable"),
    ],
)
def test_settings_of_the_wrong_type_are_a_type_error(options: dict[str, Any], match: str) -> None:
    with pytest.raises(TypeError, match=match):
        RetryBudget(**options)


def test_concurrent_withdrawals_never_overspend() -> None:
    clock = ManualClock()
    budget = RetryBudget(ratio=0.1, min_retries_per_second=1, window=10, clock=clock)
    for _ in range(1000):
        budget.deposit()
    granted: list[bool] = []
    lock = threading.Lock()
    start = threading.Barrier(8)

    def spend() -> None:
        start.wait()
        mine = [budget.try_withdraw() for _ in range(50)]
        with lock:
            granted.extend(mine)

    threads = [threading.Thread(target=spend) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    # 0.1 * 1000 calls + 1/s * 10 s = 110 retries, whichever threads asked first.
    assert (110, 400) == (sum(granted), len(granted))


def test_concurrent_deposits_are_all_counted() -> None:
    budget = RetryBudget(ratio=1, min_retries_per_second=0, window=10, clock=ManualClock())
    start = threading.Barrier(8)

    def deposit() -> None:
        start.wait()
        for _ in range(500):
            budget.deposit()

    threads = [threading.Thread(target=deposit) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert 4000 == budget.available()


# -- the budget inside the decorator -------------------------------------------------------------


@pytest.mark.parametrize("mode", MODES)
def test_an_exhausted_budget_raises_at_once_with_an_event(mode: str) -> None:
    clock = ManualClock()
    budget = RetryBudget(ratio=0, min_retries_per_second=0.1, window=10, clock=clock)
    events: list[RetryEvent] = []
    decorator = retry(
        on=ConnectionError,
        attempts=5,
        budget=budget,
        hooks=[events.append],
        name="pay",
        clock=clock,
        sleep=clock.sleep,
        asleep=clock.asleep,
    )
    error = ConnectionError()
    script = Script(error)
    with pytest.raises(ConnectionError):
        run(mode, decorator, script)
    assert 2 == script.calls  # the floor allowed one retry
    assert RetryGaveUp("pay", 2, error, events[-1].elapsed, GiveUpReason.BUDGET) == events[-1]


def test_every_decorated_call_is_counted_in_a_shared_budget() -> None:
    clock = ManualClock()
    budget = RetryBudget(ratio=0.5, min_retries_per_second=0, window=10, clock=clock)
    options: dict[str, Any] = {"on": ConnectionError, "budget": budget, "sleep": clock.sleep}
    fine = retry(**options)(Script("ok"))
    flaky = retry(**options)(Script(ConnectionError(), ConnectionError(), "ok"))
    for _ in range(4):
        fine()
    assert 2 == budget.available()
    assert "ok" == flaky()  # one more call, two retries
    assert 0 == budget.available()  # floor(0.5 * 5) - 2


def test_the_retry_loop_counts_each_iteration_in_the_budget() -> None:
    clock = ManualClock()
    budget = RetryBudget(ratio=1, min_retries_per_second=0, window=10, clock=clock)
    loop = retrying(on=ConnectionError, budget=budget, sleep=clock.sleep)
    for attempt in loop:
        with attempt:
            pass
    assert 1 == budget.available()

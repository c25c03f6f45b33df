"""Property tests: the retry decorator against a reference model written from the docs.

The model restates the documented rules as a plain loop over a script of attempts (each one
succeeds, fails with a matching error, or fails with another error; takes some time; may carry a
``retry_after`` hint). The implementation must make the same calls, sleep the same waits and stop
for the same reason, on sync and async functions. Separate properties check the bounds directly,
without the model: attempts, the deadline, the jitter range.
"""

from __future__ import annotations

import asyncio
import collections
import itertools
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest
from hypothesis import example, given, target
from hypothesis import strategies as st

from commerce_kit import retry
from commerce_kit.resilience import GiveUpReason, RetryGaveUp, RetryScheduled
from commerce_kit.testing import ManualClock
from commerce_kit.typing import RetryEvent
from tests import strategies
from tests.resilience.test_retry import MODES


class TransientError(Exception):
    def __init__(self, retry_after: float | None) -> None:
        super().__init__()
        self.retry_after = retry_after


class FatalError(Exception):
    pass


@dataclass(frozen=True)
class Step:
    kind: str  # "ok", "fail" (matching) or "other" (not matching)
    cost: float
    hint: float | None


@dataclass(frozen=True)
class Config:
    attempts: int | None
    deadline: float | None
    wait_initial: float
    wait_max: float
    wait_exp_base: float
    jitter: str
    max_hint: float | None


@dataclass(frozen=True)
class Outcome:
    result: str  # "ok", "other" or "gave_up"
    calls: int
    sleeps: list[float]
    reason: GiveUpReason | None


# -- the reference model -------------------------------------------------------------------------


def backoff_cap(config: Config, retry_number: int) -> float:
    """``min(wait_max, wait_initial * wait_exp_base ** (n - 1))``, as documented."""
    try:
        grown = config.wait_initial * config.wait_exp_base ** (retry_number - 1)
    except OverflowError:
        return config.wait_max
    return min(config.wait_max, grown)


def model(config: Config, steps: list[Step], draws: list[float]) -> Outcome:
    draw = itertools.cycle(draws).__next__
    now = 0.0
    sleeps: list[float] = []
    previous = config.wait_initial
    max_hint = config.wait_max if config.max_hint is None else config.max_hint
    for index in itertools.count():
        step = steps[min(index, len(steps) - 1)]
        now += step.cost
        calls = index + 1
        if step.kind in ("ok", "other"):
            return Outcome(step.kind, calls, sleeps, None)
        if config.attempts is not None and calls >= config.attempts:
            return Outcome("gave_up", calls, sleeps, GiveUpReason.ATTEMPTS)
        if step.hint is not None:
            wait = max(step.hint, 0.0)
            if wait > max_hint:
                return Outcome("gave_up", calls, sleeps, GiveUpReason.HINT_TOO_LONG)
        elif config.jitter == "decorrelated":
            low = config.wait_initial
            wait = min(config.wait_max, low + (3 * previous - low) * draw())
            previous = wait
        else:
            cap = backoff_cap(config, calls)
            wait = {
                "none": lambda c: c,
                "full": lambda c: c * draw(),
                "equal": lambda c: min(c, c / 2 + c / 2 * draw()),
            }[config.jitter](cap)
        if config.deadline is not None and now + wait >= config.deadline:
            return Outcome("gave_up", calls, sleeps, GiveUpReason.DEADLINE)
        if wait:
            sleeps.append(wait)
        now += wait
    raise AssertionError  # pragma: no cover - itertools.count() never ends


# -- driving the implementation ------------------------------------------------------------------


@dataclass(frozen=True)
class Trace:
    started: list[float]  # when each attempt began
    scheduled: list[float]  # every wait decided, zero waits included


def run_implementation(
    mode: str, config: Config, steps: list[Step], draws: list[float]
) -> tuple[Outcome, Trace]:
    """Run the decorator over the script; return the outcome and what happened on the way."""
    clock = ManualClock()
    events: list[RetryEvent] = []
    started: list[float] = []
    draw = itertools.cycle(draws).__next__

    def attempt() -> str:
        started.append(clock())
        step = steps[min(len(started), len(steps)) - 1]
        clock.advance(step.cost)
        if step.kind == "fail":
            raise TransientError(step.hint)
        if step.kind == "other":
            raise FatalError
        return "ok"

    decorator: Callable[[Any], Any] = retry(
        on=TransientError,
        attempts=config.attempts,
        deadline=config.deadline,
        wait_initial=config.wait_initial,
        wait_max=config.wait_max,
        wait_exp_base=config.wait_exp_base,
        jitter=config.jitter,  # type: ignore[arg-type]
        max_hint=config.max_hint,
        hooks=[events.append],
        clock=clock,
        sleep=clock.sleep,
        asleep=clock.asleep,
        random=draw,
    )
    if mode == "sync":
        fn = decorator(attempt)
    else:

        async def async_attempt() -> str:
            return attempt()

        async_fn = decorator(async_attempt)

        def fn() -> str:
            result: str = asyncio.run(async_fn())
            return result

    try:
        result = fn()
    except FatalError:
        result = "other"
    except TransientError:
        result = "gave_up"
    gave_up = [event for event in events if isinstance(event, RetryGaveUp)]
    reason = gave_up[0].reason if gave_up else None
    scheduled = [event.wait for event in events if isinstance(event, RetryScheduled)]
    return Outcome(result, len(started), clock.sleeps, reason), Trace(started, scheduled)


# -- strategies ----------------------------------------------------------------------------------

seconds = strategies.seconds(max_seconds=5)


@st.composite
def configs(draw: st.DrawFn, *, with_deadline: bool = False) -> Config:
    deadlines = st.floats(min_value=0.01, max_value=20)
    deadline = draw(deadlines if with_deadline else st.none() | deadlines)
    attempts = draw(st.integers(min_value=1, max_value=8) | (st.none() if deadline else st.just(3)))
    return Config(
        attempts=attempts,
        deadline=deadline,
        wait_initial=draw(st.floats(min_value=0, max_value=2)),
        wait_max=draw(seconds),
        wait_exp_base=draw(st.floats(min_value=1, max_value=4)),
        jitter=draw(st.sampled_from(["full", "equal", "none", "decorrelated"])),
        max_hint=draw(st.none() | seconds),
    )


def step_lists(*, kinds: list[str], min_cost: float = 0.0) -> st.SearchStrategy[list[Step]]:
    step = st.builds(
        Step,
        kind=st.sampled_from(kinds),
        cost=st.floats(min_value=min_cost, max_value=2),
        hint=st.none() | st.floats(min_value=-1, max_value=8),
    )
    return st.lists(step, min_size=1, max_size=10)


draw_lists = st.lists(st.floats(min_value=0, max_value=1, exclude_max=True), min_size=1)


@st.composite
def scenarios(
    draw: st.DrawFn,
    kinds: tuple[str, ...] = ("fail", "fail", "ok", "other"),
    *,
    with_deadline: bool = False,
) -> Any:
    config = draw(configs(with_deadline=with_deadline))
    # With no attempt limit, time must pass for the deadline to end the retries.
    min_cost = 0.05 if config.attempts is None else 0.0
    steps = draw(step_lists(kinds=list(kinds), min_cost=min_cost))
    return config, steps, draw(draw_lists)


# -- properties ----------------------------------------------------------------------------------


@pytest.mark.parametrize("mode", MODES)
def test_decorator_matches_the_reference_model(mode: str) -> None:
    endings: collections.Counter[str] = collections.Counter()

    # The rarer endings are also given as examples, so the count below cannot miss them by chance.
    @given(scenario=scenarios())
    @example(scenario=(Config(5, 0.5, 1.0, 1.0, 2.0, "none", None), [Step("fail", 0, None)], [0.5]))
    @example(scenario=(Config(3, None, 0.1, 1.0, 2.0, "none", 0.5), [Step("fail", 0, 2.0)], [0.5]))
    def check(scenario: Any) -> None:
        config, steps, draws = scenario
        actual, _ = run_implementation(mode, config, steps, draws)
        endings[actual.result if actual.reason is None else actual.reason.value] += 1
        assert model(config, steps, draws) == actual

    check()
    # Every way a call can end without a budget or an idempotency key was compared.
    assert {"ok", "other", "attempts", "deadline", "hint_too_long"} <= endings.keys()


@pytest.mark.parametrize("mode", MODES)
@given(scenario=scenarios(kinds=("fail",)))
def test_calls_never_exceed_attempts(mode: str, scenario: Any) -> None:
    config, steps, draws = scenario
    outcome, _ = run_implementation(mode, config, steps, draws)
    if config.attempts is not None:
        assert outcome.calls <= config.attempts
    assert "gave_up" == outcome.result


@pytest.mark.parametrize("mode", MODES)
def test_no_attempt_starts_and_no_sleep_ends_at_or_after_the_deadline(mode: str) -> None:
    stopped_by_deadline = 0

    @given(scenario=scenarios(kinds=("fail", "fail", "ok"), with_deadline=True))
    def check(scenario: Any) -> None:
        nonlocal stopped_by_deadline
        config, steps, draws = scenario
        outcome, trace = run_implementation(mode, config, steps, draws)
        # Steer towards calls that spend their deadline, where the bound is tested hardest.
        target(sum(outcome.sleeps) / config.deadline, label="share of the deadline slept")
        stopped_by_deadline += outcome.reason is GiveUpReason.DEADLINE
        assert all(start < config.deadline for start in trace.started)
        assert sum(outcome.sleeps) < config.deadline

    check()
    assert stopped_by_deadline > 0  # the deadline did stop some calls: the bound was exercised


@pytest.mark.parametrize("jitter", ["full", "equal", "none"])
@given(
    attempts=st.integers(min_value=2, max_value=12),
    waits=st.tuples(st.floats(min_value=0, max_value=2), seconds),
    base=st.floats(min_value=1, max_value=10),
    draws=draw_lists,
)
# A subnormal cap that halves with rounding: half + half * draw once came out one step above it.
@example(attempts=3, waits=(2.2250738585e-313, 1.0), base=1.5, draws=[0.9999999999999998])
def test_each_wait_stays_within_the_capped_exponential(
    jitter: str, attempts: int, waits: tuple[float, float], base: float, draws: list[float]
) -> None:
    wait_initial, wait_max = waits
    config = Config(attempts, None, wait_initial, wait_max, base, jitter, None)
    _, trace = run_implementation("sync", config, [Step("fail", 0.0, None)], draws)
    caps = [min(wait_max, wait_initial * base ** (n - 1)) for n in range(1, attempts)]
    assert len(caps) == len(trace.scheduled)
    if jitter == "none":
        assert caps == trace.scheduled
    for wait, cap in zip(trace.scheduled, caps, strict=True):
        low = cap / 2 if jitter == "equal" else 0.0
        assert low <= wait <= cap


@given(
    attempts=st.integers(min_value=2, max_value=12),
    wait_initial=st.floats(min_value=0.01, max_value=2),
    wait_max=st.floats(min_value=0.01, max_value=5),
    draws=draw_lists,
)
def test_decorrelated_waits_stay_between_wait_initial_and_wait_max(
    attempts: int, wait_initial: float, wait_max: float, draws: list[float]
) -> None:
    config = Config(attempts, None, wait_initial, wait_max, 2.0, "decorrelated", None)
    _, trace = run_implementation("sync", config, [Step("fail", 0.0, None)], draws)
    assert attempts - 1 == len(trace.scheduled)
    low = min(wait_initial, wait_max)
    for wait in trace.scheduled:
        assert low * (1 - 1e-12) <= wait <= wait_max


@pytest.mark.parametrize("mode", MODES)
@given(
    steps=step_lists(kinds=["fail", "other"]),
    attempts=st.integers(min_value=1, max_value=10),
)
def test_non_matching_errors_end_the_call_on_their_attempt(
    mode: str, steps: list[Step], attempts: int
) -> None:
    config = Config(attempts, None, 0.0, 0.0, 2.0, "none", 100.0)
    outcome, _ = run_implementation(mode, config, steps, [0.5])
    kinds = [steps[min(i, len(steps) - 1)].kind for i in range(attempts)]
    if "other" in kinds:
        assert ("other", kinds.index("other") + 1) == (outcome.result, outcome.calls)
    else:
        assert ("gave_up", attempts) == (outcome.result, outcome.calls)


@pytest.mark.parametrize("mode", MODES)
@given(
    hints=st.lists(st.floats(min_value=0.001, max_value=10), min_size=1, max_size=6),
    max_hint=st.floats(min_value=0, max_value=10),
)
def test_hints_are_slept_exactly_until_one_exceeds_max_hint(
    mode: str, hints: list[float], max_hint: float
) -> None:
    steps = [Step("fail", 0.0, hint) for hint in hints] + [Step("ok", 0.0, None)]
    config = Config(len(steps), None, 1.0, 1.0, 2.0, "full", max_hint)
    outcome, _ = run_implementation(mode, config, steps, [0.5])
    honoured = list(itertools.takewhile(lambda hint: hint <= max_hint, hints))
    assert honoured == outcome.sleeps
    expected = "ok" if honoured == hints else "gave_up"
    assert expected == outcome.result

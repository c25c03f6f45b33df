"""Each rate-limit strategy checked against a tiny, obviously-correct reference model.

Times and windows are drawn from a dyadic grid (multiples of 1/4 s, power-of-two windows for the
counter, power-of-two emission intervals for GCRA) so that float arithmetic is exact there and
the models, written with :class:`fractions.Fraction`, must agree to the last bit. Separate
properties use arbitrary floats to check that ``retry_after`` lands exactly on the first reading
that admits the hit.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from fractions import Fraction
from typing import Any

import pytest
from hypothesis import assume, event, given, settings, target
from hypothesis import strategies as st
from hypothesis.stateful import (
    Bundle,
    RuleBasedStateMachine,
    consumes,
    initialize,
    invariant,
    rule,
)

from commerce_kit import RateLimit, RateLimitDecision, RateLimiter, RateLimitStrategy
from commerce_kit.resilience._rate_limit_store import Op
from commerce_kit.resilience._rate_limit_strategies import counter_ops, exact_ops, gcra_ops
from tests.strategies import quarter_fractions

# -- the models ------------------------------------------------------------------------------------


@dataclass
class Outcome:
    allowed: bool
    remaining: int
    retry_after: Fraction
    reset_after: Fraction


@dataclass
class LogModel:
    """The definition of a sliding window, as a list of every admitted unit's time."""

    limit: int
    window: Fraction
    hits: list[Fraction] = field(default_factory=list)

    def live(self, now: Fraction) -> list[Fraction]:
        return sorted(t for t in self.hits if now - self.window < t <= now)

    def hit(self, now: Fraction, cost: int) -> Outcome:
        live = self.live(now)
        need = cost or 1
        if len(live) + need <= self.limit:
            self.hits += [now] * cost
            newest = max(live + [now] * cost, default=None)
            reset = Fraction(0) if newest is None else newest + self.window - now
            return Outcome(True, self.limit - len(live) - cost, Fraction(0), reset)
        # The hit fits once the oldest (len(live) + need - limit) units have left.
        leaving = live[len(live) + need - self.limit - 1]
        return Outcome(
            False, self.limit - len(live), leaving + self.window - now, live[-1] + self.window - now
        )

    def refund(self, now: Fraction, cost: int) -> None:
        for t in sorted(self.live(now), reverse=True)[:cost]:
            self.hits.remove(t)


@dataclass
class CounterModel:
    """Cloudflare's estimate, recomputed from every admitted unit's aligned window."""

    limit: int
    window: Fraction
    hits: list[tuple[int, int]] = field(default_factory=list)  # (window index, cost)

    def estimate(self, now: Fraction) -> Fraction:
        index = math.floor(now / self.window)
        curr = sum(c for i, c in self.hits if i == index)
        prev = sum(c for i, c in self.hits if i == index - 1)
        overlap = ((index + 1) * self.window - now) / self.window
        return curr + prev * overlap

    def hit(self, now: Fraction, cost: int) -> tuple[bool, int]:
        free = self.limit - self.estimate(now)
        if (cost or 1) <= free:
            if cost:
                self.hits.append((math.floor(now / self.window), cost))
            return True, math.floor(free) - cost
        return False, max(math.floor(free), 0)


@dataclass
class LeakyBucketModel:
    """GCRA's equivalent: a bucket of ``level`` seconds of work draining at one second per second.

    A unit adds ``interval`` seconds; a hit fits while the bucket holds at most ``burst``
    intervals afterwards.
    """

    interval: Fraction
    burst: int
    level: Fraction = Fraction(0)
    last: Fraction | None = None

    def drained(self, now: Fraction) -> Fraction:
        if self.last is None:
            return Fraction(0)
        return max(Fraction(0), self.level - (now - self.last))

    def hit(self, now: Fraction, cost: int) -> Outcome:
        level = self.drained(now)
        need = cost or 1
        room = self.burst * self.interval
        free = math.floor((room - level) / self.interval)
        if level + need * self.interval <= room:
            if cost:
                self.level, self.last = level + cost * self.interval, now
            return Outcome(True, free - cost, Fraction(0), level + cost * self.interval)
        return Outcome(False, max(free, 0), level + need * self.interval - room, level)


# -- strategies of hypothesis ----------------------------------------------------------------------

quarters = quarter_fractions(max_seconds=20)
costs = st.integers(min_value=1, max_value=4)


def as_outcome(d: RateLimitDecision) -> tuple[bool, int, float, float]:
    return (d.allowed, d.remaining, d.retry_after, d.reset_after)


def as_floats(o: Outcome) -> tuple[bool, int, float, float]:
    return (o.allowed, o.remaining, float(o.retry_after), float(o.reset_after))


def clocked(start: Fraction) -> tuple[list[float], Callable[[], float]]:
    now = [float(start)]
    return now, lambda: now[0]


# -- exact -----------------------------------------------------------------------------------------


@given(
    limit=st.integers(min_value=1, max_value=6),
    window=st.integers(min_value=1, max_value=40).map(lambda q: Fraction(q, 4)),
    steps=st.lists(st.tuples(quarters, st.integers(min_value=0, max_value=4)), max_size=40),
)
def test_exact_matches_the_sliding_log_definition(
    limit: int, window: Fraction, steps: list[tuple[Fraction, int]]
) -> None:
    model = LogModel(limit, window)
    now = Fraction(1000)
    reading, clock = clocked(now)
    limiter = RateLimiter(limit, float(window), clock=clock)
    for gap, cost in steps:
        now += gap
        reading[0] = float(now)
        if cost > limit:
            continue
        expected = model.hit(now, cost)
        actual = limiter.hit("k", cost) if cost else limiter.peek("k")
        assert as_floats(expected) == as_outcome(actual)


floats_near = st.floats(min_value=0.0, max_value=1e7, allow_nan=False, allow_infinity=False)
gaps = st.floats(min_value=0.0, max_value=100.0, allow_nan=False, allow_infinity=False)


Step = Callable[..., tuple[Any, RateLimitDecision]]


def reachable(now: float, reading: float) -> bool:
    """Whether some delay ``d`` makes a clock at ``now`` read exactly ``reading`` (``now + d``)."""
    d = reading - now
    return any(now + x == reading for x in (d, math.nextafter(d, 0.0), math.nextafter(d, math.inf)))


def first_reading_admits(step: Step, state: object, now: float, cost: int) -> bool:
    """Waiting ``retry_after`` admits the same hit, and no earlier reachable reading does.

    A clock advanced by a delay reads ``now + delay``. Usually the first admitting instant is
    such a reading; when float rounding makes it unreachable (a tie), the next one is the answer.

    Returns:
        Whether the hit was refused, so that there was something to check.
    """
    _, refused = step(state, now, cost, commit=False)
    if refused.allowed:
        return False
    reading = now + refused.retry_after
    assert step(state, reading, cost, commit=False)[1].allowed
    before = math.nextafter(reading, -math.inf)
    if before > now and step(state, before, cost, commit=False)[1].allowed:
        assert not reachable(now, before)
    return True


@dataclass
class Tally:
    """How many examples a property ran, and in how many its case occurred at all."""

    examples: int = 0
    exercised: int = 0

    def record(self, checked: int) -> None:
        """Count one example that checked ``checked`` refusals; steer towards more, skip none.

        ``target`` makes hypothesis search for examples with many refusals, and ``assume``
        discards an example with none, so the property cannot pass having checked nothing.
        """
        self.examples += 1
        self.exercised += checked > 0
        event("refusals checked: " + ("0" if not checked else "1-4" if checked < 5 else "5+"))
        target(float(checked), label="refusals checked")
        assume(checked > 0)

    def assert_exercised(self) -> None:
        # Hypothesis keeps generating until enough examples pass ``assume``; most must exercise
        # the case by themselves, or the strategies above need work.
        assert self.exercised >= 20
        assert self.exercised >= self.examples // 2


# The refused hit is the case these properties are about: draw steps that come back soon
# enough after a hit (a share of the window) to be refused often.
shares = st.floats(min_value=0.0, max_value=2.0, allow_nan=False, allow_infinity=False)


def retry_after_property(make: Callable[[int, float], Step]) -> None:
    """Check :func:`first_reading_admits` after each step of drawn hits, counting the checks."""
    tally = Tally()

    @given(
        limit=st.integers(min_value=1, max_value=5),
        window=st.floats(min_value=1e-3, max_value=1e5),
        start=floats_near,
        steps=st.lists(st.tuples(shares, costs), min_size=1, max_size=20),
    )
    def run(limit: int, window: float, start: float, steps: list[tuple[float, int]]) -> None:
        step = make(limit, window)
        state: object = None
        now = start
        checked = 0
        for share, cost in steps:
            now += share * window / limit
            checked += first_reading_admits(step, state, now, min(cost, limit))
            state, _ = step(state, now, min(cost, limit))
        tally.record(checked)

    run()
    tally.assert_exercised()


def test_exact_retry_after_is_the_first_admitting_reading() -> None:
    retry_after_property(lambda limit, window: exact_ops(RateLimit(limit, window)).step)


# -- sliding window counter ------------------------------------------------------------------------


@given(
    limit=st.integers(min_value=1, max_value=6),
    window=st.sampled_from([Fraction(1), Fraction(2), Fraction(4), Fraction(8)]),
    steps=st.lists(st.tuples(quarters, st.integers(min_value=0, max_value=4)), max_size=40),
)
def test_counter_matches_the_weighted_estimate(
    limit: int, window: Fraction, steps: list[tuple[Fraction, int]]
) -> None:
    model = CounterModel(limit, window)
    now = Fraction(1000)
    reading, clock = clocked(now)
    limiter = RateLimiter(limit, float(window), strategy="sliding_counter", clock=clock)
    for gap, cost in steps:
        now += gap
        reading[0] = float(now)
        if cost > limit:
            continue
        decision = limiter.hit("k", cost) if cost else limiter.peek("k")
        assert model.hit(now, cost) == (decision.allowed, decision.remaining)


@given(
    limit=st.integers(min_value=1, max_value=6),
    window=st.sampled_from([Fraction(1), Fraction(2), Fraction(4), Fraction(8)]),
    steps=st.lists(st.tuples(quarters, costs), max_size=60),
)
def test_counter_stays_within_its_documented_bound(
    limit: int, window: Fraction, steps: list[tuple[Fraction, int]]
) -> None:
    """At most ``limit`` per aligned window, and at most ``2 * limit - 1`` in any sliding one."""
    now = Fraction(1000)
    reading, clock = clocked(now)
    limiter = RateLimiter(limit, float(window), strategy="sliding_counter", clock=clock)
    admitted: list[Fraction] = []
    for gap, cost in steps:
        now += gap
        reading[0] = float(now)
        if cost <= limit and limiter.hit("k", cost).allowed:
            admitted += [now] * cost
    for t in admitted:
        in_sliding = sum(1 for u in admitted if t - window < u <= t)
        in_aligned = sum(1 for u in admitted if math.floor(u / window) == math.floor(t / window))
        assert in_sliding <= max(2 * limit - 1, limit)
        assert in_aligned <= limit


def test_counter_retry_after_is_the_first_admitting_reading() -> None:
    retry_after_property(
        lambda limit, window: counter_ops(RateLimit(limit, window, strategy="sliding_counter")).step
    )


# -- GCRA ------------------------------------------------------------------------------------------


@given(
    limit=st.integers(min_value=1, max_value=6),
    interval=st.sampled_from([Fraction(1, 4), Fraction(1, 2), Fraction(1), Fraction(2)]),
    extra=st.integers(min_value=-5, max_value=4),
    steps=st.lists(st.tuples(quarters, st.integers(min_value=0, max_value=6)), max_size=40),
)
def test_gcra_matches_the_leaky_bucket(
    limit: int, interval: Fraction, extra: int, steps: list[tuple[Fraction, int]]
) -> None:
    burst = max(1, limit + extra)
    model = LeakyBucketModel(interval, burst)
    now = Fraction(1000)
    reading, clock = clocked(now)
    limiter = RateLimiter(
        limit,
        float(interval * limit),
        strategy="gcra",
        burst=burst,
        clock=clock,
    )
    for gap, cost in steps:
        now += gap
        reading[0] = float(now)
        if cost > burst:
            continue
        expected = model.hit(now, cost)
        actual = limiter.hit("k", cost) if cost else limiter.peek("k")
        assert as_floats(expected) == as_outcome(actual)


def test_gcra_retry_after_is_the_first_admitting_reading() -> None:
    retry_after_property(
        lambda limit, window: gcra_ops(RateLimit(limit, window, strategy="gcra")).step
    )


@given(
    limit=st.integers(min_value=1, max_value=50),
    window=st.floats(min_value=1e-3, max_value=1e5),
    start=st.floats(min_value=0.0, max_value=1e9),
)
def test_gcra_admits_a_full_burst_at_rest_whatever_the_floats(
    limit: int, window: float, start: float
) -> None:
    reading = [start]
    limiter = RateLimiter(limit, window, strategy="gcra", clock=lambda: reading[0])
    allowed = [limiter.hit("k").allowed for _ in range(limit + 1)]
    assert [True] * limit + [False] == allowed


# -- several policies ------------------------------------------------------------------------------


@given(
    limits=st.lists(
        st.tuples(st.integers(1, 4), st.integers(1, 24).map(lambda q: Fraction(q, 4))),
        min_size=2,
        max_size=3,
    ),
    steps=st.lists(st.tuples(quarters, st.integers(0, 3)), max_size=40),
)
def test_multi_admits_only_what_every_policy_admits_and_nothing_else(
    limits: list[tuple[int, Fraction]], steps: list[tuple[Fraction, int]]
) -> None:
    models = [LogModel(limit, window) for limit, window in limits]
    now = Fraction(1000)
    reading, clock = clocked(now)
    limiter = RateLimiter.multi(
        *(RateLimit(limit, float(w), name=f"p{i}") for i, (limit, w) in enumerate(limits)),
        clock=clock,
    )
    capacity = min(limit for limit, _ in limits)
    for gap, cost in steps:
        now += gap
        reading[0] = float(now)
        if cost > capacity:
            continue
        trial = [LogModel(m.limit, m.window, list(m.hits)).hit(now, cost) for m in models]
        allowed = all(o.allowed for o in trial)
        if allowed:
            for m in models:
                m.hit(now, cost)
        decision = limiter.hit("k", cost) if cost else limiter.peek("k")
        assert allowed == decision.allowed
        if not allowed:
            assert max(float(o.retry_after) for o in trial if not o.allowed) == decision.retry_after


# -- the fast path and the store operation --------------------------------------------------------


class PlainStore:
    """A store with no fast path: every call runs the store operation on a dict."""

    def __init__(self) -> None:
        self.states: dict[str, Any] = {}

    def update(self, key: str, op: Op, now: float, cost: int, /) -> RateLimitDecision:
        new_state, decision = op(self.states.get(key), now, cost)
        if new_state is not None:
            self.states[key] = new_state
        return decision

    async def aupdate(self, key: str, op: Op, now: float, cost: int, /) -> RateLimitDecision:
        return self.update(key, op, now, cost)

    def delete(self, key: str, /) -> None:
        self.states.pop(key, None)

    async def adelete(self, key: str, /) -> None:
        self.delete(key)


POLICY_SETS = {
    "exact": (RateLimit(3, 5.0),),
    "sliding_counter": (RateLimit(3, 5.0, strategy="sliding_counter"),),
    "gcra": (RateLimit(3, 5.0, strategy="gcra", burst=4),),
    "multi": (
        RateLimit(3, 5.0, name="short"),
        RateLimit(5, 20.0, name="gcra", strategy="gcra"),
        RateLimit(4, 8.0, name="counter", strategy="sliding_counter"),
    ),
}


@pytest.mark.parametrize("policies", list(POLICY_SETS.values()), ids=list(POLICY_SETS))
@settings(max_examples=60)
@given(
    start=floats_near,
    steps=st.lists(
        st.tuples(
            gaps,
            st.sampled_from(["hit", "peek", "refund", "reset"]),
            st.sampled_from(["a", "b"]),
            st.integers(min_value=1, max_value=3),
        ),
        max_size=40,
    ),
)
def test_the_fast_path_decides_exactly_as_the_store_operation(
    policies: tuple[RateLimit, ...], start: float, steps: list[tuple[float, str, str, int]]
) -> None:
    """``hit`` on the memory store runs ``apply`` on known keys; a plain store runs ``op``."""
    reading = [start]
    fast = RateLimiter.multi(*policies, clock=lambda: reading[0])
    plain = RateLimiter.multi(*policies, clock=lambda: reading[0], store=PlainStore())
    for gap, action, key, cost in steps:
        reading[0] += gap
        if action == "reset":
            fast.reset(key)
            plain.reset(key)
            continue
        call = {"hit": RateLimiter.hit, "peek": RateLimiter.peek, "refund": RateLimiter.refund}
        args = (key,) if action == "peek" else (key, cost)
        expected = call[action](plain, *args)
        actual = getattr(fast, action)(*args)
        assert tuple(expected) == tuple(actual)


# -- the exact limiter as a state machine ----------------------------------------------------------


class ExactLimiterMachine(RuleBasedStateMachine):
    """Hits, peeks, refunds, resets and time passing, against one log model per key."""

    keys = Bundle("keys")

    @initialize(
        limit=st.integers(min_value=1, max_value=5),
        window=st.integers(min_value=1, max_value=24).map(lambda q: Fraction(q, 4)),
    )
    def start(self, limit: int, window: Fraction) -> None:
        self.now = Fraction(500)
        self.reading = [float(self.now)]
        self.limit, self.window = limit, window
        self.limiter = RateLimiter(limit, float(window), clock=lambda: self.reading[0])
        self.models: dict[str, LogModel] = {}

    def model(self, key: str) -> LogModel:
        return self.models.setdefault(key, LogModel(self.limit, self.window))

    def check(self, expected: Outcome, actual: RateLimitDecision) -> None:
        assert as_floats(expected) == as_outcome(actual)

    @rule(target=keys, name=st.sampled_from(["a", "b", "c", "d", "e", "f"]))
    def add_key(self, name: str) -> str:
        return name

    @rule(gap=st.integers(min_value=0, max_value=40).map(lambda q: Fraction(q, 4)))
    def advance(self, gap: Fraction) -> None:
        self.now += gap
        self.reading[0] = float(self.now)

    @rule(key=keys, cost=costs)
    def hit(self, key: str, cost: int) -> None:
        if cost > self.limit:
            return
        self.check(self.model(key).hit(self.now, cost), self.limiter.hit(key, cost))

    @rule(key=keys)
    def peek(self, key: str) -> None:
        self.check(self.model(key).hit(self.now, 0), self.limiter.peek(key))

    @rule(key=keys, cost=costs)
    def refund(self, key: str, cost: int) -> None:
        actual = self.limiter.refund(key, cost)
        self.model(key).refund(self.now, cost)
        self.check(self.model(key).hit(self.now, 0), actual)

    @rule(key=consumes(keys))
    def reset(self, key: str) -> None:
        self.limiter.reset(key)
        self.models.pop(key, None)

    @invariant()
    def never_more_than_the_limit_in_any_window(self) -> None:
        for model in getattr(self, "models", {}).values():
            assert len(model.live(self.now)) <= self.limit


ExactLimiterMachine.TestCase.settings = settings(max_examples=60, stateful_step_count=40)
test_exact_limiter_machine = ExactLimiterMachine.TestCase


@pytest.mark.parametrize("strategy", list(RateLimitStrategy), ids=lambda s: s.value)
def test_models_agree_on_a_plain_burst(strategy: RateLimitStrategy) -> None:
    """A sanity anchor for the models: five in a row pass, the sixth does not, for all three."""
    reading = [0.0]
    limiter = RateLimiter(5, 4.0, strategy=strategy, clock=lambda: reading[0])
    assert [True] * 5 + [False] == [limiter.hit("k").allowed for _ in range(6)]

"""Behaviour of RateLimiter: decisions, headers, errors, hooks, async, threads and memory."""

from __future__ import annotations

import asyncio
import copy
import logging
import math
import pickle
import threading
from datetime import timedelta
from typing import Any

import pytest

from commerce_kit import (
    RateLimit,
    RateLimitDecision,
    RateLimiter,
    RateLimitExceeded,
    RateLimitStrategy,
)
from commerce_kit.http import format_retry_after
from commerce_kit.resilience import HitDenied
from commerce_kit.resilience._rate_limit_store import MemoryRateLimitStore, Op
from commerce_kit.testing import ManualClock

STRATEGIES = list(RateLimitStrategy)
by_strategy = pytest.mark.parametrize("strategy", STRATEGIES, ids=[s.value for s in STRATEGIES])
EXACT = RateLimitStrategy.EXACT
COUNTER = RateLimitStrategy.SLIDING_COUNTER
GCRA = RateLimitStrategy.GCRA


def make(
    limit: int = 5,
    window: float = 60.0,
    strategy: RateLimitStrategy = EXACT,
    *,
    start: float = 1200.0,
    **kwargs: Any,
) -> tuple[RateLimiter, ManualClock]:
    clock = ManualClock(start)
    return RateLimiter(limit, window, strategy=strategy, clock=clock, **kwargs), clock


# -- scenario A1: 5 checkouts per user per minute, then a clear 429 --------------------------------


@by_strategy
def test_the_sixth_checkout_within_a_minute_is_refused(strategy: RateLimitStrategy) -> None:
    limiter, _ = make(5, 60.0, strategy)
    allowed = [limiter.hit("user:42").allowed for _ in range(6)]
    assert [True] * 5 + [False] == allowed


@by_strategy
def test_a_refused_checkout_carries_retry_after_and_ratelimit_headers(
    strategy: RateLimitStrategy,
) -> None:
    limiter, _ = make(5, 60.0, strategy)
    for _ in range(5):
        limiter.hit("user:42")
    denied = limiter.hit("user:42")
    headers = denied.headers()
    assert str(math.ceil(denied.retry_after)) == headers["Retry-After"]
    assert '"default";q=5;w=60' == headers["RateLimit-Policy"]
    assert headers["RateLimit"].startswith('"default";r=0;t=')


@by_strategy
def test_waiting_retry_after_lets_the_next_hit_through(strategy: RateLimitStrategy) -> None:
    limiter, clock = make(5, 60.0, strategy)
    for _ in range(5):
        limiter.hit("user:42")
    denied = limiter.hit("user:42")
    clock.advance(denied.retry_after)
    assert limiter.hit("user:42").allowed


def test_keys_are_limited_independently() -> None:
    limiter, _ = make(1, 60.0)
    assert limiter.hit("user:1").allowed
    assert limiter.hit("user:2").allowed
    assert not limiter.hit("user:1").allowed


# -- the decision ----------------------------------------------------------------------------------


def test_exact_decision_reports_remaining_retry_and_reset() -> None:
    limiter, clock = make(3, 10.0)
    first = limiter.hit("k")
    clock.advance(4)
    limiter.hit("k")
    limiter.hit("k")
    denied = limiter.hit("k")
    assert (True, 3, 2, 0.0, 10.0) == (
        first.allowed,
        first.limit,
        first.remaining,
        first.retry_after,
        first.reset_after,
    )
    # The oldest unit (4 s ago) leaves the window in 6 s; the newest in 10 s.
    assert (False, 0, 6.0, 10.0) == (
        denied.allowed,
        denied.remaining,
        denied.retry_after,
        denied.reset_after,
    )


def test_decision_is_truthy_exactly_when_allowed() -> None:
    limiter, _ = make(1, 60.0)
    assert [True, False] == [bool(limiter.hit("k")), bool(limiter.hit("k"))]


def test_decision_remaining_is_an_int_for_every_strategy() -> None:
    kinds = {type(make(5, 60.0, strategy)[0].hit("k").remaining) for strategy in STRATEGIES}
    assert {int} == kinds


def test_decision_repr_names_its_fields() -> None:
    limiter, _ = make(5, 60.0)
    expected = (
        "RateLimitDecision(allowed=True, limit=5, remaining=4, retry_after=0.0, "
        "reset_after=60.0, policy='default')"
    )
    assert expected == repr(limiter.hit("k"))


def test_decision_round_trips_through_pickle() -> None:
    decision = make(5, 60.0)[0].hit("k")
    assert decision == pickle.loads(pickle.dumps(decision))


def test_decision_is_immutable() -> None:
    decision = make(5, 60.0)[0].hit("k")
    with pytest.raises(AttributeError):
        decision.allowed = False  # type: ignore[misc]


def test_decision_built_by_hand_has_itself_as_only_part() -> None:
    policy = RateLimit(5, 60)
    decision = RateLimitDecision(True, 4, 0.0, 60.0, policy)
    assert ((decision,), 5, policy) == (decision.parts, decision.limit, decision.policy)


def test_decision_built_by_hand_with_parts_reports_them() -> None:
    minute, day = RateLimit(5, 60, name="minute"), RateLimit(100, 86400, name="day")
    parts = (
        RateLimitDecision(True, 4, 0.0, 60.0, minute),
        RateLimitDecision(True, 99, 0.0, 9.0, day),
    )
    decision = RateLimitDecision(True, 4, 0.0, 60.0, minute, parts=parts)
    assert (RateLimitDecision, parts) == (type(decision), decision.parts)


def test_decisions_from_the_limiter_are_plain_rate_limit_decisions() -> None:
    assert {RateLimitDecision} == {
        type(make(2, 60.0, strategy)[0].hit("k")) for strategy in STRATEGIES
    }


def test_a_multi_decision_survives_pickle_and_copy_with_its_parts() -> None:
    limiter = RateLimiter.multi(
        RateLimit(5, 60, name="minute"), RateLimit(100, 86400, name="day"), clock=ManualClock()
    )
    decision = limiter.hit("k")
    copies = [pickle.loads(pickle.dumps(decision)), copy.copy(decision), copy.deepcopy(decision)]
    assert [decision] * 3 == copies
    assert [("minute", "day")] * 3 == [tuple(p.policy.name for p in c.parts) for c in copies]


def test_peek_of_an_unknown_key_reports_the_full_quota() -> None:
    limiter, _ = make(5, 60.0)
    peek = limiter.peek("nobody")
    assert (True, 5, 0.0, 0.0) == (peek.allowed, peek.remaining, peek.retry_after, peek.reset_after)


@by_strategy
def test_peek_of_an_unknown_key_stores_nothing(strategy: RateLimitStrategy) -> None:
    limiter, _ = make(5, 60.0, strategy)
    limiter.peek("nobody")
    assert 0 == len(limiter.store)  # type: ignore[arg-type]


@by_strategy
def test_peek_consumes_nothing(strategy: RateLimitStrategy) -> None:
    limiter, _ = make(2, 60.0, strategy)
    limiter.hit("k")
    peeks = [limiter.peek("k").remaining for _ in range(3)]
    assert [1, 1, 1] == peeks
    assert limiter.hit("k").allowed


@by_strategy
def test_peek_of_an_exhausted_key_says_when_one_unit_frees(strategy: RateLimitStrategy) -> None:
    limiter, clock = make(2, 60.0, strategy)
    limiter.hit("k")
    limiter.hit("k")
    peek = limiter.peek("k")
    assert (False, 0) == (peek.allowed, peek.remaining)
    clock.advance(peek.retry_after)
    assert limiter.hit("k").allowed


@by_strategy
def test_reset_restores_the_full_quota(strategy: RateLimitStrategy) -> None:
    limiter, _ = make(2, 60.0, strategy)
    limiter.hit("k")
    limiter.hit("k")
    limiter.reset("k")
    assert 2 == limiter.peek("k").remaining


def test_reset_of_an_unknown_key_is_a_no_op() -> None:
    limiter, _ = make()
    limiter.reset("nobody")
    assert 5 == limiter.peek("nobody").remaining


# -- cost ------------------------------------------------------------------------------------------


@by_strategy
def test_a_hit_of_cost_n_is_admitted_all_or_nothing(strategy: RateLimitStrategy) -> None:
    limiter, _ = make(5, 60.0, strategy)
    assert limiter.hit("k", cost=3).allowed
    refused = limiter.hit("k", cost=3)
    assert (False, 2) == (refused.allowed, refused.remaining)
    assert limiter.hit("k", cost=2).allowed


def test_exact_cost_counts_as_that_many_units_at_one_instant() -> None:
    limiter, clock = make(4, 10.0)
    limiter.hit("k", cost=3)
    clock.advance(5)
    limiter.hit("k")
    refused = limiter.hit("k", cost=2)
    # Two must leave: the three from t=0 go at t=10, which is 5 s away.
    assert 5.0 == refused.retry_after


@pytest.mark.parametrize("cost", [0, -1])
def test_cost_below_one_is_refused(cost: int) -> None:
    limiter, _ = make()
    with pytest.raises(ValueError, match="cost must be >= 1"):
        limiter.hit("k", cost=cost)


@pytest.mark.parametrize("cost", [1.0, "1", True])
def test_cost_must_be_an_int(cost: object) -> None:
    limiter, _ = make()
    with pytest.raises(TypeError, match="cost must be an int"):
        limiter.hit("k", cost=cost)  # type: ignore[arg-type]


def test_cost_above_the_limit_is_refused_as_never_admissible() -> None:
    limiter, _ = make(5, 60.0)
    with pytest.raises(ValueError, match="could never be admitted"):
        limiter.hit("k", cost=6)


def test_gcra_cost_may_reach_the_burst_above_the_limit() -> None:
    limiter, _ = make(2, 60.0, GCRA, burst=4)
    assert limiter.hit("k", cost=4).allowed
    with pytest.raises(ValueError, match="<= 4"):
        limiter.hit("k", cost=5)


def test_multi_cost_is_bounded_by_the_smallest_capacity() -> None:
    limiter = RateLimiter.multi(RateLimit(3, 1), RateLimit(10, 60, name="minute"))
    with pytest.raises(ValueError, match="<= 3"):
        limiter.hit("k", cost=4)


# -- refund ----------------------------------------------------------------------------------------


def test_exact_refund_gives_back_the_newest_units() -> None:
    limiter, clock = make(3, 10.0)
    limiter.hit("k")
    clock.advance(5)
    limiter.hit("k", cost=2)
    after = limiter.refund("k")
    # The newest unit went back; the oldest one still frees first, 5 s from now.
    assert (1, 10.0) == (after.remaining, after.reset_after)
    limiter.hit("k")
    assert 5.0 == limiter.hit("k").retry_after


@by_strategy
def test_refund_never_gives_more_than_the_full_quota(strategy: RateLimitStrategy) -> None:
    limiter, _ = make(5, 60.0, strategy)
    limiter.hit("k", cost=2)
    assert 5 == limiter.refund("k", cost=4).remaining


@by_strategy
def test_refund_of_an_unknown_key_changes_nothing(strategy: RateLimitStrategy) -> None:
    limiter, _ = make(5, 60.0, strategy)
    assert 5 == limiter.refund("nobody").remaining
    assert 5 == limiter.peek("nobody").remaining


def test_exact_refund_ignores_units_that_already_left_the_window() -> None:
    limiter, clock = make(2, 10.0)
    limiter.hit("k")
    clock.advance(11)
    limiter.hit("k")
    limiter.refund("k", cost=2)
    assert 2 == limiter.peek("k").remaining


def test_exact_refund_of_units_all_gone_from_the_window_changes_nothing() -> None:
    limiter, clock = make(2, 10.0)
    limiter.hit("k")
    clock.advance(11)
    assert 2 == limiter.refund("k").remaining


def test_counter_refund_in_a_later_window_takes_from_the_previous_count() -> None:
    limiter, clock = make(4, 10.0, COUNTER, start=0.0)
    limiter.hit("k", cost=4)
    clock.advance(15)  # the 4 units now weigh (20 - 15) / 10 = 0.5: 2 units' worth
    assert 2 == limiter.peek("k").remaining
    assert 3 == limiter.refund("k", cost=2).remaining  # previous 4 -> 2, weighing 1


def test_counter_refund_takes_from_the_current_window_then_the_previous() -> None:
    limiter, clock = make(4, 10.0, COUNTER, start=0.0)
    limiter.hit("k", cost=3)  # window [0, 10)
    clock.advance(12.5)  # window [10, 20): previous weighs (20 - 12.5) / 10 = 0.75
    limiter.hit("k")
    after = limiter.refund("k", cost=2)
    # current 1 -> 0, previous 3 -> 2: estimate 2 * 0.75 = 1.5, so 2 whole units remain.
    assert 2 == after.remaining


def test_gcra_refund_moves_the_arrival_time_back_but_not_before_now() -> None:
    limiter, clock = make(4, 8.0, GCRA, start=0.0)  # one unit every 2 s
    limiter.hit("k", cost=4)
    clock.advance(3)  # 1.5 units drained: 1 unit free
    assert 1 == limiter.peek("k").remaining
    after = limiter.refund("k", cost=2)
    # Two of the three owed units went back: one unit (2 s) less 1 s already drained is owed.
    assert (3, 1.0) == (after.remaining, after.reset_after)
    assert 4 == limiter.refund("k", cost=5).remaining


def test_gcra_refund_of_a_rested_key_changes_nothing() -> None:
    limiter, clock = make(4, 8.0, GCRA, start=0.0)
    limiter.hit("k", cost=2)
    clock.advance(10)
    assert 4 == limiter.refund("k", cost=2).remaining


def test_refund_cost_must_be_a_positive_int() -> None:
    limiter, _ = make()
    with pytest.raises(ValueError, match="cost must be >= 1"):
        limiter.refund("k", cost=0)


# -- check and the exception -----------------------------------------------------------------------


def test_check_returns_the_decision_while_allowed() -> None:
    limiter, _ = make(1, 60.0)
    assert limiter.check("k").allowed


def test_check_raises_rate_limit_exceeded_with_retry_after() -> None:
    limiter, _ = make(1, 60.0)
    limiter.check("k")
    with pytest.raises(RateLimitExceeded) as caught:
        limiter.check("k")
    assert (60.0, "rate_limited") == (caught.value.retry_after, caught.value.code)
    assert "'default' (1 per 60 s) exceeded" in str(caught.value)


def test_the_exception_message_never_contains_the_key() -> None:
    limiter, _ = make(1, 60.0)
    limiter.hit("user:secret-42")
    with pytest.raises(RateLimitExceeded) as caught:
        limiter.check("user:secret-42")
    assert "secret" not in str(caught.value)


# -- headers ---------------------------------------------------------------------------------------


def test_allowed_headers_carry_no_retry_after() -> None:
    headers = make(5, 60.0)[0].hit("k").headers()
    expected = {"RateLimit-Policy": '"default";q=5;w=60', "RateLimit": '"default";r=4;t=60'}
    assert expected == headers


def test_legacy_headers_add_the_x_ratelimit_trio() -> None:
    limiter, _ = make(2, 30.0)
    limiter.hit("k")
    headers = limiter.hit("k").headers(legacy=True)
    expected = {"X-RateLimit-Limit": "2", "X-RateLimit-Remaining": "0", "X-RateLimit-Reset": "30"}
    assert expected == {k: v for k, v in headers.items() if k.startswith("X-")}


def test_header_seconds_round_up_but_ignore_float_noise() -> None:
    limiter, clock = make(1, 0.5, start=0.1)
    limiter.hit("k")
    clock.advance(0.2)
    headers = limiter.hit("k").headers()
    assert ("1", '"default";q=1;w=1', '"default";r=0;t=1') == (
        headers["Retry-After"],
        headers["RateLimit-Policy"],
        headers["RateLimit"],
    )


def test_policy_name_is_quoted_as_a_structured_field_string() -> None:
    limiter, _ = make(5, 60.0, name='checkout "eu" \\ 1')
    assert limiter.hit("k").headers()["RateLimit-Policy"].startswith('"checkout \\"eu\\" \\\\ 1";')


def test_multi_headers_list_every_policy() -> None:
    limiter = RateLimiter.multi(
        RateLimit(5, 60, name="minute"), RateLimit(100, timedelta(days=1), name="day")
    )
    headers = limiter.hit("k").headers()
    assert '"minute";q=5;w=60, "day";q=100;w=86400' == headers["RateLimit-Policy"]
    assert '"minute";r=4;t=60, "day";r=99;t=86400' == headers["RateLimit"]


@pytest.mark.parametrize(
    ("seconds", "expected"),
    [(0.0, "1"), (0.01, "1"), (1.0, "1"), (1.5, "2"), (60.0000000001, "60")],
)
def test_format_retry_after_rounds_up_to_at_least_one_second(seconds: float, expected: str) -> None:
    assert expected == format_retry_after(seconds)


@pytest.mark.parametrize("seconds", [-1.0, math.nan, math.inf])
def test_format_retry_after_refuses_what_is_not_a_duration(seconds: float) -> None:
    with pytest.raises(ValueError, match="finite and >= 0"):
        format_retry_after(seconds)


# -- several policies on one key -------------------------------------------------------------------


def multi(*policies: RateLimit) -> tuple[RateLimiter, ManualClock]:
    clock = ManualClock(1000.0)
    return RateLimiter.multi(*policies, clock=clock), clock


def test_multi_refusal_by_one_policy_consumes_nothing_from_the_others() -> None:
    limiter, clock = multi(RateLimit(2, 1, name="second"), RateLimit(3, 60, name="minute"))
    limiter.hit("k")
    limiter.hit("k")
    refused = limiter.hit("k")
    assert (False, "second") == (refused.allowed, refused.policy.name)
    # The refused hit left the minute budget at 1, so one more passes once the second frees up.
    clock.advance(1)
    assert limiter.hit("k").allowed
    assert "minute" == limiter.hit("k").policy.name


def test_multi_reports_the_longest_wait_when_several_refuse() -> None:
    limiter, _ = multi(RateLimit(1, 1, name="second"), RateLimit(1, 60, name="minute"))
    limiter.hit("k")
    refused = limiter.hit("k")
    assert ("minute", 60.0) == (refused.policy.name, refused.retry_after)
    assert [False, False] == [p.allowed for p in refused.parts]


def test_multi_reports_the_fewest_remaining_when_allowed() -> None:
    limiter, _ = multi(RateLimit(10, 1, name="second"), RateLimit(3, 60, name="minute"))
    decision = limiter.hit("k")
    assert ("minute", 2, 3) == (decision.policy.name, decision.remaining, decision.limit)


def test_multi_refusal_shows_what_the_other_policies_have_now() -> None:
    limiter, _ = multi(RateLimit(1, 1, name="second"), RateLimit(3, 60, name="minute"))
    limiter.hit("k")
    refused = limiter.hit("k")
    assert [0, 2] == [p.remaining for p in refused.parts]


def test_multi_peek_and_refund_cover_every_policy() -> None:
    limiter, _ = multi(
        RateLimit(2, 1, name="second", strategy="gcra"),
        RateLimit(3, 60, name="minute", strategy="sliding_counter"),
    )
    limiter.hit("k", cost=2)
    assert [0, 1] == [p.remaining for p in limiter.peek("k").parts]
    assert [2, 3] == [p.remaining for p in limiter.refund("k", cost=2).parts]
    assert [2, 3] == [p.remaining for p in limiter.refund("nobody").parts]


def test_multi_needs_distinct_named_policies() -> None:
    with pytest.raises(ValueError, match="at least one"):
        RateLimiter.multi()
    with pytest.raises(ValueError, match="names must differ"):
        RateLimiter.multi(RateLimit(1, 1), RateLimit(2, 2))
    with pytest.raises(TypeError, match="RateLimit objects"):
        RateLimiter.multi((5, 60))  # type: ignore[arg-type]


def test_multi_with_one_policy_behaves_like_a_plain_limiter() -> None:
    limiter, _ = multi(RateLimit(1, 60))
    assert [True, False] == [limiter.hit("k").allowed, limiter.hit("k").allowed]


# -- hooks -----------------------------------------------------------------------------------------


def test_a_refused_hit_emits_limit_exceeded() -> None:
    events: list[HitDenied] = []
    limiter, _ = make(1, 60.0, hooks=[events.append])
    limiter.hit("user:7")
    limiter.hit("user:7", cost=1)
    assert [HitDenied("user:7", limiter.policies[0], 1, 60.0)] == events


def test_allowed_hits_emit_nothing() -> None:
    events: list[HitDenied] = []
    limiter, _ = make(3, 60.0, hooks=[events.append])
    limiter.hit("k")
    limiter.peek("k")
    assert [] == events


def test_a_hook_that_raises_is_logged_and_the_others_still_run(
    caplog: pytest.LogCaptureFixture,
) -> None:
    events: list[HitDenied] = []

    def broken(event: HitDenied) -> None:
        raise RuntimeError("boom")

    limiter, _ = make(1, 60.0, hooks=[broken, events.append])
    limiter.hit("k")
    with caplog.at_level(logging.ERROR, logger="commerce_kit.rate_limiter"):
        decision = limiter.hit("k")
    assert (False, 1) == (decision.allowed, len(events))
    assert [f"hook {broken!r} failed on HitDenied"] == [r.getMessage() for r in caplog.records]


def test_hooks_must_be_callable() -> None:
    with pytest.raises(TypeError, match="hooks must be callables"):
        RateLimiter(1, 1, hooks=[42])  # type: ignore[list-item]


# -- asyncio ---------------------------------------------------------------------------------------


def test_async_faces_give_the_same_decisions() -> None:
    events: list[HitDenied] = []
    limiter, _ = make(2, 60.0, hooks=[events.append])

    async def main() -> list[object]:
        first = await limiter.ahit("k")
        peek = await limiter.apeek("k")
        await limiter.acheck("k")
        refused = await limiter.ahit("k")
        refund = await limiter.arefund("k")
        await limiter.areset("k")
        after = await limiter.apeek("k")
        return [first.remaining, peek.remaining, refused.allowed, refund.remaining, after.remaining]

    assert [1, 1, False, 1, 2] == asyncio.run(main())
    assert 1 == len(events)


def test_acheck_raises_when_refused() -> None:
    limiter, _ = make(1, 60.0)

    async def main() -> None:
        await limiter.acheck("k")
        await limiter.acheck("k")

    with pytest.raises(RateLimitExceeded):
        asyncio.run(main())


def test_async_faces_validate_cost() -> None:
    limiter, _ = make(1, 60.0)
    with pytest.raises(ValueError, match="could never be admitted"):
        asyncio.run(limiter.ahit("k", cost=2))
    with pytest.raises(ValueError, match="cost must be >= 1"):
        asyncio.run(limiter.arefund("k", cost=0))


# -- threads ---------------------------------------------------------------------------------------


@by_strategy
def test_eight_threads_hammering_one_key_get_exactly_the_limit(strategy: RateLimitStrategy) -> None:
    limiter, _ = make(50, 60.0, strategy)
    allowed: list[int] = []
    start = threading.Barrier(8)

    def worker() -> None:
        start.wait()
        allowed.append(sum(limiter.hit("hot").allowed for _ in range(200)))

    threads = [threading.Thread(target=worker) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert 50 == sum(allowed)


def test_eight_threads_hammering_one_key_of_a_multi_limiter_get_the_tightest_limit() -> None:
    limiter = RateLimiter.multi(
        RateLimit(80, 60.0, name="loose", strategy="gcra"),
        RateLimit(50, 60.0, name="tight"),
        RateLimit(70, 60.0, name="counter", strategy="sliding_counter"),
        clock=ManualClock(1200.0),
    )
    allowed: list[int] = []
    start = threading.Barrier(8)

    def worker() -> None:
        start.wait()
        allowed.append(sum(limiter.hit("hot").allowed for _ in range(200)))

    threads = [threading.Thread(target=worker) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert (50, 0) == (sum(allowed), limiter.peek("hot").remaining)


# -- memory ----------------------------------------------------------------------------------------


def test_a_flood_of_distinct_keys_never_exceeds_maxsize() -> None:
    limiter, _ = make(5, 60.0, maxsize=100)
    sizes = []
    for i in range(1000):
        limiter.hit(f"flood:{i}")
        sizes.append(len(limiter.store))  # type: ignore[arg-type]
    assert 100 >= max(sizes)


def test_an_evicted_key_fails_open_with_a_fresh_budget() -> None:
    limiter, _ = make(1, 60.0, maxsize=10)
    limiter.hit("victim")
    for i in range(10):
        limiter.hit(f"flood:{i}")
    assert limiter.hit("victim").allowed


def test_recently_used_keys_survive_a_flood_of_new_ones() -> None:
    limiter, _ = make(1, 60.0, maxsize=10)
    limiter.hit("active")
    for i in range(20):
        limiter.hit(f"flood:{i}")
        limiter.peek("active")
    assert not limiter.hit("active").allowed


@by_strategy
def test_expired_keys_are_dropped_as_time_passes(strategy: RateLimitStrategy) -> None:
    limiter, clock = make(5, 10.0, strategy)
    for i in range(50):
        limiter.hit(f"once:{i}")
    clock.advance(limiter.policies[0].ttl)
    limiter.hit("later:1")
    clock.advance(limiter.policies[0].ttl)
    limiter.hit("later:2")
    assert 2 == len(limiter.store)  # type: ignore[arg-type]


def test_a_key_in_use_keeps_its_state_across_generations() -> None:
    limiter, clock = make(3, 10.0)
    for _ in range(6):
        limiter.hit("steady")
        clock.advance(4)
    # 3 hits at t=12, 16, 20 lie within (14, 24]: 16 and 20 count.
    assert 1 == limiter.peek("steady").remaining


def test_keys_must_be_strings() -> None:
    limiter, _ = make()
    with pytest.raises(TypeError, match="keys must be str"):
        limiter.hit(42)  # type: ignore[arg-type]


@pytest.mark.parametrize("method", ["reset", "peek", "refund"])
@pytest.mark.parametrize("store", [None, "dict"], ids=["memory", "custom"])
def test_every_call_refuses_a_key_that_is_not_a_string(method: str, store: str | None) -> None:
    """``reset(42)`` was silently ignored; every call now refuses such a key as ``hit`` does."""
    limiter = RateLimiter(5, 60.0, clock=ManualClock(), store=DictStore() if store else None)
    with pytest.raises(TypeError, match="keys must be str"):
        getattr(limiter, method)(42)


@pytest.mark.parametrize("method", ["ahit", "areset", "apeek", "arefund"])
def test_every_async_call_refuses_a_key_that_is_not_a_string(method: str) -> None:
    limiter = RateLimiter(5, 60.0, clock=ManualClock(), store=DictStore())
    with pytest.raises(TypeError, match="keys must be str"):
        asyncio.run(getattr(limiter, method)(42))


def test_the_store_keeps_each_new_state_an_operation_returns() -> None:
    store = MemoryRateLimitStore(ttl=60.0)
    policy = RateLimit(10, 60)

    def bump(state: Any, now: float, cost: int) -> tuple[Any, RateLimitDecision]:
        count = (state or 0) + cost  # an int: every update returns a new state object
        return count, RateLimitDecision(True, count, 0.0, 0.0, policy)

    assert [1, 3, 6] == [store.update("k", bump, 0.0, cost).remaining for cost in (1, 2, 3)]


def test_store_arguments_are_validated() -> None:
    with pytest.raises(TypeError, match="maxsize must be an int"):
        MemoryRateLimitStore(ttl=1.0, maxsize=10.0)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="maxsize must be >= 2"):
        MemoryRateLimitStore(ttl=1.0, maxsize=1)
    with pytest.raises(ValueError, match="ttl must be"):
        MemoryRateLimitStore(ttl=0.0)
    assert 7 == MemoryRateLimitStore(ttl=1.0, maxsize=7).maxsize


# -- another store ---------------------------------------------------------------------------------


class DictStore:
    """The smallest store the protocol allows: no lock, no expiry."""

    def __init__(self) -> None:
        self.states: dict[str, Any] = {}

    def update(self, key: str, op: Op, now: float, cost: int, /) -> RateLimitDecision:
        new_state, decision = op(self.states.get(key), now, cost)
        self.states[key] = new_state
        return decision

    async def aupdate(self, key: str, op: Op, now: float, cost: int, /) -> RateLimitDecision:
        return self.update(key, op, now, cost)

    def delete(self, key: str, /) -> None:
        self.states.pop(key, None)

    async def adelete(self, key: str, /) -> None:
        self.delete(key)


def test_a_custom_store_validates_cost_like_the_default_one() -> None:
    limiter = RateLimiter(3, 60.0, store=DictStore(), clock=ManualClock())
    assert 1 == limiter.hit("k", cost=2).remaining
    with pytest.raises(ValueError, match="could never be admitted"):
        limiter.hit("k", cost=4)


def test_a_custom_store_runs_the_same_operations() -> None:
    store = DictStore()
    events: list[HitDenied] = []
    limiter = RateLimiter(1, 60.0, store=store, clock=ManualClock(), hooks=[events.append])
    assert [True, False] == [limiter.hit("k").allowed, limiter.hit("k").allowed]
    limiter.reset("k")
    assert ({}, 1) == (store.states, len(events))
    assert store is limiter.store


# -- clocks and arguments --------------------------------------------------------------------------


def test_exact_stays_exact_when_the_clock_steps_back() -> None:
    readings = iter([5.0, 4.0, 4.5, 3.0, 14.9])
    limiter = RateLimiter(3, 10.0, clock=lambda: next(readings))
    allowed = [limiter.hit("k").allowed for _ in range(5)]
    # The late readings count as simultaneous with the newest entry (t=5), so at 14.9 all three
    # admitted units are still in (4.9, 14.9].
    assert [True, True, True, False, False] == allowed


@pytest.mark.parametrize("strategy", ["exact", "sliding_counter", "gcra"])
@pytest.mark.parametrize("window", [5e-324, 1e-310, 9.9e-7, 1.0000001e9, 1e308])
def test_a_window_outside_the_accepted_range_is_refused_up_front(
    strategy: str, window: float
) -> None:
    """Such windows used to be accepted, then divide by zero or overflow on a later call."""
    with pytest.raises(ValueError, match="window must be from 1e-06 to 1e"):
        RateLimiter(1, window, strategy=strategy)  # type: ignore[arg-type]


@pytest.mark.parametrize("strategy", ["exact", "sliding_counter", "gcra"])
@pytest.mark.parametrize("window", [1e-6, 1e9])
def test_the_extreme_accepted_windows_work_to_the_headers(strategy: str, window: float) -> None:
    clock = ManualClock(12345.678)
    limiter = RateLimiter(2, window, strategy=strategy, clock=clock)  # type: ignore[arg-type]
    assert [True, True, False] == [limiter.hit("k").allowed for _ in range(3)]
    refused = limiter.hit("k")
    headers = refused.headers(legacy=True)
    assert 1 <= int(headers["Retry-After"]) <= 2**31
    clock.advance(refused.retry_after)
    assert limiter.hit("k").allowed


@pytest.mark.parametrize(("name", "limit"), [("limit", 2**53 + 1), ("burst", 10**400)])
def test_a_limit_beyond_exact_float_counting_is_refused(name: str, limit: int) -> None:
    arguments: dict[str, Any] = {"limit": 5, "window": 60.0, "strategy": "gcra", name: limit}
    with pytest.raises(ValueError, match=f"{name} must be <= 9007199254740992"):
        RateLimiter(**arguments)


def test_header_seconds_are_capped_at_two_to_the_31() -> None:
    """A decision that far out still gives short headers (RFC 9111 caps delta-seconds so)."""
    limiter = RateLimiter(1, 1e9, strategy="gcra", burst=2**40, clock=ManualClock())
    limiter.hit("k", cost=2**40)
    refused = limiter.hit("k")
    assert refused.reset_after > 2**31
    headers = refused.headers(legacy=True)
    assert "2147483648" == headers["Retry-After"] or int(headers["Retry-After"]) <= 2**31
    assert '"default";r=0;t=2147483648' == headers["RateLimit"]
    assert "2147483648" == headers["X-RateLimit-Reset"]


@pytest.mark.parametrize("strategy", ["exact", "sliding_counter", "gcra"])
def test_remaining_is_a_whole_number_in_the_headers(strategy: str) -> None:
    """The counting strategies wrote ``r=3.0``, which is not a Structured Field integer."""
    limiter = RateLimiter(5, 60.0, strategy=strategy, clock=ManualClock())  # type: ignore[arg-type]
    limiter.hit("k")
    headers = limiter.hit("k").headers(legacy=True)
    assert ('"default";r=3;t=', "3") == (
        headers["RateLimit"][:16],
        headers["X-RateLimit-Remaining"],
    )


def test_window_accepts_a_timedelta() -> None:
    limiter = RateLimiter(5, timedelta(minutes=1))
    assert 60.0 == limiter.policies[0].window


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"limit": 0}, ValueError, "limit must be >= 1"),
        ({"limit": 2.5}, TypeError, "limit must be an int"),
        ({"limit": True}, TypeError, "limit must be an int"),
        ({"window": 0}, ValueError, "window must be > 0"),
        ({"window": "60"}, TypeError, "window must be a number"),
        ({"strategy": "leaky"}, ValueError, "strategy must be one of"),
        ({"burst": 3}, ValueError, "burst applies to the 'gcra' strategy only"),
        ({"strategy": "gcra", "burst": 0}, ValueError, "burst must be >= 1"),
        ({"name": ""}, ValueError, "non-empty printable ASCII"),
        ({"name": "café"}, ValueError, "non-empty printable ASCII"),
        ({"name": 7}, TypeError, "name must be a str"),
        ({"clock": 0.0}, TypeError, "clock must be callable"),
    ],
)
def test_bad_arguments_raise_clear_errors(
    kwargs: dict[str, Any], error: type[Exception], match: str
) -> None:
    arguments: dict[str, Any] = {"limit": 5, "window": 60.0} | kwargs
    with pytest.raises(error, match=match):
        RateLimiter(**arguments)


def test_strategy_accepts_the_enum_or_its_value() -> None:
    by_enum = RateLimiter(5, 60, strategy=RateLimitStrategy.GCRA).policies[0]
    by_name = RateLimiter(5, 60, strategy="gcra").policies[0]
    assert by_enum == by_name


@pytest.mark.parametrize(
    ("policy", "capacity", "ttl"),
    [
        (RateLimit(5, 60), 5, 60.0),
        (RateLimit(5, 60, strategy="sliding_counter"), 5, 120.0),
        (RateLimit(5, 60, strategy="gcra"), 5, 60.0),
        (RateLimit(5, 60, strategy="gcra", burst=10), 10, 120.0),
        (RateLimit(5, 60, strategy="gcra", burst=2), 2, 60.0),
    ],
)
def test_policy_capacity_and_ttl_follow_the_strategy(
    policy: RateLimit, capacity: int, ttl: float
) -> None:
    assert (capacity, ttl) == (policy.capacity, policy.ttl)


def test_limiter_repr_lists_its_policies() -> None:
    limiter = RateLimiter.multi(
        RateLimit(5, 60, name="minute"), RateLimit(100, 86400, name="day", strategy="gcra")
    )
    assert "<RateLimiter minute=5/60s exact, day=100/86400s gcra>" == repr(limiter)

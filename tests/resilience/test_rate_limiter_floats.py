"""Where float rounding bites: the retry arithmetic at the last bit, with cases found by search."""

from __future__ import annotations

import math

import pytest

from commerce_kit import RateLimiter, RateLimitStrategy
from commerce_kit.resilience._rate_limit_strategies import first_admitting
from commerce_kit.resilience._waits import wait_until


def test_wait_until_is_exact_when_the_difference_is() -> None:
    assert 2.5 == wait_until(10.0, 12.5)


def test_wait_until_is_zero_once_the_due_reading_has_come() -> None:
    assert (0.0, 0.0) == (wait_until(5.0, 5.0), wait_until(5.0, 4.0))


def test_wait_until_steps_up_when_the_difference_rounds_down() -> None:
    now, target = 363.1643732157536, 6987709.112535766
    assert now + (target - now) < target  # the case this test is about
    wait = wait_until(now, target)
    assert now + wait >= target
    assert now + math.nextafter(wait, 0.0) < target


def test_wait_until_lands_just_after_a_target_no_delay_reaches() -> None:
    now, target = 540.3440417348102, 88361.90759926681
    wait = wait_until(now, target)
    assert (True, False) == (now + wait > target, now + math.nextafter(wait, 0.0) >= target)


def test_first_admitting_walks_back_to_the_first_admitted_float() -> None:
    threshold = 1000.0
    guess = math.nextafter(math.nextafter(threshold, math.inf), math.inf)
    assert threshold == first_admitting(lambda t: t >= threshold, guess, 0.0)


def test_first_admitting_never_answers_at_or_before_now() -> None:
    now = 5.0
    assert math.nextafter(now, math.inf) == first_admitting(lambda t: True, 1.0, now)


def test_a_wild_guess_costs_accuracy_but_never_hangs() -> None:
    too_low = first_admitting(lambda t: t >= 1.0, 0.5, 0.0)
    too_high = first_admitting(lambda t: True, 1.0, 0.0)
    assert 0.5 < too_low < 1.0
    assert 0.99 < too_high < 1.0


@pytest.mark.parametrize(
    ("strategy", "now", "window"),
    [
        (RateLimitStrategy.SLIDING_COUNTER, 999.027593711311, 40753.22907348489),
        (RateLimitStrategy.GCRA, 327.695335207261, 7551.097990551367),
    ],
    ids=["sliding_counter", "gcra"],
)
def test_retry_after_is_exact_where_target_minus_now_rounds(
    strategy: RateLimitStrategy, now: float, window: float
) -> None:
    reading = [now]
    limiter = RateLimiter(1, window, strategy=strategy, clock=lambda: reading[0])
    limiter.hit("k")
    retry = limiter.hit("k").retry_after
    reading[0] = now + math.nextafter(retry, 0.0)
    assert not limiter.peek("k").allowed
    reading[0] = now + retry
    assert limiter.hit("k").allowed


def test_exact_retry_after_is_exact_where_target_minus_now_rounds() -> None:
    reading = [6.308813062200004]
    limiter = RateLimiter(1, 717868.3570544075, clock=lambda: reading[0])
    limiter.hit("k")
    now = reading[0] = 75.83389405073831
    retry = limiter.hit("k").retry_after
    reading[0] = now + math.nextafter(retry, 0.0)
    assert not limiter.peek("k").allowed
    reading[0] = now + retry
    assert limiter.hit("k").allowed


@pytest.mark.parametrize("strategy", list(RateLimitStrategy), ids=lambda s: s.value)
def test_repeated_refusals_give_the_same_retry_instant(strategy: RateLimitStrategy) -> None:
    reading = [100.0]
    limiter = RateLimiter(2, 7.0, strategy=strategy, clock=lambda: reading[0])
    limiter.hit("k", cost=2)
    instants = []
    for step in (0.0, 0.25, 1.5):
        reading[0] += step
        instants.append(reading[0] + limiter.hit("k").retry_after)
    assert 1 == len(set(instants))

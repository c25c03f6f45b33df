"""The rate limiter's three strategies, as pure decision functions of (state, now, cost).

Each strategy is written once, as ``apply(state, now, cost, commit=True) -> decision``: a pure
function of a key's state and the clock reading, which updates a live state in place when it
commits units and never for a trial (``commit=False``). Each factory (:func:`exact_ops`,
:func:`counter_ops`, :func:`gcra_ops`, and :func:`composite_ops` for several policies) also wraps
it as the store operation ``step(state or None, now, cost) -> (new_state, decision)`` that any
store runs atomically per key (an unknown key starts from a *fresh* state that behaves as if
nothing had been admitted). Nothing here reads a clock, takes a lock or calls user code.

State per key is a short list of numbers, so another store (a Redis Lua script) can run the same
arithmetic:

- ``exact``: a sorted list of expiry times, one per consumed unit (at most about ``2 * limit``).
- ``sliding_counter``: ``[window_end, previous_count, current_count]``.
- ``gcra``: ``[anchor, units]``; the theoretical arrival time is ``anchor + units * interval``.
  Counting whole units from an anchor instead of adding intervals to a float keeps a full burst
  exact: float sums drift, and a drifted sum would refuse the last unit of a burst.
"""

from __future__ import annotations

import math
from bisect import bisect_right
from collections.abc import Callable, Sequence
from typing import Any, Final, NamedTuple

from commerce_kit.resilience._rate_limit_policy import (
    RateLimit,
    RateLimitDecision,
    RateLimitStrategy,
)
from commerce_kit.resilience._rate_limit_store import Op
from commerce_kit.resilience._waits import wait_until

__all__ = [
    "Apply",
    "Ops",
    "Step",
    "composite_ops",
    "counter_ops",
    "exact_ops",
    "first_admitting",
    "gcra_ops",
    "ops_for",
]

# Bound on the float nudges that turn a closed-form retry time into the first admissible reading.
_NUDGES: Final = 64
_INF: Final = math.inf
_NAN: Final = math.nan
_nextafter = math.nextafter

#: ``_new(RateLimitDecision, fields)`` builds a decision with ``tuple``'s C constructor, as
#: ``NamedTuple._make`` does, skipping the NamedTuple's Python ``__new__``: it saves about 320 ns
#: of a 590-830 ns hit in every ``RateLimiter.hit`` row (interleaved A/B, all three strategies).
_new: Callable[[type[RateLimitDecision], tuple[Any, ...]], RateLimitDecision] = tuple.__new__
#: A store operation with an optional trial flag: ``step(state or None, now, cost, commit=True)
#: -> (new_state, decision)``.
Step = Callable[..., "tuple[Any, RateLimitDecision]"]
#: The same decision on a live (never ``None``) state, which it updates in place when it commits:
#: ``apply(state, now, cost, commit=True) -> decision``.
Apply = Callable[..., RateLimitDecision]


class Ops(NamedTuple):
    """One policy's operations; ``step`` and ``refund`` follow the store protocol."""

    step: Step
    apply: Apply
    refund: Op
    fresh: Callable[[], Any]


def _stepper(apply: Apply, fresh: Callable[[], Any]) -> Step:
    """Wrap ``apply`` as a store operation, which also takes ``None`` for an unknown key.

    An unknown key starts from ``fresh()``, a state that behaves exactly as if nothing had ever
    been admitted. It is returned for storing only when units were committed, so a peek at an
    unknown key stores nothing.
    """

    def step(
        state: Any, now: float, cost: int, commit: bool = True
    ) -> tuple[Any, RateLimitDecision]:
        if state is None:
            state = fresh()
            return (state if cost and commit else None), apply(state, now, cost, commit)
        return state, apply(state, now, cost, commit)

    return step


def first_admitting(admits: Callable[[float], bool], guess: float, now: float) -> float:
    """Return the first reading after ``now`` that ``admits``, searching from ``guess``.

    ``admits`` is monotone (refused, then admitted for good) and ``guess`` is a closed-form answer
    a few float steps off at most; the nudges make the answer agree with the step's own
    arithmetic to the last bit. Both searches are bounded, so a wild guess costs accuracy, never
    a hang.
    """
    guess = max(guess, _nextafter(now, _INF))
    for _ in range(_NUDGES):
        if admits(guess):
            break
        guess = _nextafter(guess, _INF)
    for _ in range(_NUDGES):
        earlier = _nextafter(guess, -_INF)
        if earlier <= now or not admits(earlier):
            break
        guess = earlier
    return guess


def exact_ops(policy: RateLimit) -> Ops:
    """Build the sliding-log operations for ``policy``.

    A hit of ``cost`` counts as ``cost`` unit hits at the same instant, admitted all or none: it
    is allowed when the units still in ``(now - window, now]`` plus ``cost`` fit in ``limit``.
    """
    limit = policy.limit
    window = policy.window
    new = _new
    cls = RateLimitDecision

    def apply(log: list[float], now: float, cost: int, commit: bool = True) -> RateLimitDecision:
        size = len(log)
        if size and log[0] <= now:  # some units have left the window
            first = bisect_right(log, now)
            live = size - first
        else:
            first = 0
            live = size
        need = cost or 1
        left = limit - live
        if need <= left:
            if cost:
                expiry = now + window
                if size and expiry < log[-1]:
                    # A reading older than the newest entry (threads racing, a clock stepping
                    # back): count it as simultaneous with that entry so the log stays sorted.
                    expiry = log[-1]
                if commit:
                    if first and first >= live:
                        del log[:first]  # amortised: only once the dead prefix outgrows the rest
                    if cost == 1:
                        log.append(expiry)
                    else:
                        log.extend([expiry] * cost)
                return new(cls, (True, left - cost, 0.0, expiry - now, policy, None))
            reset = log[-1] - now if live else 0.0
            return new(cls, (True, left, 0.0, reset, policy, None))
        # Refused: wait until enough of the oldest live units have left the window.
        target = log[first + need - left - 1]
        retry = target - now
        if now + retry != target:
            retry = wait_until(now, target)
        return new(cls, (False, left, retry, log[-1] - now, policy, None))

    step = _stepper(apply, list)

    def refund(
        log: list[float] | None, now: float, cost: int
    ) -> tuple[list[float] | None, RateLimitDecision]:
        if log:
            size = len(log)
            first = bisect_right(log, now) if log[0] <= now else 0
            give = min(cost, size - first)
            if give:
                del log[size - give :]  # the newest units go back first
        return log, step(log, now, 0, commit=False)[1]

    return Ops(step, apply, refund, list)


def counter_ops(policy: RateLimit) -> Ops:
    """Build the sliding-window-counter operations for ``policy``.

    Fixed windows are aligned to multiples of ``window`` on the clock; the state is ``[end,
    previous, current]``: the end of the current fixed window and the units admitted in it and in
    the one before. The estimate of units in the sliding window ``(now - window, now]`` is
    ``current + previous * (end - now) / window``, the previous count weighted by how much of its
    window still overlaps the sliding one. A hit of ``cost`` is allowed when ``estimate + cost <=
    limit``.
    """
    limit = policy.limit
    window = policy.window
    per_second = 1.0 / window
    new = _new
    cls = RateLimitDecision
    # A refusal changes nothing, so clients hammering a refused key keep asking the same
    # question; the answer to the last one is kept as (end, prev, curr, need, first instant).
    # One tuple, read and replaced whole, so a store running operations concurrently on other
    # keys never sees half of one answer with half of another.
    memo: tuple[float, int, int, int, float] = (_NAN, 0, 0, 0, 0.0)

    def roll(end: float, curr: int, now: float) -> tuple[float, int, int]:
        # Into the fixed window holding ``now``. The next window's end is ``end + window``, the
        # very float the adjacency test compares with, so rolling in two steps (to an earlier
        # reading, then to ``now``) lands exactly where rolling in one does.
        after = end + window
        if now < after:
            return after, curr, 0
        return (now // window + 1.0) * window, 0, 0

    def first_time(end: float, prev: int, curr: int, need: int, now: float) -> float:
        # (end, prev, curr) is the state as of ``now``, which refused ``need`` units.
        def admits(at: float) -> bool:  # the step's own arithmetic
            e, p, c = roll(end, curr, at) if at >= end else (end, prev, curr)
            return need <= limit - c - p * (e - at) * per_second

        if curr + need <= limit:  # only the previous window's weight is in the way
            guess = end - (limit - curr - need) * window / prev
        else:  # the current count must itself become the (fading) previous one
            guess = end + window - (limit - need) * window / curr
        return first_admitting(admits, guess, now)

    def apply(state: list[Any], now: float, cost: int, commit: bool = True) -> RateLimitDecision:
        nonlocal memo
        end, prev, curr = state
        if now >= end:  # a new fixed window: the current count becomes the previous one
            end, prev, curr = roll(end, curr, now)
        avail = limit - curr - prev * (end - now) * per_second
        need = cost or 1
        if need <= avail:
            curr += cost
            if cost and commit:
                state[:] = end, prev, curr
            reset = end + window - now if curr else (end - now if prev else 0.0)
            return new(cls, (True, avail - cost, 0.0, reset, policy, None))
        answer = memo
        if answer[3] == need and answer[0] == end and answer[2] == curr and answer[1] == prev:
            target = answer[4]
        else:
            target = first_time(end, prev, curr, need, now)
            memo = (end, prev, curr, need, target)
        retry = target - now
        if now + retry != target:
            retry = wait_until(now, target)
        reset = end + window - now if curr else end - now
        return new(cls, (False, avail if avail > 0.0 else 0, retry, reset, policy, None))

    def fresh() -> list[Any]:
        # A window that ended before any reading: the first one rolls straight to its own.
        return [-_INF, 0, 0]

    step = _stepper(apply, fresh)

    def refund(
        state: list[Any] | None, now: float, cost: int
    ) -> tuple[list[Any] | None, RateLimitDecision]:
        if state is not None:
            end, prev, curr = state
            if now >= end:
                end, prev, curr = roll(end, curr, now)
            back = min(cost, curr)
            curr -= back
            prev -= min(cost - back, prev)
            state[:] = end, prev, curr
        return state, step(state, now, 0, commit=False)[1]

    return Ops(step, apply, refund, fresh)


def gcra_ops(policy: RateLimit) -> Ops:
    """Build the GCRA operations for ``policy``.

    One unit is emitted every ``interval = window / limit`` seconds. The state ``[anchor, units]``
    says ``units`` were admitted since the backlog began at ``anchor``: the theoretical arrival
    time is ``anchor + units * interval``. The units free now are ``burst - units + (now - anchor)
    / interval``, floored; when that reaches ``burst`` the backlog has drained and the key is at
    rest. A hit of ``cost`` is allowed when ``cost`` units are free. (``cost``, ``burst`` and
    ``units`` are whole, so the comparisons need no floor; only ``remaining`` is floored, when
    read.)
    """
    burst = float(policy.capacity)
    interval = policy.window / policy.limit
    per_interval = 1.0 / interval
    new = _new
    cls = RateLimitDecision
    # As for the counter: (anchor, units, need, first instant) for the last refused question.
    memo: tuple[float, float, float, float] = (_NAN, 0.0, 0.0, 0.0)

    def first_time(anchor: float, units: float, need: float, now: float) -> float:
        def admits(at: float) -> bool:  # the step's own arithmetic
            return need <= burst - units + (at - anchor) * per_interval

        return first_admitting(admits, anchor + (units + need - burst) * interval, now)

    def apply(
        state: list[float], now: float, cost: float, commit: bool = True
    ) -> RateLimitDecision:
        nonlocal memo
        anchor, units = state
        elapsed = now - anchor
        free = burst - units + elapsed * per_interval
        if free < burst:  # backlogged
            need = cost or 1
            if need <= free:
                units += cost
                if cost and commit:
                    state[1] = units
                return new(cls, (True, free - cost, 0.0, units * interval - elapsed, policy, None))
            answer = memo
            if answer[2] == need and answer[0] == anchor and answer[1] == units:
                target = answer[3]
            else:
                target = first_time(anchor, units, need, now)
                memo = (anchor, units, need, target)
            retry = target - now
            if now + retry != target:
                retry = wait_until(now, target)
            reset = units * interval - elapsed
            return new(cls, (False, free if free > 0.0 else 0, retry, reset, policy, None))
        if cost and commit:  # at rest: a new backlog starts now
            state[0] = now
            # Units are kept as a float (``+ 0.0``) so the arithmetic above stays float-only,
            # which the interpreter runs faster than int and float mixed.
            state[1] = cost + 0.0
        return new(cls, (True, burst - cost, 0.0, cost * interval, policy, None))

    def fresh() -> list[float]:
        # Anchored infinitely long ago: everything has drained, so the key is at rest.
        return [-_INF, 0.0]

    step = _stepper(apply, fresh)

    def refund(
        state: list[float] | None, now: float, cost: int
    ) -> tuple[list[float] | None, RateLimitDecision]:
        if state is not None:
            anchor, units = state
            free = burst - units + (now - anchor) * per_interval
            if free < burst:
                # Only units still owed go back: whole ones, as ``burst - free`` rounds up.
                state[1] = units - min(cost, burst - (free // 1.0))
        return state, step(state, now, 0, commit=False)[1]

    return Ops(step, apply, refund, fresh)


_FACTORIES: Final[dict[RateLimitStrategy, Callable[[RateLimit], Ops]]] = {
    RateLimitStrategy.EXACT: exact_ops,
    RateLimitStrategy.SLIDING_COUNTER: counter_ops,
    RateLimitStrategy.GCRA: gcra_ops,
}


def _combine(decisions: Sequence[RateLimitDecision]) -> RateLimitDecision:
    """Fold one decision per policy into one: refused if any refused, else the tightest."""
    parts = tuple(decisions)
    refused = [d for d in parts if not d[0]]
    if refused:
        worst = max(refused, key=lambda d: d[2])
        return _new(RateLimitDecision, (False, worst[1], worst[2], worst[3], worst[4], parts))
    tightest = min(parts, key=lambda d: d[1])
    return _new(RateLimitDecision, (True, tightest[1], 0.0, tightest[3], tightest[4], parts))


def composite_ops(policies: Sequence[RateLimit]) -> Ops:
    """Build all-or-nothing operations over several policies; the state is a tuple of states."""
    built = [_FACTORIES[p.strategy](p) for p in policies]
    applies = [b.apply for b in built]
    refunds = [b.refund for b in built]
    makers = [b.fresh for b in built]

    def apply(
        states: tuple[Any, ...], now: float, cost: int, commit: bool = True
    ) -> RateLimitDecision:
        trial = [sub(s, now, cost, commit=False) for sub, s in zip(applies, states, strict=True)]
        if not cost:
            return _combine(trial)
        if not all(d[0] for d in trial):
            # Nothing is consumed: the policies that would have allowed report what they have now.
            shown = [
                d if not d[0] else sub(s, now, 0, commit=False)
                for d, sub, s in zip(trial, applies, states, strict=True)
            ]
            return _combine(shown)
        return _combine([sub(s, now, cost, commit) for sub, s in zip(applies, states, strict=True)])

    def fresh() -> tuple[Any, ...]:
        # The container itself never changes (each policy's state is updated in place), so a
        # tuple: the smallest one.
        return tuple(make() for make in makers)

    step = _stepper(apply, fresh)

    def refund(
        state: tuple[Any, ...] | None, now: float, cost: int
    ) -> tuple[Any, RateLimitDecision]:
        if state is not None:
            for sub, s in zip(refunds, state, strict=True):
                sub(s, now, cost)  # a live state is refunded in place
        return state, step(state, now, 0, commit=False)[1]

    return Ops(step, apply, refund, fresh)


def ops_for(policies: Sequence[RateLimit]) -> Ops:
    """Return the operations enforcing ``policies``: one strategy's own, or all-or-nothing."""
    if len(policies) == 1:
        return _FACTORIES[policies[0].strategy](policies[0])
    return composite_ops(policies)

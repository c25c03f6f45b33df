"""Per-key rate limiting with three strategies, HTTP 429 helpers and hooks.

The decision logic is written once per strategy, as ``apply(state, now, cost, commit=True) ->
decision``: a pure function of a key's state and the clock reading, which updates a live state
in place when it commits units and never for a trial (``commit=False``). Each factory
(``_exact_ops``, ``_counter_ops``, ``_gcra_ops``) also wraps it as the store operation ``op(state
or None, now, cost) -> (new_state, decision)`` that any store runs atomically per key (an unknown
key starts from a *fresh* state that behaves as if nothing had been admitted). :class:`RateLimiter`
only reads the clock, picks the operation and emits events, for sync and asyncio callers alike.

State per key is a short list of numbers, so another store (a Redis Lua script) can run the same
arithmetic:

- ``exact``: a sorted list of expiry times, one per consumed unit (at most about ``2 * limit``).
- ``sliding_counter``: ``[window_end, previous_count, current_count]``.
- ``gcra``: ``[anchor, units]``; the theoretical arrival time is ``anchor + units * interval``.
  Counting whole units from an anchor instead of adding intervals to a float keeps a full burst
  exact: float sums drift, and a drifted sum would refuse the last unit of a burst.

The limiter's hot path is :meth:`MemoryRateLimitStore.hit_function`, which runs ``apply`` on a
known key's state with the clock read and the lock in one frame; measured costs are in
``benchmarks/bench_rate_limit.py``.
"""

from __future__ import annotations

import logging
import math
import sys
import time
from bisect import bisect_right
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import timedelta
from enum import Enum
from typing import TYPE_CHECKING, Any, Final, Literal, NamedTuple

from commerce_kit._duration import to_seconds
from commerce_kit._errors import RateLimitExceeded
from commerce_kit._hooks import emit
from commerce_kit._http_headers import rate_limit_headers
from commerce_kit.resilience._rate_limit_store import MemoryRateLimitStore, Op

if TYPE_CHECKING:
    from commerce_kit._types import Clock
    from commerce_kit.resilience._rate_limit_store import RateLimitStore

__all__ = [
    "LimitExceeded",
    "RateLimit",
    "RateLimitDecision",
    "RateLimitStrategy",
    "RateLimiter",
]

_logger = logging.getLogger("commerce_kit.rate_limit")

#: The default bound on distinct keys held in memory by one limiter.
DEFAULT_MAX_KEYS: Final = 100_000

# ``cost is _ONE`` is the fast path for the common call; any other value, including ``True``, is
# validated in full.
_ONE: Final = 1
# Bound on the float nudges that turn a closed-form retry time into the first admissible reading.
_NUDGES: Final = 64
_INF: Final = math.inf
_NAN: Final = math.nan
_nextafter = math.nextafter


class RateLimitStrategy(str, Enum):
    """The algorithm a :class:`RateLimit` uses; each trades exactness, memory and smoothness.

    .. versionadded:: 0.1.0
    """

    #: A sliding log, exact. Over any interval ``(t - window, t]`` at most ``limit`` units are
    #: admitted, and a hit is never refused while fewer than ``limit`` are in that interval.
    #: ``retry_after`` is exact. Memory and time per key are O(limit).
    EXACT = "exact"
    #: Cloudflare's sliding-window counter, two fixed-window counts with the previous one weighted
    #: by how much of it still overlaps the sliding window. O(1) memory, approximate: never more
    #: than ``limit`` per aligned window, nor more than ``2 * limit - 1`` in any sliding one.
    SLIDING_COUNTER = "sliding_counter"
    #: The generic cell rate algorithm, a smooth rate of one unit per ``window / limit`` seconds
    #: with bursts of up to ``burst`` units. O(1) memory, exact with respect to its own model.
    GCRA = "gcra"


def _positive_int(value: object, name: str) -> int:
    if not isinstance(value, int) or isinstance(value, bool):
        raise TypeError(f"{name} must be an int, got {type(value).__name__}")
    if value < 1:
        raise ValueError(f"{name} must be >= 1, got {value!r}")
    return value


@dataclass(frozen=True, slots=True, init=False)
class RateLimit:
    """One rate-limit policy: at most ``limit`` units per ``window`` seconds, by ``strategy``.

    Args:
        limit: Units allowed per window (an ``int`` >= 1).
        window: The window, as seconds or a :class:`~datetime.timedelta` (> 0).
        name: The policy's name in the ``RateLimit`` headers; printable ASCII.
        strategy: The algorithm, as a :class:`RateLimitStrategy` or its value.
        burst: ``gcra`` only: the most units admitted at once from rest (defaults to ``limit``).

    Raises:
        TypeError: ``limit`` or ``burst`` is not an ``int``, or ``window`` is not a duration.
        ValueError: A value is out of range, the name is empty or not printable ASCII, the
            strategy is unknown, or ``burst`` is given for a strategy other than ``gcra``.

    .. versionadded:: 0.1.0
    """

    limit: int
    window: float
    name: str
    strategy: RateLimitStrategy
    burst: int | None

    def __init__(
        self,
        limit: int,
        window: float | timedelta,
        *,
        name: str = "default",
        strategy: RateLimitStrategy | Literal["exact", "sliding_counter", "gcra"] = (
            RateLimitStrategy.EXACT
        ),
        burst: int | None = None,
    ) -> None:
        limit = _positive_int(limit, "limit")
        seconds = to_seconds(window, name="window")
        try:
            kind = RateLimitStrategy(strategy)
        except ValueError:
            known = ", ".join(repr(s.value) for s in RateLimitStrategy)
            raise ValueError(f"strategy must be one of {known}, got {strategy!r}") from None
        if not isinstance(name, str):
            raise TypeError(f"name must be a str, got {type(name).__name__}")
        if not name or not all(" " <= ch <= "~" for ch in name):
            raise ValueError(f"name must be non-empty printable ASCII, got {name!r}")
        if burst is not None:
            if kind is not RateLimitStrategy.GCRA:
                raise ValueError(f"burst applies to the 'gcra' strategy only, not {kind.value!r}")
            burst = _positive_int(burst, "burst")
        object.__setattr__(self, "limit", limit)
        object.__setattr__(self, "window", seconds)
        object.__setattr__(self, "name", name)
        object.__setattr__(self, "strategy", kind)
        object.__setattr__(self, "burst", burst)

    @property
    def capacity(self) -> int:
        """The largest cost one hit may have, which is ``burst`` for ``gcra`` and else ``limit``."""
        return self.limit if self.burst is None else self.burst

    @property
    def ttl(self) -> float:
        """Seconds after its last change beyond which a key's state no longer matters."""
        if self.strategy is RateLimitStrategy.SLIDING_COUNTER:
            return 2.0 * self.window
        if self.strategy is RateLimitStrategy.GCRA:
            return self.window * max(1.0, self.capacity / self.limit)
        return self.window


class _DecisionType(type):
    """Metaclass of :class:`RateLimitDecision`: gives it a keyword constructor without ``__new__``.

    A ``__new__`` written in Python would put a Python call in front of every decision the
    limiter builds. Here the class keeps ``tuple``'s C constructor, which the hot path reaches
    through :data:`_new_decision`, and callers get the readable signature from this ``__call__``.
    """

    def __call__(
        cls,
        allowed: bool,
        remaining: int,
        retry_after: float,
        reset_after: float,
        policy: RateLimit,
        *,
        parts: tuple[RateLimitDecision, ...] | None = None,
    ) -> Any:
        return type.__call__(cls, (allowed, remaining, retry_after, reset_after, policy, parts))


class RateLimitDecision(
    tuple[bool, int, float, float, RateLimit, "tuple[RateLimitDecision, ...] | None"],
    metaclass=_DecisionType,
):
    """The outcome of one hit, peek or refund: allowed or not, what is left, when to retry.

    Immutable. It is truthy exactly when :attr:`allowed` is true, so ``if limiter.hit(key):``
    reads as expected. (It is a tuple underneath because that is the cheapest immutable object
    CPython can build; treat the tuple form as an implementation detail.)

    Args:
        allowed: Whether the hit was admitted.
        remaining: Units that could still be consumed right now, after this decision.
        retry_after: Seconds until a hit of the same cost would be admitted (``0.0`` if allowed).
        reset_after: Seconds until the full quota is available again, if nothing else is hit.
        policy: The policy the numbers describe (for several policies, the most restrictive).
        parts: For several policies, one decision per policy, in the limiter's order.

    .. versionadded:: 0.1.0
    """

    __slots__ = ()

    if TYPE_CHECKING:
        # What the metaclass's __call__ accepts, spelled where type checkers look for it.
        def __new__(  # noqa: PYI034 - typing.Self is 3.11+, and the core imports only the stdlib
            cls,
            allowed: bool,
            remaining: int,
            retry_after: float,
            reset_after: float,
            policy: RateLimit,
            *,
            parts: tuple[RateLimitDecision, ...] | None = None,
        ) -> RateLimitDecision: ...

    def __getnewargs__(self) -> tuple[tuple[Any, ...]]:
        # Pickle and copy rebuild through tuple.__new__(cls, fields), not the metaclass.
        return (tuple(self),)

    @property
    def allowed(self) -> bool:
        """Whether the hit was admitted, or for a peek whether a hit of cost 1 would be."""
        return self[0]

    @property
    def remaining(self) -> int:
        """Units that could still be consumed right now, after this decision."""
        # The counting strategies carry it as a float; flooring waits until someone asks.
        return int(self[1])

    @property
    def retry_after(self) -> float:
        """Seconds until a hit of the same cost would be admitted; ``0.0`` when allowed."""
        return self[2]

    @property
    def reset_after(self) -> float:
        """Seconds until the full quota is available again, if nothing else is hit."""
        return self[3]

    @property
    def policy(self) -> RateLimit:
        """The policy these numbers describe (the most restrictive one, for several)."""
        return self[4]

    @property
    def limit(self) -> int:
        """The quota of :attr:`policy`: units per window."""
        return self[4].limit

    @property
    def parts(self) -> tuple[RateLimitDecision, ...]:
        """One decision per policy, in the limiter's order (just ``(self,)`` for one policy)."""
        parts = self[5]
        return (self,) if parts is None else parts

    def __bool__(self) -> bool:
        return self[0]

    def __repr__(self) -> str:
        return (
            f"RateLimitDecision(allowed={self[0]!r}, limit={self[4].limit!r}, "
            f"remaining={self[1]!r}, retry_after={self[2]!r}, reset_after={self[3]!r}, "
            f"policy={self[4].name!r})"
        )

    def headers(self, *, legacy: bool = False) -> dict[str, str]:
        """Return the HTTP response headers describing this decision.

        Always ``RateLimit-Policy`` and ``RateLimit`` (IETF httpapi draft, one list member per
        policy); ``Retry-After`` (whole seconds, rounded up) when the hit was refused.

        Args:
            legacy: Also add ``X-RateLimit-Limit``, ``X-RateLimit-Remaining`` and
                ``X-RateLimit-Reset`` (delta-seconds) for the most restrictive policy.

        Returns:
            A new ``dict`` of header names to values.
        """
        return rate_limit_headers(
            [(p[4].name, p[4].limit, p[4].window, p[1], p[3]) for p in self.parts],
            retry_after=None if self[0] else self[2],
            legacy=(self[4].limit, self[1], self[3]) if legacy else None,
        )


@dataclass(frozen=True, slots=True)
class LimitExceeded:
    """Event: a hit was refused. Hooks receive it; it never carries more than the key.

    Attributes:
        key: The key that was refused.
        policy: The policy that refused it (the one with the longest wait, for several).
        cost: The cost of the refused hit.
        retry_after: Seconds until a hit of that cost would be admitted.

    .. versionadded:: 0.1.0
    """

    key: str
    policy: RateLimit
    cost: int
    retry_after: float


# -- pure operations -------------------------------------------------------------------------------

#: Builds a decision from its six fields in one C call: ``tuple``'s own constructor, reached
#: without the metaclass's Python ``__call__``. Every operation below builds decisions with it.
_new_decision: Callable[[tuple[Any, ...]], RateLimitDecision] = type.__call__.__get__(
    RateLimitDecision
)
#: A store operation with an optional trial flag: ``step(state or None, now, cost, commit=True)
#: -> (new_state, decision)``.
Step = Callable[..., "tuple[Any, RateLimitDecision]"]
#: The same decision on a live (never ``None``) state, which it updates in place when it commits:
#: ``apply(state, now, cost, commit=True) -> decision``.
Apply = Callable[..., RateLimitDecision]


class _Ops(NamedTuple):
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


def _delay(now: float, target: float) -> float:
    """Return the shortest delay ``r`` whose reading ``now + r`` is at or after ``target``.

    ``target - now`` is exact when ``target <= 2 * now``, and callers check that first. Further
    out it may round down, and a step or two up finds the delay; when rounding makes ``target``
    itself unreachable by ``now + r`` (a tie), the reading just after it is the answer. (Each step
    moves ``r`` by at least an ulp of ``now`` there, as ``r > now``, so the loop is short.)
    """
    r = target - now
    while now + r < target:
        r = _nextafter(r, _INF)
    return r


def _first_admitting(admits: Callable[[float], bool], guess: float, now: float) -> float:
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


def _exact_ops(policy: RateLimit) -> _Ops:
    """Build the sliding-log operations for ``policy``.

    A hit of ``cost`` counts as ``cost`` unit hits at the same instant, admitted all or none: it
    is allowed when the units still in ``(now - window, now]`` plus ``cost`` fit in ``limit``.
    """
    limit = policy.limit
    window = policy.window
    new = _new_decision

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
                return new((True, left - cost, 0.0, expiry - now, policy, None))
            reset = log[-1] - now if live else 0.0
            return new((True, left, 0.0, reset, policy, None))
        # Refused: wait until enough of the oldest live units have left the window.
        target = log[first + need - left - 1]
        retry = target - now
        if now + retry != target:
            retry = _delay(now, target)
        return new((False, left, retry, log[-1] - now, policy, None))

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

    return _Ops(step, apply, refund, list)


def _counter_ops(policy: RateLimit) -> _Ops:
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
    new = _new_decision
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
        return _first_admitting(admits, guess, now)

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
            return new((True, avail - cost, 0.0, reset, policy, None))
        answer = memo
        if answer[3] == need and answer[0] == end and answer[2] == curr and answer[1] == prev:
            target = answer[4]
        else:
            target = first_time(end, prev, curr, need, now)
            memo = (end, prev, curr, need, target)
        retry = target - now
        if now + retry != target:
            retry = _delay(now, target)
        reset = end + window - now if curr else end - now
        return new((False, avail if avail > 0.0 else 0, retry, reset, policy, None))

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

    return _Ops(step, apply, refund, fresh)


def _gcra_ops(policy: RateLimit) -> _Ops:
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
    new = _new_decision
    # As for the counter: (anchor, units, need, first instant) for the last refused question.
    memo: tuple[float, float, float, float] = (_NAN, 0.0, 0.0, 0.0)

    def first_time(anchor: float, units: float, need: float, now: float) -> float:
        def admits(at: float) -> bool:  # the step's own arithmetic
            return need <= burst - units + (at - anchor) * per_interval

        return _first_admitting(admits, anchor + (units + need - burst) * interval, now)

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
                return new((True, free - cost, 0.0, units * interval - elapsed, policy, None))
            answer = memo
            if answer[2] == need and answer[0] == anchor and answer[1] == units:
                target = answer[3]
            else:
                target = first_time(anchor, units, need, now)
                memo = (anchor, units, need, target)
            retry = target - now
            if now + retry != target:
                retry = _delay(now, target)
            reset = units * interval - elapsed
            return new((False, free if free > 0.0 else 0, retry, reset, policy, None))
        if cost and commit:  # at rest: a new backlog starts now
            state[0] = now
            # Units are kept as a float (``+ 0.0``) so the arithmetic above stays float-only,
            # which the interpreter runs faster than int and float mixed.
            state[1] = cost + 0.0
        return new((True, burst - cost, 0.0, cost * interval, policy, None))

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

    return _Ops(step, apply, refund, fresh)


_FACTORIES: Final[dict[RateLimitStrategy, Callable[[RateLimit], _Ops]]] = {
    RateLimitStrategy.EXACT: _exact_ops,
    RateLimitStrategy.SLIDING_COUNTER: _counter_ops,
    RateLimitStrategy.GCRA: _gcra_ops,
}


def _combine(decisions: Sequence[RateLimitDecision]) -> RateLimitDecision:
    """Fold one decision per policy into one: refused if any refused, else the tightest."""
    parts = tuple(decisions)
    refused = [d for d in parts if not d[0]]
    if refused:
        worst = max(refused, key=lambda d: d[2])
        return _new_decision((False, worst[1], worst[2], worst[3], worst[4], parts))
    tightest = min(parts, key=lambda d: d[1])
    return _new_decision((True, tightest[1], 0.0, tightest[3], tightest[4], parts))


def _composite_ops(policies: Sequence[RateLimit]) -> _Ops:
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

    return _Ops(step, apply, refund, fresh)


# -- the limiter -----------------------------------------------------------------------------------


class RateLimiter:
    """Limit how often each key (a user, an API key, an IP) may do something.

    ``hit(key)`` consumes one unit and returns a :class:`RateLimitDecision`: whether it was
    allowed, what remains, when to retry, and the HTTP headers to send. Denied hits consume
    nothing. One limiter serves threads and asyncio tasks alike (``ahit`` and friends never block
    the event loop with the in-memory store).

    Args:
        limit: Units allowed per window (an ``int`` >= 1).
        window: The window, as seconds or a :class:`~datetime.timedelta`.
        strategy: ``"exact"`` (default, a sliding log), ``"sliding_counter"`` or ``"gcra"``; see
            :class:`RateLimitStrategy`.
        name: The policy name shown in the ``RateLimit`` headers.
        burst: ``gcra`` only: the most units admitted at once from rest (default ``limit``).
        clock: Monotonic seconds; read once per call. Use
            :class:`~commerce_kit.testing.ManualClock` in tests.
        hooks: Callables receiving a :class:`LimitExceeded` event for every refused hit. A hook
            that raises is logged on ``commerce_kit.rate_limit`` and otherwise ignored.
        store: Where per-key state lives (a :class:`~commerce_kit.typing.RateLimitStore`);
            default: in process memory, bounded by ``max_keys``.
        max_keys: For the default store, the most keys held at once. When more distinct keys
            arrive, the least recently used are forgotten: their budget starts afresh (fails
            open). Ignored when ``store`` is given.

    Raises:
        TypeError: An argument has the wrong type.
        ValueError: An argument is out of range.

    Example:
        >>> from commerce_kit import RateLimiter
        >>> from commerce_kit.testing import ManualClock
        >>> limiter = RateLimiter(limit=2, window=60.0, clock=ManualClock())
        >>> [limiter.hit("user:42").allowed for _ in range(3)]
        [True, True, False]

    .. versionadded:: 0.1.0
    """

    _clock: Clock
    _hit: Op
    _hooks: tuple[Callable[[LimitExceeded], None], ...]
    _peek: Op
    _policies: tuple[RateLimit, ...]
    _refund: Op
    _store: RateLimitStore
    _update: Callable[[str, Op, float, int], RateLimitDecision]

    def __init__(
        self,
        limit: int,
        window: float | timedelta,
        *,
        strategy: RateLimitStrategy | Literal["exact", "sliding_counter", "gcra"] = (
            RateLimitStrategy.EXACT
        ),
        name: str = "default",
        burst: int | None = None,
        clock: Clock = time.monotonic,
        hooks: Iterable[Callable[[LimitExceeded], None]] = (),
        store: RateLimitStore | None = None,
        max_keys: int = DEFAULT_MAX_KEYS,
    ) -> None:
        policy = RateLimit(limit, window, name=name, strategy=strategy, burst=burst)
        self._setup((policy,), clock, hooks, store, max_keys)

    @classmethod
    def multi(
        cls,
        *policies: RateLimit,
        clock: Clock = time.monotonic,
        hooks: Iterable[Callable[[LimitExceeded], None]] = (),
        store: RateLimitStore | None = None,
        max_keys: int = DEFAULT_MAX_KEYS,
    ) -> RateLimiter:
        """Build a limiter that enforces several policies on every key at once.

        A hit is allowed only if every policy allows it, and a refused hit consumes nothing from
        any policy. The decision reports the most restrictive policy (the longest wait when
        refused, the fewest units left when allowed) and lists every policy in its headers.

        Args:
            *policies: The policies, such as ``RateLimit(5, 60, name="minute")`` and
                ``RateLimit(100, 86400, name="day")``; names must differ.
            clock: As for :class:`RateLimiter`.
            hooks: As for :class:`RateLimiter`.
            store: As for :class:`RateLimiter`.
            max_keys: As for :class:`RateLimiter`.

        Returns:
            A new limiter.

        Raises:
            TypeError: A policy is not a :class:`RateLimit`.
            ValueError: No policy is given, or two share a name.

        .. versionadded:: 0.1.0
        """
        if not policies:
            raise ValueError("multi() needs at least one RateLimit")
        for policy in policies:
            if not isinstance(policy, RateLimit):
                raise TypeError(f"policies must be RateLimit objects, got {type(policy).__name__}")
        names = [p.name for p in policies]
        if len(set(names)) != len(names):
            raise ValueError(f"policy names must differ, got {names!r}")
        self = cls.__new__(cls)
        self._setup(policies, clock, hooks, store, max_keys)
        return self

    def _setup(
        self,
        policies: tuple[RateLimit, ...],
        clock: Clock,
        hooks: Iterable[Callable[[LimitExceeded], None]],
        store: RateLimitStore | None,
        max_keys: int,
    ) -> None:
        if not callable(clock):
            raise TypeError(f"clock must be callable, got {type(clock).__name__}")
        self._hooks = tuple(hooks)
        for hook in self._hooks:
            if not callable(hook):
                raise TypeError(f"hooks must be callables, got {type(hook).__name__}")
        if store is None:
            # A window near the float maximum makes ttl overflow; the largest float keeps such
            # keys until capacity drops them, which is what an unbounded ttl means.
            ttl = min(max(p.ttl for p in policies), sys.float_info.max)
            store = MemoryRateLimitStore(ttl=ttl, max_keys=max_keys)
        ops = (
            _FACTORIES[policies[0].strategy](policies[0])
            if len(policies) == 1
            else _composite_ops(policies)
        )
        step = ops.step

        def peek(state: Any, now: float, _cost: int) -> tuple[Any, RateLimitDecision]:
            return step(state, now, 0, commit=False)

        self._hit = step
        self._peek = peek
        self._refund = ops.refund
        self._policies = policies
        self._clock = clock
        self._store = store
        self._update = store.update
        if isinstance(store, MemoryRateLimitStore):
            # The in-memory store fuses the clock read, the lock and the decision into one frame
            # around ``apply``; the instance attribute shadows the generic method below, which
            # any other store goes through.
            gcra = len(policies) == 1 and policies[0].strategy is RateLimitStrategy.GCRA
            fast = store.hit_function(
                step,
                ops.apply,
                clock=clock,
                check_cost=self._check_cost,
                on_refused=self._emit if self._hooks else None,
                unit=1.0 if gcra else 1,
            )
            fast.__doc__ = RateLimiter.hit.__doc__
            fast.__qualname__ = RateLimiter.hit.__qualname__
            object.__setattr__(self, "hit", fast)

    @property
    def policies(self) -> tuple[RateLimit, ...]:
        """The policies this limiter enforces, in order."""
        return self._policies

    @property
    def store(self) -> RateLimitStore:
        """The store holding per-key state."""
        return self._store

    def __repr__(self) -> str:
        inner = ", ".join(
            f"{p.name}={p.limit}/{p.window:g}s {p.strategy.value}" for p in self._policies
        )
        return f"<RateLimiter {inner}>"

    # -- the business calls ----------------------------------------------------------------------

    def hit(self, key: str, cost: int = 1) -> RateLimitDecision:
        """Consume ``cost`` units for ``key`` if the limit allows it, all or nothing.

        Args:
            key: Who is limited, such as ``"user:42"``; a ``str``.
            cost: Units to consume (an ``int`` from 1 to the policy's capacity).

        Returns:
            The decision. A refused hit consumes nothing.

        Raises:
            TypeError: ``key`` is not a ``str`` or ``cost`` not an ``int``.
            ValueError: ``cost`` is below 1 or above what the limit could ever admit.
        """
        if cost is not _ONE:
            self._check_cost(cost)
        decision = self._update(key, self._hit, self._clock(), cost)
        if not decision[0] and self._hooks:
            self._emit(key, cost, decision)
        return decision

    async def ahit(self, key: str, cost: int = 1) -> RateLimitDecision:
        """Async face of :meth:`hit`: the same decision, without blocking the event loop."""
        if cost is not _ONE:
            self._check_cost(cost)
        decision = await self._store.aupdate(key, self._hit, self._clock(), cost)
        if not decision[0] and self._hooks:
            self._emit(key, cost, decision)
        return decision

    def check(self, key: str, cost: int = 1) -> RateLimitDecision:
        """Like :meth:`hit`, but raise when the hit is refused.

        Args:
            key: As for :meth:`hit`.
            cost: As for :meth:`hit`.

        Returns:
            The decision, which is always allowed.

        Raises:
            RateLimitExceeded: The hit was refused; ``retry_after`` says for how long.
            TypeError: As for :meth:`hit`.
            ValueError: As for :meth:`hit`.
        """
        decision = self.hit(key, cost)
        if not decision[0]:
            raise _exceeded(decision)
        return decision

    async def acheck(self, key: str, cost: int = 1) -> RateLimitDecision:
        """Async face of :meth:`check`."""
        decision = await self.ahit(key, cost)
        if not decision[0]:
            raise _exceeded(decision)
        return decision

    def peek(self, key: str) -> RateLimitDecision:
        """Report ``key``'s state without consuming anything.

        Args:
            key: As for :meth:`hit`.

        Returns:
            A decision whose ``allowed`` and ``retry_after`` are for a hit of cost 1, and whose
            ``remaining`` is what could be consumed right now.
        """
        return self._update(key, self._peek, self._clock(), 0)

    async def apeek(self, key: str) -> RateLimitDecision:
        """Async face of :meth:`peek`."""
        return await self._store.aupdate(key, self._peek, self._clock(), 0)

    def refund(self, key: str, cost: int = 1) -> RateLimitDecision:
        """Give back up to ``cost`` units that ``key`` consumed, for work that never happened.

        The newest units go back first and only units that still count are returned, so a
        refund never leaves more than the full quota: ``exact`` removes the newest entries still
        in the window; ``sliding_counter`` takes from the current window's count, then the
        previous one's; ``gcra`` moves the theoretical arrival time back, but not before now.

        Args:
            key: As for :meth:`hit`.
            cost: Units to give back (an ``int`` >= 1).

        Returns:
            The state after the refund, as :meth:`peek` reports it.

        Raises:
            TypeError: ``key`` is not a ``str`` or ``cost`` not an ``int``.
            ValueError: ``cost`` is below 1.
        """
        _positive_int(cost, "cost")
        return self._update(key, self._refund, self._clock(), cost)

    async def arefund(self, key: str, cost: int = 1) -> RateLimitDecision:
        """Async face of :meth:`refund`."""
        _positive_int(cost, "cost")
        return await self._store.aupdate(key, self._refund, self._clock(), cost)

    def reset(self, key: str) -> None:
        """Forget everything about ``key``, so its full quota is available again.

        Args:
            key: As for :meth:`hit`.
        """
        self._store.delete(key)

    async def areset(self, key: str) -> None:
        """Async face of :meth:`reset`."""
        await self._store.adelete(key)

    # -- helpers ---------------------------------------------------------------------------------

    def _check_cost(self, cost: int) -> None:
        _positive_int(cost, "cost")
        capacity = min(p.capacity for p in self._policies)
        if cost > capacity:
            raise ValueError(f"cost must be <= {capacity} (it could never be admitted), got {cost}")

    def _emit(self, key: str, cost: int, decision: RateLimitDecision) -> None:
        event = LimitExceeded(key=key, policy=decision[4], cost=cost, retry_after=decision[2])
        emit(self._hooks, event, _logger)


def _exceeded(decision: RateLimitDecision) -> RateLimitExceeded:
    policy = decision[4]
    return RateLimitExceeded(
        f"rate limit {policy.name!r} ({policy.limit} per {policy.window:g} s) exceeded; "
        f"retry in {decision[2]:.3f} s",
        retry_after=decision[2],
    )

"""RateLimiter.hit against limits and pyrate-limiter, with hand-written floors, per strategy.

Every case in a group does the same job on the same keys:

- *allowed, 1 key*: a hit on one key under a limit so high (10**9 per hour) that every hit passes.
- *allowed, 100k keys*: the same, round-robin over 100,000 pre-made keys, each already hit once
  during setup, so the timed hits find existing state scattered through memory. commerce_kit
  runs with ``maxsize=250_000`` here: the default (100,000) would make it forget keys it is
  still using, which is a different job.
- *denied, 1 key*: a hit on a key that has spent its 5 per hour; every timed hit is refused.

Peers per strategy are those of the same family: for ``exact`` the sliding logs (limits'
MovingWindowRateLimiter, pyrate-limiter's InMemoryBucket); for ``sliding_counter`` limits'
SlidingWindowCounterRateLimiter and FixedWindowRateLimiter; for ``gcra`` pyrate-limiter's GCRA
StateBucket and limits' FixedWindowRateLimiter (limits has no GCRA; fixed window is its O(1)
strategy). limits runs over ``limits.storage.MemoryStorage``; pyrate-limiter (v4) over a
per-key bucket factory, called with ``blocking=False``. The floors are a dict, a few float
operations and a lock per strategy, with a bare ``bool`` result (see below for why the lock).

The memory groups report bytes per key for 20,000 keys, each hit once (tracemalloc); the key
strings are made before measuring, so what counts is what each implementation adds per key.
"""

from __future__ import annotations

import functools
import gc
import itertools
import statistics
import threading
import time
from collections import deque
from collections.abc import Callable
from typing import Any

import limits
import limits.storage
import limits.strategies
import pyrate_limiter
from pyrate_limiter import (
    GCRA,
    BucketFactory,
    Duration,
    InMemoryBucket,
    Limiter,
    MonotonicClock,
    Rate,
    RateItem,
    StateBucket,
)

from benchmarks._harness import Case, Kind, MemoryCase, _time_sync
from commerce_kit import RateLimiter

HIGH = 10**9  # per hour: never refused within a benchmark run
LOW = 5  # per hour: refused after 5
HOUR = 3600.0
ONE_KEY = "user:42"
MANY = 100_000
KEYS = [f"user:{i}" for i in range(MANY)]

Hit = Callable[[str], object]

# -- commerce_kit -------------------------------------------------------------------------------


def _ours(strategy: str, limit: int) -> Hit:
    return RateLimiter(limit, HOUR, strategy=strategy, maxsize=250_000).hit  # type: ignore[arg-type]


# -- limits -------------------------------------------------------------------------------------

_LIMITS: dict[str, Callable[[limits.storage.MemoryStorage], limits.strategies.RateLimiter]] = {
    "moving": limits.strategies.MovingWindowRateLimiter,
    "sliding": limits.strategies.SlidingWindowCounterRateLimiter,
    "fixed": limits.strategies.FixedWindowRateLimiter,
}


def _limits(kind: str, limit: int) -> Hit:
    limiter = _LIMITS[kind](limits.storage.MemoryStorage())
    item = limits.parse(f"{limit}/hour")
    return functools.partial(limiter.hit, item)


# -- pyrate-limiter -------------------------------------------------------------------------------


class _PerKey(BucketFactory):
    """One bucket per key, made on first use; no background leaker (nothing expires here)."""

    def __init__(self, make: Callable[[], pyrate_limiter.AbstractBucket]) -> None:
        self._make = make
        self._buckets: dict[str, pyrate_limiter.AbstractBucket] = {}
        self._clock = MonotonicClock()

    def wrap_item(self, name: str, weight: int = 1) -> RateItem:
        return RateItem(name, self._clock.now(), weight=weight)

    def get(self, item: RateItem) -> pyrate_limiter.AbstractBucket:
        bucket = self._buckets.get(item.name)
        if bucket is None:
            bucket = self._buckets[item.name] = self._make()
        return bucket


def _pyrate(kind: str, limit: int) -> Hit:
    rates = [Rate(limit, Duration.HOUR)]
    if kind == "log":
        factory = _PerKey(lambda: InMemoryBucket(rates))
    else:
        factory = _PerKey(lambda: StateBucket(rates, algorithm=GCRA()))
    limiter = Limiter(factory)
    return functools.partial(_pyrate_hit, limiter.try_acquire)


def _pyrate_hit(acquire: Callable[..., Any], key: str) -> object:
    return acquire(key, blocking=False)


# -- the floors ----------------------------------------------------------------------------------
#
# The least code that does each job correctly: one dict, a few float operations, and a lock,
# since RateLimiter is thread-safe and a limiter that is not admits more than its limit when
# threads race (read, decide, write back is not atomic even under the GIL). They return a bare
# ``bool`` where ours returns a decision with remaining, retry and reset times.
#
# The ``_unlocked_*`` versions below them are the same code without the lock: not a correct
# floor for this job, kept only so the interleaved check (``python -m benchmarks.bench_rate_limit``)
# can report how much the lock alone costs.


def _floor_log(limit: int) -> Hit:
    logs: dict[str, deque[float]] = {}
    clock = time.monotonic
    lock = threading.Lock()
    acquire = lock.acquire
    release = lock.release

    def hit(key: str) -> bool:
        now = clock()
        acquire()
        try:
            log = logs.get(key)
            if log is None:
                log = logs[key] = deque()
            while log and log[0] <= now:
                log.popleft()
            if len(log) >= limit:
                return False
            log.append(now + HOUR)
            return True
        finally:
            release()

    return hit


def _floor_counter(limit: int) -> Hit:
    windows: dict[str, tuple[float, int, int]] = {}
    clock = time.monotonic
    lock = threading.Lock()
    acquire = lock.acquire
    release = lock.release

    def hit(key: str) -> bool:
        now = clock()
        index = now // HOUR
        acquire()
        try:
            state = windows.get(key)
            if state is None or state[0] != index:
                prev = state[2] if state is not None and state[0] == index - 1 else 0
                state = (index, prev, 0)
            if state[1] * ((index + 1) * HOUR - now) / HOUR + state[2] + 1 > limit:
                return False
            windows[key] = (index, state[1], state[2] + 1)
            return True
        finally:
            release()

    return hit


def _floor_gcra(limit: int) -> Hit:
    arrivals: dict[str, float] = {}
    interval = HOUR / limit
    tolerance = HOUR - interval
    clock = time.monotonic
    lock = threading.Lock()
    acquire = lock.acquire
    release = lock.release

    def hit(key: str) -> bool:
        now = clock()
        acquire()
        try:
            tat = arrivals.get(key, now)
            if tat < now:  # noqa: PLR1730 - a comparison is cheaper than calling max()
                tat = now
            if tat - now > tolerance:
                return False
            arrivals[key] = tat + interval
            return True
        finally:
            release()

    return hit


def _unlocked_log(limit: int) -> Hit:
    logs: dict[str, deque[float]] = {}
    clock = time.monotonic

    def hit(key: str) -> bool:
        now = clock()
        log = logs.get(key)
        if log is None:
            log = logs[key] = deque()
        while log and log[0] <= now:
            log.popleft()
        if len(log) >= limit:
            return False
        log.append(now + HOUR)
        return True

    return hit


def _unlocked_counter(limit: int) -> Hit:
    windows: dict[str, tuple[float, int, int]] = {}
    clock = time.monotonic

    def hit(key: str) -> bool:
        now = clock()
        index = now // HOUR
        state = windows.get(key)
        if state is None or state[0] != index:
            prev = state[2] if state is not None and state[0] == index - 1 else 0
            state = (index, prev, 0)
        if state[1] * ((index + 1) * HOUR - now) / HOUR + state[2] + 1 > limit:
            return False
        windows[key] = (index, state[1], state[2] + 1)
        return True

    return hit


def _unlocked_gcra(limit: int) -> Hit:
    arrivals: dict[str, float] = {}
    interval = HOUR / limit
    tolerance = HOUR - interval
    clock = time.monotonic

    def hit(key: str) -> bool:
        now = clock()
        tat = arrivals.get(key, now)
        if tat < now:  # noqa: PLR1730 - a comparison is cheaper than calling max()
            tat = now
        if tat - now > tolerance:
            return False
        arrivals[key] = tat + interval
        return True

    return hit


# -- the cases -------------------------------------------------------------------------------------

Impl = tuple[str, Kind, Callable[[int], Hit]]

_IMPLS: dict[str, list[Impl]] = {
    "exact": [
        ("commerce_kit RateLimiter(strategy='exact')", "ours", lambda n: _ours("exact", n)),
        ("limits MovingWindowRateLimiter", "peer", lambda n: _limits("moving", n)),
        ("pyrate-limiter InMemoryBucket", "peer", lambda n: _pyrate("log", n)),
        ("hand-written sliding log + lock", "floor", _floor_log),
    ],
    "sliding_counter": [
        (
            "commerce_kit RateLimiter(strategy='sliding_counter')",
            "ours",
            lambda n: _ours("sliding_counter", n),
        ),
        ("limits SlidingWindowCounterRateLimiter", "peer", lambda n: _limits("sliding", n)),
        ("limits FixedWindowRateLimiter", "peer", lambda n: _limits("fixed", n)),
        ("hand-written sliding-window counter + lock", "floor", _floor_counter),
    ],
    "gcra": [
        ("commerce_kit RateLimiter(strategy='gcra')", "ours", lambda n: _ours("gcra", n)),
        ("pyrate-limiter StateBucket(GCRA)", "peer", lambda n: _pyrate("gcra", n)),
        ("limits FixedWindowRateLimiter", "peer", lambda n: _limits("fixed", n)),
        ("hand-written GCRA + lock", "floor", _floor_gcra),
    ],
}


# Both allowed groups time ``map(hit, keys).__next__``: the same C-level call per operation,
# whether ``keys`` repeats one key or cycles through 100,000, so the two differ only by the keys.


def _allowed_one(make: Callable[[int], Hit]) -> Callable[[], Callable[[], object]]:
    def setup() -> Callable[[], object]:
        return map(make(HIGH), itertools.repeat(ONE_KEY)).__next__

    return setup


def _allowed_many(make: Callable[[int], Hit]) -> Callable[[], Callable[[], object]]:
    def setup() -> Callable[[], object]:
        hit = make(HIGH)
        for key in KEYS:
            hit(key)
        return map(hit, itertools.cycle(KEYS)).__next__

    return setup


def _denied_one(make: Callable[[int], Hit]) -> Callable[[], Callable[[], object]]:
    def setup() -> Callable[[], object]:
        hit = make(LOW)
        for _ in range(LOW):
            hit(ONE_KEY)
        if hit(ONE_KEY):
            raise AssertionError("the key should be exhausted")
        return map(hit, itertools.repeat(ONE_KEY)).__next__

    return setup


def _fill(make: Callable[[int], Hit]) -> Callable[[int], object]:
    def fill(n: int) -> object:
        hit = make(HIGH)
        for key in KEYS[:n]:
            hit(key)
        return hit

    return fill


_HIT = "RateLimiter.hit"


def cases() -> list[Case | MemoryCase]:
    out: list[Case | MemoryCase] = []
    for strategy, impls in _IMPLS.items():
        for impl, kind, make in impls:
            out.append(Case(f"{_HIT} allowed, 1 key [{strategy}]", impl, kind, _allowed_one(make)))
        for impl, kind, make in impls:
            out.append(
                Case(
                    f"{_HIT} allowed, 100k keys [{strategy}]",
                    impl,
                    kind,
                    _allowed_many(make),
                    number=MANY,
                )
            )
        for impl, kind, make in impls:
            out.append(Case(f"{_HIT} denied, 1 key [{strategy}]", impl, kind, _denied_one(make)))
        for impl, kind, make in impls:
            out.append(
                MemoryCase(f"RateLimiter bytes per key [{strategy}]", impl, kind, _fill(make))
            )
    return out


# -- the interleaved check -------------------------------------------------------------------------


def interleaved(rounds: int = 15) -> None:
    """Print ours against both floors, timed in turn round after round, with per-round ratios.

    On a busy machine the harness's medians drift between cases timed seconds apart; timing the
    three cases of a row back to back in every round keeps their ratios comparable.
    """
    floors = {
        "exact": (_floor_log, _unlocked_log),
        "sliding_counter": (_floor_counter, _unlocked_counter),
        "gcra": (_floor_gcra, _unlocked_gcra),
    }
    jobs = {"allowed, 1 key": _allowed_one, "denied, 1 key": _denied_one}
    print("row | ours ns | floor+lock ns | unlocked ns | ours/floor+lock | ours/unlocked")
    for strategy, (locked, unlocked) in floors.items():
        for job, wrap in jobs.items():
            setups = [wrap(functools.partial(_ours, strategy)), wrap(locked), wrap(unlocked)]
            times: list[list[float]] = [[], [], []]
            for _ in range(rounds):
                for setup, samples in zip(setups, times, strict=True):
                    op = setup()
                    gc.collect()
                    gc.disable()
                    try:
                        samples.append(_time_sync(op, 20_000))
                    finally:
                        gc.enable()
            ours, floor, bare = times
            by_floor = statistics.median(a / b for a, b in zip(ours, floor, strict=True))
            by_bare = statistics.median(a / b for a, b in zip(ours, bare, strict=True))
            print(
                f"{job} [{strategy}] | {statistics.median(ours):.0f} | "
                f"{statistics.median(floor):.0f} | {statistics.median(bare):.0f} | "
                f"{by_floor:.2f}x | {by_bare:.2f}x"
            )


if __name__ == "__main__":
    interleaved()

"""TTLCache's dictionary face checked against a tiny, obviously correct reference model."""

from __future__ import annotations

from collections.abc import Callable, Hashable
from concurrent.futures import Executor, Future
from dataclasses import dataclass, field
from typing import Any, ParamSpec, TypeVar

from hypothesis import event, given, settings, target
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, rule

from commerce_kit import TTLCache
from commerce_kit.resilience import EntryEvicted, EvictionReason
from commerce_kit.testing import ManualClock
from commerce_kit.typing import CacheEvent

P = ParamSpec("P")
T = TypeVar("T")

KEYS = st.sampled_from("abcdef")
VALUES = st.integers(0, 9)
TTLS = st.none() | st.sampled_from([0.5, 1.0, 3.0, 10.0])
STEPS = st.sampled_from([0.0, 0.25, 0.5, 1.0, 2.5, 5.0, 11.0])


class RunNow(Executor):
    """Runs a background refresh inside ``submit``, so the model can tell when it happens."""

    def submit(self, fn: Callable[P, T], /, *args: P.args, **kwargs: P.kwargs) -> Future[T]:
        future: Future[T] = Future()
        future.set_result(fn(*args, **kwargs))
        return future


@dataclass
class Model:
    """A dict of ``key -> (value, fresh_until, dead_at)`` plus a list in LRU order."""

    ttl: float
    maxsize: int
    stale_ttl: float
    entries: dict[str, tuple[int, float, float]] = field(default_factory=dict)
    order: list[str] = field(default_factory=list)
    #: The evictions a hook would have been told of, in order.
    evicted: list[tuple[str, EvictionReason]] = field(default_factory=list)
    hits: int = 0
    misses: int = 0
    stale_hits: int = 0
    loads: int = 0
    evictions: int = 0
    expirations: int = 0

    def _remove(self, key: str) -> tuple[int, float, float]:
        self.order.remove(key)
        return self.entries.pop(key)

    def _touch(self, key: str) -> None:
        self.order.remove(key)
        self.order.append(key)

    def _drop_dead(self, key: str) -> None:
        self._remove(key)
        self.expirations += 1
        self.evicted.append((key, EvictionReason.EXPIRED))

    def get(self, key: str, now: float) -> int | None:
        entry = self.entries.get(key)
        if entry is not None and now < entry[1]:
            self._touch(key)
            self.hits += 1
            return entry[0]
        if entry is not None and now >= entry[2]:
            self._drop_dead(key)
        self.misses += 1
        return None

    def get_or_load(self, key: str, value: int, now: float) -> int:
        """A loading read whose loader returns ``value``; a stale entry is refreshed at once."""
        entry = self.entries.get(key)
        if entry is not None and now < entry[1]:
            self._touch(key)
            self.hits += 1
            return entry[0]
        if entry is not None and now < entry[2]:
            self._touch(key)
            self.hits += 1
            self.stale_hits += 1
            self.loads += 1
            self.set(key, value, None, now)
            return entry[0]
        if entry is not None:
            self._drop_dead(key)
        self.misses += 1
        self.loads += 1
        self.set(key, value, None, now)
        return value

    def set(self, key: str, value: int, ttl: float | None, now: float) -> None:
        fresh_until = now + (self.ttl if ttl is None else ttl)
        dead_at = fresh_until + self.stale_ttl if self.stale_ttl else fresh_until
        if key in self.entries:
            self.order.remove(key)
        self.entries[key] = (value, fresh_until, dead_at)
        self.order.append(key)
        while len(self.order) > self.maxsize:
            oldest = self.order[0]
            _, _, dead = self._remove(oldest)
            if now >= dead:
                self.expirations += 1
                self.evicted.append((oldest, EvictionReason.EXPIRED))
            else:
                self.evictions += 1
                self.evicted.append((oldest, EvictionReason.SIZE))

    def delete(self, key: str, now: float) -> bool:
        if key not in self.entries:
            return False
        return now < self._remove(key)[1]

    def is_stale(self, key: str, now: float) -> bool:
        entry = self.entries.get(key)
        return entry is not None and entry[1] <= now < entry[2]

    def contains(self, key: str, now: float) -> bool:
        entry = self.entries.get(key)
        return entry is not None and now < entry[1]

    def length(self, now: float) -> int:
        return sum(now < fresh for _, fresh, _ in self.entries.values())

    def expire(self, now: float) -> int:
        dead = [key for key in self.order if now >= self.entries[key][2]]
        for key in dead:
            self._drop_dead(key)
        return len(dead)

    def stats(self) -> tuple[int, ...]:
        return (
            self.hits,
            self.misses,
            self.stale_hits,
            self.loads,
            self.evictions,
            self.expirations,
        )


def _stats(cache: TTLCache[str, int]) -> tuple[int, ...]:
    s = cache.stats
    return (s.hits, s.misses, s.stale_hits, s.loads, s.evictions, s.expirations)


def _evicted(events: list[CacheEvent]) -> list[tuple[Hashable, EvictionReason]]:
    return [(e.key, e.reason) for e in events if isinstance(e, EntryEvicted)]


def _new_cache(
    ttl: float, maxsize: int, stale_ttl: float, clock: ManualClock
) -> tuple[TTLCache[str, int], list[CacheEvent]]:
    events: list[CacheEvent] = []
    cache: TTLCache[str, int] = TTLCache(
        ttl=ttl,
        maxsize=maxsize,
        stale_ttl=stale_ttl,
        clock=clock,
        executor=RunNow(),
        hooks=[events.append],
    )
    return cache, events


OPERATIONS = st.lists(
    st.one_of(
        st.tuples(st.just("set"), KEYS, VALUES, TTLS),
        st.tuples(st.just("get"), KEYS),
        st.tuples(st.just("get_or_load"), KEYS, VALUES),
        st.tuples(st.just("delete"), KEYS),
        st.tuples(st.just("contains"), KEYS),
        st.tuples(st.just("advance"), STEPS),
        st.tuples(st.just("len")),
        st.tuples(st.just("expire")),
    ),
    min_size=20,  # long enough histories for a read to meet a stale entry
    max_size=60,
)


@settings(max_examples=150)
@given(
    maxsize=st.integers(1, 4),
    ttl=st.sampled_from([1.0, 2.0, 5.0]),
    stale_ttl=st.sampled_from([0.0, 3.0]),
    operations=OPERATIONS,
)
def test_every_operation_answers_like_the_reference_model(
    maxsize: int, ttl: float, stale_ttl: float, operations: list[tuple[Any, ...]]
) -> None:
    clock = ManualClock()
    cache, events = _new_cache(ttl, maxsize, stale_ttl, clock)
    model = Model(ttl, maxsize, stale_ttl)
    stale_reads = 0
    for op in operations:
        now = clock()
        match op:
            case ("set", key, value, entry_ttl):
                cache.set(key, value, ttl=entry_ttl)
                model.set(key, value, entry_ttl, now)
            case ("get", key):
                assert model.get(key, now) == cache.get(key)
            case ("get_or_load", key, value):
                stale_reads += model.is_stale(key, now)
                assert model.get_or_load(key, value, now) == cache.get_or_load(key, lambda: value)
            case ("delete", key):
                assert model.delete(key, now) == cache.delete(key)
            case ("contains", key):
                assert model.contains(key, now) == (key in cache)
            case ("advance", step):
                clock.advance(step)
            case ("len",):
                assert model.length(now) == len(cache)
            case ("expire",):
                assert model.expire(now) == cache.expire()
        assert model.stats() == _stats(cache)
        assert model.evicted == _evicted(events)
    # Steer the search towards the stale-while-revalidate reads, which need a particular history.
    target(float(stale_reads), label="stale reads")


class CacheMachine(RuleBasedStateMachine):
    """Interleaves set, get, delete and the passing of time; the model must agree throughout."""

    @initialize(
        maxsize=st.integers(1, 4),
        ttl=st.sampled_from([1.0, 2.0, 5.0]),
        stale_ttl=st.sampled_from([0.0, 3.0]),
    )
    def start(self, maxsize: int, ttl: float, stale_ttl: float) -> None:
        self.clock = ManualClock()
        self.cache, self.events = _new_cache(ttl, maxsize, stale_ttl, self.clock)
        self.model = Model(ttl, maxsize, stale_ttl)
        self.stale_reads = 0

    @rule(key=KEYS, value=VALUES, ttl=TTLS)
    def set(self, key: str, value: int, ttl: float | None) -> None:
        self.model.set(key, value, ttl, self.clock())
        self.cache.set(key, value, ttl=ttl)

    @rule(key=KEYS)
    def get(self, key: str) -> None:
        assert self.model.get(key, self.clock()) == self.cache.get(key)

    @rule(key=KEYS, value=VALUES)
    def get_or_load(self, key: str, value: int) -> None:
        now = self.clock()
        if self.model.is_stale(key, now):
            self.stale_reads += 1
            event("get_or_load: a stale entry, served while it is refreshed")
        expected = self.model.get_or_load(key, value, now)
        assert expected == self.cache.get_or_load(key, lambda: value)

    @rule(key=KEYS)
    def delete(self, key: str) -> None:
        assert self.model.delete(key, self.clock()) == self.cache.delete(key)

    @rule(step=STEPS)
    def advance(self, step: float) -> None:
        self.clock.advance(step)

    @rule()
    def expire(self) -> None:
        assert self.model.expire(self.clock()) == self.cache.expire()

    @invariant()
    def lengths_agree(self) -> None:
        if hasattr(self, "cache"):
            assert self.model.length(self.clock()) == len(self.cache)

    @invariant()
    def counters_agree(self) -> None:
        if hasattr(self, "cache"):
            assert self.model.stats() == _stats(self.cache)

    def teardown(self) -> None:
        # Steer the search towards stale-while-revalidate reads, which need a particular history.
        target(float(getattr(self, "stale_reads", 0)), label="stale reads")

    @invariant()
    def evictions_agree(self) -> None:
        # Every eviction names the least recently used entry, so this checks the LRU order too.
        if hasattr(self, "cache"):
            assert self.model.evicted == _evicted(self.events)


CacheMachine.TestCase.settings = settings(max_examples=60, stateful_step_count=40, deadline=None)
test_cache_machine = CacheMachine.TestCase

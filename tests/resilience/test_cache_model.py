"""TTLCache's dictionary face checked against a tiny, obviously correct reference model."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, rule

from commerce_kit import TTLCache
from commerce_kit.testing import ManualClock

KEYS = st.sampled_from("abcdef")
VALUES = st.integers(0, 9)
TTLS = st.none() | st.sampled_from([0.5, 1.0, 3.0, 10.0])
STEPS = st.sampled_from([0.0, 0.25, 0.5, 1.0, 2.5, 5.0, 11.0])


@dataclass
class Model:
    """A dict of ``key -> (value, fresh_until, dead_at)`` plus a list in LRU order."""

    ttl: float
    maxsize: int
    stale_ttl: float
    entries: dict[str, tuple[int, float, float]] = field(default_factory=dict)
    order: list[str] = field(default_factory=list)
    hits: int = 0
    misses: int = 0
    evictions: int = 0
    expirations: int = 0

    def _remove(self, key: str) -> tuple[int, float, float]:
        self.order.remove(key)
        return self.entries.pop(key)

    def get(self, key: str, now: float) -> int | None:
        entry = self.entries.get(key)
        if entry is not None and now < entry[1]:
            self.order.remove(key)
            self.order.append(key)
            self.hits += 1
            return entry[0]
        if entry is not None and now >= entry[2]:
            self._remove(key)
            self.expirations += 1
        self.misses += 1
        return None

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
            else:
                self.evictions += 1

    def delete(self, key: str, now: float) -> bool:
        if key not in self.entries:
            return False
        return now < self._remove(key)[1]

    def contains(self, key: str, now: float) -> bool:
        entry = self.entries.get(key)
        return entry is not None and now < entry[1]

    def length(self, now: float) -> int:
        return sum(now < fresh for _, fresh, _ in self.entries.values())

    def expire(self, now: float) -> int:
        dead = [key for key, (_, _, dead_at) in self.entries.items() if now >= dead_at]
        for key in dead:
            self._remove(key)
        self.expirations += len(dead)
        return len(dead)

    def stats(self) -> tuple[int, int, int, int]:
        return (self.hits, self.misses, self.evictions, self.expirations)


def _stats(cache: TTLCache[str, int]) -> tuple[int, int, int, int]:
    s = cache.stats
    return (s.hits, s.misses, s.evictions, s.expirations)


OPERATIONS = st.lists(
    st.one_of(
        st.tuples(st.just("set"), KEYS, VALUES, TTLS),
        st.tuples(st.just("get"), KEYS),
        st.tuples(st.just("delete"), KEYS),
        st.tuples(st.just("contains"), KEYS),
        st.tuples(st.just("advance"), STEPS),
        st.tuples(st.just("len")),
        st.tuples(st.just("expire")),
    ),
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
    cache: TTLCache[str, int] = TTLCache(ttl=ttl, maxsize=maxsize, stale_ttl=stale_ttl, clock=clock)
    model = Model(ttl, maxsize, stale_ttl)
    for op in operations:
        now = clock()
        match op:
            case ("set", key, value, entry_ttl):
                cache.set(key, value, ttl=entry_ttl)
                model.set(key, value, entry_ttl, now)
            case ("get", key):
                assert model.get(key, now) == cache.get(key)
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
        assert model.order == list(cache._data)


class CacheMachine(RuleBasedStateMachine):
    """Interleaves set, get, delete and the passing of time; the model must agree throughout."""

    @initialize(
        maxsize=st.integers(1, 4),
        ttl=st.sampled_from([1.0, 2.0, 5.0]),
        stale_ttl=st.sampled_from([0.0, 3.0]),
    )
    def start(self, maxsize: int, ttl: float, stale_ttl: float) -> None:
        self.clock = ManualClock()
        self.cache: TTLCache[str, int] = TTLCache(
            ttl=ttl, maxsize=maxsize, stale_ttl=stale_ttl, clock=self.clock
        )
        self.model = Model(ttl, maxsize, stale_ttl)

    @rule(key=KEYS, value=VALUES, ttl=TTLS)
    def set(self, key: str, value: int, ttl: float | None) -> None:
        self.model.set(key, value, ttl, self.clock())
        self.cache.set(key, value, ttl=ttl)

    @rule(key=KEYS)
    def get(self, key: str) -> None:
        assert self.model.get(key, self.clock()) == self.cache.get(key)

    @rule(key=KEYS)
    def get_or_load(self, key: str) -> None:
        now = self.clock()
        entry = self.model.entries.get(key)
        if entry is not None and entry[1] <= now < entry[2]:
            return  # a stale read starts a background refresh: covered by the loading tests
        expected = self.model.get(key, now)
        if expected is None:
            self.model.set(key, 7, None, now)
            assert 7 == self.cache.get_or_load(key, lambda: 7)
        else:
            assert expected == self.cache.get_or_load(key, lambda: -1)

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

    @invariant()
    def lru_order_agrees(self) -> None:
        if hasattr(self, "cache"):
            assert self.model.order == list(self.cache._data)


CacheMachine.TestCase.settings = settings(max_examples=60, stateful_step_count=40, deadline=None)
test_cache_machine = CacheMachine.TestCase

"""TTLCache hammered by threads: bounded in operations, checked by exact invariants afterwards."""

from __future__ import annotations

import asyncio
import itertools
import random
import re
import threading
import time
from collections import Counter

import pytest

from commerce_kit import TTLCache
from commerce_kit.testing import ManualClock

THREADS = 8
OPS = 2_000
KEYS = [f"k{i}" for i in range(12)]


def _run_threads(work: list[threading.Thread]) -> None:
    for thread in work:
        thread.start()
    for thread in work:
        thread.join(60)
    assert [] == [t for t in work if t.is_alive()]


def _stored(cache: TTLCache[str, int]) -> int:
    """How many entries the cache holds, expired ones included, as its repr shows it."""
    match = re.search(r"stored=(\d+)", repr(cache))
    assert match is not None
    return int(match.group(1))


@pytest.mark.slow
def test_mixed_operations_keep_size_and_counters_exact() -> None:
    clock = ManualClock()
    cache: TTLCache[str, int] = TTLCache(ttl=5.0, maxsize=8, stale_ttl=1.0, clock=clock)
    reads = Counter[str]()
    loader_calls = itertools.count()  # next() is atomic: background refreshes call loaders too
    tally = threading.Lock()
    errors: list[BaseException] = []

    def worker(seed: int) -> None:
        rng = random.Random(seed)
        my_reads = 0

        def loader() -> int:
            next(loader_calls)
            time.sleep(0)  # yield the GIL so loads overlap with other threads' work
            return rng.randrange(100)

        try:
            for _ in range(OPS):
                key = rng.choice(KEYS)
                op = rng.random()
                if op < 0.35:
                    cache.get(key)
                    my_reads += 1
                elif op < 0.7:
                    cache.get_or_load(key, loader)
                    my_reads += 1
                elif op < 0.85:
                    cache.set(key, rng.randrange(100), ttl=rng.choice([None, 0.5, 2.0]))
                elif op < 0.95:
                    cache.delete(key)
                else:
                    clock.advance(rng.random())
                    cache.expire()
                assert _stored(cache) <= cache.maxsize
        except BaseException as exc:
            errors.append(exc)
        with tally:
            reads["reads"] += my_reads

    with cache:  # leaving waits for the background refreshes
        _run_threads([threading.Thread(target=worker, args=(seed,)) for seed in range(THREADS)])
    assert [] == errors
    stats = cache.stats
    assert reads["reads"] == stats.hits + stats.misses
    assert next(loader_calls) == stats.loads
    assert _stored(cache) <= cache.maxsize
    # No load is left in flight: every key loads at once instead of waiting for one.
    clock.advance(100)
    assert [7] * len(KEYS) == [cache.get_or_load(key, lambda: 7) for key in KEYS]


@pytest.mark.slow
def test_readers_racing_on_few_keys_never_run_two_loads_of_one_key_at_once() -> None:
    clock = ManualClock()
    cache: TTLCache[str, str] = TTLCache(ttl=1.0, maxsize=100, clock=clock)
    running: Counter[str] = Counter()
    worst: Counter[str] = Counter()
    guard = threading.Lock()
    loads: Counter[str] = Counter()

    def loader_for(key: str) -> str:
        with guard:
            running[key] += 1
            worst[key] = max(worst[key], running[key])
            loads[key] += 1
        time.sleep(0)
        with guard:
            running[key] -= 1
        return f"{key}@{clock()}"

    def reader(seed: int) -> None:
        rng = random.Random(seed)
        for i in range(OPS):
            key = rng.choice(KEYS[:3])
            value = cache.get_or_load(key, lambda key=key: loader_for(key))  # type: ignore[misc]
            assert value.startswith(key)
            if i % 50 == 0:
                clock.advance(0.25)

    async def async_reader() -> None:
        async def aloader(key: str) -> str:
            await asyncio.sleep(0)
            return loader_for(key)

        for i in range(OPS // 4):
            key = KEYS[i % 3]
            value = await cache.aget_or_load(key, lambda key=key: aloader(key))  # type: ignore[misc]
            assert value.startswith(key)

    work = [threading.Thread(target=reader, args=(seed,)) for seed in range(THREADS - 1)]
    work.append(threading.Thread(target=asyncio.run, args=(async_reader(),)))
    _run_threads(work)
    assert {1} >= set(worst.values())
    assert sum(loads.values()) == cache.stats.loads

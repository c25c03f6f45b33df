"""TTLCache background refreshes: one small pool of threads, tracked tasks, close(), aclose()."""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections.abc import Callable, Hashable
from concurrent.futures import Executor, Future, ThreadPoolExecutor
from typing import Any, ParamSpec, TypeVar

import pytest

from commerce_kit import TTLCache
from commerce_kit.resilience import LoadFinished
from commerce_kit.testing import ManualClock
from commerce_kit.typing import CacheEvent

P = ParamSpec("P")
T = TypeVar("T")
TIMEOUT = 10.0  # a safety net for a broken implementation, never a wait the tests rely on


class ManualExecutor(Executor):
    """Holds submitted work until the test runs it."""

    def __init__(self) -> None:
        self.pending: list[Callable[[], object]] = []

    def submit(self, fn: Callable[P, T], /, *args: P.args, **kwargs: P.kwargs) -> Future[T]:
        self.pending.append(lambda: fn(*args, **kwargs))
        return Future()


def make(**kwargs: Any) -> tuple[TTLCache[Hashable, str], ManualClock]:
    clock = ManualClock()
    cache: TTLCache[Hashable, str] = TTLCache(
        ttl=30.0, maxsize=100, stale_ttl=10.0, clock=clock, **kwargs
    )
    return cache, clock


def stale(cache: TTLCache[Hashable, str], clock: ManualClock, *keys: str) -> None:
    """Put ``keys`` in the cache and let them go stale (past ttl, inside stale_ttl)."""
    for key in keys:
        cache.set(key, "stale")
    clock.advance(31)


# -- the pool of refresh threads -------------------------------------------------------------------


def test_a_stale_refresh_runs_on_the_caches_own_thread_and_close_waits_for_it() -> None:
    cache, clock = make()
    stale(cache, clock, "k")
    started = threading.Event()
    gate = threading.Event()
    ran_on: list[threading.Thread] = []

    def refresh() -> str:
        ran_on.append(threading.current_thread())
        started.set()
        gate.wait(TIMEOUT)
        return "fresh"

    assert "stale" == cache.get_or_load("k", refresh)
    assert started.wait(TIMEOUT)
    releaser = threading.Thread(target=gate.set)
    releaser.start()
    cache.close()  # returns only once the refresh has stored its value
    releaser.join(TIMEOUT)
    (thread,) = ran_on
    assert ("fresh", False) == (cache.get("k"), thread.is_alive())
    assert thread.name.startswith("commerce_kit-cache-refresh")
    assert thread is not threading.current_thread()


def test_refreshes_share_a_small_pool_of_threads_instead_of_one_thread_each() -> None:
    cache, clock = make()
    keys = [f"k{i}" for i in range(12)]
    stale(cache, clock, *keys)
    threads: set[str] = set()

    def refresh() -> str:
        threads.add(threading.current_thread().name)
        return "fresh"

    for key in keys:
        cache.get_or_load(key, refresh)
    cache.close()
    assert 1 <= len(threads) <= 4
    assert ["fresh"] * 12 == [cache.get(key) for key in keys]
    assert 12 == cache.stats.loads


def test_with_block_closes_the_cache_on_exit() -> None:
    clock = ManualClock()
    gate = threading.Event()
    with TTLCache[str, str](ttl=30.0, stale_ttl=10.0, clock=clock) as cache:
        cache.set("k", "stale")
        clock.advance(31)

        def refresh() -> str:
            gate.wait(TIMEOUT)
            return "fresh"

        assert "stale" == cache.get_or_load("k", refresh)
        threading.Thread(target=gate.set).start()
    assert "fresh" == cache.get("k")


def test_close_waits_for_refreshes_on_the_users_executor_but_leaves_it_running() -> None:
    with ThreadPoolExecutor(max_workers=1) as executor:
        cache, clock = make(executor=executor)
        stale(cache, clock, "k")
        gate = threading.Event()

        def refresh() -> str:
            gate.wait(TIMEOUT)
            return "fresh"

        assert "stale" == cache.get_or_load("k", refresh)
        threading.Thread(target=gate.set).start()
        cache.close()
        assert "fresh" == cache.get("k")
        assert 42 == executor.submit(lambda: 42).result(TIMEOUT)  # not shut down


def test_close_without_any_refresh_and_twice_is_harmless() -> None:
    cache, _ = make()
    cache.close()
    cache.close()
    cache.set("k", "v")
    assert "v" == cache.get("k")


# -- a closed cache --------------------------------------------------------------------------------


def test_a_closed_cache_loads_a_stale_entry_in_the_caller_instead_of_serving_it() -> None:
    executor = ManualExecutor()
    cache, clock = make(executor=executor)
    stale(cache, clock, "k")
    cache.close()
    assert "fresh" == cache.get_or_load("k", lambda: "fresh")
    stats = cache.stats
    assert ([], 1, 0, 1) == (executor.pending, stats.loads, stats.stale_hits, stats.misses)
    assert "fresh" == cache.get_or_load("k", lambda: "never called")


def test_a_closed_cache_no_longer_refreshes_early() -> None:
    executor = ManualExecutor()
    clock = ManualClock()
    cache: TTLCache[str, str] = TTLCache(
        ttl=30.0, beta=1.0, random=lambda: 0.9999, executor=executor, clock=clock
    )

    def slow_load() -> str:
        clock.advance(2)
        return "v1"

    cache.get_or_load("k", slow_load)
    clock.advance(20)  # an open cache would refresh now (see the early-refresh tests)
    cache.close()
    assert ("v1", []) == (cache.get_or_load("k", lambda: "v2"), executor.pending)


def test_a_closed_cache_still_shares_one_load_between_tasks() -> None:
    cache, clock = make()
    stale(cache, clock, "k")
    cache.close()
    calls: list[str] = []

    async def loader() -> str:
        calls.append("load")
        await asyncio.sleep(0)
        return "fresh"

    async def main() -> list[str]:
        return await asyncio.gather(*(cache.aget_or_load("k", loader) for _ in range(5)))

    assert (["fresh"] * 5, ["load"]) == (asyncio.run(main()), calls)


# -- asyncio refresh tasks -------------------------------------------------------------------------


def test_aclose_cancels_a_refresh_task_and_waits_for_it() -> None:
    events: list[CacheEvent] = []
    cache, clock = make(hooks=[events.append])
    stale(cache, clock, "k")
    seen: list[str] = []

    async def refresh() -> str:
        try:
            await asyncio.Event().wait()
        except asyncio.CancelledError:
            seen.append("cancelled")
            raise
        return "never"

    async def main() -> str:
        async with cache:
            served = await cache.aget_or_load("k", refresh)
            await asyncio.sleep(0)  # the refresh task starts and waits
        return served

    assert "stale" == asyncio.run(main())
    assert ["cancelled"] == seen  # by the time aclose returned
    (event,) = events
    assert isinstance(event, LoadFinished)
    assert (True, True) == (event.background, isinstance(event.error, asyncio.CancelledError))
    assert (1, 1) == (cache.stats.loads, cache.stats.load_failures)


def test_aclose_lets_a_load_that_callers_wait_for_finish() -> None:
    cache, _ = make()

    async def main() -> tuple[str, str | None]:
        release = asyncio.Event()

        async def loader() -> str:
            await release.wait()
            return "loaded"

        waiter = asyncio.ensure_future(cache.aget_or_load("k", loader))
        await asyncio.sleep(0)
        closing = asyncio.ensure_future(cache.aclose())
        await asyncio.sleep(0)
        release.set()
        await closing
        return await waiter, cache.get("k")

    assert ("loaded", "loaded") == asyncio.run(main())


def test_aclose_also_waits_for_refresh_threads() -> None:
    cache, clock = make()
    stale(cache, clock, "k")
    gate = threading.Event()

    def refresh() -> str:
        gate.wait(TIMEOUT)
        return "fresh"

    async def main() -> str | None:
        assert "stale" == cache.get_or_load("k", refresh)
        closing = asyncio.ensure_future(cache.aclose())
        await asyncio.sleep(0)  # aclose waits in a worker thread: this loop keeps running
        gate.set()
        await closing
        return cache.get("k")

    assert "fresh" == asyncio.run(main())


def test_aclose_cancels_refresh_tasks_on_other_event_loops() -> None:
    cache, clock = make()
    stale(cache, clock, "k")
    started = threading.Event()
    seen: list[str] = []

    async def refresh() -> str:
        started.set()
        try:
            await asyncio.Event().wait()
        except asyncio.CancelledError:
            seen.append("cancelled")
            raise
        return "never"

    async def other_loop() -> None:
        assert "stale" == await cache.aget_or_load("k", refresh)
        for task in asyncio.all_tasks() - {asyncio.current_task()}:
            with contextlib.suppress(asyncio.CancelledError):
                await task  # the refresh: this loop runs until it is cancelled

    thread = threading.Thread(target=asyncio.run, args=(other_loop(),))
    thread.start()
    assert started.wait(TIMEOUT)
    asyncio.run(cache.aclose())
    thread.join(TIMEOUT)
    assert (["cancelled"], False) == (seen, thread.is_alive())


@pytest.mark.parametrize("use_with", [False, True], ids=["aclose", "async-with"])
def test_a_cache_closed_by_aclose_refuses_new_refresh_tasks(use_with: bool) -> None:
    cache, clock = make()
    stale(cache, clock, "k")
    calls: list[str] = []

    async def refresh() -> str:
        calls.append("refresh")
        return "fresh"

    async def main() -> str:
        if use_with:
            async with cache as entered:
                assert entered is cache
        else:
            await cache.aclose()
        return await cache.aget_or_load("k", refresh)

    assert ("fresh", ["refresh"], 0) == (asyncio.run(main()), calls, cache.stats.stale_hits)


def test_a_loader_may_close_its_own_cache_without_waiting_for_itself() -> None:
    cache, _ = make()

    async def loader() -> str:
        await cache.aclose()
        return "loaded"

    async def main() -> str:
        return await asyncio.wait_for(cache.aget_or_load("k", loader), TIMEOUT)

    assert ("loaded", "loaded") == (asyncio.run(main()), cache.get("k"))


def test_a_refresh_the_users_executor_cancels_before_it_runs_releases_its_readers() -> None:
    executor = ThreadPoolExecutor(max_workers=1)
    busy = threading.Event()
    executor.submit(busy.wait, TIMEOUT)  # occupies the only worker: the refresh waits in line
    cache, clock = make(executor=executor)
    stale(cache, clock, "k")
    assert "stale" == cache.get_or_load("k", lambda: "refreshed")
    executor.shutdown(wait=False, cancel_futures=True)  # the queued refresh never runs
    busy.set()
    clock.advance(10)  # past the stale window: the reader must load, not wait for the refresh
    assert "loaded" == cache.get_or_load("k", lambda: "loaded")
    cache.close()  # nothing left to wait for
    assert (1, 0) == (cache.stats.loads, cache.stats.load_failures)

"""TTLCache loading: single-flight for threads and asyncio, stale-while-revalidate, XFetch early
refresh, negative caching, and scenario P1 (one database query per TTL window under load).

No test waits for time to pass: the cache runs on a ManualClock, and threads meet through
events, barriers and the cache's own miss counter (each caller that starts or joins a load counts
one miss), so a test can wait until N callers are in.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import random
import threading
import time
import traceback
from collections import Counter
from collections.abc import Awaitable, Callable, Hashable, Iterator
from concurrent.futures import Executor, Future
from typing import Any, ParamSpec, TypeVar

import pytest

from commerce_kit import TTLCache
from commerce_kit.resilience import LoadFinished
from commerce_kit.testing import ManualClock

P = ParamSpec("P")
T = TypeVar("T")
TIMEOUT = 10.0  # a safety net for a broken implementation, never a wait the tests rely on


def wait_for_misses(cache: TTLCache[Any, str], count: int) -> None:
    """Block until ``count`` callers have started or joined loads: stats.misses counts each one."""
    deadline = time.monotonic() + TIMEOUT
    while cache.stats.misses < count:
        assert time.monotonic() < deadline, cache.stats
        time.sleep(0.0005)


class ManualExecutor(Executor):
    """Holds submitted work until the test runs it."""

    def __init__(self) -> None:
        self.pending: list[Callable[[], object]] = []

    def submit(self, fn: Callable[P, T], /, *args: P.args, **kwargs: P.kwargs) -> Future[T]:
        self.pending.append(lambda: fn(*args, **kwargs))
        return Future()

    def run_all(self) -> None:
        while self.pending:
            self.pending.pop(0)()


class RefusingExecutor(Executor):
    def submit(self, fn: Callable[P, T], /, *args: P.args, **kwargs: P.kwargs) -> Future[T]:
        raise RuntimeError("cannot schedule new futures after shutdown")


def make(
    ttl: float = 30.0, maxsize: int = 100, **kwargs: Any
) -> tuple[TTLCache[Hashable, str], ManualClock]:
    clock = kwargs.pop("clock", None) or ManualClock()
    cache: TTLCache[Hashable, str] = TTLCache(ttl=ttl, maxsize=maxsize, clock=clock, **kwargs)
    return cache, clock


@contextlib.contextmanager
def running(*threads: threading.Thread) -> Iterator[None]:
    for thread in threads:
        thread.start()
    try:
        yield
    finally:
        for thread in threads:
            thread.join(TIMEOUT)
    assert [] == [t for t in threads if t.is_alive()]


def in_threads(count: int, target: Callable[[], None]) -> list[threading.Thread]:
    return [threading.Thread(target=target) for _ in range(count)]


# -- single-flight with threads --------------------------------------------------------------------


def test_concurrent_thread_misses_share_one_load() -> None:
    cache, _ = make()
    gate = threading.Event()
    calls: list[str] = []
    results: list[str] = []

    def loader() -> str:
        calls.append("load")
        gate.wait(TIMEOUT)
        return "listing"

    def reader() -> None:
        results.append(cache.get_or_load("sale", loader))

    with running(*in_threads(16, reader)):
        wait_for_misses(cache, 16)  # the first one loads, the other 15 wait for it
        gate.set()
    assert (["load"], ["listing"] * 16) == (calls, results)
    stats = cache.stats
    assert (1, 16, 0) == (stats.loads, stats.misses, stats.hits)


def test_a_failed_load_raises_the_same_exception_to_every_waiter_and_is_not_cached() -> None:
    cache, _ = make()
    gate = threading.Event()
    error = ConnectionError("database unreachable")
    caught: list[BaseException] = []

    def failing() -> str:
        gate.wait(TIMEOUT)
        raise error

    def reader() -> None:
        try:
            cache.get_or_load("sale", failing)
        except ConnectionError as exc:
            caught.append(exc)

    with running(*in_threads(8, reader)):
        wait_for_misses(cache, 8)
        gate.set()
    assert 8 == len(caught)
    assert all(exc is error for exc in caught)
    assert "listing" == cache.get_or_load("sale", lambda: "listing")
    assert (2, 1) == (cache.stats.loads, cache.stats.load_failures)


def test_loads_of_different_keys_do_not_block_each_other() -> None:
    cache, _ = make()
    gate = threading.Event()
    started = threading.Event()

    def slow() -> str:
        started.set()
        gate.wait(TIMEOUT)
        return "slow"

    results: list[str] = []
    with running(threading.Thread(target=lambda: results.append(cache.get_or_load("a", slow)))):
        assert started.wait(TIMEOUT)
        # "a" is still loading; "b" loads and returns without waiting for it.
        assert "fast" == cache.get_or_load("b", lambda: "fast")
        assert (1, None) == (cache.stats.loads, cache.get("a"))
        gate.set()
    assert (["slow"], 2) == (results, cache.stats.loads)


def test_an_interrupted_load_lets_its_waiters_load_again() -> None:
    class Interrupted(BaseException):
        pass

    cache, _ = make()
    gate = threading.Event()
    started = threading.Event()
    outcomes: list[object] = []

    def interrupted() -> str:
        started.set()
        gate.wait(TIMEOUT)
        raise Interrupted

    def leader() -> None:
        try:
            cache.get_or_load("k", interrupted)
        except Interrupted as exc:
            outcomes.append(exc)

    def follower() -> None:
        outcomes.append(cache.get_or_load("k", lambda: "reloaded"))

    first = threading.Thread(target=leader)
    first.start()
    assert started.wait(TIMEOUT)
    with running(*in_threads(3, follower)):
        wait_for_misses(cache, 4)
        gate.set()
    first.join(TIMEOUT)
    assert ["reloaded"] * 3 == [o for o in outcomes if o == "reloaded"]
    assert 1 == sum(isinstance(o, Interrupted) for o in outcomes)
    assert (2, 1) == (cache.stats.loads, cache.stats.load_failures)


def test_a_loader_that_reads_its_own_key_loads_it_itself_instead_of_deadlocking() -> None:
    cache, _ = make()

    def outer() -> str:
        return "outer+" + cache.get_or_load("k", lambda: "inner")

    assert "outer+inner" == cache.get_or_load("k", outer)
    assert ("outer+inner", 2) == (cache.get("k"), cache.stats.loads)


def test_delete_during_a_load_delivers_the_result_but_does_not_store_it() -> None:
    cache, _ = make()
    gate = threading.Event()
    started = threading.Event()
    results: list[str] = []

    def loader() -> str:
        started.set()
        gate.wait(TIMEOUT)
        return "loaded before the delete"

    with running(threading.Thread(target=lambda: results.append(cache.get_or_load("k", loader)))):
        assert started.wait(TIMEOUT)
        assert not cache.delete("k")
        gate.set()
    assert (["loaded before the delete"], None) == (results, cache.get("k"))


def test_set_during_a_load_wins_over_the_load() -> None:
    cache, _ = make()
    gate = threading.Event()
    started = threading.Event()

    def loader() -> str:
        started.set()
        gate.wait(TIMEOUT)
        return "old"

    with running(threading.Thread(target=lambda: cache.get_or_load("k", loader))):
        assert started.wait(TIMEOUT)
        cache.set("k", "new")
        gate.set()
    assert "new" == cache.get("k")


def test_clear_during_a_load_keeps_the_load_from_storing() -> None:
    cache, _ = make()
    gate = threading.Event()
    started = threading.Event()

    def loader() -> str:
        started.set()
        gate.wait(TIMEOUT)
        return "old"

    with running(threading.Thread(target=lambda: cache.get_or_load("k", loader))):
        assert started.wait(TIMEOUT)
        cache.clear()
        gate.set()
    assert cache.get("k") is None
    assert "new" == cache.get_or_load("k", lambda: "new")  # no longer joins the cleared load


# -- single-flight with asyncio --------------------------------------------------------------------


def test_concurrent_task_misses_share_one_load() -> None:
    cache, _ = make()
    calls: list[str] = []

    async def loader() -> str:
        calls.append("load")
        for _ in range(3):
            await asyncio.sleep(0)
        return "listing"

    async def main() -> list[str]:
        return await asyncio.gather(*(cache.aget_or_load("sale", loader) for _ in range(50)))

    assert (["listing"] * 50, ["load"]) == (asyncio.run(main()), calls)
    assert (1, 50) == (cache.stats.loads, cache.stats.misses)


def test_a_failed_async_load_raises_to_every_task_and_is_not_cached() -> None:
    cache, _ = make()
    error = TimeoutError("catalog service timed out")

    async def failing() -> str:
        await asyncio.sleep(0)
        raise error

    async def ok() -> str:
        return "listing"

    async def main() -> tuple[list[BaseException | str], str]:
        outcomes = await asyncio.gather(
            *(cache.aget_or_load("sale", failing) for _ in range(10)), return_exceptions=True
        )
        return outcomes, await cache.aget_or_load("sale", ok)

    outcomes, after = asyncio.run(main())
    assert all(o is error for o in outcomes)
    assert ("listing", 2, 1) == (after, cache.stats.loads, cache.stats.load_failures)


def test_cancelling_the_task_that_started_a_load_does_not_cancel_the_load() -> None:
    cache, _ = make()
    calls: list[str] = []

    async def main() -> tuple[bool, list[str], object]:
        release = asyncio.Event()

        async def loader() -> str:
            calls.append("load")
            await release.wait()
            return "listing"

        first = asyncio.ensure_future(cache.aget_or_load("sale", loader))
        await asyncio.sleep(0)
        others = [asyncio.ensure_future(cache.aget_or_load("sale", loader)) for _ in range(5)]
        await asyncio.sleep(0)
        first.cancel()
        await asyncio.sleep(0)
        release.set()
        results = await asyncio.gather(*others)
        return first.cancelled(), results, cache.get("sale")

    assert (True, ["listing"] * 5, "listing") == asyncio.run(main())
    assert ["load"] == calls


def test_a_load_every_caller_gave_up_on_is_still_cached() -> None:
    cache, _ = make()

    async def main() -> object:
        release = asyncio.Event()

        async def loader() -> str:
            await release.wait()
            return "listing"

        waiters = [asyncio.ensure_future(cache.aget_or_load("sale", loader)) for _ in range(3)]
        await asyncio.sleep(0)
        for waiter in waiters:
            waiter.cancel()
        release.set()
        await cache.aclose()  # waits for the load task nobody is waiting for any more
        return cache.get("sale")

    assert "listing" == asyncio.run(main())


@pytest.mark.parametrize(
    ("loader_started", "expected_stats"),
    [(False, (1, 0)), (True, (2, 1))],
    ids=["cancelled-before-its-first-step", "cancelled-mid-load"],
)
def test_a_cancelled_load_task_makes_its_waiters_load_again(
    loader_started: bool, expected_stats: tuple[int, int]
) -> None:
    cache, _ = make()
    calls: list[str] = []

    async def main() -> list[str]:
        release = asyncio.Event()

        async def loader() -> str:
            calls.append("load")
            await release.wait()
            return "listing"

        waiters = [asyncio.ensure_future(cache.aget_or_load("sale", loader)) for _ in range(3)]
        await asyncio.sleep(0)
        if loader_started:
            await asyncio.sleep(0)
            assert ["load"] == calls
        (task,) = asyncio.all_tasks() - {asyncio.current_task(), *waiters}  # the load
        task.cancel()
        release.set()
        return await asyncio.gather(*waiters)

    assert ["listing"] * 3 == asyncio.run(main())
    assert expected_stats == (cache.stats.loads, cache.stats.load_failures)


def test_a_sync_read_in_a_coroutine_does_not_wait_for_a_task_on_its_own_loop() -> None:
    cache, _ = make()

    async def main() -> tuple[str, str]:
        release = asyncio.Event()

        async def loader() -> str:
            await release.wait()
            return "async"

        waiter = asyncio.ensure_future(cache.aget_or_load("k", loader))
        await asyncio.sleep(0)
        sync_result = cache.get_or_load("k", lambda: "sync")  # would deadlock if it waited
        release.set()
        return sync_result, await waiter

    assert ("sync", "async") == asyncio.run(main())


def test_a_sync_loader_that_reads_its_key_through_asyncio_does_not_deadlock() -> None:
    cache, _ = make()

    async def inner() -> str:
        return "inner"

    def outer() -> str:
        return asyncio.run(cache.aget_or_load("k", inner))

    assert "inner" == cache.get_or_load("k", outer)
    assert 2 == cache.stats.loads


def test_a_failure_inside_a_nested_unshared_async_load_reaches_the_outer_caller() -> None:
    cache, _ = make()

    async def inner() -> str:
        raise LookupError("no such sale")

    def outer() -> str:
        return asyncio.run(cache.aget_or_load("k", inner))

    with pytest.raises(LookupError, match="no such sale"):
        cache.get_or_load("k", outer)


def test_threads_wait_for_an_async_load_running_on_another_thread() -> None:
    cache, _ = make()
    gate = threading.Event()
    started = threading.Event()
    results: list[str] = []

    async def async_loader() -> str:
        started.set()
        await asyncio.to_thread(gate.wait, TIMEOUT)
        return "from asyncio"

    def sync_loader() -> str:
        return "from a thread"

    owner = threading.Thread(
        target=lambda: results.append(asyncio.run(cache.aget_or_load("k", async_loader)))
    )
    owner.start()
    assert started.wait(TIMEOUT)
    with running(*in_threads(4, lambda: results.append(cache.get_or_load("k", sync_loader)))):
        wait_for_misses(cache, 5)
        gate.set()
    owner.join(TIMEOUT)
    assert ["from asyncio"] * 5 == results


def test_tasks_wait_for_a_sync_load_running_on_another_thread() -> None:
    cache, _ = make()
    gate = threading.Event()
    started = threading.Event()

    def sync_loader() -> str:
        started.set()
        gate.wait(TIMEOUT)
        return "from a thread"

    async def async_loader() -> str:
        return "from asyncio"

    async def main() -> list[str]:
        waiters = asyncio.gather(*(cache.aget_or_load("k", async_loader) for _ in range(5)))
        await asyncio.to_thread(wait_for_misses, cache, 6)
        gate.set()
        return await waiters

    leader = threading.Thread(target=lambda: cache.get_or_load("k", sync_loader))
    leader.start()
    assert started.wait(TIMEOUT)
    assert ["from a thread"] * 5 == asyncio.run(main())
    leader.join(TIMEOUT)


def test_a_waiter_whose_event_loop_closed_is_skipped() -> None:
    cache, _ = make()
    gate = threading.Event()
    started = threading.Event()
    results: list[str] = []

    def sync_loader() -> str:
        started.set()
        gate.wait(TIMEOUT)
        return "listing"

    async def give_up() -> None:
        waiter = asyncio.ensure_future(cache.aget_or_load("k", _never))
        await asyncio.to_thread(wait_for_misses, cache, 2)
        waiter.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await waiter

    with running(
        threading.Thread(target=lambda: results.append(cache.get_or_load("k", sync_loader)))
    ):
        assert started.wait(TIMEOUT)
        asyncio.run(give_up())  # its loop is closed before the load finishes
        gate.set()
    assert (["listing"], "listing") == (results, cache.get("k"))


async def _never() -> str:
    await asyncio.Event().wait()
    return "never"


def test_a_thread_waiting_for_a_load_whose_event_loop_ended_loads_again() -> None:
    cache, _ = make()
    started = threading.Event()

    async def stuck() -> str:
        started.set()
        return await _never()

    async def owner() -> None:
        waiter = asyncio.ensure_future(cache.aget_or_load("k", stuck))
        await asyncio.to_thread(wait_for_misses, cache, 2)  # the main thread has joined
        waiter.cancel()
        # Returning ends the loop; asyncio.run cancels the load task on its way out.

    loop_thread = threading.Thread(target=asyncio.run, args=(owner(),))
    loop_thread.start()
    assert started.wait(TIMEOUT)
    assert "mine" == cache.get_or_load("k", lambda: "mine")
    loop_thread.join(TIMEOUT)
    assert (2, 1) == (cache.stats.loads, cache.stats.load_failures)


# -- scenario P1 -----------------------------------------------------------------------------------


def test_p1_1000_readers_a_second_for_90_s_cause_one_load_per_30_s_window() -> None:
    clock = ManualClock()
    cache: TTLCache[str, str] = TTLCache(ttl=30.0, maxsize=10_000, clock=clock)
    queries: list[float] = []

    def query_database() -> str:
        queries.append(clock())
        return "flash-sale listing"

    for _ in range(90 * 1000):  # one reader every millisecond for 90 s
        clock.advance(0.001)
        assert "flash-sale listing" == cache.get_or_load("listing", query_database)
    per_window = Counter(int(at // 30) for at in queries)
    assert {0: 1, 1: 1, 2: 1} == per_window
    assert 90_000 - 3 == cache.stats.hits


def test_p1_a_herd_of_readers_at_each_expiry_costs_one_query() -> None:
    clock = ManualClock()
    cache: TTLCache[str, str] = TTLCache(ttl=30.0, maxsize=10_000, clock=clock)
    readers = 20
    queries: list[float] = []
    seen: list[str] = []

    def query_database() -> str:
        queries.append(clock())
        wait_for_misses(cache, len(queries) * readers)  # every other reader waits for this query
        return f"listing@{clock():.0f}"

    def reader(barrier: threading.Barrier) -> None:
        barrier.wait(TIMEOUT)
        seen.append(cache.get_or_load("listing", query_database))

    for window in range(3):
        barrier = threading.Barrier(readers)
        with running(*(threading.Thread(target=reader, args=(barrier,)) for _ in range(readers))):
            pass
        assert [f"listing@{30 * window}"] * readers == seen[-readers:]
        clock.advance(30)
    assert [0.0, 30.0, 60.0] == queries


# -- stale-while-revalidate ------------------------------------------------------------------------


def test_stale_reads_return_the_old_value_at_once_and_start_one_refresh() -> None:
    executor = ManualExecutor()
    cache, clock = make(ttl=30, stale_ttl=10, executor=executor)
    versions = iter(["v1", "v2", "v3"])
    cache.get_or_load("k", lambda: next(versions))
    clock.advance(35)
    assert ["v1"] * 5 == [cache.get_or_load("k", lambda: next(versions)) for _ in range(5)]
    assert (1, None) == (len(executor.pending), cache.get("k"))  # plain get sees no stale value
    executor.run_all()
    assert "v2" == cache.get_or_load("k", lambda: next(versions))
    stats = cache.stats
    assert (2, 5, 6) == (stats.loads, stats.stale_hits, stats.hits)


def test_a_background_refresh_is_reported_to_hooks_as_such() -> None:
    executor = ManualExecutor()
    events: list[object] = []
    cache, clock = make(ttl=30, stale_ttl=10, executor=executor, hooks=[events.append])

    def refresh() -> str:
        clock.advance(0.5)
        return "fresh"

    cache.set("k", "stale")
    clock.advance(31)
    cache.get_or_load("k", refresh)
    executor.run_all()
    assert [LoadFinished("k", 0.5, None, background=True)] == events


def test_async_stale_reads_refresh_in_a_task() -> None:
    cache, clock = make(ttl=30, stale_ttl=10)
    calls: list[str] = []

    async def refresh() -> str:
        calls.append("refresh")
        return "fresh"

    async def main() -> tuple[list[str], object]:
        cache.set("k", "stale")
        clock.advance(31)
        served = [await cache.aget_or_load("k", refresh) for _ in range(3)]
        await asyncio.sleep(0)  # the refresh task runs
        return served, await cache.aget_or_load("k", refresh)

    assert (["stale"] * 3, "fresh") == asyncio.run(main())
    assert ["refresh"] == calls


def test_a_failed_refresh_keeps_serving_stale_and_is_logged(
    caplog: pytest.LogCaptureFixture,
) -> None:
    executor = ManualExecutor()
    cache, clock = make(ttl=30, stale_ttl=10, executor=executor)

    def failing() -> str:
        raise ConnectionError("database unreachable")

    cache.set("k", "stale")
    clock.advance(31)
    with caplog.at_level(logging.WARNING, logger="commerce_kit.cache"):
        assert "stale" == cache.get_or_load("k", failing)
        executor.run_all()
    assert ["A background refresh of a cache entry failed"] == [
        r.getMessage() for r in caplog.records
    ]
    assert "stale" == cache.get_or_load("k", failing)
    assert (1, 1) == (len(executor.pending), cache.stats.load_failures)  # it tries again


def test_a_stale_entry_that_dies_during_its_refresh_makes_readers_wait_for_it() -> None:
    cache, clock = make(ttl=30, stale_ttl=10)
    gate = threading.Event()
    started = threading.Event()

    def refresh() -> str:
        started.set()
        gate.wait(TIMEOUT)
        return "fresh"

    cache.set("k", "stale")
    clock.advance(31)
    assert "stale" == cache.get_or_load("k", refresh)
    assert started.wait(TIMEOUT)
    clock.advance(10)  # past the stale window: the old value may no longer be served
    results: list[str] = []
    with running(threading.Thread(target=lambda: results.append(cache.get_or_load("k", str)))):
        wait_for_misses(cache, 1)
        gate.set()
    assert ["fresh"] == results


def test_an_executor_that_refuses_work_records_a_failed_refresh(
    caplog: pytest.LogCaptureFixture,
) -> None:
    cache, clock = make(ttl=30, stale_ttl=10, executor=RefusingExecutor())
    cache.set("k", "stale")
    clock.advance(31)
    with caplog.at_level(logging.WARNING, logger="commerce_kit.cache"):
        assert "stale" == cache.get_or_load("k", lambda: "fresh")
        assert "stale" == cache.get_or_load("k", lambda: "fresh")  # the failed one is not in flight
    assert (2, 2) == (cache.stats.load_failures, len(caplog.records))


# -- early refresh (XFetch) ------------------------------------------------------------------------


def _loaded(
    *, beta: float, rand: Callable[[], float], load_seconds: float = 2.0, ttl: float = 30.0
) -> tuple[TTLCache[Hashable, str], ManualClock, ManualExecutor]:
    """A cache holding key "k", loaded at t=0 by a loader that took ``load_seconds``."""
    executor = ManualExecutor()
    cache, clock = make(ttl=ttl, beta=beta, random=rand, executor=executor)

    def slow_load() -> str:
        clock.advance(load_seconds)
        return "v1"

    cache.get_or_load("k", slow_load)
    return cache, clock, executor


def _constant(value: float) -> Callable[[], float]:
    return lambda: value


def test_early_refresh_starts_when_the_xfetch_gap_reaches_expiry() -> None:
    # Fresh until 32 (loaded 0..2, ttl 30). At now=20 a refresh starts iff
    # 2 * beta * -log(1 - r) >= 12, i.e. r >= 1 - e**-6 ~ 0.99752 for beta=1.
    for r, expected in [(0.5, 0), (0.997, 0), (0.998, 1), (0.9999, 1)]:
        cache, clock, executor = _loaded(beta=1.0, rand=_constant(r))
        clock.advance(18)
        assert "v1" == cache.get_or_load("k", lambda: "v2")
        assert expected == len(executor.pending), r


def test_a_larger_beta_refreshes_earlier() -> None:
    # At now=14 the entry (fresh until 32) is 18 s from expiry; with r=0.9, -log(0.1) = 2.30,
    # so the gap is 2 * beta * 2.30: 4.6 for beta=1 (no refresh), 18.4 for beta=4 (refresh).
    refreshed = {}
    for beta in (1.0, 4.0):
        cache, clock, executor = _loaded(beta=beta, rand=_constant(0.9))
        clock.advance(12)
        assert "v1" == cache.get_or_load("k", lambda: "v2")
        executor.run_all()
        refreshed[beta] = cache.get("k")
    assert {1.0: "v1", 4.0: "v2"} == refreshed


def test_early_refresh_probability_follows_the_xfetch_formula() -> None:
    rng = random.Random(20150401)
    load_seconds, beta, trials = 2.0, 1.0, 1500
    for gap in (math.log(2) * load_seconds, math.log(10) * load_seconds, 10 * load_seconds):
        refreshed = 0
        for _ in range(trials):
            cache, clock, executor = _loaded(beta=beta, rand=rng.random)
            clock.advance(30 - gap)  # now = fresh_until - gap
            cache.get_or_load("k", lambda: "v2")
            refreshed += len(executor.pending)
        expected = math.exp(-gap / (load_seconds * beta))
        sigma = math.sqrt(trials * expected * (1 - expected))
        assert abs(refreshed - trials * expected) <= 4 * sigma + 1, (gap, refreshed)


def test_early_refresh_keeps_one_load_in_flight_per_key() -> None:
    cache, clock, executor = _loaded(beta=1.0, rand=lambda: 0.9999)
    clock.advance(20)
    for _ in range(10):
        assert "v1" == cache.get_or_load("k", lambda: "v2")
    assert 1 == len(executor.pending)


def test_values_put_with_set_are_never_refreshed_early() -> None:
    executor = ManualExecutor()
    cache, clock = make(ttl=30, beta=100.0, random=lambda: 0.9999, executor=executor)
    cache.set("k", "v1")
    clock.advance(29.9)
    assert ("v1", []) == (cache.get_or_load("k", lambda: "v2"), executor.pending)


def test_async_early_refresh_runs_in_a_task() -> None:
    cache, clock, _ = _loaded(beta=1.0, rand=lambda: 0.9999)

    async def refresh() -> str:
        return "v2"

    async def main() -> tuple[object, object]:
        clock.advance(20)
        served = await cache.aget_or_load("k", refresh)
        await asyncio.sleep(0)  # the refresh task runs
        return served, await cache.aget_or_load("k", refresh)

    assert ("v1", "v2") == asyncio.run(main())


def test_early_refresh_also_applies_to_cached_functions() -> None:
    executor = ManualExecutor()
    clock = ManualClock()
    cache, _ = make(beta=1.0, random=lambda: 0.9999, executor=executor, clock=clock)
    versions = iter(["v1", "v2"])

    @cache.cached()
    def listing() -> str:
        clock.advance(2)
        return next(versions)

    assert "v1" == listing()
    clock.advance(20)
    assert "v1" == listing()
    executor.run_all()
    assert "v2" == listing()


def test_cached_coroutines_refresh_early_too() -> None:
    clock = ManualClock()
    cache, _ = make(beta=1.0, random=lambda: 0.9999, clock=clock)
    versions = iter(["v1", "v2"])

    @cache.cached()
    async def listing() -> str:
        clock.advance(2)
        return next(versions)

    async def main() -> list[str]:
        first = await listing()
        clock.advance(20)
        second = await listing()
        await asyncio.sleep(0)  # the refresh task runs
        return [first, second, await listing()]

    assert ["v1", "v1", "v2"] == asyncio.run(main())


# -- negative caching ------------------------------------------------------------------------------


def test_a_failure_is_cached_for_negative_ttl_then_loaded_again() -> None:
    cache, clock = make(negative_ttl=5)
    calls: list[str] = []
    error = ConnectionError("database unreachable")

    def failing() -> str:
        calls.append("fail")
        raise error

    for _ in range(3):
        with pytest.raises(ConnectionError) as caught:
            cache.get_or_load("k", failing)
        assert caught.value is error
    clock.advance(5)
    assert "ok" == cache.get_or_load("k", lambda: "ok")
    assert (["fail"], 2) == (calls, cache.stats.loads)


def test_a_cached_failure_does_not_grow_its_traceback() -> None:
    cache, _ = make(negative_ttl=60)

    def failing() -> str:
        raise ConnectionError("database unreachable")

    depths = []
    for _ in range(20):
        with pytest.raises(ConnectionError) as caught:
            cache.get_or_load("k", failing)
        depths.append(len(traceback.extract_tb(caught.value.__traceback__)))
    assert 1 == len(set(depths[1:]))


def test_a_cached_failure_holds_back_stale_refreshes() -> None:
    executor = ManualExecutor()
    cache, clock = make(ttl=30, stale_ttl=30, negative_ttl=10, executor=executor)
    cache.set("k", "stale")
    clock.advance(31)
    with pytest.raises(ValueError, match="bad row"):
        cache.get_or_load("missing", _raise_bad_row)
    assert "stale" == cache.get_or_load("k", _raise_bad_row)
    executor.run_all()  # the refresh fails and is cached
    assert ("stale", []) == (cache.get_or_load("k", _raise_bad_row), executor.pending)
    clock.advance(10)
    assert "stale" == cache.get_or_load("k", lambda: "fresh")
    executor.run_all()
    assert "fresh" == cache.get("k")


async def _outcome(awaitable: Awaitable[str]) -> BaseException | str:
    try:
        return await awaitable
    except Exception as exc:
        return exc


def _raise_bad_row() -> str:
    raise ValueError("bad row")


def test_set_and_delete_forget_a_cached_failure() -> None:
    cache, _ = make(negative_ttl=60)
    for key in ("a", "b"):
        with pytest.raises(ValueError, match="bad row"):
            cache.get_or_load(key, _raise_bad_row)
    cache.set("a", "set")
    cache.delete("b")
    assert ("set", "loaded") == (
        cache.get_or_load("a", _raise_bad_row),
        cache.get_or_load("b", lambda: "loaded"),
    )


def test_a_successful_load_forgets_an_expired_cached_failure() -> None:
    cache, clock = make(negative_ttl=1)
    with pytest.raises(ValueError, match="bad row"):
        cache.get_or_load("k", _raise_bad_row)
    clock.advance(1)
    assert "ok" == cache.get_or_load("k", lambda: "ok")
    cache.delete("k")
    assert "again" == cache.get_or_load("k", lambda: "again")


def test_cached_failures_are_bounded_by_maxsize() -> None:
    cache, _ = make(maxsize=3, negative_ttl=60)
    for key in range(5):
        with pytest.raises(ValueError, match="bad row"):
            cache.get_or_load(key, _raise_bad_row)

    def outcome(key: int) -> str:
        try:
            return cache.get_or_load(key, lambda: "loaded")
        except ValueError as error:
            return str(error)

    outcomes = [outcome(key) for key in range(5)]
    # Keys 0 and 1 were pushed out of the table of failures: their loader runs again.
    assert ["loaded", "loaded", "bad row", "bad row", "bad row"] == outcomes


def test_async_reads_re_raise_a_cached_failure() -> None:
    cache, _ = make(negative_ttl=60)
    calls: list[str] = []

    async def failing() -> str:
        calls.append("fail")
        raise ValueError("bad row")

    async def main() -> list[str]:
        outcomes = [await _outcome(cache.aget_or_load("k", failing)) for _ in range(3)]
        return [str(outcome) for outcome in outcomes]

    assert (["bad row"] * 3, ["fail"]) == (asyncio.run(main()), calls)

"""TTLCache under precise interleavings: another writer acts at the exact moment a race can bite.

The cache reads without a lock, so a writer may act between a read's lookup and what the read does
next. These tests make that happen deterministically: a clock that runs an action when read (the
read path reads the clock right after its lookup), and a lock that runs an action just before it
is acquired (every writer and every slow path takes it).
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable, Hashable
from concurrent.futures import Executor, Future
from types import TracebackType
from typing import Any, ParamSpec, TypeVar

import pytest

from commerce_kit import TTLCache
from commerce_kit.testing import ManualClock

P = ParamSpec("P")
T = TypeVar("T")


class RacingClock(ManualClock):
    """A ManualClock that runs a one-shot action the next time it is read."""

    def __init__(self) -> None:
        super().__init__()
        self.on_read: Callable[[], object] | None = None

    def __call__(self) -> float:
        action, self.on_read = self.on_read, None
        if action is not None:
            action()
        return super().__call__()


class RacingLock:
    """A lock that runs queued one-shot actions just before its next acquisitions."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.before: list[Callable[[], object] | None] = []

    def acquire(self) -> None:
        if self.before:
            action = self.before.pop(0)
            if action is not None:
                action()
        self._lock.acquire()

    def release(self) -> None:
        self._lock.release()

    def __enter__(self) -> None:
        self.acquire()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.release()


class ManualExecutor(Executor):
    def __init__(self) -> None:
        self.pending: list[Callable[[], object]] = []

    def submit(self, fn: Callable[P, T], /, *args: P.args, **kwargs: P.kwargs) -> Future[T]:
        self.pending.append(lambda: fn(*args, **kwargs))
        return Future()


def make(**kwargs: Any) -> tuple[TTLCache[Hashable, str], RacingClock, RacingLock]:
    clock = RacingClock()
    cache: TTLCache[Hashable, str] = TTLCache(ttl=30.0, maxsize=10, clock=clock, **kwargs)
    lock = RacingLock()
    cache._lock = lock  # type: ignore[assignment]
    return cache, clock, lock


# -- a hit whose entry another thread removes before the LRU move ----------------------------------


def _read_sync(cache: TTLCache[Hashable, str]) -> str | None:
    return cache.get("k")


def _read_through_loader(cache: TTLCache[Hashable, str]) -> str | None:
    return cache.get_or_load("k", lambda: "loaded")


def _read_async(cache: TTLCache[Hashable, str]) -> str | None:
    async def loader() -> str:
        return "loaded"

    return asyncio.run(cache.aget_or_load("k", loader))


@pytest.mark.parametrize("read", [_read_sync, _read_through_loader, _read_async])
def test_a_hit_deleted_during_the_read_still_returns_what_it_found(
    read: Callable[[TTLCache[Hashable, str]], str | None],
) -> None:
    cache, clock, _ = make()
    cache.set("k", "cached")
    clock.on_read = lambda: cache.delete("k")
    result = read(cache)
    assert ("cached", False) == (result, "k" in cache)
    assert 1 == cache.stats.hits


def test_a_cached_function_hit_deleted_during_the_read_still_returns_it() -> None:
    cache, clock, _ = make()

    @cache.cached(key=lambda: "k")
    def listing() -> str:
        return "loaded"

    @cache.cached(key=lambda: "k")
    async def alisting() -> str:
        return "loaded"

    cache.set("k", "cached")
    clock.on_read = lambda: cache.delete("k")
    assert "cached" == listing()
    cache.set("k", "cached")
    clock.on_read = lambda: cache.delete("k")
    assert "cached" == asyncio.run(alisting())


def test_a_default_key_hit_deleted_during_the_read_still_returns_it() -> None:
    cache, clock, _ = make()

    @cache.cached()
    def listing() -> str:
        return "loaded"

    @cache.cached()
    async def alisting() -> str:
        return "loaded"

    cache.set((listing,), "cached")
    clock.on_read = lambda: cache.delete((listing,))
    assert ("cached", False) == (listing(), (listing,) in cache)
    cache.set((alisting,), "cached")
    clock.on_read = lambda: cache.delete((alisting,))
    assert ("cached", False) == (asyncio.run(alisting()), (alisting,) in cache)


def test_a_stale_hit_deleted_during_the_read_still_serves_the_stale_value() -> None:
    executor = ManualExecutor()
    cache, clock, _ = make(stale_ttl=30, executor=executor)
    cache.set("k", "stale")
    clock.advance(31)
    clock.on_read = lambda: cache.delete("k")
    assert "stale" == cache.get_or_load("k", lambda: "fresh")
    assert 1 == len(executor.pending)


# -- the slow paths re-check under the lock --------------------------------------------------------


def test_a_load_that_finished_before_the_lock_was_taken_is_not_repeated() -> None:
    cache, _, lock = make()
    lock.before = [lambda: cache.set("k", "stored meanwhile")]
    assert "stored meanwhile" == cache.get_or_load("k", lambda: "second load")
    assert (0, 1) == (cache.stats.loads, cache.stats.hits)


def test_an_async_load_that_finished_before_the_lock_was_taken_is_not_repeated() -> None:
    cache, _, lock = make()

    async def loader() -> str:
        return "second load"

    lock.before = [lambda: cache.set("k", "stored meanwhile")]
    assert "stored meanwhile" == asyncio.run(cache.aget_or_load("k", loader))
    assert 0 == cache.stats.loads


def test_two_stale_readers_racing_to_refresh_start_one_refresh() -> None:
    executor = ManualExecutor()
    cache, clock, lock = make(stale_ttl=30, executor=executor)
    cache.set("k", "stale")
    clock.advance(31)
    # The other reader claims the refresh between this reader's check and its lock.
    lock.before = [lambda: cache.get_or_load("k", lambda: "fresh")]
    assert "stale" == cache.get_or_load("k", lambda: "fresh")
    assert 1 == len(executor.pending)


def test_an_async_stale_reader_leaves_the_refresh_to_a_thread_that_claimed_it_first() -> None:
    executor = ManualExecutor()
    cache, clock, lock = make(stale_ttl=30, executor=executor)

    calls: list[str] = []

    async def refresh() -> str:
        calls.append("refresh")
        return "fresh from asyncio"

    async def read() -> str:
        served = await cache.aget_or_load("k", refresh)
        await asyncio.sleep(0)  # a refresh task, had one started, would run now
        return served

    cache.set("k", "stale")
    clock.advance(31)
    lock.before = [lambda: cache.get_or_load("k", lambda: "fresh from a thread")]
    assert "stale" == asyncio.run(read())
    assert ([], 1) == (calls, len(executor.pending))


def test_an_expired_entry_replaced_before_the_lock_is_kept() -> None:
    cache, clock, lock = make()
    cache.set("k", "old")
    clock.advance(30)
    lock.before = [lambda: cache.set("k", "new")]
    assert cache.get("k") is None  # this read saw the expired "old"
    assert ("new", 0) == (cache.get("k"), cache.stats.expirations)


def test_expire_keeps_an_entry_replaced_after_it_was_seen_expired() -> None:
    cache, clock, lock = make()
    cache.set("k", "old")
    cache.set("gone", "old")
    clock.advance(30)
    lock.before = [lambda: cache.set("k", "new")]
    assert 1 == cache.expire()
    assert ("new", "TTLCache(ttl=30.0, maxsize=10, stored=1)") == (cache.get("k"), repr(cache))


def test_an_expired_failure_replaced_before_the_lock_is_kept() -> None:
    cache, clock, lock = make(negative_ttl=5)
    attempts: list[int] = []

    def failing() -> str:
        attempts.append(len(attempts) + 1)
        raise ValueError(f"bad row, attempt {len(attempts)}")

    with pytest.raises(ValueError, match="attempt 1"):
        cache.get_or_load("k", failing)
    clock.advance(5)

    def fail_again() -> None:
        with pytest.raises(ValueError, match="attempt 2"):
            cache.get_or_load("k", failing)

    # This read saw the expired first failure; the second is cached before it takes the lock.
    lock.before = [fail_again]
    with pytest.raises(ValueError, match="attempt 2"):
        cache.get_or_load("k", lambda: "never")
    with pytest.raises(ValueError, match="attempt 2"):  # the second failure is still cached
        cache.get_or_load("k", failing)
    assert [1, 2] == attempts


def test_a_failure_cached_while_a_caller_waited_for_the_lock_is_raised_to_it() -> None:
    cache, _, lock = make(negative_ttl=60)

    def fail_elsewhere() -> None:
        with pytest.raises(ValueError, match="bad row"):
            cache.get_or_load("k", _raise_bad_row)

    # Another caller's load fails (and is cached) between this read's lookup and its lock.
    lock.before = [fail_elsewhere]
    with pytest.raises(ValueError, match="bad row"):
        cache.get_or_load("k", lambda: "never called")
    assert 1 == cache.stats.loads


def _raise_bad_row() -> str:
    raise ValueError("bad row")


def test_a_task_joining_a_load_as_it_finishes_still_gets_its_result() -> None:
    cache, _, lock = make()
    gate = threading.Event()
    started = threading.Event()

    def sync_loader() -> str:
        started.set()
        gate.wait(10.0)
        return "listing"

    async def never() -> str:
        await asyncio.Event().wait()
        return "never"

    leader = threading.Thread(target=lambda: cache.get_or_load("k", sync_loader))
    leader.start()
    assert started.wait(10.0)

    def finish_the_load() -> None:
        gate.set()
        leader.join(10.0)

    # The task joins the thread's load (first lock), which finishes before the task registers
    # as a waiter (second lock).
    lock.before = [None, finish_the_load]
    assert "listing" == asyncio.run(cache.aget_or_load("k", never))
    assert (1, 2) == (cache.stats.loads, cache.stats.misses)


# -- loads and the writers that detach them --------------------------------------------------------


def test_writing_another_key_leaves_a_load_in_flight_attached() -> None:
    cache, _, _ = make()

    def loader() -> str:
        cache.set("other", "x")
        cache.delete("other")
        return "loaded"

    assert "loaded" == cache.get_or_load("k", loader)
    assert "loaded" == cache.get("k")


def test_a_load_task_detached_and_cancelled_before_it_ran_releases_its_waiters() -> None:
    cache, _, _ = make()

    async def loader() -> str:
        return "loaded"

    async def main() -> str:
        waiter = asyncio.ensure_future(cache.aget_or_load("k", loader))
        await asyncio.sleep(0)
        cache.delete("k")  # detaches the load in flight
        (task,) = asyncio.all_tasks() - {asyncio.current_task(), waiter}  # the load
        task.cancel()
        return await waiter

    assert "loaded" == asyncio.run(main())
    # Nothing is left in flight: the next read loads at once instead of waiting.
    cache.delete("k")
    assert "again" == cache.get_or_load("k", lambda: "again")


def test_a_set_just_before_a_load_stores_its_result_wins() -> None:
    cache, _, lock = make()
    # The first acquisition registers the load; the set lands just before it stores the result.
    lock.before = [None, lambda: cache.set("k", "written")]
    assert "loaded" == cache.get_or_load("k", lambda: "loaded")
    assert "written" == cache.get("k")


def test_a_delete_just_before_an_async_load_stores_its_result_wins() -> None:
    cache, _, lock = make()

    async def loader() -> str:
        return "loaded"

    lock.before = [None, None, lambda: cache.delete("k")]
    assert "loaded" == asyncio.run(cache.aget_or_load("k", loader))
    assert ("k" in cache, cache.get_or_load("k", lambda: "again")) == (False, "again")

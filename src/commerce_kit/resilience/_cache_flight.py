"""Single-flight loading for :class:`~commerce_kit.TTLCache`, for threads and asyncio alike.

A load in flight is a ``_Flight``. The first caller that misses a key starts it; later callers
wait on it (a :class:`threading.Event` for threads, a future on their own event loop for asyncio),
and all receive the same value or the same exception. Deciding what a read gets (``_lookup``) runs
no loader and never waits; the sync face (``_load``) and the asyncio face (``_aload``) only call,
lock and wait.

Background refreshes (stale-while-revalidate and early refresh) run on one bounded
:class:`~concurrent.futures.ThreadPoolExecutor` the cache creates on first use (or on the
``executor=`` the user passed), and as tasks on the reader's event loop, which the cache keeps so
that :meth:`~commerce_kit.TTLCache.close` and :meth:`~commerce_kit.TTLCache.aclose` can wait for
or cancel them. Once closed, the cache starts no more of them.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import logging
import math
import threading
from collections.abc import Awaitable, Callable, Hashable
from enum import Enum
from functools import partial
from types import TracebackType
from typing import Any, TypeVar, cast

from commerce_kit.resilience._cache_events import LoadFinished
from commerce_kit.resilience._cache_store import CacheStore, Entry, K, V

__all__ = ["REFRESH_WORKERS", "SingleFlight"]

T = TypeVar("T")

_logger = logging.getLogger("commerce_kit.cache")

#: Threads in the executor a cache creates for its background refreshes.
REFRESH_WORKERS = 4


class _Outcome(Enum):
    """What a loading read decided before any waiting: serve, serve and refresh, or load."""

    HIT = 0
    REFRESH = 1
    MISS = 2


# Marks, in a waiter's future, a load that was cancelled or interrupted: the waiter tries again.
_ABORTED: Any = object()


class _Flight:
    """One load in progress for one key, shared by every caller that misses it meanwhile."""

    __slots__ = (
        "aborted",
        "async_waiters",
        "background",
        "done",
        "error",
        "event",
        "is_async",
        "owner",
        "store",
        "traceback",
        "value",
    )

    def __init__(self, owner: int | None, *, is_async: bool, background: bool = False) -> None:
        #: The thread running the load (None until a background thread starts it).
        self.owner = owner
        self.is_async = is_async
        #: A refresh no caller was waiting for when it started.
        self.background = background
        #: False once a set, delete or clear made this load's result out of date.
        self.store = True
        self.done = False
        self.aborted = False
        self.value: object = None
        self.error: BaseException | None = None
        self.traceback: TracebackType | None = None
        self.event = threading.Event()
        self.async_waiters: list[tuple[asyncio.AbstractEventLoop, asyncio.Future[Any]]] = []

    def result(self) -> object:
        """Return the value, raise the error, or return ``_ABORTED``; call only once done."""
        if self.aborted:
            return _ABORTED
        if self.error is not None:
            raise self.error.with_traceback(self.traceback)
        return self.value

    def settle_future(self, future: asyncio.Future[Any]) -> None:
        """Pass the outcome to one asyncio waiter, unless it gave up (was cancelled)."""
        if future.done():
            return
        if self.aborted:
            future.set_result(_ABORTED)
        elif self.error is not None:
            future.set_exception(self.error)
        else:
            future.set_result(self.value)


def _running_loop() -> asyncio.AbstractEventLoop | None:
    try:
        return asyncio.get_running_loop()
    except RuntimeError:
        return None


class SingleFlight(CacheStore[K, V]):
    """A :class:`CacheStore` with shared loads and background refreshes; see TTLCache."""

    __slots__ = (
        "_beta",
        "_closed",
        "_executor",
        "_owns_executor",
        "_random",
        "_refreshes_done",
        "_tasks",
        "_thread_refreshes",
    )

    def _init_flights(
        self,
        beta: float,
        random: Callable[[], float],
        executor: concurrent.futures.Executor | None,
    ) -> None:
        """Validate this layer's arguments and set up its state; after ``_init_store``."""
        if not isinstance(beta, (int, float)) or isinstance(beta, bool):  # type: ignore[redundant-expr]
            raise TypeError(f"beta must be a number, got {type(beta).__name__}")
        if not math.isfinite(beta) or beta < 0:
            raise ValueError(f"beta must be a finite number >= 0, got {beta!r}")
        self._beta = float(beta)
        self._random = random
        # The user's executor, or ours once the first sync refresh creates it.
        self._executor = executor
        self._owns_executor = executor is None
        # Sync refreshes claimed and not yet finished; close() waits for none to be left.
        self._thread_refreshes = 0
        self._refreshes_done = threading.Condition(self._lock)
        # Load tasks not yet done (the loop keeps only weak references), and whether each is a
        # background refresh.
        self._tasks: dict[asyncio.Task[Any], bool] = {}
        self._closed = False

    # -- deciding, shared by both faces ------------------------------------------------------------

    def _lookup(self, key: Hashable, entry: Entry | None, now: float) -> tuple[_Outcome, Any]:
        """Decide what a loading read of ``key`` gets at ``now``; runs no loader and never waits.

        Raises:
            Exception: The failure cached for ``key``, while ``negative_ttl`` keeps it.
        """
        if entry is not None:
            if now < entry[1]:
                self._touch(key)
                next(self._hits)
                beta = self._beta
                if (
                    beta
                    and entry[3]
                    and not self._closed
                    and key not in self._inflight
                    and now - entry[3] * beta * math.log(1.0 - self._random()) >= entry[1]
                ):
                    return _Outcome.REFRESH, entry[0]
                return _Outcome.HIT, entry[0]
            if now < entry[2]:
                if not self._closed:
                    self._touch(key)
                    next(self._hits)
                    next(self._stale_hits)
                    if key in self._inflight:
                        return _Outcome.HIT, entry[0]
                    return _Outcome.REFRESH, entry[0]
            else:
                self._drop_dead(key, entry)
        if self._failures:
            failure = self._failures.get(key)
            if failure is not None:
                if now < failure[2]:
                    next(self._misses)
                    raise failure[0].with_traceback(failure[1])
                with self._lock:
                    if self._failures.get(key) is failure:
                        del self._failures[key]
        return _Outcome.MISS, None

    def _join(
        self, key: Hashable, now: float, *, is_async: bool
    ) -> tuple[_Flight | None, bool, Entry | None]:
        """Lead or join the load of ``key``; ``(None, False, entry)`` means look again instead.

        Under the lock, the entry is looked up again: a load that finished since the lock-free
        lookup has stored it, and starting another would break single-flight.
        """
        with self._lock:
            entry = self._data.get(key)
            if entry is not None and now < entry[1 if self._closed else 2]:
                return None, False, entry
            failure = self._failures.get(key) if self._failures else None
            if failure is not None and now < failure[2]:
                return None, False, None
            next(self._misses)
            flight = self._inflight.get(key)
            if flight is None:
                flight = _Flight(threading.get_ident(), is_async=is_async)
                self._inflight[key] = flight
                return flight, True, None
            return flight, False, None

    def _claim_refresh(self, key: Hashable, now: float, *, is_async: bool) -> _Flight | None:
        """Register a background refresh of ``key``, unless closed, loading or just failed."""
        with self._lock:
            if self._closed or key in self._inflight:
                return None
            failure = self._failures.get(key) if self._failures else None
            if failure is not None and now < failure[2]:
                return None
            owner = threading.get_ident() if is_async else None
            flight = self._inflight[key] = _Flight(owner, is_async=is_async, background=True)
            if not is_async:
                self._thread_refreshes += 1
            return flight

    # -- the sync face -----------------------------------------------------------------------------

    def _load(
        self,
        key: Hashable,
        loader: Callable[[], T],
        ttl: float | None,
        now: float,
        entry: Entry | None,
    ) -> T:
        while True:
            outcome, payload = self._lookup(key, entry, now)
            if outcome is _Outcome.REFRESH:
                self._refresh_in_thread(key, loader, ttl, now)
            if outcome is not _Outcome.MISS:
                return cast("T", payload)
            flight, leader, entry = self._join(key, now, is_async=False)
            if flight is None:
                continue
            if leader:
                return self._run(key, loader, ttl, flight, now)
            if flight.owner == threading.get_ident():
                # Waiting for a load this very thread runs would never end.
                return self._run(key, loader, ttl, None, now)
            flight.event.wait()
            result = flight.result()
            if result is not _ABORTED:
                return cast("T", result)
            entry = self._data.get(key)
            now = self._clock()

    def _run(
        self,
        key: Hashable,
        loader: Callable[[], T],
        ttl: float | None,
        flight: _Flight | None,
        start: float,
        *,
        background: bool = False,
    ) -> T:
        try:
            value = loader()
        except BaseException as error:
            self._settle(
                key, flight, start, ttl=ttl, value=None, error=error, background=background
            )
            raise
        self._settle(key, flight, start, ttl=ttl, value=value, error=None, background=background)
        return value

    def _refresh_in_thread(
        self, key: Hashable, loader: Callable[[], Any], ttl: float | None, now: float
    ) -> None:
        flight = self._claim_refresh(key, now, is_async=False)
        if flight is None:
            return

        def refresh() -> None:
            flight.owner = threading.get_ident()
            # _settle has logged a failure and told the hooks; the worker just moves on.
            with contextlib.suppress(Exception):
                self._run(key, loader, ttl, flight, self._clock(), background=True)

        try:
            future = self._refresh_executor().submit(refresh)
        except Exception as error:  # noqa: BLE001 - the user's executor is shut down, or full
            self._settle(key, flight, now, ttl=ttl, value=None, error=error, background=True)
        else:
            future.add_done_callback(partial(self._refresh_dropped, key, flight))

    def _refresh_dropped(
        self, key: Hashable, flight: _Flight, future: concurrent.futures.Future[None]
    ) -> None:
        """Release the readers of a refresh the executor cancelled before it ran."""
        if future.cancelled():
            self._abort(key, flight)

    def _refresh_executor(self) -> concurrent.futures.Executor:
        executor = self._executor
        if executor is None:
            with self._lock:
                if self._executor is None:
                    self._executor = concurrent.futures.ThreadPoolExecutor(
                        max_workers=REFRESH_WORKERS,
                        thread_name_prefix="commerce_kit-cache-refresh",
                    )
                executor = self._executor
        return executor

    # -- the asyncio face --------------------------------------------------------------------------

    async def _aload(
        self,
        key: Hashable,
        loader: Callable[[], Awaitable[T]],
        ttl: float | None,
        now: float,
        entry: Entry | None,
    ) -> T:
        while True:
            outcome, payload = self._lookup(key, entry, now)
            if outcome is _Outcome.REFRESH:
                refresh = self._claim_refresh(key, now, is_async=True)
                if refresh is not None:
                    self._start_task(key, loader, ttl, refresh)
            if outcome is not _Outcome.MISS:
                return cast("T", payload)
            flight, leader, entry = self._join(key, now, is_async=True)
            if flight is None:
                continue
            if leader:
                self._start_task(key, loader, ttl, flight)
            elif not flight.is_async and flight.owner == threading.get_ident():
                # A sync load on this thread cannot finish while this coroutine waits for it.
                return cast("T", await self._arun(key, loader, ttl, None))
            loop = asyncio.get_running_loop()
            future: asyncio.Future[Any] = loop.create_future()
            with self._lock:
                if not flight.done:
                    flight.async_waiters.append((loop, future))
            if not future.done() and flight.done:
                flight.settle_future(future)
            result = await future
            if result is not _ABORTED:
                return cast("T", result)
            entry = self._data.get(key)
            now = self._clock()

    def _start_task(
        self,
        key: Hashable,
        loader: Callable[[], Awaitable[Any]],
        ttl: float | None,
        flight: _Flight,
    ) -> None:
        task = asyncio.get_running_loop().create_task(self._arun(key, loader, ttl, flight))
        self._tasks[task] = flight.background
        task.add_done_callback(partial(self._task_done, key, flight))

    def _task_done(self, key: Hashable, flight: _Flight, task: asyncio.Task[Any]) -> None:
        """Forget a finished load task; release its waiters if it was cancelled before it ran."""
        self._tasks.pop(task, None)
        self._abort(key, flight)

    async def _arun(
        self,
        key: Hashable,
        loader: Callable[[], Awaitable[Any]],
        ttl: float | None,
        flight: _Flight | None,
    ) -> Any:
        background = flight is not None and flight.background
        start = self._clock()
        try:
            value = await loader()
        except BaseException as error:
            self._settle(
                key, flight, start, ttl=ttl, value=None, error=error, background=background
            )
            if flight is None or not isinstance(error, Exception):
                raise
            return None  # the waiters received the error through the flight
        self._settle(key, flight, start, ttl=ttl, value=value, error=None, background=background)
        return value

    # -- finishing a load --------------------------------------------------------------------------

    def _settle(
        self,
        key: Hashable,
        flight: _Flight | None,
        start: float,
        *,
        ttl: float | None,
        value: object,
        error: BaseException | None,
        background: bool,
    ) -> None:
        """Record a finished load: store or negatively cache it, then wake its waiters."""
        end = self._clock()
        duration = max(0.0, end - start)
        evicted = None
        with self._lock:
            # Read under the lock: a set, delete or clear that detaches this load takes it too.
            store = flight is None or flight.store
            self._loads += 1
            if flight is not None:
                if self._inflight.get(key) is flight:
                    del self._inflight[key]
                flight.done = True
                if error is None:
                    flight.value = value
                elif isinstance(error, Exception):
                    flight.error = error
                    flight.traceback = error.__traceback__
                else:
                    flight.aborted = True
                self._release_refresh(flight)
            if error is None:
                if store:
                    evicted = self._store_locked(key, value, end, ttl, duration)
            else:
                self._load_failures += 1
                if store and isinstance(error, Exception):
                    self._store_failure_locked(key, error, end)
            waiters = flight.async_waiters if flight is not None else []
        if flight is not None:
            flight.event.set()
            if waiters:
                self._wake(flight, waiters)
        if background and isinstance(error, Exception):
            _logger.warning("A background refresh of a cache entry failed", exc_info=error)
        if self._hooks:
            self._emit(LoadFinished(key, duration, error, background))
            if evicted:
                self._emit_evictions(evicted)

    def _abort(self, key: Hashable, flight: _Flight) -> None:
        """End a load that never ran its loader; its waiters look again. No-op once done."""
        with self._lock:
            if flight.done:
                return
            if self._inflight.get(key) is flight:
                del self._inflight[key]
            flight.done = flight.aborted = True
            self._release_refresh(flight)
            waiters = flight.async_waiters
        flight.event.set()
        self._wake(flight, waiters)

    def _release_refresh(self, flight: _Flight) -> None:
        """Count a sync background refresh as finished; lock held."""
        if flight.background and not flight.is_async:
            self._thread_refreshes -= 1
            if not self._thread_refreshes:
                self._refreshes_done.notify_all()

    @staticmethod
    def _wake(
        flight: _Flight, waiters: list[tuple[asyncio.AbstractEventLoop, asyncio.Future[Any]]]
    ) -> None:
        current = _running_loop()
        for loop, future in waiters:
            if loop is current:
                flight.settle_future(future)
            else:
                with contextlib.suppress(RuntimeError):  # a closed loop: its waiter is gone
                    loop.call_soon_threadsafe(flight.settle_future, future)

    # -- closing -----------------------------------------------------------------------------------

    def _close(self) -> None:
        """Refuse new background refreshes, wait for the sync ones, shut our executor down."""
        with self._lock:
            self._closed = True
            self._refreshes_done.wait_for(lambda: not self._thread_refreshes)
            executor = self._executor if self._owns_executor else None
        if executor is not None:
            executor.shutdown(wait=True)

    async def _aclose(self) -> None:
        """Cancel background refresh tasks, await this loop's load tasks, then ``_close``."""
        with self._lock:
            self._closed = True
        loop = asyncio.get_running_loop()
        current = asyncio.current_task()
        mine: list[asyncio.Task[Any]] = []
        for task, background in list(self._tasks.items()):
            task_loop = task.get_loop()
            if task is current:  # a loader closing its own cache: it cannot wait for itself
                continue
            if task_loop is loop:
                mine.append(task)
                if background:
                    task.cancel()
            elif background:
                with contextlib.suppress(RuntimeError):  # that loop is closed: the task is gone
                    task_loop.call_soon_threadsafe(task.cancel)
        if mine:
            await asyncio.wait(mine)
        await asyncio.to_thread(self._close)

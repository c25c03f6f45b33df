"""An in-memory cache with time-to-live, LRU eviction and single-flight loading.

:class:`~commerce_kit.TTLCache` keeps at most ``maxsize`` entries; each lives ``ttl`` seconds.
Reads through a loader (:meth:`~commerce_kit.TTLCache.get_or_load`,
:meth:`~commerce_kit.TTLCache.aget_or_load`, :meth:`~commerce_kit.TTLCache.cached`) share one load
per key between every concurrent caller, thread or asyncio task alike, so a hot key that
expires under load costs one backend query, not one per request.

How the pieces fit:

* Entries are tuples ``(value, fresh_until, dead_at, load_seconds)`` in an
  :class:`collections.OrderedDict` whose order is the LRU order (least recently used first).
  ``fresh_until`` ends the time-to-live; ``dead_at`` is ``fresh_until + stale_ttl``, the end of the
  stale-while-revalidate window.
* The read path takes no lock. A dict lookup, a tuple index and
  :meth:`~collections.OrderedDict.move_to_end` are each one C call that holds the GIL throughout,
  so a concurrent writer is seen either wholly before or wholly after. A key removed between the
  lookup and the move raises :exc:`KeyError`, which the read treats as "was present, now gone":
  it still returns the value it saw. Counters on the read path are :func:`itertools.count`
  objects, whose ``next()`` is one C call and so never loses an increment. Free-threaded CPython
  builds do not give these guarantees.
* Writers (set, delete, eviction, finishing a load) and the table of loads in flight are guarded
  by one :class:`threading.Lock`, which is never held while a loader, a hook or user code runs.
* A load in flight is a ``_Flight``. The first caller that misses starts it; later callers wait on
  it (a :class:`threading.Event` for threads, a future on their own event loop for asyncio), and
  all receive the same value or the same exception.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import itertools
import logging
import math
import random
import threading
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Coroutine, Hashable, Iterable
from dataclasses import dataclass
from datetime import timedelta
from enum import Enum
from functools import partial, wraps
from inspect import iscoroutinefunction
from types import TracebackType
from typing import Any, Generic, ParamSpec, TypeAlias, TypeVar, cast, overload

from commerce_kit._duration import to_seconds
from commerce_kit._hooks import emit

__all__ = [
    "CacheEvent",
    "CacheStats",
    "EntryEvicted",
    "EvictionReason",
    "LoadFinished",
    "TTLCache",
]

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")
T = TypeVar("T")
R = TypeVar("R")
P = ParamSpec("P")

_logger = logging.getLogger("commerce_kit.cache")


class EvictionReason(Enum):
    """Why an entry left the cache without being deleted.

    .. versionadded:: 0.1.0
    """

    #: The cache was full and this was its least recently used entry.
    SIZE = "size"
    #: The entry's lifetime (``ttl`` plus any ``stale_ttl``) had ended.
    EXPIRED = "expired"


@dataclass(frozen=True, slots=True)
class LoadFinished:
    """A loader call finished, by returning or by raising.

    Attributes:
        key: The key that was loaded.
        duration: Seconds the loader took, measured with the cache's clock.
        error: The exception the loader raised, or ``None`` when it returned a value.
        background: Whether this was a background refresh (stale-while-revalidate or early
            refresh) that no caller was waiting for when it started.

    .. versionadded:: 0.1.0
    """

    key: Hashable
    duration: float
    error: BaseException | None = None
    background: bool = False

    @property
    def ok(self) -> bool:
        """Whether the loader returned a value."""
        return self.error is None


@dataclass(frozen=True, slots=True)
class EntryEvicted:
    """An entry left the cache because it was full or because it had expired.

    Explicit :meth:`TTLCache.delete` and :meth:`TTLCache.clear` calls emit no event.

    Attributes:
        key: The key that left the cache.
        reason: Why it left.

    .. versionadded:: 0.1.0
    """

    key: Hashable
    reason: EvictionReason


#: What a cache hook receives.
CacheEvent: TypeAlias = LoadFinished | EntryEvicted


@dataclass(frozen=True, slots=True)
class CacheStats:
    """A snapshot of a cache's counters, taken by :attr:`TTLCache.stats`.

    Attributes:
        hits: Reads answered from the cache, stale values included.
        misses: Reads that found no usable entry (including reads answered by re-raising a
            negatively cached failure).
        stale_hits: The part of ``hits`` that served a stale value while a refresh ran.
        loads: Loader calls made.
        load_failures: The part of ``loads`` that raised (or were cancelled).
        evictions: Entries dropped because the cache was full.
        expirations: Expired entries removed (lazily, by :meth:`TTLCache.expire`, or when they were
            the eviction victim).

    .. versionadded:: 0.1.0
    """

    hits: int = 0
    misses: int = 0
    stale_hits: int = 0
    loads: int = 0
    load_failures: int = 0
    evictions: int = 0
    expirations: int = 0

    @property
    def hit_rate(self) -> float:
        """``hits / (hits + misses)``, or ``0.0`` before the first read."""
        total = self.hits + self.misses
        return self.hits / total if total else 0.0


def _count_value(counter: itertools.count[int]) -> int:
    # An itertools.count exposes its next value only through repr: "count(42)".
    return int(repr(counter)[6:-1])


class _Outcome(Enum):
    """What a loading read decided before any waiting: serve, serve and refresh, fail or miss."""

    HIT = 0
    REFRESH = 1
    FAILED = 2
    MISS = 3


# Marks, in a waiter's future, a load that was cancelled or interrupted: the waiter tries again.
_ABORTED: Any = object()
# Separates positional arguments from keyword items in the default key of `cached`.
_KWARGS_MARK: Any = object()


class _Flight:
    """One load in progress for one key, shared by every caller that misses it meanwhile."""

    __slots__ = (
        "aborted",
        "async_waiters",
        "done",
        "error",
        "event",
        "is_async",
        "owner",
        "store",
        "traceback",
        "value",
        "waiters",
    )

    def __init__(self, owner: int | None, *, is_async: bool) -> None:
        #: The thread running the load (None until a background thread starts it).
        self.owner = owner
        self.is_async = is_async
        #: False once a set, delete or clear made this load's result out of date.
        self.store = True
        self.done = False
        self.aborted = False
        self.value: object = None
        self.error: BaseException | None = None
        self.traceback: TracebackType | None = None
        self.event = threading.Event()
        self.async_waiters: list[tuple[asyncio.AbstractEventLoop, asyncio.Future[Any]]] = []
        #: How many callers joined this load instead of starting their own.
        self.waiters = 0

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


class TTLCache(Generic[K, V]):
    """An in-memory cache whose entries expire after ``ttl`` and whose size is capped by LRU.

    Plain reads and writes (:meth:`get`, :meth:`set`, :meth:`delete`, ``in``) behave like a
    dictionary whose entries vanish once expired. Reads through a loader
    (:meth:`get_or_load`, :meth:`aget_or_load`, :meth:`cached`) add single-flight loading: however
    many threads or tasks miss one key at once, the loader runs once and they all receive its value
    or its exception. A failed load is not cached (unless ``negative_ttl`` asks for it), so the
    next read loads again. Loads of different keys run independently.

    Expired entries are never returned; they are removed lazily, when a read finds them, when they
    reach the LRU end of a full cache, or by :meth:`expire`. ``len(cache)`` counts the entries
    that are fresh now (it scans, so it costs O(n)).

    Stale-while-revalidate (``stale_ttl``): once an entry's ``ttl`` has passed, loader reads keep
    receiving the old value at once for ``stale_ttl`` more seconds while one background refresh
    runs (a daemon thread, or ``executor``, for :meth:`get_or_load`; a task on the running loop
    for :meth:`aget_or_load`). Plain :meth:`get` never returns a stale value.

    Early refresh (``beta``): loader reads of a fresh entry start a background refresh before it
    expires with probability rising towards expiry, by the XFetch rule of Vattani, Chierichetti and
    Lowenstein (2015): refresh when ``now - load_seconds * beta * log(u) >= fresh_until`` for
    ``u = 1 - random()`` in (0, 1], ``load_seconds`` being how long the entry's load took. A hot key
    is then refreshed before any reader has to wait for it. Values put with :meth:`set` carry no
    load time and are never refreshed early.

    Negative caching (``negative_ttl``): when a loader raises an :class:`Exception`, the exception
    is kept for ``negative_ttl`` seconds and re-raised to loader reads of that key without calling
    the loader; a stale value, if one is held, is still served and no refresh starts until the
    failure expires. A ``None`` result is an ordinary value, cached for the full ``ttl``.

    Thread safety: every method may be called from any thread. Reads take no lock (see the module
    notes); writes take one short lock that is never held while user code runs.

    Args:
        ttl: How long an entry stays fresh, in seconds or as a timedelta.
        maxsize: The most entries kept; inserting beyond it evicts the least recently used.
        clock: Monotonic seconds; :class:`commerce_kit.testing.ManualClock` in tests.
        stale_ttl: How long past ``ttl`` an entry may still be served to loader reads while it is
            refreshed; ``0`` (the default) turns stale-while-revalidate off.
        beta: XFetch's eagerness; ``0`` (the default) turns early refresh off, ``1.0`` is the
            paper's recommendation, larger refreshes earlier.
        random: Returns floats in [0, 1); used only by early refresh. Inject a seeded
            :meth:`random.Random.random` to make tests deterministic.
        negative_ttl: How long a loader's exception is cached; ``None`` (the default) caches none.
        executor: Runs background refreshes of :meth:`get_or_load`; by default each refresh
            runs on a new daemon thread.
        hooks: Callables that receive a :class:`LoadFinished` after every loader call and an
            :class:`EntryEvicted` for every eviction or expiry; an exception raised by a hook is
            logged and ignored.

    Raises:
        ValueError: A duration is negative, zero where it must be positive, or not finite;
            ``maxsize`` is below 1; ``beta`` is negative or not finite.
        TypeError: A duration is neither a number nor a timedelta, or ``maxsize`` is not an int.

    Example:
        >>> from commerce_kit import TTLCache
        >>> from commerce_kit.testing import ManualClock
        >>> clock = ManualClock()
        >>> cache: TTLCache[str, int] = TTLCache(ttl=30.0, maxsize=2, clock=clock)
        >>> cache.set("a", 1)
        >>> cache.get("a"), "a" in cache
        (1, True)
        >>> clock.advance(30)
        >>> cache.get("a"), "a" in cache
        (None, False)

    .. versionadded:: 0.1.0
    """

    __slots__ = (
        "__weakref__",
        "_beta",
        "_clock",
        "_data",
        "_evictions",
        "_executor",
        "_expirations",
        "_failures",
        "_hits",
        "_hooks",
        "_inflight",
        "_load_failures",
        "_loads",
        "_lock",
        "_maxsize",
        "_misses",
        "_negative_ttl",
        "_random",
        "_stale_hits",
        "_stale_ttl",
        "_tasks",
        "_ttl",
    )

    def __init__(
        self,
        *,
        ttl: float | timedelta,
        maxsize: int = 1024,
        clock: Callable[[], float] = time.monotonic,
        stale_ttl: float | timedelta = 0.0,
        beta: float = 0.0,
        random: Callable[[], float] = random.random,
        negative_ttl: float | timedelta | None = None,
        executor: concurrent.futures.Executor | None = None,
        hooks: Iterable[Callable[[CacheEvent], None]] = (),
    ) -> None:
        if not isinstance(maxsize, int) or isinstance(maxsize, bool):  # type: ignore[redundant-expr]
            raise TypeError(f"maxsize must be an int, got {type(maxsize).__name__}")
        if maxsize < 1:
            raise ValueError(f"maxsize must be >= 1, got {maxsize!r}")
        if not isinstance(beta, (int, float)) or isinstance(beta, bool):  # type: ignore[redundant-expr]
            raise TypeError(f"beta must be a number, got {type(beta).__name__}")
        if not math.isfinite(beta) or beta < 0:
            raise ValueError(f"beta must be a finite number >= 0, got {beta!r}")
        self._ttl = to_seconds(ttl, name="ttl")
        self._maxsize = maxsize
        self._clock = clock
        self._stale_ttl = to_seconds(stale_ttl, name="stale_ttl", allow_zero=True)
        self._beta = float(beta)
        self._random = random
        self._negative_ttl = (
            None if negative_ttl is None else to_seconds(negative_ttl, name="negative_ttl")
        )
        self._executor = executor
        self._hooks = tuple(hooks)
        self._lock = threading.Lock()
        self._data: OrderedDict[Hashable, tuple[Any, float, float, float]] = OrderedDict()
        self._failures: OrderedDict[Hashable, tuple[BaseException, TracebackType | None, float]] = (
            OrderedDict()
        )
        self._inflight: dict[Hashable, _Flight] = {}
        self._tasks: set[asyncio.Task[Any]] = set()
        # Read-path counters are itertools.count (lock-free and exact); the rest change only under
        # the lock.
        self._hits = itertools.count()
        self._misses = itertools.count()
        self._stale_hits = itertools.count()
        self._loads = 0
        self._load_failures = 0
        self._evictions = 0
        self._expirations = 0

    def __repr__(self) -> str:
        return f"TTLCache(ttl={self._ttl!r}, maxsize={self._maxsize!r}, stored={len(self._data)!r})"

    @property
    def ttl(self) -> float:
        """The default time-to-live, in seconds."""
        return self._ttl

    @property
    def maxsize(self) -> int:
        """The most entries the cache keeps."""
        return self._maxsize

    @property
    def stats(self) -> CacheStats:
        """A consistent snapshot of the counters (see :class:`CacheStats`)."""
        with self._lock:
            return CacheStats(
                hits=_count_value(self._hits),
                misses=_count_value(self._misses),
                stale_hits=_count_value(self._stale_hits),
                loads=self._loads,
                load_failures=self._load_failures,
                evictions=self._evictions,
                expirations=self._expirations,
            )

    # -- dictionary-like face ---------------------------------------------------------------------

    @overload
    def get(self, key: K) -> V | None: ...

    @overload
    def get(self, key: K, default: V | T) -> V | T: ...

    def get(self, key: K, default: object = None) -> object:
        """Return the fresh value stored under ``key``, or ``default``.

        A hit marks the entry most recently used. An expired entry found here is removed.

        Args:
            key: The key to look up.
            default: What to return when there is no fresh entry.

        Returns:
            The cached value, or ``default``.
        """
        data = self._data
        entry = data.get(key)
        if entry is not None:
            now = self._clock()
            if now < entry[1]:
                try:  # noqa: SIM105 - contextlib.suppress costs a context manager on the read path
                    data.move_to_end(key)
                except KeyError:  # removed by another thread since the lookup
                    pass
                next(self._hits)
                return entry[0]
            if now >= entry[2]:
                self._drop_dead(key, entry)
        next(self._misses)
        return default

    def set(self, key: K, value: V, ttl: float | timedelta | None = None) -> None:
        """Store ``value`` under ``key``, fresh for ``ttl`` (default: the cache's ``ttl``).

        The entry becomes the most recently used; if the cache is then over ``maxsize``, the least
        recently used entry is evicted. A load of ``key`` in flight is detached: its callers still
        receive its result, but it will not overwrite this value. A cached failure for ``key`` is
        forgotten.

        Args:
            key: The key.
            value: The value.
            ttl: This entry's time-to-live, overriding the cache's.

        Raises:
            ValueError: ``ttl`` is not a positive, finite duration.
            TypeError: ``ttl`` is neither a number nor a timedelta.
        """
        now = self._clock()
        fresh_until = now + (self._ttl if ttl is None else to_seconds(ttl, name="ttl"))
        stale = self._stale_ttl
        entry = (value, fresh_until, fresh_until + stale if stale else fresh_until, 0.0)
        data = self._data
        lock = self._lock
        # acquire/release rather than `with`: the context-manager protocol costs as much again.
        lock.acquire()
        try:
            if self._inflight or self._failures:
                self._forget(key)
            data[key] = entry
            data.move_to_end(key)
            if len(data) <= self._maxsize:
                return
            if self._hooks:
                evicted = self._evict(now)
            else:  # the common case, inlined: one victim, no events to build
                if now >= data.popitem(last=False)[1][2]:
                    self._expirations += 1
                else:
                    self._evictions += 1
                return
        finally:
            lock.release()
        self._emit_evictions(evicted)

    def delete(self, key: K) -> bool:
        """Remove ``key``, forget a cached failure for it and detach a load of it in flight.

        The detached load's callers still receive its result, but it is not stored, so a read
        after ``delete`` loads afresh.

        Args:
            key: The key to remove.

        Returns:
            Whether a fresh entry was removed (what ``key in cache`` said just before).
        """
        now = self._clock()
        with self._lock:
            entry = self._data.pop(key, None)
            if self._inflight or self._failures:
                self._forget(key)
        return entry is not None and now < entry[1]

    def clear(self) -> None:
        """Remove every entry and cached failure and detach every load in flight.

        The counters in :attr:`stats` are kept.
        """
        with self._lock:
            self._data.clear()
            self._failures.clear()
            for flight in self._inflight.values():
                flight.store = False
            self._inflight.clear()

    def expire(self) -> int:
        """Remove every entry whose lifetime has ended (past ``ttl`` plus ``stale_ttl``).

        Expired entries are also removed lazily; call this to free their memory at once.

        Returns:
            How many entries were removed.
        """
        now = self._clock()
        # list() copies in one C call, so concurrent LRU moves cannot break the iteration.
        dead = [(key, entry) for key, entry in list(self._data.items()) if now >= entry[2]]
        removed: list[Hashable] = []
        with self._lock:
            for key, entry in dead:
                if self._data.get(key) is entry:
                    del self._data[key]
                    removed.append(key)
            self._expirations += len(removed)
        if self._hooks:
            for key in removed:
                self._emit(EntryEvicted(key, EvictionReason.EXPIRED))
        return len(removed)

    def __contains__(self, key: object) -> bool:
        """Whether ``key`` has a fresh entry; unlike :meth:`get` this counts no hit or miss."""
        entry = self._data.get(key)
        return entry is not None and self._clock() < entry[1]

    def __len__(self) -> int:
        """The number of fresh entries; O(n), as expired ones may not be removed yet."""
        now = self._clock()
        return sum(now < entry[1] for entry in list(self._data.values()))

    # -- loading face -----------------------------------------------------------------------------

    def get_or_load(
        self, key: K, loader: Callable[[], V], *, ttl: float | timedelta | None = None
    ) -> V:
        """Return the value of ``key``, calling ``loader`` once if it is missing or expired.

        Concurrent callers that miss the same key share one ``loader`` call: the first runs it, the
        others wait and receive its value, or its exception re-raised. A caller never waits for a
        load running on its own thread (a loader that reads its own key, or a sync read inside a
        coroutine while a task loads that key); it calls ``loader`` itself instead.

        With ``stale_ttl`` or ``beta`` set, a stale or soon-expiring entry is returned at once and
        one refresh runs in the background (on ``executor`` or a daemon thread).

        Args:
            key: The key.
            loader: Called without arguments to produce the value on a miss.
            ttl: The loaded entry's time-to-live, overriding the cache's.

        Returns:
            The cached or freshly loaded value.

        Raises:
            Exception: Whatever ``loader`` raised (for this caller's load or the shared one), or
                the cached failure while ``negative_ttl`` keeps it.
        """
        if ttl is not None:
            ttl = to_seconds(ttl, name="ttl")
        data = self._data
        entry = data.get(key)
        now = self._clock()
        if entry is not None and now < entry[1] and not self._beta:
            try:  # noqa: SIM105 - contextlib.suppress costs a context manager on the read path
                data.move_to_end(key)
            except KeyError:  # removed by another thread since the lookup
                pass
            next(self._hits)
            value: V = entry[0]  # an annotation, not typing.cast: no call on the read path
            return value
        return self._load(key, loader, ttl, now, entry)

    async def aget_or_load(
        self,
        key: K,
        loader: Callable[[], Awaitable[V]],
        *,
        ttl: float | timedelta | None = None,
    ) -> V:
        """Return the value of ``key``, awaiting ``loader()`` once if it is missing or expired.

        The asyncio face of :meth:`get_or_load`, sharing its loads with threads and other loops.
        The load runs in its own task, so cancelling a waiting caller (even the one that started
        the load) does not cancel the load: the other callers still receive its result, and if
        every caller gave up the value is still cached when it arrives. A load cancelled by other
        means (for example its event loop shutting down) hands its callers no result; they start
        a new load.

        Args:
            key: The key.
            loader: Called without arguments on a miss; returns an awaitable of the value.
            ttl: The loaded entry's time-to-live, overriding the cache's.

        Returns:
            The cached or freshly loaded value.

        Raises:
            Exception: Whatever the load raised, or the cached failure while ``negative_ttl``
                keeps it.
        """
        if ttl is not None:
            ttl = to_seconds(ttl, name="ttl")
        data = self._data
        entry = data.get(key)
        now = self._clock()
        if entry is not None and now < entry[1] and not self._beta:
            try:  # noqa: SIM105 - contextlib.suppress costs a context manager on the read path
                data.move_to_end(key)
            except KeyError:  # removed by another thread since the lookup
                pass
            next(self._hits)
            value: V = entry[0]
            return value
        return await self._aload(key, loader, ttl, now, entry)

    def cached(
        self,
        *,
        key: Callable[..., Hashable] | None = None,
        ttl: float | timedelta | None = None,
    ) -> Callable[[Callable[P, R]], Callable[P, R]]:
        """Memoize a function (``def`` or ``async def``) in this cache, with single-flight loading.

        By default the key is ``(wrapper, *args)`` when called without keyword arguments, where
        ``wrapper`` is the decorated function itself, so several functions can share one cache and
        ``cache.delete((get_listing, 7))`` forgets ``get_listing(7)``. Keyword arguments are
        appended after a private marker in the order given, so ``f(a=1, b=2)`` and ``f(b=2, a=1)``
        are cached apart, as with :func:`functools.lru_cache`. Every argument must be hashable;
        on methods, ``self`` is part of the key and the cache keeps the instance alive.

        Args:
            key: Builds the key from the call's arguments instead; its result is used as is.
            ttl: The time-to-live of entries this function stores, overriding the cache's.

        Returns:
            A decorator that keeps the function's signature.

        Raises:
            ValueError: ``ttl`` is not a positive, finite duration.
            TypeError: ``ttl`` is neither a number nor a timedelta.
        """
        entry_ttl = None if ttl is None else to_seconds(ttl, name="ttl")

        def decorate(fn: Callable[P, R]) -> Callable[P, R]:
            if iscoroutinefunction(fn):
                return cast("Callable[P, R]", self._wrap_async(fn, key, entry_ttl))
            return self._wrap_sync(fn, key, entry_ttl)

        return decorate

    # -- internals: the decorator's two faces -----------------------------------------------------

    def _wrap_sync(
        self,
        fn: Callable[P, R],
        make_key: Callable[..., Hashable] | None,
        ttl: float | None,
    ) -> Callable[P, R]:
        # One closure per case, chosen once here, so a hit runs no branch it does not need: the
        # default key for positional-only calls is a single tuple concatenation, and the clock is
        # read only once an entry is found (a miss reads it on the way to the load instead).
        data_get = self._data.get
        move = self._data.move_to_end
        clock = self._clock
        hits = self._hits
        load = self._load
        prefix: tuple[Hashable, ...] = ()  # (wrapper,), once wrapper exists

        if self._beta:
            # Early refresh decides on every read, so every read goes through the loading path.
            @wraps(fn)
            def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
                if make_key is not None:
                    key = make_key(*args, **kwargs)
                elif kwargs:
                    key = (*prefix, *args, _KWARGS_MARK, *kwargs.items())
                else:
                    key = prefix + args
                entry = data_get(key)
                return load(key, partial(fn, *args, **kwargs), ttl, clock(), entry)

        elif make_key is None:

            @wraps(fn)
            def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
                key = (*prefix, *args, _KWARGS_MARK, *kwargs.items()) if kwargs else prefix + args
                entry = data_get(key)
                if entry is not None:
                    now = clock()
                    if now < entry[1]:
                        try:  # noqa: SIM105 - contextlib.suppress costs a context manager here
                            move(key)
                        except KeyError:  # removed by another thread since the lookup
                            pass
                        next(hits)
                        value: R = entry[0]
                        return value
                    return load(key, partial(fn, *args, **kwargs), ttl, now, entry)
                return load(key, partial(fn, *args, **kwargs), ttl, clock(), None)

        else:
            build_key = make_key

            @wraps(fn)
            def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
                key = build_key(*args, **kwargs)
                entry = data_get(key)
                if entry is not None:
                    now = clock()
                    if now < entry[1]:
                        try:  # noqa: SIM105 - contextlib.suppress costs a context manager here
                            move(key)
                        except KeyError:  # removed by another thread since the lookup
                            pass
                        next(hits)
                        value: R = entry[0]
                        return value
                    return load(key, partial(fn, *args, **kwargs), ttl, now, entry)
                return load(key, partial(fn, *args, **kwargs), ttl, clock(), None)

        prefix = (wrapper,)
        return wrapper

    def _wrap_async(
        self,
        fn: Callable[P, Coroutine[Any, Any, R]],
        make_key: Callable[..., Hashable] | None,
        ttl: float | None,
    ) -> Callable[P, Coroutine[Any, Any, R]]:
        # The same specialisation as _wrap_sync.
        data_get = self._data.get
        move = self._data.move_to_end
        clock = self._clock
        hits = self._hits
        aload = self._aload
        prefix: tuple[Hashable, ...] = ()  # (wrapper,), once wrapper exists

        if self._beta:

            @wraps(fn)
            async def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
                if make_key is not None:
                    key = make_key(*args, **kwargs)
                elif kwargs:
                    key = (*prefix, *args, _KWARGS_MARK, *kwargs.items())
                else:
                    key = prefix + args
                entry = data_get(key)
                return await aload(key, partial(fn, *args, **kwargs), ttl, clock(), entry)

        elif make_key is None:

            @wraps(fn)
            async def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
                key = (*prefix, *args, _KWARGS_MARK, *kwargs.items()) if kwargs else prefix + args
                entry = data_get(key)
                if entry is not None:
                    now = clock()
                    if now < entry[1]:
                        try:  # noqa: SIM105 - contextlib.suppress costs a context manager here
                            move(key)
                        except KeyError:  # removed by another thread since the lookup
                            pass
                        next(hits)
                        value: R = entry[0]
                        return value
                    return await aload(key, partial(fn, *args, **kwargs), ttl, now, entry)
                return await aload(key, partial(fn, *args, **kwargs), ttl, clock(), None)

        else:
            build_key = make_key

            @wraps(fn)
            async def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
                key = build_key(*args, **kwargs)
                entry = data_get(key)
                if entry is not None:
                    now = clock()
                    if now < entry[1]:
                        try:  # noqa: SIM105 - contextlib.suppress costs a context manager here
                            move(key)
                        except KeyError:  # removed by another thread since the lookup
                            pass
                        next(hits)
                        value: R = entry[0]
                        return value
                    return await aload(key, partial(fn, *args, **kwargs), ttl, now, entry)
                return await aload(key, partial(fn, *args, **kwargs), ttl, clock(), None)

        prefix = (wrapper,)
        return wrapper

    # -- internals: deciding, shared by both faces ------------------------------------------------

    def _lookup(
        self, key: Hashable, entry: tuple[Any, float, float, float] | None, now: float
    ) -> tuple[_Outcome, Any]:
        """Decide what a loading read of ``key`` gets at ``now``; runs no loader and never waits."""
        if entry is not None:
            if now < entry[1]:
                self._touch(key)
                next(self._hits)
                beta = self._beta
                if (
                    beta
                    and entry[3]
                    and key not in self._inflight
                    and now - entry[3] * beta * math.log(1.0 - self._random()) >= entry[1]
                ):
                    return _Outcome.REFRESH, entry[0]
                return _Outcome.HIT, entry[0]
            if now < entry[2]:
                self._touch(key)
                next(self._hits)
                next(self._stale_hits)
                if key in self._inflight:
                    return _Outcome.HIT, entry[0]
                return _Outcome.REFRESH, entry[0]
            self._drop_dead(key, entry)
        if self._failures:
            failure = self._failures.get(key)
            if failure is not None:
                if now < failure[2]:
                    next(self._misses)
                    return _Outcome.FAILED, failure
                with self._lock:
                    if self._failures.get(key) is failure:
                        del self._failures[key]
        return _Outcome.MISS, None

    def _join(
        self, key: Hashable, now: float, *, is_async: bool
    ) -> tuple[_Flight | None, bool, tuple[Any, float, float, float] | None]:
        """Lead or join the load of ``key``; ``(None, False, entry)`` means look again instead.

        Under the lock, the entry is looked up again: a load that finished since the lock-free
        lookup has stored it, and starting another would break single-flight.
        """
        with self._lock:
            entry = self._data.get(key)
            if entry is not None and now < entry[2]:
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
            flight.waiters += 1
            return flight, False, None

    def _claim_refresh(self, key: Hashable, now: float, *, is_async: bool) -> _Flight | None:
        """Register a background refresh of ``key`` unless a load is in flight or it just failed."""
        with self._lock:
            if key in self._inflight:
                return None
            failure = self._failures.get(key) if self._failures else None
            if failure is not None and now < failure[2]:
                return None
            owner = threading.get_ident() if is_async else None
            flight = self._inflight[key] = _Flight(owner, is_async=is_async)
            return flight

    # -- internals: the sync face -----------------------------------------------------------------

    def _load(
        self,
        key: Hashable,
        loader: Callable[[], T],
        ttl: float | None,
        now: float,
        entry: tuple[Any, float, float, float] | None,
    ) -> T:
        while True:
            outcome, payload = self._lookup(key, entry, now)
            value: T
            if outcome is _Outcome.HIT:
                value = payload
                return value
            if outcome is _Outcome.REFRESH:
                self._refresh_in_thread(key, loader, ttl, now)
                value = payload
                return value
            if outcome is _Outcome.FAILED:
                raise payload[0].with_traceback(payload[1])
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
            # _settle has logged a failure and told the hooks; the thread just ends.
            with contextlib.suppress(Exception):
                self._run(key, loader, ttl, flight, self._clock(), background=True)

        try:
            if self._executor is None:
                threading.Thread(
                    target=refresh, name="commerce_kit-cache-refresh", daemon=True
                ).start()
            else:
                self._executor.submit(refresh)
        except Exception as error:  # noqa: BLE001 - a shut-down executor, or no thread left
            self._settle(key, flight, now, ttl=ttl, value=None, error=error, background=True)

    # -- internals: the asyncio face --------------------------------------------------------------

    async def _aload(
        self,
        key: Hashable,
        loader: Callable[[], Awaitable[T]],
        ttl: float | None,
        now: float,
        entry: tuple[Any, float, float, float] | None,
    ) -> T:
        while True:
            outcome, payload = self._lookup(key, entry, now)
            value: T
            if outcome is _Outcome.HIT:
                value = payload
                return value
            if outcome is _Outcome.REFRESH:
                flight = self._claim_refresh(key, now, is_async=True)
                if flight is not None:
                    self._start_task(key, loader, ttl, flight, background=True)
                value = payload
                return value
            if outcome is _Outcome.FAILED:
                raise payload[0].with_traceback(payload[1])
            flight, leader, entry = self._join(key, now, is_async=True)
            if flight is None:
                continue
            if leader:
                self._start_task(key, loader, ttl, flight, background=False)
            elif not flight.is_async and flight.owner == threading.get_ident():
                # A sync load on this thread cannot finish while this coroutine waits for it.
                return cast("T", await self._arun(key, loader, ttl, None, background=False))
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
        *,
        background: bool,
    ) -> None:
        task = asyncio.get_running_loop().create_task(
            self._arun(key, loader, ttl, flight, background=background)
        )
        # The loop keeps only weak references to tasks; keep this one alive until it is done.
        self._tasks.add(task)
        task.add_done_callback(partial(self._task_done, key, flight))

    def _task_done(self, key: Hashable, flight: _Flight, task: asyncio.Task[Any]) -> None:
        """Release the waiters of a load task cancelled before its first step ran the loader."""
        self._tasks.discard(task)
        with self._lock:
            if flight.done:
                return
            if self._inflight.get(key) is flight:
                del self._inflight[key]
            flight.done = flight.aborted = True
            waiters = flight.async_waiters
        flight.event.set()
        self._wake(flight, waiters)

    async def _arun(
        self,
        key: Hashable,
        loader: Callable[[], Awaitable[Any]],
        ttl: float | None,
        flight: _Flight | None,
        *,
        background: bool,
    ) -> Any:
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

    # -- internals: writing -----------------------------------------------------------------------

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
        evicted: list[tuple[Hashable, EvictionReason]] | None = None
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
            if error is None:
                if store:
                    if self._failures:
                        self._failures.pop(key, None)
                    fresh_until = end + (self._ttl if ttl is None else ttl)
                    stale = self._stale_ttl
                    dead_at = fresh_until + stale if stale else fresh_until
                    self._data[key] = (value, fresh_until, dead_at, duration)
                    self._data.move_to_end(key)
                    if len(self._data) > self._maxsize:
                        evicted = self._evict(end)
            else:
                self._load_failures += 1
                if store and self._negative_ttl is not None and isinstance(error, Exception):
                    self._failures[key] = (error, error.__traceback__, end + self._negative_ttl)
                    self._failures.move_to_end(key)
                    if len(self._failures) > self._maxsize:
                        self._failures.popitem(last=False)
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

    def _touch(self, key: Hashable) -> None:
        try:  # noqa: SIM105 - contextlib.suppress costs a context manager on the read path
            self._data.move_to_end(key)
        except KeyError:  # removed by another thread since the lookup
            pass

    def _forget(self, key: Hashable) -> None:
        """Drop a cached failure for ``key`` and detach a load of it in flight; lock held.

        The detached load still delivers to its callers, but does not store its result.
        """
        self._failures.pop(key, None)
        flight = self._inflight.pop(key, None)
        if flight is not None:
            flight.store = False

    def _evict(self, now: float) -> list[tuple[Hashable, EvictionReason]]:
        """Drop least recently used entries down to ``maxsize``; lock held.

        Returns:
            The keys dropped and why, for the hooks (an empty list when there are no hooks).
        """
        data = self._data
        evicted: list[tuple[Hashable, EvictionReason]] = []
        hooks = self._hooks
        while len(data) > self._maxsize:
            key, entry = data.popitem(last=False)
            if now >= entry[2]:
                self._expirations += 1
                reason = EvictionReason.EXPIRED
            else:
                self._evictions += 1
                reason = EvictionReason.SIZE
            if hooks:
                evicted.append((key, reason))
        return evicted

    def _drop_dead(self, key: Hashable, entry: tuple[Any, float, float, float]) -> None:
        with self._lock:
            if self._data.get(key) is not entry:
                return  # replaced or removed meanwhile
            del self._data[key]
            self._expirations += 1
        if self._hooks:
            self._emit(EntryEvicted(key, EvictionReason.EXPIRED))

    def _emit_evictions(self, evicted: list[tuple[Hashable, EvictionReason]]) -> None:
        for key, reason in evicted:
            self._emit(EntryEvicted(key, reason))

    def _emit(self, event: LoadFinished | EntryEvicted) -> None:
        emit(self._hooks, event, _logger)

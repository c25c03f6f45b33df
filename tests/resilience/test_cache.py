"""TTLCache: the dictionary face, stats, hooks, the decorator and argument checking."""

from __future__ import annotations

import asyncio
import functools
import inspect
import logging
import re
from collections.abc import Callable, Hashable
from datetime import timedelta

import pytest

from commerce_kit import TTLCache
from commerce_kit.resilience import CacheStats, EntryEvicted, EvictionReason, LoadFinished
from commerce_kit.testing import ManualClock
from commerce_kit.typing import CacheEvent


def make(
    ttl: float = 10.0, maxsize: int = 4, **kwargs: object
) -> tuple[TTLCache[Hashable, object], ManualClock]:
    clock = ManualClock()
    cache: TTLCache[Hashable, object] = TTLCache(
        ttl=ttl,
        maxsize=maxsize,
        clock=clock,
        **kwargs,  # type: ignore[arg-type]
    )
    return cache, clock


def stored(cache: TTLCache[Hashable, object]) -> str:
    """How many entries the cache holds, expired ones included, as its repr shows it."""
    match = re.search(r"stored=\d+", repr(cache))
    assert match is not None
    return match.group()


def lru_order(cache: TTLCache[Hashable, object], keys: str) -> list[Hashable]:
    """The fresh ``keys`` of a full cache from least to most recently used (empties the cache).

    Each new key put in a full cache evicts the least recently used entry, and ``in`` tells which
    one went without touching the order: the public way to read it.
    """
    present = [key for key in keys if key in cache]
    order: list[Hashable] = []
    for i in range(len(present)):
        cache.set(("probe", i), None)
        gone = [key for key in present if key not in order and key not in cache]
        assert 1 == len(gone)
        order += gone
    return order


# -- dictionary face -------------------------------------------------------------------------------


def test_get_returns_what_set_stored() -> None:
    cache, _ = make()
    cache.set("a", 1)
    assert 1 == cache.get("a")


def test_get_of_a_missing_key_returns_the_default() -> None:
    cache, _ = make()
    assert (None, "dflt") == (cache.get("nope"), cache.get("nope", "dflt"))


def test_a_cached_none_is_told_apart_from_a_miss_by_the_default() -> None:
    cache, _ = make()
    cache.set("a", None)
    sentinel = object()
    assert cache.get("a", sentinel) is None


def test_an_entry_is_fresh_until_just_before_its_ttl_ends() -> None:
    cache, clock = make(ttl=10)
    cache.set("a", 1)
    clock.advance(9.999)
    assert 1 == cache.get("a")
    clock.advance(0.001)
    assert cache.get("a") is None


def test_an_expired_entry_found_by_get_is_removed() -> None:
    events: list[CacheEvent] = []
    cache, clock = make(ttl=10, hooks=[events.append])
    cache.set("a", 1)
    clock.advance(10)
    cache.get("a")
    assert ("stored=0", 1) == (stored(cache), cache.stats.expirations)
    assert [EntryEvicted("a", EvictionReason.EXPIRED)] == events


def test_per_entry_ttl_overrides_the_default() -> None:
    cache, clock = make(ttl=10)
    cache.set("short", 1, ttl=1)
    cache.set("long", 2, ttl=timedelta(seconds=100))
    clock.advance(50)
    assert (None, 2) == (cache.get("short"), cache.get("long"))


def test_setting_an_existing_key_replaces_value_and_ttl() -> None:
    cache, clock = make(ttl=10)
    cache.set("a", 1)
    clock.advance(8)
    cache.set("a", 2)
    clock.advance(8)
    assert 2 == cache.get("a")


def test_the_least_recently_used_entry_is_evicted_at_maxsize() -> None:
    cache, _ = make(maxsize=3)
    for key in "abc":
        cache.set(key, key)
    cache.get("a")  # b is now the least recently used
    cache.set("d", "d")
    assert (1, "b" in cache) == (cache.stats.evictions, False)
    assert ["c", "a", "d"] == lru_order(cache, "abcd")


def test_an_expired_eviction_victim_counts_as_an_expiration() -> None:
    cache, clock = make(ttl=10, maxsize=1)
    cache.set("a", 1)
    clock.advance(10)
    cache.set("b", 2)
    assert (0, 1) == (cache.stats.evictions, cache.stats.expirations)


def test_contains_tells_fresh_entries_without_touching_stats_or_order() -> None:
    cache, clock = make(ttl=10)
    cache.set("a", 1)
    cache.set("b", 2)
    assert ("a" in cache, "zz" in cache) == (True, False)
    assert CacheStats() == cache.stats
    clock.advance(10)
    assert "a" not in cache


def test_contains_does_not_mark_an_entry_recently_used() -> None:
    cache, _ = make(maxsize=2)
    cache.set("a", 1)
    cache.set("b", 2)
    assert "a" in cache
    assert ["a", "b"] == lru_order(cache, "ab")


def test_delete_reports_whether_a_fresh_entry_was_removed() -> None:
    cache, clock = make(ttl=10)
    cache.set("a", 1)
    cache.set("old", 1)
    clock.advance(10)
    cache.set("b", 2)
    assert (True, False, False) == (cache.delete("b"), cache.delete("old"), cache.delete("zz"))
    assert cache.get("b") is None


def test_len_counts_fresh_entries_only() -> None:
    cache, clock = make(ttl=10, stale_ttl=5)
    cache.set("a", 1, ttl=1)
    cache.set("b", 2)
    clock.advance(1)
    assert (1, "stored=2") == (len(cache), stored(cache))


def test_expire_removes_entries_past_their_stale_window_and_counts_them() -> None:
    events: list[CacheEvent] = []
    cache, clock = make(ttl=10, stale_ttl=5, hooks=[events.append])
    cache.set("a", 1, ttl=1)
    cache.set("b", 2, ttl=4)
    cache.set("c", 3)
    clock.advance(6)  # a is dead (1 + 5), b is stale (4 <= 6 < 9), c is fresh
    assert 1 == cache.expire()
    assert ("stored=2", 1) == (stored(cache), cache.stats.expirations)
    assert [EntryEvicted("a", EvictionReason.EXPIRED)] == events


def test_clear_empties_the_cache_but_keeps_the_counters() -> None:
    cache, _ = make()
    cache.set("a", 1)
    cache.get("a")
    cache.clear()
    assert (0, None, 1) == (len(cache), cache.get("a"), cache.stats.hits)


def test_repr_shows_configuration_and_stored_count() -> None:
    cache, _ = make(ttl=10, maxsize=4)
    cache.set("a", 1)
    assert "TTLCache(ttl=10.0, maxsize=4, stored=1)" == repr(cache)


def test_properties_expose_the_normalised_configuration() -> None:
    cache, _ = make(ttl=timedelta(minutes=1), maxsize=7)  # type: ignore[arg-type]
    assert (60.0, 7) == (cache.ttl, cache.maxsize)


def test_default_clock_is_monotonic_time() -> None:
    cache: TTLCache[str, int] = TTLCache(ttl=60)
    cache.set("a", 1)
    assert (1, 1024) == (cache.get("a"), cache.maxsize)


# -- stats -----------------------------------------------------------------------------------------


def test_stats_count_hits_and_misses_and_derive_the_hit_rate() -> None:
    cache, _ = make()
    cache.set("a", 1)
    for _ in range(3):
        cache.get("a")
    cache.get("b")
    stats = cache.stats
    assert (3, 1, 0.75) == (stats.hits, stats.misses, stats.hit_rate)


def test_hit_rate_is_zero_before_any_read() -> None:
    assert 0.0 == CacheStats().hit_rate


def test_stats_is_a_frozen_snapshot() -> None:
    cache, _ = make()
    before = cache.stats
    cache.get("a")
    with pytest.raises(AttributeError):
        before.hits = 5  # type: ignore[misc]
    assert (0, 1) == (before.misses, cache.stats.misses)


# -- hooks -----------------------------------------------------------------------------------------


def test_hooks_receive_size_evictions() -> None:
    events: list[CacheEvent] = []
    cache, _ = make(maxsize=1, hooks=[events.append])
    cache.set("a", 1)
    cache.set("b", 2)
    assert [EntryEvicted("a", EvictionReason.SIZE)] == events


def test_hooks_receive_lazy_expirations() -> None:
    events: list[CacheEvent] = []
    cache, clock = make(ttl=1, hooks=[events.append])
    cache.set("a", 1)
    clock.advance(1)
    cache.get("a")
    assert [EntryEvicted("a", EvictionReason.EXPIRED)] == events


def test_hooks_receive_load_finished_with_the_loader_duration() -> None:
    events: list[CacheEvent] = []
    cache, clock = make(hooks=[events.append])

    def loader() -> int:
        clock.advance(0.25)
        return 1

    cache.get_or_load("k", loader)
    assert [LoadFinished("k", 0.25, None, background=False)] == events
    assert isinstance(events[0], LoadFinished)
    assert events[0].ok


def test_hooks_receive_failed_loads_with_their_error() -> None:
    events: list[CacheEvent] = []
    cache, _ = make(hooks=[events.append])
    error = ValueError("db down")

    def loader() -> int:
        raise error

    with pytest.raises(ValueError, match="db down"):
        cache.get_or_load("k", loader)
    assert 1 == len(events)
    event = events[0]
    assert isinstance(event, LoadFinished)
    assert (error, False) == (event.error, event.ok)


def test_a_load_that_evicts_reports_the_eviction_too() -> None:
    events: list[CacheEvent] = []
    cache, _ = make(maxsize=1, hooks=[events.append])
    cache.set("a", 1)
    cache.get_or_load("b", lambda: 2)
    assert [LoadFinished("b", 0.0), EntryEvicted("a", EvictionReason.SIZE)] == events


def test_a_raising_hook_is_logged_and_the_next_hook_still_runs(
    caplog: pytest.LogCaptureFixture,
) -> None:
    events: list[CacheEvent] = []

    def broken(event: CacheEvent) -> None:
        raise RuntimeError("metrics backend down")

    cache, _ = make(maxsize=1, hooks=[broken, events.append])
    cache.set("a", 1)
    with caplog.at_level(logging.ERROR, logger="commerce_kit.cache"):
        cache.set("b", 2)
    assert [EntryEvicted("a", EvictionReason.SIZE)] == events
    assert [f"hook {broken!r} failed on EntryEvicted"] == [r.getMessage() for r in caplog.records]
    assert 2 == cache.get("b")


# -- the decorator ---------------------------------------------------------------------------------


def test_cached_calls_the_function_once_per_argument_tuple() -> None:
    cache, _ = make()
    calls: list[tuple[int, int]] = []

    @cache.cached()
    def add(a: int, b: int = 0) -> int:
        calls.append((a, b))
        return a + b

    assert (3, 3, 1, 1) == (add(1, 2), add(1, 2), add(1), add(1))
    assert [(1, 2), (1, 0)] == calls


def test_cached_tells_keyword_calls_apart_from_positional_ones() -> None:
    cache, _ = make()
    calls: list[int] = []

    @cache.cached()
    def ident(a: int) -> int:
        calls.append(a)
        return a

    ident(1)
    ident(a=1)
    ident(a=1)
    assert [1, 1] == calls


def test_cached_default_key_includes_the_function_so_functions_can_share_a_cache() -> None:
    cache, _ = make()

    @cache.cached()
    def double(x: int) -> int:
        return 2 * x

    @cache.cached()
    def triple(x: int) -> int:
        return 3 * x

    assert (4, 6) == (double(2), triple(2))
    assert cache.delete((double, 2))
    assert (double, 2) not in cache
    assert (triple, 2) in cache


def test_cached_uses_a_custom_key_function_verbatim() -> None:
    cache, _ = make()

    @cache.cached(key=lambda sale_id, **_: f"listing:{sale_id}")
    def listing(sale_id: int, *, page: int = 1) -> str:
        return f"{sale_id}/{page}"

    assert "7/1" == listing(7)
    assert "7/1" == listing(7, page=2)  # same key, cached value
    assert "7/1" == cache.get("listing:7")


def test_cached_applies_its_own_ttl() -> None:
    cache, clock = make(ttl=100)
    calls: list[int] = []

    @cache.cached(ttl=1)
    def f(x: int) -> int:
        calls.append(x)
        return x

    f(1)
    clock.advance(1)
    f(1)
    assert [1, 1] == calls


def test_cached_keeps_the_signature_name_and_docstring() -> None:
    cache, _ = make()

    def listing(sale_id: int, *, page: int = 1) -> str:
        """Fetch one page of a sale's listing."""
        return ""

    wrapped = cache.cached()(listing)
    assert (inspect.signature(listing), "listing", listing.__doc__, listing) == (
        inspect.signature(wrapped),
        wrapped.__name__,
        wrapped.__doc__,
        wrapped.__wrapped__,  # type: ignore[attr-defined]
    )


def test_cached_works_on_async_functions() -> None:
    cache, _ = make()
    calls: list[int] = []

    @cache.cached()
    async def fetch(x: int, *, scale: int = 1) -> int:
        calls.append(x)
        await asyncio.sleep(0)
        return x * scale

    async def main() -> list[int]:
        return [await fetch(2), await fetch(2), await fetch(2, scale=3), await fetch(2, scale=3)]

    assert inspect.iscoroutinefunction(fetch)
    assert ([2, 2, 6, 6], [2, 2]) == (asyncio.run(main()), calls)


def test_cached_wraps_an_object_with_an_async_call_as_async() -> None:
    cache, _ = make()
    calls: list[int] = []

    class Fetcher:
        async def __call__(self, x: int) -> int:
            calls.append(x)
            return 2 * x

    fetch = cache.cached()(Fetcher())

    async def main() -> list[int]:
        return [await fetch(3), await fetch(3)]

    assert inspect.iscoroutinefunction(fetch)
    assert ([6, 6], [3]) == (asyncio.run(main()), calls)
    assert 6 == cache.get((fetch, 3))


def test_cached_wraps_a_partial_of_a_coroutine_function_as_async() -> None:
    cache, _ = make()

    async def scale(factor: int, x: int) -> int:
        return factor * x

    triple = cache.cached()(functools.partial(scale, 3))
    assert inspect.iscoroutinefunction(triple)
    assert 6 == asyncio.run(triple(2))


def test_cached_async_function_with_a_custom_key() -> None:
    cache, _ = make()

    @cache.cached(key=lambda x: ("sq", x))
    async def square(x: int) -> int:
        return x * x

    assert 9 == asyncio.run(square(3))
    assert 9 == cache.get(("sq", 3))
    assert 9 == asyncio.run(square(3))
    assert (2, 1) == (cache.stats.hits, cache.stats.loads)  # get, then the decorator


# The decorator builds a specialised wrapper per case: sync or async, default or custom key, with or
# without early refresh (beta). Every one of them must behave the same.
DECORATOR_VARIANTS = [
    pytest.param(is_async, custom_key, beta, id=f"{face}-{key}-{refresh}")
    for is_async, face in [(False, "sync"), (True, "async")]
    for custom_key, key in [(False, "default-key"), (True, "custom-key")]
    for beta, refresh in [(0.0, "no-early-refresh"), (1.0, "early-refresh")]
]


def _memoize(
    cache: TTLCache[Hashable, object], *, is_async: bool, custom_key: bool
) -> tuple[Callable[..., object], Callable[..., object], list[tuple[int, int]]]:
    """Decorate ``x * scale``; return the wrapper, a sync way to call it, and the calls it ran."""
    calls: list[tuple[int, int]] = []
    make_key = (lambda x, scale=1: ("k", x, scale)) if custom_key else None
    if is_async:

        @cache.cached(key=make_key)
        async def afetch(x: int, scale: int = 1) -> int:
            calls.append((x, scale))
            return x * scale

        def call(*args: int, **kwargs: int) -> object:
            return asyncio.run(afetch(*args, **kwargs))

        return afetch, call, calls

    @cache.cached(key=make_key)
    def fetch(x: int, scale: int = 1) -> int:
        calls.append((x, scale))
        return x * scale

    return fetch, fetch, calls


@pytest.mark.parametrize(("is_async", "custom_key", "beta"), DECORATOR_VARIANTS)
def test_every_decorator_variant_loads_each_key_once_then_hits(
    is_async: bool, custom_key: bool, beta: float
) -> None:
    # random() == 0.0 makes the XFetch gap zero, so early refresh never fires on a fresh entry.
    cache, _ = make(beta=beta, random=lambda: 0.0)
    _, call, calls = _memoize(cache, is_async=is_async, custom_key=custom_key)
    assert [7, 7, 14, 14] == [call(7), call(7), call(7, scale=2), call(7, scale=2)]
    assert [(7, 1), (7, 2)] == calls
    assert (2, 2, 2) == (cache.stats.loads, cache.stats.hits, cache.stats.misses)


@pytest.mark.parametrize(("is_async", "custom_key", "beta"), DECORATOR_VARIANTS)
def test_every_decorator_variant_loads_again_once_the_entry_expired(
    is_async: bool, custom_key: bool, beta: float
) -> None:
    cache, clock = make(ttl=10, beta=beta, random=lambda: 0.0)
    _, call, calls = _memoize(cache, is_async=is_async, custom_key=custom_key)
    call(7)
    clock.advance(10)
    call(7)
    assert [(7, 1), (7, 1)] == calls
    assert (2, 0, 1) == (cache.stats.loads, cache.stats.hits, cache.stats.expirations)


@pytest.mark.parametrize(("is_async", "custom_key", "beta"), DECORATOR_VARIANTS)
def test_every_decorator_variant_stores_under_the_documented_key(
    is_async: bool, custom_key: bool, beta: float
) -> None:
    cache, _ = make(beta=beta, random=lambda: 0.0)
    wrapper, call, _ = _memoize(cache, is_async=is_async, custom_key=custom_key)
    call(7)
    call(7, scale=2)
    if custom_key:
        assert (7, 14) == (cache.get(("k", 7, 1)), cache.get(("k", 7, 2)))
    else:
        # Positional calls: (wrapper, *args); keyword calls are kept apart from positional ones.
        assert (7, None) == (cache.get((wrapper, 7)), cache.get((wrapper, 7, 2)))
    assert 2 == len(cache)


def test_cached_raises_type_error_for_unhashable_arguments() -> None:
    cache, _ = make()

    @cache.cached()
    def total(items: list[int]) -> int:
        return sum(items)

    with pytest.raises(TypeError, match="unhashable"):
        total([1, 2])


# -- argument checking -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"ttl": 0}, ValueError, "ttl must be > 0"),
        ({"ttl": -1}, ValueError, "ttl must be > 0"),
        ({"ttl": "30"}, TypeError, "ttl must be a number"),
        ({"ttl": 1, "maxsize": 0}, ValueError, "maxsize must be >= 1"),
        ({"ttl": 1, "maxsize": 2.5}, TypeError, "maxsize must be an int"),
        ({"ttl": 1, "maxsize": True}, TypeError, "maxsize must be an int"),
        ({"ttl": 1, "stale_ttl": -1}, ValueError, "stale_ttl must be >= 0"),
        ({"ttl": 1, "negative_ttl": 0}, ValueError, "negative_ttl must be > 0"),
        ({"ttl": 1, "beta": -0.5}, ValueError, "beta must be a finite number >= 0"),
        ({"ttl": 1, "beta": float("nan")}, ValueError, "beta must be a finite number >= 0"),
        ({"ttl": 1, "beta": "1"}, TypeError, "beta must be a number"),
        ({"ttl": 1, "beta": False}, TypeError, "beta must be a number"),
    ],
)
def test_constructor_refuses_bad_arguments(
    kwargs: dict[str, object], error: type[Exception], match: str
) -> None:
    with pytest.raises(error, match=match):
        TTLCache(**kwargs)  # type: ignore[arg-type]


def test_per_call_ttls_are_checked() -> None:
    cache, _ = make()
    with pytest.raises(ValueError, match="ttl must be > 0"):
        cache.set("a", 1, ttl=0)
    with pytest.raises(ValueError, match="ttl must be > 0"):
        cache.get_or_load("a", lambda: 1, ttl=-1)
    with pytest.raises(ValueError, match="ttl must be > 0"):
        asyncio.run(cache.aget_or_load("a", _one, ttl=0))
    with pytest.raises(TypeError, match="ttl must be a number"):
        cache.cached(ttl="1")  # type: ignore[arg-type]


async def _one() -> int:
    return 1

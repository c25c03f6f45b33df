"""TTLCache against cachetools, with dict, functools.lru_cache and a hand-written TTL map as floors.

Every cache holds 10,000 string keys with a one-hour TTL and reads the real monotonic clock, so
no entry expires during a run. Each case is the call a user would write, bound once with
``functools.partial`` so the harness adds the same small cost to every row.

* get-hit: one hot key read again and again (the flash-sale listing of scenario P1). cachetools is
  measured through ``.get`` and through ``[]``; the floors are ``dict.get`` and a hand-written TTL
  map (a dict of ``(value, expires_at)`` and one clock read, with no LRU order and no counters).
* get-hit over 1,000 keys in turn: the same, but each read moves a different entry to the LRU end.
* get-miss: a key that is not there.
* set: overwrite an existing key.
* insert with eviction: a full cache receives new keys, so every insert evicts the LRU entry; the
  floor is an OrderedDict doing the same.
* memoized call: a decorated one-argument function called with a cached argument, against
  ``@cachetools.cached(TTLCache(...))`` and ``functools.lru_cache``.
"""

from __future__ import annotations

import asyncio
import functools
import itertools
import time
from collections import OrderedDict
from collections.abc import Callable, Hashable, Iterator
from typing import Any

import cachetools

from benchmarks._harness import Case, MemoryCase
from commerce_kit import TTLCache

SIZE = 10_000
TTL = 3600.0
KEYS = [f"sku-{i:05d}" for i in range(SIZE)]
HOT = KEYS[SIZE // 2]
MISSING = "sku-missing"
ROTATION = KEYS[:1000]


def _ours(maxsize: int = SIZE) -> TTLCache[Hashable, int]:
    cache: TTLCache[Hashable, int] = TTLCache(ttl=TTL, maxsize=maxsize)
    for i, key in enumerate(KEYS[:maxsize]):
        cache.set(key, i)
    return cache


def _cachetools(maxsize: int = SIZE) -> cachetools.TTLCache[Hashable, int]:
    cache: cachetools.TTLCache[Hashable, int] = cachetools.TTLCache(maxsize=maxsize, ttl=TTL)
    for i, key in enumerate(KEYS[:maxsize]):
        cache[key] = i
    return cache


def _dict() -> dict[Hashable, int]:
    return {key: i for i, key in enumerate(KEYS)}


def _ttl_map() -> tuple[dict[Hashable, tuple[int, float]], Callable[..., Any]]:
    """The least a TTL cache can do on a read: look up, read the clock, compare."""
    clock = time.monotonic
    data: dict[Hashable, tuple[int, float]] = {
        key: (i, clock() + TTL) for i, key in enumerate(KEYS)
    }

    def get(key: Hashable, default: object = None) -> object:
        entry = data.get(key)
        if entry is not None and entry[1] > clock():
            return entry[0]
        return default

    return data, get


# -- get-hit and get-miss --------------------------------------------------------------------------


def _ours_get(key: str) -> Callable[[], Callable[[], object]]:
    return lambda: functools.partial(_ours().get, key)


def _cachetools_get(key: str) -> Callable[[], Callable[[], object]]:
    return lambda: functools.partial(_cachetools().get, key)


def _cachetools_getitem() -> Callable[[], object]:
    return functools.partial(_cachetools().__getitem__, HOT)


def _cachetools_getitem_miss() -> Callable[[], object]:
    getitem = _cachetools().__getitem__

    def op() -> object:
        try:
            return getitem(MISSING)
        except KeyError:
            return None

    return op


def _dict_get(key: str) -> Callable[[], Callable[[], object]]:
    return lambda: functools.partial(_dict().get, key)


def _ttl_map_get(key: str) -> Callable[[], Callable[[], object]]:
    return lambda: functools.partial(_ttl_map()[1], key)


def _rotating(get: Callable[[Hashable], object]) -> Callable[[], object]:
    keys = itertools.cycle(ROTATION)

    def op() -> object:
        return get(next(keys))

    return op


# -- set and insert-with-eviction ------------------------------------------------------------------


def _ours_set() -> Callable[[], object]:
    return functools.partial(_ours().set, HOT, 1)


def _cachetools_set() -> Callable[[], object]:
    return functools.partial(_cachetools().__setitem__, HOT, 1)


def _dict_set() -> Callable[[], object]:
    return functools.partial(_dict().__setitem__, HOT, 1)


def _ttl_map_set() -> Callable[[], object]:
    data, _ = _ttl_map()
    clock = time.monotonic

    def set_(key: Hashable, value: int) -> None:
        data[key] = (value, clock() + TTL)

    return functools.partial(set_, HOT, 1)


_FULL = 1_000


def _new_keys() -> Iterator[str]:
    return (f"new-{i}" for i in itertools.count())


def _ours_insert() -> Callable[[], object]:
    set_ = _ours(_FULL).set
    keys = _new_keys()

    def op() -> object:
        return set_(next(keys), 1)

    return op


def _cachetools_insert() -> Callable[[], object]:
    setitem = _cachetools(_FULL).__setitem__
    keys = _new_keys()

    def op() -> object:
        return setitem(next(keys), 1)

    return op


def _ordered_dict_insert() -> Callable[[], object]:
    data: OrderedDict[Hashable, int] = OrderedDict((key, 1) for key in KEYS[:_FULL])
    keys = _new_keys()

    def op() -> object:
        data[next(keys)] = 1
        if len(data) > _FULL:
            data.popitem(last=False)
        return None

    return op


# -- memoized calls --------------------------------------------------------------------------------


def _identity(x: int) -> int:
    return x


async def _aidentity(x: int) -> int:
    return x


def _ours_cached() -> Callable[[], object]:
    fn = TTLCache[Hashable, object](ttl=TTL, maxsize=SIZE).cached()(_identity)
    fn(7)
    return functools.partial(fn, 7)


def _cachetools_cached() -> Callable[[], object]:
    fn = cachetools.cached(cachetools.TTLCache(maxsize=SIZE, ttl=TTL))(_identity)
    fn(7)
    return functools.partial(fn, 7)


def _lru_cache() -> Callable[[], object]:
    fn = functools.lru_cache(maxsize=SIZE)(_identity)
    fn(7)
    return functools.partial(fn, 7)


def _ours_cached_async() -> Callable[[], object]:
    fn = TTLCache[Hashable, object](ttl=TTL, maxsize=SIZE).cached()(_aidentity)
    asyncio.run(fn(7))
    return functools.partial(fn, 7)


def _plain_coroutine() -> Callable[[], object]:
    return functools.partial(_aidentity, 7)


def _ours_get_or_load() -> Callable[[], object]:
    return functools.partial(_ours().get_or_load, HOT, int)


def _cachetools_get_then_set() -> Callable[[], object]:
    cache = _cachetools()

    def get_or_load(key: Hashable, loader: Callable[[], int]) -> int:
        value = cache.get(key)
        if value is None:
            value = cache[key] = loader()
        return value

    return functools.partial(get_or_load, HOT, int)


# -- memory ----------------------------------------------------------------------------------------


def _fill_ours(n: int) -> object:
    cache: TTLCache[Hashable, int] = TTLCache(ttl=TTL, maxsize=n)
    for key in KEYS_FOR_MEMORY[:n]:
        cache.set(key, 1)
    return cache


def _fill_cachetools(n: int) -> object:
    cache: cachetools.TTLCache[Hashable, int] = cachetools.TTLCache(maxsize=n, ttl=TTL)
    for key in KEYS_FOR_MEMORY[:n]:
        cache[key] = 1
    return cache


def _fill_dict(n: int) -> object:
    return dict.fromkeys(KEYS_FOR_MEMORY[:n], 1)


def _fill_ttl_map(n: int) -> object:
    clock = time.monotonic
    return {key: (1, clock() + TTL) for key in KEYS_FOR_MEMORY[:n]}


KEYS_FOR_MEMORY = [f"mem-{i:05d}" for i in range(20_000)]


def cases() -> list[Case | MemoryCase]:
    hit = "cache: get-hit (one hot key)"
    rotate = "cache: get-hit (1,000 keys in turn)"
    miss = "cache: get-miss"
    set_ = "cache: set (existing key)"
    insert = "cache: insert with eviction (full cache, new keys)"
    memo = "cache: memoized call hit (decorator)"
    amemo = "cache: memoized coroutine hit (async decorator)"
    load = "cache: get_or_load hit"
    memory = "cache: memory per key"
    return [
        Case(hit, "commerce_kit TTLCache.get", "ours", _ours_get(HOT)),
        Case(hit, "cachetools TTLCache.get", "peer", _cachetools_get(HOT)),
        Case(hit, "cachetools TTLCache[key]", "peer", _cachetools_getitem),
        Case(hit, "hand-written TTL map (no LRU, no stats)", "floor", _ttl_map_get(HOT)),
        Case(hit, "dict.get", "floor", _dict_get(HOT)),
        Case(rotate, "commerce_kit TTLCache.get", "ours", lambda: _rotating(_ours().get)),
        Case(rotate, "cachetools TTLCache.get", "peer", lambda: _rotating(_cachetools().get)),
        Case(
            rotate,
            "cachetools TTLCache[key]",
            "peer",
            lambda: _rotating(_cachetools().__getitem__),
        ),
        Case(rotate, "hand-written TTL map", "floor", lambda: _rotating(_ttl_map()[1])),
        Case(miss, "commerce_kit TTLCache.get", "ours", _ours_get(MISSING)),
        Case(miss, "cachetools TTLCache.get", "peer", _cachetools_get(MISSING)),
        Case(miss, "cachetools TTLCache[key] + except KeyError", "peer", _cachetools_getitem_miss),
        Case(miss, "hand-written TTL map", "floor", _ttl_map_get(MISSING)),
        Case(miss, "dict.get", "floor", _dict_get(MISSING)),
        Case(set_, "commerce_kit TTLCache.set", "ours", _ours_set),
        Case(set_, "cachetools TTLCache[key] = value", "peer", _cachetools_set),
        Case(set_, "hand-written TTL map", "floor", _ttl_map_set),
        Case(set_, "dict[key] = value", "floor", _dict_set),
        Case(insert, "commerce_kit TTLCache.set", "ours", _ours_insert),
        Case(insert, "cachetools TTLCache[key] = value", "peer", _cachetools_insert),
        Case(insert, "OrderedDict insert + popitem", "floor", _ordered_dict_insert),
        Case(memo, "commerce_kit @TTLCache.cached()", "ours", _ours_cached),
        Case(memo, "@cachetools.cached(TTLCache(...))", "peer", _cachetools_cached),
        Case(memo, "functools.lru_cache", "floor", _lru_cache),
        Case(amemo, "commerce_kit @TTLCache.cached()", "ours", _ours_cached_async, is_async=True),
        Case(amemo, "plain coroutine, no cache", "floor", _plain_coroutine, is_async=True),
        Case(load, "commerce_kit TTLCache.get_or_load", "ours", _ours_get_or_load),
        Case(load, "cachetools .get, then [key] = on a miss", "peer", _cachetools_get_then_set),
        Case(load, "hand-written TTL map get", "floor", _ttl_map_get(HOT)),
        MemoryCase(memory, "commerce_kit TTLCache", "ours", _fill_ours),
        MemoryCase(memory, "cachetools TTLCache", "peer", _fill_cachetools),
        MemoryCase(memory, "hand-written TTL map", "floor", _fill_ttl_map),
        MemoryCase(memory, "dict", "floor", _fill_dict),
    ]

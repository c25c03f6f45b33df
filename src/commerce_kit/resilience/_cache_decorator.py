"""The wrappers behind :meth:`~commerce_kit.TTLCache.cached`, for ``def`` and ``async def``.

A hit is answered inside the wrapper (key, lookup, clock, LRU move, counter); everything else goes
to the cache's loading path, which shares one load per key between every concurrent caller.
"""

from __future__ import annotations

import itertools
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Hashable
from functools import partial, wraps
from typing import Any, ParamSpec, TypeVar, cast

from commerce_kit.resilience._cache_store import Entry
from commerce_kit.resilience._matchers import is_async_callable

__all__ = ["memoize"]

P = ParamSpec("P")
R = TypeVar("R")

# Separates positional arguments from keyword items in the default key.
_KWARGS_MARK: Any = object()

Load = Callable[[Hashable, Callable[[], Any], "float | None", float, "Entry | None"], Any]


def memoize(
    fn: Callable[P, R],
    *,
    data: OrderedDict[Hashable, Entry],
    clock: Callable[[], float],
    hits: itertools.count[int],
    touch: Callable[[Hashable], None],
    load: Load,
    aload: Callable[..., Awaitable[Any]],
    early_refresh: bool,
    make_key: Callable[..., Hashable] | None,
    ttl: float | None,
) -> Callable[P, R]:
    """Wrap ``fn`` so that its calls read through the cache whose parts are passed.

    Args:
        fn: The function; wrapped with the async face when :func:`is_async_callable` says so.
        data: The cache's entries.
        clock: The cache's clock.
        hits: The cache's hit counter.
        touch: Marks a key most recently used, if it is still there.
        load: The cache's sync loading path, ``_load``.
        aload: The cache's asyncio loading path, ``_aload``.
        early_refresh: Whether every read must go through the loading path (``beta`` is set).
        make_key: Builds the key from the arguments; ``None`` for the default key.
        ttl: The time-to-live of the entries this function stores.

    Returns:
        The wrapper, with ``fn``'s signature.
    """
    # Bound methods held in the closure: saves ~15 ns of ~275 ns on the "memoized call hit" row.
    data_get = data.get
    move = data.move_to_end
    prefix: tuple[Hashable, ...] = ()  # (wrapper,), once wrapper exists
    # The default key without early refresh (the common case) gets wrappers of its own, with no
    # branch for a key function or for beta: ~10 ns of ~280 ns on the "memoized call hit" row.
    plain = make_key is None and not early_refresh

    def key_of(args: tuple[Any, ...], kwargs: dict[str, Any]) -> Hashable:
        if make_key is not None:
            return make_key(*args, **kwargs)
        if kwargs:
            return (*prefix, *args, _KWARGS_MARK, *kwargs.items())
        return prefix + args

    if is_async_callable(fn):
        afn = cast("Callable[..., Awaitable[Any]]", fn)

        async def afast(*args: Any, **kwargs: Any) -> Any:
            key = (*prefix, *args, _KWARGS_MARK, *kwargs.items()) if kwargs else prefix + args
            entry = data_get(key)
            now = clock()
            if entry is not None and now < entry[1]:
                # _touch inlined: saves ~40 ns of ~350 ns on the "memoized coroutine hit" row.
                try:  # noqa: SIM105 - see above
                    move(key)
                except KeyError:  # removed by another thread since the lookup
                    pass
                next(hits)
                return entry[0]
            return await aload(key, partial(afn, *args, **kwargs), ttl, now, entry)

        async def ageneral(*args: Any, **kwargs: Any) -> Any:
            key = key_of(args, kwargs)
            entry = data_get(key)
            now = clock()
            if entry is not None and now < entry[1] and not early_refresh:
                touch(key)
                next(hits)
                return entry[0]
            return await aload(key, partial(afn, *args, **kwargs), ttl, now, entry)

        awrapper = wraps(fn)(afast if plain else ageneral)
        prefix = (awrapper,)
        return cast("Callable[P, R]", awrapper)

    def fast(*args: P.args, **kwargs: P.kwargs) -> R:
        key = (*prefix, *args, _KWARGS_MARK, *kwargs.items()) if kwargs else prefix + args
        entry = data_get(key)
        now = clock()
        if entry is not None and now < entry[1]:
            # _touch inlined: saves ~35 ns of ~275 ns on the "memoized call hit" row.
            try:  # noqa: SIM105 - see above
                move(key)
            except KeyError:  # removed by another thread since the lookup
                pass
            next(hits)
            value: R = entry[0]
            return value
        return cast("R", load(key, partial(fn, *args, **kwargs), ttl, now, entry))

    def general(*args: P.args, **kwargs: P.kwargs) -> R:
        key = key_of(args, kwargs)
        entry = data_get(key)
        now = clock()
        if entry is not None and now < entry[1] and not early_refresh:
            touch(key)
            next(hits)
            value: R = entry[0]
            return value
        return cast("R", load(key, partial(fn, *args, **kwargs), ttl, now, entry))

    wrapper = wraps(fn)(fast if plain else general)
    prefix = (wrapper,)
    return wrapper

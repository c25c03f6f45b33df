"""A cache tier on Redis shared by every process, with single-flight loading across them.

A value lives at ``{prefix}cache:{name}:{<key>}`` with the cache's time-to-live. On a miss, a
caller takes a short *lease* (``...:{<key>}:lease``, ``SET NX`` with an expiry) and loads; the
others block on a small stream, ``...:{<key>}:landed``, until the lease holder adds an entry to it,
so a cold key costs one load for the whole fleet and a waiter is told the moment the value lands.
One script does "read the value, else take the lease, else say where the stream stands" in one
round trip; another stores the value, releases the lease and signals the stream together.

No wake-up is lost: the first script returns the stream's last entry id in the same atomic step
that saw the lease held, and a waiter reads (``XREAD BLOCK``) for entries *after* that id, so an
entry added between the script and the read is returned at once. The stream exists only while
someone waits (the first waiter makes it, with an expiry past the lease's), and the store signals
only a stream that exists, so an uncontended load writes no stream.
"""

from __future__ import annotations

import asyncio
import logging
import math
import sys
import time
import uuid
from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import Any, Generic, TypeVar

import redis
import redis.asyncio

from commerce_kit._duration import to_seconds
from commerce_kit._types import AsyncSleep, Sleep
from commerce_kit.redis._codec import Codec, JSONCodec
from commerce_kit.redis._guard import FAILED, RedisGuard
from commerce_kit.redis._script import Script, check_prefix
from commerce_kit.resilience._cache import TTLCache

__all__ = ["RedisCache"]

V = TypeVar("V")

_log = logging.getLogger("commerce_kit.cache")

# KEYS: the value, the lease, the landed stream. ARGV: a token, the lease's expiry in ms. Replies
# {1, value} on a hit, {2} when this caller took the lease (and must load), and {0, id, ms} while
# another caller holds it: id is the stream's last entry (an entry is added if the stream is
# missing, so the store knows someone waits), ms the longest useful wait, until just past the
# lease's expiry. The stream outlives the lease, so a store before the lease ends finds it.
_GET_OR_LEASE = Script(
    """
local value = redis.call('GET', KEYS[1])
if value then return {1, value} end
local lease = tonumber(ARGV[2])
if redis.call('SET', KEYS[2], ARGV[1], 'NX', 'PX', lease) then return {2} end
local left = redis.call('PTTL', KEYS[2])
if left < 0 then left = lease end
local last = redis.call('XREVRANGE', KEYS[3], '+', '-', 'COUNT', 1)[1]
local id = last and last[1] or redis.call('XADD', KEYS[3], 'MAXLEN', 1, '*', 'e', 'waiting')
redis.call('PEXPIRE', KEYS[3], math.max(left, lease))
return {0, id, left + 1}
"""
)

# KEYS: the value, the lease, the landed stream. ARGV: the encoded value, its expiry in ms, the
# lease token. Wakes the waiters, if any.
_STORE = Script(
    """
redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
if redis.call('GET', KEYS[2]) == ARGV[3] then redis.call('DEL', KEYS[2]) end
if redis.call('EXISTS', KEYS[3]) == 1 then
  redis.call('XADD', KEYS[3], 'MAXLEN', 1, '*', 'e', 'stored')
end
return 1
"""
)

# KEYS: the lease, the landed stream. ARGV: the token. Gives the lease up after a failed load and
# wakes the waiters, if any, so that one of them loads at once.
_RELEASE = Script(
    """
if redis.call('GET', KEYS[1]) == ARGV[1] then redis.call('DEL', KEYS[1]) end
if redis.call('EXISTS', KEYS[2]) == 1 then
  redis.call('XADD', KEYS[2], 'MAXLEN', 1, '*', 'e', 'released')
end
return 1
"""
)

# A client with a single connection cannot block on it (the lease holder may need it to store), nor
# can one whose socket timeout is too short for a block, so its waiters poll instead, with a delay
# growing from the first to the last.
_FIRST_POLL = 0.002
_LAST_POLL = 0.05

# Redis ends a blocked read whose time is up on its next tick, up to 1/hz late (100 ms at the
# default hz of 10): a block stops this long before the client's socket timeout, and at half of it.
_TIMEOUT_LAG = 0.15


class RedisCache(Generic[V]):
    """A cache shared through Redis, optionally behind an in-process ``TTLCache``.

    :meth:`get_or_load` returns the cached value or calls ``loader`` once for the whole fleet:
    a caller that misses takes a lease in Redis and loads; callers in other processes that miss
    meanwhile block on a Redis stream of the key's (``XREAD BLOCK``) and are told the moment the
    lease holder stores the value, which they then read. If the lease holder fails, its lease is
    released and the waiters are told, so one of them loads at once; if it dies, its lease
    expires after ``lease`` seconds and a waiter loads then. Keep ``lease`` above your longest
    load, or a second load may start.

    A blocked waiter holds one connection of the client's pool for as long as it waits (a bounded
    pool must have room for them and for the lease holder's store). Each block ends well before
    the client's ``socket_timeout`` (at half of it, and 150 ms before it, since Redis ends a block
    up to 100 ms late at its default ``hz``), then the waiter asks again, so a long load never
    turns into a timeout. A client with a single connection (``single_connection_client=True``)
    cannot lend it to a blocked read, and one with a ``socket_timeout`` under 150 ms leaves no room
    for a block, so their waiters poll instead, every 2 ms growing to 50 ms.

    With ``local=``, a :class:`~commerce_kit.TTLCache` sits in front: reads it serves cost no
    round trip, and its own single-flight collapses the threads and tasks of one process onto one
    Redis read, so one process has at most one waiter per key. A value deleted elsewhere may still
    be served by a local tier until its ``ttl`` ends, so keep the local ``ttl`` short.

    Values go through ``codec`` (JSON by default; never pickle by default, since decoding runs on
    whatever the Redis server holds). Bytes the codec cannot decode count as a miss.

    When Redis fails (see :class:`RedisGuard`), the cache falls back to the local tier: loads run
    in this process (through ``local`` if given, which still collapses concurrent loads), and
    nothing is shared until Redis answers again. The caller never sees a Redis error.

    Args:
        client: A sync :class:`redis.Redis` client, for the sync methods.
        aclient: An asyncio :class:`redis.asyncio.Redis` client, for the ``a`` methods.
        name: Keeps this cache's keys apart from other caches on the same prefix.
        ttl: Seconds (or a timedelta) a stored value lives in Redis.
        prefix: Put in front of every key (no braces).
        codec: Turns values into bytes and back; :class:`JSONCodec` by default.
        local: An in-process tier in front of Redis.
        lease: Seconds (or a timedelta) a loading caller holds its lease at most.
        guard: The guard deciding when Redis is down; by default one of the cache's own.
        sleep: Waits between polls in :meth:`get_or_load` when ``client`` cannot block (see
            above); :func:`time.sleep` by default.
        asleep: Waits between polls in :meth:`aget_or_load` when ``aclient`` cannot block;
            :func:`asyncio.sleep` by default.

    Raises:
        TypeError: Neither client was given, or an argument has the wrong type.
        ValueError: ``prefix`` or ``name`` contains a brace, or a duration is out of range.

    Example:
        >>> import redis
        >>> from commerce_kit.redis import RedisCache
        >>> cache = RedisCache(redis.Redis(), name="doctest", ttl=30)
        >>> cache.get_or_load("sku:A1", lambda: {"price": 9.5})
        {'price': 9.5}
        >>> cache.get("sku:A1")
        {'price': 9.5}
        >>> cache.delete("sku:A1")
        True

    .. versionadded:: 0.2.0
    """

    __slots__ = (
        "_ablock_ms",
        "_aclient",
        "_asleep",
        "_block_ms",
        "_client",
        "_codec",
        "_guard",
        "_lease_ms",
        "_local",
        "_prefix",
        "_sleep",
        "_ttl",
    )

    def __init__(
        self,
        client: redis.Redis | None = None,
        *,
        aclient: redis.asyncio.Redis | None = None,
        name: str = "default",
        ttl: float | timedelta = 60.0,
        prefix: str = "commerce_kit:",
        codec: Codec | None = None,
        local: TTLCache[str, V] | None = None,
        lease: float | timedelta = 10.0,
        guard: RedisGuard | None = None,
        sleep: Sleep = time.sleep,
        asleep: AsyncSleep = asyncio.sleep,
    ) -> None:
        if client is None and aclient is None:
            raise TypeError("give a Redis client, an asyncio Redis client, or both")
        self._client = client
        self._aclient = aclient
        self._prefix = check_prefix(prefix) + "cache:" + check_prefix(name) + ":{"
        self._ttl = to_seconds(ttl, name="ttl")
        self._lease_ms = max(1, math.ceil(to_seconds(lease, name="lease") * 1000))
        self._codec: Codec = JSONCodec() if codec is None else codec
        self._local = local
        self._guard = RedisGuard("redis") if guard is None else guard
        self._guard.describe(
            f"cache {name!r}",
            "loads in each process" + (" through its local tier" if local is not None else ""),
        )
        self._sleep = sleep
        self._asleep = asleep
        self._block_ms = _longest_block(client)
        self._ablock_ms = _longest_block(aclient)

    def __repr__(self) -> str:
        return f"RedisCache(prefix={self._prefix[:-2]!r}, ttl={self._ttl!r})"

    @property
    def guard(self) -> RedisGuard:
        """The guard deciding when Redis is down."""
        return self._guard

    @property
    def local(self) -> TTLCache[str, V] | None:
        """The in-process tier in front of Redis, if any."""
        return self._local

    # -- plain reads and writes ------------------------------------------------------------------

    def get(self, key: str, default: V | None = None) -> V | None:
        """Return the value of ``key`` (the local tier's, else Redis's), or ``default``.

        Args:
            key: The key.
            default: Returned when the key is missing, or Redis is down and no tier has it.

        Returns:
            The value or ``default``.
        """
        local = self._local
        if local is not None:
            found = local.get(key, _MISSING)
            if found is not _MISSING:
                return found
        client = self._sync()
        raw = self._guard.attempt(client.get, self._value_key(key))
        if raw is FAILED or raw is None:
            return default
        found = self._decode(key, raw)
        return default if found is _MISSING else found

    def set(self, key: str, value: V, *, ttl: float | timedelta | None = None) -> None:
        """Store ``value`` under ``key`` in Redis (and the local tier) for ``ttl`` seconds.

        Args:
            key: The key.
            value: The value; the codec must be able to encode it.
            ttl: The time-to-live in Redis, overriding the cache's.

        Raises:
            TypeError: The codec cannot encode ``value``.
        """
        data = self._codec.encode(value)
        client = self._sync()
        self._guard.attempt(client.set, self._value_key(key), data, px=self._ttl_ms(ttl))
        if self._local is not None:
            self._local.set(key, value)

    def delete(self, key: str) -> bool:
        """Remove ``key`` from Redis and the local tier.

        Args:
            key: The key.

        Returns:
            Whether Redis held it (``False`` too when Redis is down).
        """
        if self._local is not None:
            self._local.delete(key)
        client = self._sync()
        removed = self._guard.attempt(client.delete, self._value_key(key))
        return removed is not FAILED and bool(removed)

    async def aget(self, key: str, default: V | None = None) -> V | None:
        """Async face of :meth:`get`, through the asyncio client.

        Args:
            key: The key.
            default: Returned when the key is missing, or Redis is down and no tier has it.

        Returns:
            The value or ``default``.
        """
        local = self._local
        if local is not None:
            found = local.get(key, _MISSING)
            if found is not _MISSING:
                return found
        client = self._async()
        value_key = self._value_key(key)

        async def command() -> Any:
            return await client.get(value_key)

        raw = await self._guard.arun(command, _failed)
        if raw is FAILED or raw is None:
            return default
        found = self._decode(key, raw)
        return default if found is _MISSING else found

    async def aset(self, key: str, value: V, *, ttl: float | timedelta | None = None) -> None:
        """Async face of :meth:`set`, through the asyncio client.

        Args:
            key: The key.
            value: The value; the codec must be able to encode it.
            ttl: The time-to-live in Redis, overriding the cache's.

        Raises:
            TypeError: The codec cannot encode ``value``.
        """
        data = self._codec.encode(value)
        client = self._async()
        value_key = self._value_key(key)
        px = self._ttl_ms(ttl)

        async def command() -> Any:
            return await client.set(value_key, data, px=px)

        await self._guard.arun(command, _failed)
        if self._local is not None:
            self._local.set(key, value)

    async def adelete(self, key: str) -> bool:
        """Async face of :meth:`delete`, through the asyncio client.

        Args:
            key: The key.

        Returns:
            Whether Redis held it (``False`` too when Redis is down).
        """
        if self._local is not None:
            self._local.delete(key)
        client = self._async()
        value_key = self._value_key(key)

        async def command() -> Any:
            return await client.delete(value_key)

        removed = await self._guard.arun(command, _failed)
        return removed is not FAILED and bool(removed)

    # -- single-flight loading -------------------------------------------------------------------

    def get_or_load(
        self, key: str, loader: Callable[[], V], *, ttl: float | timedelta | None = None
    ) -> V:
        """Return the value of ``key``, calling ``loader`` once across every process on a miss.

        Args:
            key: The key.
            loader: Called without arguments to produce the value.
            ttl: The time-to-live in Redis, overriding the cache's.

        Returns:
            The cached or freshly loaded value.

        Raises:
            Exception: Whatever ``loader`` raised when this caller ran it.
            TypeError: The codec cannot encode the loaded value.
        """
        ttl_ms = self._ttl_ms(ttl)
        local = self._local
        if local is not None:
            return local.get_or_load(key, lambda: self._shared(key, loader, ttl_ms))
        return self._shared(key, loader, ttl_ms)

    async def aget_or_load(
        self,
        key: str,
        loader: Callable[[], Awaitable[V]],
        *,
        ttl: float | timedelta | None = None,
    ) -> V:
        """Async face of :meth:`get_or_load`, through the asyncio client.

        Args:
            key: The key.
            loader: Called without arguments on a miss; returns an awaitable of the value.
            ttl: The time-to-live in Redis, overriding the cache's.

        Returns:
            The cached or freshly loaded value.

        Raises:
            Exception: Whatever the load raised when this caller ran it.
            TypeError: The codec cannot encode the loaded value.
        """
        ttl_ms = self._ttl_ms(ttl)
        local = self._local
        if local is not None:
            return await local.aget_or_load(key, lambda: self._ashared(key, loader, ttl_ms))
        return await self._ashared(key, loader, ttl_ms)

    # -- helpers ---------------------------------------------------------------------------------

    def _async(self) -> redis.asyncio.Redis:
        client = self._aclient
        if client is None:
            raise TypeError("this RedisCache has no asyncio client; use the sync methods")
        return client

    def _sync(self) -> redis.Redis:
        client = self._client
        if client is None:
            raise TypeError("this RedisCache has no sync client; use the a-methods")
        return client

    def _keys(self, key: str) -> list[str]:
        value_key = self._value_key(key)
        return [value_key, value_key + ":lease", value_key + ":landed"]

    def _value_key(self, key: str) -> str:
        if not isinstance(key, str):
            raise TypeError(f"RedisCache keys must be str, got {type(key).__name__}")
        return self._prefix + key + "}"

    def _ttl_ms(self, ttl: float | timedelta | None) -> int:
        seconds = self._ttl if ttl is None else to_seconds(ttl, name="ttl")
        return max(1, math.ceil(seconds * 1000))

    def _decode(self, key: str, raw: bytes | str) -> Any:
        try:
            return self._codec.decode(raw.encode() if isinstance(raw, str) else raw)
        except ValueError as error:
            _log.warning("cached value of %r cannot be decoded (%s); loading it again", key, error)
            return _MISSING

    def _shared(self, key: str, loader: Callable[[], V], ttl_ms: int) -> V:
        client = self._sync()
        attempt = self._guard.attempt
        keys = self._keys(key)
        token = uuid.uuid4().hex
        args = [token, self._lease_ms]
        longest = self._block_ms
        delay = _FIRST_POLL
        while True:
            reply = attempt(_GET_OR_LEASE, client, keys, args)
            if reply is FAILED:
                return loader()  # Redis is down: this process loads on its own
            if reply[0] == 1:
                value = self._decode(key, reply[1])
                if value is not _MISSING:
                    return value  # type: ignore[no-any-return]
                reply = [2]  # undecodable bytes: load and overwrite them
            if reply[0] == 2:
                try:
                    value = loader()
                    data = self._codec.encode(value)
                except BaseException:
                    attempt(_RELEASE, client, keys[1:], [token])
                    raise
                attempt(_STORE, client, keys, [data, ttl_ms, token])
                return value
            if longest is None:
                self._sleep(delay)
                delay = min(delay * 2, _LAST_POLL)
            else:
                # Returns at the first entry after the one the script saw, even one added before
                # this read was sent. A failed read is counted by the guard; the next script then
                # runs, or falls back once the guard has opened.
                attempt(client.xread, {keys[2]: reply[1]}, block=min(reply[2], longest))

    async def _ashared(self, key: str, loader: Callable[[], Awaitable[V]], ttl_ms: int) -> V:
        client = self._async()
        guard = self._guard
        keys = self._keys(key)
        token = uuid.uuid4().hex
        args = [token, self._lease_ms]
        longest = self._ablock_ms
        delay = _FIRST_POLL

        async def run(script: Script, keys: list[str], args: list[Any]) -> Any:
            async def command() -> Any:
                return await script.arun(client, keys, args)

            return await guard.arun(command, _failed)

        async def wait(after: Any, block: int) -> Any:
            async def command() -> Any:
                return await client.xread({keys[2]: after}, block=block)

            return await guard.arun(command, _failed)

        while True:
            reply = await run(_GET_OR_LEASE, keys, args)
            if reply is FAILED:
                return await loader()
            if reply[0] == 1:
                value = self._decode(key, reply[1])
                if value is not _MISSING:
                    return value  # type: ignore[no-any-return]
                reply = [2]
            if reply[0] == 2:
                try:
                    value = await loader()
                    data = self._codec.encode(value)
                except BaseException:
                    await run(_RELEASE, keys[1:], [token])
                    raise
                await run(_STORE, keys, [data, ttl_ms, token])
                return value
            if longest is None:
                await self._asleep(delay)
                delay = min(delay * 2, _LAST_POLL)
            else:
                await wait(reply[1], min(reply[2], longest))


_MISSING: Any = object()


def _longest_block(client: redis.Redis | redis.asyncio.Redis | None) -> int | None:
    """Return the milliseconds a waiter may block on ``client``, or ``None`` if it must poll."""
    if client is None:
        return None
    if isinstance(client, redis.asyncio.Redis):
        single = client.single_connection_client
    else:
        single = client.connection is not None
    if single:
        return None
    pool = client.connection_pool
    # The timeout a connection of the pool would have: the pool's keyword, else (a client from a
    # URL) the connection class's default. Building one opens no socket.
    timeout = pool.connection_class(**pool.connection_kwargs).socket_timeout
    if timeout is None:
        return sys.maxsize
    block = min(timeout / 2, timeout - _TIMEOUT_LAG)
    return int(block * 1000) if block >= 0.001 else None


async def _failed() -> Any:
    return FAILED

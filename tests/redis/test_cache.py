from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
import time
from collections.abc import Awaitable, Callable, Iterator
from typing import Any, Protocol

import pytest
import redis
import redis.asyncio
from redis.asyncio.retry import Retry as AsyncRetry
from redis.backoff import NoBackoff
from redis.retry import Retry

from commerce_kit import TTLCache
from commerce_kit.redis import JSONCodec, RedisCache, RedisGuard
from commerce_kit.testing import ManualClock
from tests.redis import _workers
from tests.redis.conftest import CountingConnection, Server

pytestmark = pytest.mark.redis


class Cache(Protocol):
    def get(self, key: str, default: Any = None) -> Any: ...
    def set(self, key: str, value: Any) -> None: ...
    def delete(self, key: str) -> bool: ...
    def get_or_load(self, key: str, loader: Any) -> Any: ...


@pytest.fixture(params=["memory", "redis", "redis+local"])
def cache(request: pytest.FixtureRequest) -> Iterator[Cache]:
    """A cache of each backend: in memory, on Redis, on Redis behind a local tier."""
    if request.param == "memory":
        yield TTLCache[str, Any](ttl=60)  # type: ignore[misc]
        return
    url = request.getfixturevalue("redis_url")
    prefix = request.getfixturevalue("prefix")
    client = redis.Redis.from_url(url)
    local = TTLCache[str, Any](ttl=5) if request.param == "redis+local" else None
    yield RedisCache(client, prefix=prefix, ttl=60, local=local)
    client.close()


class Loader:
    def __init__(self, value: Any = None) -> None:
        self.calls = 0
        self.value = value

    def __call__(self) -> Any:
        self.calls += 1
        return self.value if self.value is not None else {"n": self.calls}


# -- one behaviour suite, every backend ----------------------------------------------------------


def test_a_miss_loads_once_and_a_hit_does_not_load(cache: Cache) -> None:
    load = Loader()
    assert [{"n": 1}, {"n": 1}] == [cache.get_or_load("k", load) for _ in range(2)]
    assert 1 == load.calls


def test_delete_makes_the_next_read_load_again(cache: Cache) -> None:
    load = Loader()
    cache.get_or_load("k", load)
    assert cache.delete("k")
    assert not cache.delete("k")
    assert {"n": 2} == cache.get_or_load("k", load)


def test_set_then_get(cache: Cache) -> None:
    assert "absent" == cache.get("k", "absent")
    cache.set("k", ["a", 1, None, True])
    assert ["a", 1, None, True] == cache.get("k")


def test_a_failed_load_caches_nothing(cache: Cache) -> None:
    def fail() -> Any:
        raise ConnectionError("catalogue down")

    with pytest.raises(ConnectionError):
        cache.get_or_load("k", fail)
    assert {"n": 1} == cache.get_or_load("k", Loader())


def test_threads_missing_one_key_cause_one_load(cache: Cache) -> None:
    calls = 0
    gate = threading.Barrier(8)
    release = threading.Event()

    def load() -> str:
        nonlocal calls
        calls += 1
        release.wait(5)  # held until every thread has missed
        return "v"

    results: list[str] = []

    def read() -> None:
        gate.wait()
        results.append(cache.get_or_load("k", load))

    threads = [threading.Thread(target=read) for _ in range(8)]
    for t in threads:
        t.start()
    while calls == 0:
        threading.Event().wait(0.001)
    threading.Event().wait(0.05)  # let the other readers reach their wait
    release.set()
    for t in threads:
        t.join()
    assert ["v"] * 8 == results
    assert 1 == calls


# -- what only the Redis cache does -------------------------------------------------------------


def test_processes_share_values_through_redis(redis_url: str, prefix: str) -> None:
    one = RedisCache[Any](redis.Redis.from_url(redis_url), prefix=prefix)
    two = RedisCache[Any](redis.Redis.from_url(redis_url), prefix=prefix)
    one.get_or_load("k", Loader("from one"))
    load = Loader("from two")
    assert "from one" == two.get_or_load("k", load)
    assert 0 == load.calls


def test_a_value_lives_for_the_ttl(client: redis.Redis, prefix: str) -> None:
    cache = RedisCache[Any](client, prefix=prefix, ttl=30)
    cache.get_or_load("k", Loader())
    assert 0 < client.pttl(f"{prefix}cache:default:{{k}}") <= 30_000
    cache.set("k2", 1, ttl=5)
    assert 0 < client.pttl(f"{prefix}cache:default:{{k2}}") <= 5_000


class WatchedRedis(redis.Redis):
    """A client that counts its ``XREAD``s and calls ``before_xread`` just before sending one."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.xreads = 0
        self.before_xread: Callable[[], object] = lambda: None
        self.reading = threading.Event()

    def xread(self, *args: Any, **kwargs: Any) -> Any:
        self.xreads += 1
        self.before_xread()
        self.reading.set()
        return super().xread(*args, **kwargs)


async def _nothing() -> None:
    pass


class AWatchedRedis(redis.asyncio.Redis):
    """The asyncio :class:`WatchedRedis`."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.xreads = 0
        self.before_xread: Callable[[], Awaitable[object]] = _nothing
        self.reading = asyncio.Event()

    async def xread(self, *args: Any, **kwargs: Any) -> Any:
        self.xreads += 1
        await self.before_xread()
        self.reading.set()
        return await super().xread(*args, **kwargs)


def watched(url: str, **options: Any) -> WatchedRedis:
    client = WatchedRedis.from_url(url, **options)
    assert isinstance(client, WatchedRedis)
    return client


def awatched(url: str, **options: Any) -> AWatchedRedis:
    client = AWatchedRedis.from_url(url, **options)
    assert isinstance(client, AWatchedRedis)
    return client


def no_sleep(seconds: float) -> None:
    raise AssertionError(f"a waiter slept {seconds} s instead of being told")


async def no_asleep(seconds: float) -> None:
    no_sleep(seconds)


class Holder:
    """Holds the lease on ``key`` in a thread of its own, loading until :meth:`finish`."""

    def __init__(self, cache: RedisCache[Any], key: str, *, fail: bool = False) -> None:
        self.loading = threading.Event()
        self._go = threading.Event()
        self._fail = fail
        self.stored_at = 0.0
        self._thread = threading.Thread(target=self._hold, args=(cache, key))
        self._thread.start()
        assert self.loading.wait(5)

    def _load(self) -> str:
        self.loading.set()
        self._go.wait(5)
        if self._fail:
            raise ConnectionError("catalogue down")
        return "loaded by the holder"

    def _hold(self, cache: RedisCache[Any], key: str) -> None:
        with contextlib.suppress(ConnectionError):
            cache.get_or_load(key, self._load)
        self.stored_at = time.perf_counter()

    def finish(self) -> None:
        """Let the load return (or raise); wait until it stored the value or released the lease."""
        self._go.set()
        self._thread.join(5)


def wait_in_thread(
    cache: RedisCache[Any], key: str, load: Loader
) -> tuple[threading.Thread, list[Any]]:
    out: list[Any] = []

    def wait() -> None:
        out.append(cache.get_or_load(key, load))
        out.append(time.perf_counter())

    thread = threading.Thread(target=wait, daemon=True)
    thread.start()
    return thread, out


# No socket timeout and a 30 s lease: a waiter that is not told blocks for 30 s and the test fails.
UNTIMED: dict[str, Any] = {"socket_timeout": None}


def test_a_waiter_is_told_when_the_value_lands_in_one_blocking_read(
    redis_url: str, prefix: str
) -> None:
    holder = Holder(RedisCache(redis.Redis.from_url(redis_url), prefix=prefix, lease=30), "k")
    client = watched(redis_url, **UNTIMED)
    waiter = RedisCache[Any](client, prefix=prefix, lease=30, sleep=no_sleep)
    load = Loader()
    thread, out = wait_in_thread(waiter, "k", load)
    assert client.reading.wait(5)
    holder.finish()
    thread.join(5)
    assert ["loaded by the holder"] == out[:1]
    assert 1 == client.xreads
    assert 0 == load.calls


def test_a_waiter_whose_lease_holder_fails_is_told_and_loads_at_once(
    redis_url: str, prefix: str
) -> None:
    holder = Holder(
        RedisCache(redis.Redis.from_url(redis_url), prefix=prefix, lease=30), "k", fail=True
    )
    client = watched(redis_url, **UNTIMED)
    waiter = RedisCache[Any](client, prefix=prefix, lease=30, sleep=no_sleep)
    thread, out = wait_in_thread(waiter, "k", Loader("loaded by the waiter"))
    assert client.reading.wait(5)
    holder.finish()
    thread.join(5)
    assert ["loaded by the waiter"] == out[:1]
    assert 1 == client.xreads


def test_a_value_landing_between_the_script_and_the_blocking_read_is_not_missed(
    redis_url: str, prefix: str
) -> None:
    holder = Holder(RedisCache(redis.Redis.from_url(redis_url), prefix=prefix, lease=30), "k")
    client = watched(redis_url, **UNTIMED)
    client.before_xread = holder.finish  # stored after the script saw the lease, before the read
    waiter = RedisCache[Any](client, prefix=prefix, lease=30, sleep=no_sleep)
    thread, out = wait_in_thread(waiter, "k", Loader())
    thread.join(5)
    assert ["loaded by the holder"] == out[:1]
    assert 1 == client.xreads


@pytest.mark.parametrize("face", ["sync", "asyncio"])
def test_a_blocking_read_ends_before_the_socket_timeout(
    redis_url: str, prefix: str, caplog: pytest.LogCaptureFixture, face: str
) -> None:
    holder = Holder(RedisCache(redis.Redis.from_url(redis_url), prefix=prefix), "k")
    threading.Timer(0.6, holder.finish).start()  # a load three timeouts long
    # No retries, and a guard that opens at the first failure: a read that outlived the timeout
    # would open it and make the waiter load.
    guard = RedisGuard(failure_threshold=1)
    load = Loader()
    if face == "sync":
        client = watched(redis_url, socket_timeout=0.2, retry=Retry(NoBackoff(), 0))
        waiter = RedisCache[Any](client, prefix=prefix, guard=guard, sleep=no_sleep)
        value = waiter.get_or_load("k", load)
        xreads = client.xreads
    else:

        async def main() -> tuple[Any, int]:
            aclient = awatched(redis_url, socket_timeout=0.2, retry=AsyncRetry(NoBackoff(), 0))
            waiter = RedisCache[Any](aclient=aclient, prefix=prefix, guard=guard, asleep=no_asleep)

            async def aload() -> Any:
                return load()

            try:
                return await waiter.aget_or_load("k", aload), aclient.xreads
            finally:
                await aclient.aclose()

        value, xreads = asyncio.run(main())
    assert "loaded by the holder" == value
    assert 0 == load.calls
    assert xreads >= 3  # blocks of 50 ms (Redis ends them on its tick), then asked again
    assert guard.available
    assert [] == [r for r in caplog.records if r.name == "commerce_kit.redis"]


def test_an_uncontended_load_writes_no_stream_and_a_waited_one_expires(
    client: redis.Redis, redis_url: str, prefix: str
) -> None:
    cache = RedisCache[Any](client, prefix=prefix, lease=5)
    cache.get_or_load("alone", Loader())
    assert 0 == client.exists(f"{prefix}cache:default:{{alone}}:landed")
    holder = Holder(RedisCache(redis.Redis.from_url(redis_url), prefix=prefix, lease=5), "k")
    thread, _ = wait_in_thread(cache, "k", Loader())
    while not client.exists(f"{prefix}cache:default:{{k}}:landed"):
        threading.Event().wait(0.001)
    holder.finish()
    thread.join(5)
    assert 0 < client.pttl(f"{prefix}cache:default:{{k}}:landed") <= 5_000


@pytest.mark.parametrize("fail", [False, True], ids=["stored", "released"])
def test_an_asyncio_waiter_is_told_too_even_between_the_script_and_the_read(
    redis_url: str, prefix: str, fail: bool
) -> None:
    async def main() -> tuple[Any, int, int]:
        holder_client = redis.asyncio.Redis.from_url(redis_url)
        client = awatched(redis_url, **UNTIMED)
        holder = RedisCache[Any](aclient=holder_client, prefix=prefix, lease=30)
        waiter = RedisCache[Any](aclient=client, prefix=prefix, lease=30, asleep=no_asleep)
        loading, go = asyncio.Event(), asyncio.Event()

        async def load() -> str:
            loading.set()
            await go.wait()
            if fail:
                raise ConnectionError("catalogue down")
            return "loaded by the holder"

        async def hold() -> None:
            with contextlib.suppress(ConnectionError):
                await holder.aget_or_load("k", load)

        held = asyncio.create_task(hold())
        await loading.wait()

        async def land() -> None:  # after the waiter's script saw the lease, before its read
            go.set()
            await held

        client.before_xread = land
        waiter_load = Loader("loaded by the waiter")

        async def aload() -> Any:
            return waiter_load()

        try:
            value = await asyncio.wait_for(waiter.aget_or_load("k", aload), 5)
        finally:
            await holder_client.aclose()
            await client.aclose()
        return value, client.xreads, waiter_load.calls

    expected = ("loaded by the waiter", 1, 1) if fail else ("loaded by the holder", 1, 0)
    assert expected == asyncio.run(main())


def test_an_asyncio_waiter_blocks_until_told(redis_url: str, prefix: str) -> None:
    async def main() -> tuple[Any, int]:
        holder_client = redis.asyncio.Redis.from_url(redis_url)
        client = awatched(redis_url, **UNTIMED)
        holder = RedisCache[Any](aclient=holder_client, prefix=prefix, lease=30)
        waiter = RedisCache[Any](aclient=client, prefix=prefix, lease=30, asleep=no_asleep)
        loading, go = asyncio.Event(), asyncio.Event()

        async def load() -> str:
            loading.set()
            await go.wait()
            return "loaded by the holder"

        async def never() -> str:
            raise AssertionError("the waiter loaded")

        held = asyncio.create_task(holder.aget_or_load("k", load))
        await loading.wait()
        waiting = asyncio.create_task(waiter.aget_or_load("k", never))
        await asyncio.wait_for(client.reading.wait(), 5)
        await asyncio.sleep(0.01)  # the read is on its way, or blocked
        go.set()
        try:
            value = await asyncio.wait_for(waiting, 5)
            await held
        finally:
            await holder_client.aclose()
            await client.aclose()
        return value, client.xreads

    assert ("loaded by the holder", 1) == asyncio.run(main())


@pytest.mark.parametrize(
    "options",
    [{"single_connection_client": True}, {"socket_timeout": 0.15}],
    ids=["a single connection", "a timeout too short to block"],
)
def test_a_client_that_cannot_block_polls_with_a_growing_delay(
    redis_url: str, prefix: str, options: dict[str, Any]
) -> None:
    client = redis.Redis.from_url(redis_url, **options)
    value_key = f"{prefix}cache:default:{{k}}"
    client.set(value_key + ":lease", "another process", px=10_000)
    sleeps: list[float] = []

    def sleep(seconds: float) -> None:
        sleeps.append(seconds)
        if len(sleeps) == 3:
            client.set(value_key, b'"loaded elsewhere"')

    cache = RedisCache[Any](client, prefix=prefix, sleep=sleep)
    load = Loader()
    try:
        assert "loaded elsewhere" == cache.get_or_load("k", load)
    finally:
        client.close()
    assert [0.002, 0.004, 0.008] == sleeps
    assert 0 == load.calls


def test_an_asyncio_client_with_a_single_connection_polls_too(
    client: redis.Redis, redis_url: str, prefix: str
) -> None:
    value_key = f"{prefix}cache:default:{{k}}"
    client.set(value_key + ":lease", "another process", px=10_000)
    sleeps: list[float] = []

    async def asleep(seconds: float) -> None:
        sleeps.append(seconds)
        if len(sleeps) == 2:
            client.set(value_key, b'"loaded elsewhere"')

    async def main() -> Any:
        aclient = redis.asyncio.Redis.from_url(redis_url, single_connection_client=True)
        cache = RedisCache[Any](aclient=aclient, prefix=prefix, asleep=asleep)

        async def load() -> Any:
            raise AssertionError("the waiter loaded")

        try:
            return await cache.aget_or_load("k", load)
        finally:
            await aclient.aclose()

    assert "loaded elsewhere" == asyncio.run(main())
    assert [0.002, 0.004] == sleeps


def test_a_failed_load_releases_the_lease_at_once(client: redis.Redis, prefix: str) -> None:
    cache = RedisCache[Any](client, prefix=prefix)

    def fail() -> Any:
        raise ConnectionError("catalogue down")

    with pytest.raises(ConnectionError):
        cache.get_or_load("k", fail)
    assert 0 == client.exists(f"{prefix}cache:default:{{k}}:lease")


def test_the_local_tier_serves_reads_without_a_round_trip(
    counting_client: redis.Redis, prefix: str
) -> None:
    cache = RedisCache[Any](counting_client, prefix=prefix, local=TTLCache(ttl=5))
    cache.get_or_load("k", Loader())
    before = CountingConnection.sent
    assert {"n": 1} == cache.get_or_load("k", Loader())
    assert {"n": 1} == cache.get("k")
    assert 0 == CountingConnection.sent - before


def test_bytes_the_codec_cannot_read_count_as_a_miss(
    client: redis.Redis, prefix: str, caplog: pytest.LogCaptureFixture
) -> None:
    client.set(f"{prefix}cache:default:{{k}}", b"\x80\x04pickle?")
    cache = RedisCache[Any](client, prefix=prefix)
    with caplog.at_level(logging.WARNING, logger="commerce_kit.cache"):
        assert {"n": 1} == cache.get_or_load("k", Loader())
    assert "cannot be decoded" in caplog.records[0].getMessage()
    assert {"n": 1} == cache.get("k")  # the load overwrote them


def test_a_value_json_cannot_carry_is_refused_and_releases_the_lease(
    client: redis.Redis, prefix: str
) -> None:
    cache = RedisCache[Any](client, prefix=prefix)
    with pytest.raises(TypeError, match="JSON"):
        cache.get_or_load("k", lambda: {1, 2})
    with pytest.raises(TypeError, match="JSON"):
        cache.set("k", float("nan"))
    assert 0 == client.exists(f"{prefix}cache:default:{{k}}:lease")


def test_json_codec_round_trips_and_refuses_what_it_cannot_read() -> None:
    codec = JSONCodec()
    assert {"a": [1, 2.5, "é", None]} == codec.decode(codec.encode({"a": [1, 2.5, "é", None]}))
    with pytest.raises(ValueError, match="not JSON"):
        codec.decode(b"\xff")
    deep: Any = []
    for _ in range(100_000):
        deep = [deep]
    with pytest.raises(TypeError, match="JSON"):
        codec.encode(deep)
    with pytest.raises(ValueError, match="not JSON"):
        codec.decode(b"[" * 100_000 + b"]" * 100_000)


def test_keys_must_be_strings(client: redis.Redis) -> None:
    with pytest.raises(TypeError, match="str"):
        RedisCache[Any](client).get(42)  # type: ignore[arg-type]


def test_the_asyncio_face_loads_once_and_shares_the_value(
    redis_url: str, client: redis.Redis, prefix: str
) -> None:
    async def main() -> list[Any]:
        aclient = redis.asyncio.Redis.from_url(redis_url)
        cache = RedisCache[Any](aclient=aclient, prefix=prefix)
        calls = 0

        async def load() -> str:
            nonlocal calls
            calls += 1
            await asyncio.sleep(0.05)
            return "v"

        try:
            values = await asyncio.gather(*(cache.aget_or_load("k", load) for _ in range(5)))
        finally:
            await aclient.aclose()
        return [*values, calls]

    assert ["v"] * 5 + [1] == asyncio.run(main())
    assert "v" == RedisCache[Any](client, prefix=prefix).get("k")


def test_the_asyncio_face_reads_redis_with_or_without_a_local_tier(
    client: redis.Redis, redis_url: str, prefix: str
) -> None:
    client.set(f"{prefix}cache:default:{{bad}}", b"\x80")

    async def main() -> list[Any]:
        aclient = redis.asyncio.Redis.from_url(redis_url)
        plain = RedisCache[Any](aclient=aclient, prefix=prefix)
        tiered = RedisCache[Any](aclient=aclient, prefix=prefix, local=TTLCache(ttl=5))

        async def load() -> Any:
            return {"n": 1}

        try:
            await plain.aset("k", [1])
            return [
                await plain.aget("k"),
                await plain.aget_or_load("bad", load),  # undecodable: loaded again
                await tiered.aget_or_load("k", load),
                await tiered.aget("k"),
            ]
        finally:
            await aclient.aclose()

    assert [[1], {"n": 1}, [1], [1]] == asyncio.run(main())


def test_a_cache_is_used_through_the_face_of_the_client_it_was_given(
    client: redis.Redis, redis_url: str
) -> None:
    with pytest.raises(TypeError, match="give a Redis client"):
        RedisCache[Any]()
    sync_only = RedisCache[Any](client, name="listings", ttl=30)
    assert "RedisCache(prefix='commerce_kit:cache:listings', ttl=30.0)" == repr(sync_only)
    assert sync_only.local is None
    assert sync_only.guard.available
    with pytest.raises(TypeError, match="no asyncio client"):
        asyncio.run(sync_only.aget("k"))
    async_only = RedisCache[Any](aclient=redis.asyncio.Redis.from_url(redis_url))
    with pytest.raises(TypeError, match="no sync client"):
        async_only.get("k")


# -- when Redis fails ----------------------------------------------------------------------------


def test_when_redis_is_down_the_cache_falls_back_to_its_local_tier(
    server: Server, caplog: pytest.LogCaptureFixture
) -> None:
    guard = RedisGuard(failure_threshold=1, clock=ManualClock())
    cache = RedisCache[Any](server.client(), local=TTLCache(ttl=5), guard=guard)
    server.stop()
    load = Loader()
    with caplog.at_level(logging.WARNING, logger="commerce_kit.redis"):
        assert [{"n": 1}] * 3 == [cache.get_or_load("k", load) for _ in range(3)]
        assert {"n": 1} == cache.get("k")
        cache.set("k2", 2)
        assert not cache.delete("k3")
    assert 1 == load.calls
    [record] = caplog.records
    assert "cache 'default' loads in each process through its local tier" in record.getMessage()


def test_without_a_local_tier_an_outage_loads_on_every_read(server: Server) -> None:
    cache = RedisCache[Any](server.client())
    server.stop()
    load = Loader()
    assert [{"n": 1}, {"n": 2}] == [cache.get_or_load("k", load) for _ in range(2)]
    assert "gone" == cache.get("k", "gone")


def test_the_asyncio_face_falls_back_too(server: Server) -> None:
    async def main() -> Any:
        aclient = server.aclient()
        cache = RedisCache[Any](aclient=aclient)
        server.stop()

        async def load() -> str:
            return "v"

        try:
            return await cache.aget_or_load("k", load)
        finally:
            await aclient.aclose()

    assert "v" == asyncio.run(main())


# -- several processes ---------------------------------------------------------------------------


def test_eight_processes_missing_one_cold_key_cause_one_load(
    redis_url: str, client: redis.Redis, prefix: str
) -> None:
    values = _workers.run_processes(_workers.load_cold_key, (redis_url, prefix), 8)
    assert [{"price": 42}] * 8 == values
    assert b"1" == client.get(prefix + "loads")


def test_the_asyncio_plain_reads_and_writes_match_the_sync_ones(
    redis_url: str, client: redis.Redis, prefix: str
) -> None:
    async def main() -> list[Any]:
        aclient = redis.asyncio.Redis.from_url(redis_url)
        cache = RedisCache[Any](aclient=aclient, prefix=prefix, local=TTLCache(ttl=5))
        try:
            out = [await cache.aget("k", "absent")]
            await cache.aset("k", {"a": 1}, ttl=30)
            out += [await cache.aget("k"), await cache.adelete("k"), await cache.adelete("k")]
            return out
        finally:
            await aclient.aclose()

    assert ["absent", {"a": 1}, True, False] == asyncio.run(main())
    assert RedisCache[Any](client, prefix=prefix).get("k") is None


def test_the_asyncio_plain_reads_fall_back_when_redis_is_down(server: Server) -> None:
    async def main() -> list[Any]:
        aclient = server.aclient()
        cache = RedisCache[Any](aclient=aclient)
        server.stop()
        try:
            await cache.aset("k", 1)
            return [await cache.aget("k", "gone"), await cache.adelete("k")]
        finally:
            await aclient.aclose()

    assert ["gone", False] == asyncio.run(main())

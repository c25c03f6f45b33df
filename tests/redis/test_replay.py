from __future__ import annotations

import asyncio
import logging
import threading

import pytest
import redis
import redis.asyncio

from commerce_kit.redis import RedisGuard, RedisReplayStore
from commerce_kit.testing import ManualClock
from commerce_kit.typing import ReplayStore
from commerce_kit.webhooks import MemoryReplayStore
from tests.redis.conftest import Server

pytestmark = pytest.mark.redis

NOW = 1_800_000_000.0


def test_a_new_key_is_added_and_a_second_sighting_is_a_replay(
    client: redis.Redis, prefix: str
) -> None:
    store: ReplayStore = RedisReplayStore(client, prefix=prefix)
    expires = NOW + 300
    assert [False, True, True] == [store.seen_or_add("msg_1", expires) for _ in range(3)]
    assert store.seen_or_add("msg_2", expires) is False


def test_the_key_expires_at_the_given_unix_time(client: redis.Redis, prefix: str) -> None:
    store = RedisReplayStore(client, prefix=prefix)
    store.seen_or_add("msg", NOW + 300.0005)
    assert int((NOW + 300.0005) * 1000) + 1 == client.pexpiretime(f"{prefix}replay:msg")


def test_a_later_expiry_extends_the_key_and_an_earlier_one_does_not(
    client: redis.Redis, prefix: str
) -> None:
    store = RedisReplayStore(client, prefix=prefix)
    store.seen_or_add("msg", NOW + 300)
    assert store.seen_or_add("msg", NOW + 600) is True
    assert store.seen_or_add("msg", NOW + 100) is True
    assert int((NOW + 600) * 1000) == client.pexpiretime(f"{prefix}replay:msg")


def test_an_expiry_already_past_is_not_remembered(client: redis.Redis, prefix: str) -> None:
    store = RedisReplayStore(client, prefix=prefix)
    assert store.seen_or_add("old", 1000.0) is False
    assert 0 == client.exists(f"{prefix}replay:old")


def test_of_many_threads_sending_one_delivery_exactly_one_accepts_it(
    redis_url: str, prefix: str
) -> None:
    results: list[bool] = []
    barrier = threading.Barrier(8)

    def deliver() -> None:
        store = RedisReplayStore(redis.Redis.from_url(redis_url), prefix=prefix)
        barrier.wait()
        results.append(store.seen_or_add("msg_race", NOW + 60))

    threads = [threading.Thread(target=deliver) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert [False] + [True] * 7 == sorted(results)


def test_the_asyncio_face_shares_the_keys_of_the_sync_face(
    redis_url: str, client: redis.Redis, prefix: str
) -> None:
    async def main() -> list[bool]:
        aclient = redis.asyncio.Redis.from_url(redis_url)
        try:
            store = RedisReplayStore(aclient=aclient, prefix=prefix)
            return [await store.aseen_or_add("m", NOW + 60), await store.aseen_or_add("m", NOW)]
        finally:
            await aclient.aclose()

    assert [False, True] == asyncio.run(main())
    assert RedisReplayStore(client, prefix=prefix).seen_or_add("m", NOW + 60) is True


def test_a_face_without_its_client_says_which_one_is_missing(client: redis.Redis) -> None:
    with pytest.raises(TypeError, match="no asyncio client"):
        asyncio.run(RedisReplayStore(client).aseen_or_add("m", NOW))
    with pytest.raises(TypeError, match="no sync client"):
        RedisReplayStore(aclient=redis.asyncio.Redis()).seen_or_add("m", NOW)
    with pytest.raises(TypeError, match="client"):
        RedisReplayStore()


@pytest.mark.parametrize("prefix_value", ["a{b", "a}b"])
def test_a_prefix_with_a_brace_is_refused(client: redis.Redis, prefix_value: str) -> None:
    with pytest.raises(ValueError, match="prefix"):
        RedisReplayStore(client, prefix=prefix_value)


def test_an_unknown_failure_policy_is_refused(client: redis.Redis) -> None:
    with pytest.raises(ValueError, match="on_failure"):
        RedisReplayStore(client, on_failure="open")  # type: ignore[arg-type]


def test_when_redis_is_down_the_local_fallback_still_refuses_replays_to_this_process(
    server: Server, caplog: pytest.LogCaptureFixture
) -> None:
    clock = ManualClock()
    store = RedisReplayStore(
        server.client(), guard=RedisGuard(failure_threshold=2, reset_timeout=5, clock=clock)
    )
    assert store.seen_or_add("before", NOW + 60) is False
    server.stop()
    with caplog.at_level(logging.WARNING, logger="commerce_kit.redis"):
        results = [store.seen_or_add("during", NOW + 60) for _ in range(4)]
    assert [False, True, True, True] == results
    assert store.guard.available is False
    lines = [r.getMessage() for r in caplog.records]
    assert 1 == len(lines)
    assert "is failing (ConnectionError" in lines[0]
    assert "replay guard remembers deliveries per process" in lines[0]
    server.start()
    clock.advance(5)
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="commerce_kit.redis"):
        assert store.seen_or_add("before", NOW + 60) is False  # the restarted server is empty
    assert ["Redis 'redis' answers again; the backends share their state again"] == [
        r.getMessage() for r in caplog.records
    ]


def test_when_redis_is_down_the_refuse_policy_reports_every_delivery_as_a_replay(
    server: Server,
) -> None:
    store = RedisReplayStore(server.client(), on_failure="refuse")
    server.stop()
    assert [True, True] == [store.seen_or_add("m", NOW + 60) for _ in range(2)]


def test_the_asyncio_face_falls_back_too(server: Server) -> None:
    async def main() -> list[bool]:
        aclient = server.aclient()
        store = RedisReplayStore(aclient=aclient)
        server.stop()
        try:
            return [await store.aseen_or_add("m", NOW + 60) for _ in range(2)]
        finally:
            await aclient.aclose()

    assert [False, True] == asyncio.run(main())


# -- one behaviour suite, both backends --------------------------------------------------------


@pytest.fixture(params=["memory", "redis"])
def any_store(request: pytest.FixtureRequest) -> ReplayStore:
    if request.param == "memory":
        return MemoryReplayStore(clock=ManualClock(NOW))
    client = request.getfixturevalue("client")
    return RedisReplayStore(client, prefix=request.getfixturevalue("prefix"))


def test_every_backend_accepts_a_delivery_once(any_store: ReplayStore) -> None:
    assert [False, True] == [any_store.seen_or_add("m", NOW + 60) for _ in range(2)]


def test_every_backend_keeps_deliveries_apart(any_store: ReplayStore) -> None:
    assert [False, False] == [any_store.seen_or_add(k, NOW + 60) for k in ("a", "b")]


def test_every_backend_refuses_a_replay_with_a_later_expiry(any_store: ReplayStore) -> None:
    any_store.seen_or_add("m", NOW + 60)
    assert any_store.seen_or_add("m", NOW + 600) is True


def test_every_backend_forgets_nothing_already_expired(any_store: ReplayStore) -> None:
    assert any_store.seen_or_add("old", NOW - 1) is False

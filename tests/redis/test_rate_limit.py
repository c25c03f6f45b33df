from __future__ import annotations

import asyncio
import logging
import math
import os
from collections.abc import Callable, Iterator
from typing import Literal

import pytest
import redis
import redis.asyncio
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from commerce_kit import RateLimit, RateLimiter
from commerce_kit.redis import RedisGuard, RedisRateLimitStore
from commerce_kit.testing import ManualClock
from commerce_kit.typing import RateLimitStore
from tests.redis import _workers
from tests.redis.conftest import CountingConnection, Server

pytestmark = pytest.mark.redis

Strategy = Literal["exact", "sliding_counter", "gcra"]
STRATEGIES: list[Strategy] = ["exact", "sliding_counter", "gcra"]
HOUR = 3600.0

MakeStore = Callable[[], RateLimitStore | None]


@pytest.fixture(params=["memory", "redis"])
def make_store(request: pytest.FixtureRequest) -> Iterator[MakeStore]:
    """Builds the store of one backend: the default in-memory one (None), or Redis."""
    if request.param == "memory":
        yield lambda: None
        return
    url = request.getfixturevalue("redis_url")
    prefix = request.getfixturevalue("prefix")
    client = redis.Redis.from_url(url)
    yield lambda: RedisRateLimitStore(client, prefix=prefix)
    client.close()


# -- one behaviour suite, both backends --------------------------------------------------------


@pytest.mark.parametrize("strategy", STRATEGIES)
def test_the_limit_admits_exactly_limit_hits_then_refuses(
    make_store: MakeStore, strategy: Strategy
) -> None:
    limiter = RateLimiter(3, HOUR, strategy=strategy, store=make_store())
    decisions = [limiter.hit("k") for _ in range(5)]
    assert [True, True, True, False, False] == [d.allowed for d in decisions]
    assert [2, 1, 0, 0, 0] == [d.remaining for d in decisions]
    assert 0 < decisions[-1].retry_after <= 2 * HOUR  # the counter may wait past one window


@pytest.mark.parametrize("strategy", STRATEGIES)
def test_a_hit_costing_more_than_what_is_left_consumes_nothing(
    make_store: MakeStore, strategy: Strategy
) -> None:
    limiter = RateLimiter(5, HOUR, strategy=strategy, store=make_store())
    assert limiter.hit("k", cost=3)
    assert not limiter.hit("k", cost=3)
    assert [True, True, False] == [limiter.hit("k").allowed for _ in range(3)]


@pytest.mark.parametrize("strategy", STRATEGIES)
def test_peek_consumes_nothing_and_refund_gives_units_back(
    make_store: MakeStore, strategy: Strategy
) -> None:
    limiter = RateLimiter(2, HOUR, strategy=strategy, store=make_store())
    assert 2 == limiter.peek("k").remaining
    limiter.hit("k")
    limiter.hit("k")
    assert not limiter.peek("k").allowed
    assert 1 == limiter.refund("k").remaining
    assert limiter.hit("k")
    assert not limiter.hit("k")


@pytest.mark.parametrize("strategy", STRATEGIES)
def test_reset_restores_the_full_quota(make_store: MakeStore, strategy: Strategy) -> None:
    limiter = RateLimiter(1, HOUR, strategy=strategy, store=make_store())
    limiter.hit("k")
    limiter.reset("k")
    assert limiter.hit("k")


def test_reset_by_another_limiter_finds_the_key_states(make_store: MakeStore) -> None:
    store = make_store()
    RateLimiter(1, HOUR, store=store).hit("k")
    if store is not None:  # a store that has not seen the policy yet (another process)
        store = RedisRateLimitStore(store._client, prefix=store._prefix[: -len("rl:{")])  # type: ignore[attr-defined]
        RateLimiter(1, HOUR, store=store).reset("k")
        assert RateLimiter(1, HOUR, store=store).hit("k")


def test_keys_are_limited_apart(make_store: MakeStore) -> None:
    limiter = RateLimiter(1, HOUR, store=make_store())
    assert [True, True, False] == [limiter.hit(k).allowed for k in ("a", "b", "a")]


def test_several_policies_admit_all_or_nothing(make_store: MakeStore) -> None:
    limiter = RateLimiter.multi(
        RateLimit(2, 60, name="minute"),
        RateLimit(3, HOUR, name="hour", strategy="gcra"),
        store=make_store(),
    )
    decisions = [limiter.hit("k") for _ in range(3)]
    assert [True, True, False] == [d.allowed for d in decisions]
    assert "minute" == decisions[-1].policy.name
    assert [0, 1] == [p.remaining for p in decisions[-1].parts]  # the refusal took nothing


def test_the_asyncio_faces_decide_alike(make_store: MakeStore, redis_url: str) -> None:
    async def main() -> list[bool]:
        store = make_store()
        aclient = None
        if isinstance(store, RedisRateLimitStore):
            aclient = redis.asyncio.Redis.from_url(redis_url)
            store = RedisRateLimitStore(aclient=aclient, prefix=store._prefix[: -len("rl:{")])
        limiter = RateLimiter(2, HOUR, store=store)
        try:
            out = [(await limiter.ahit("k")).allowed for _ in range(3)]
            out.append((await limiter.apeek("k")).allowed)
            await limiter.arefund("k")
            out.append((await limiter.ahit("k")).allowed)
            await limiter.areset("k")
            out.append((await limiter.ahit("k")).allowed)
            return out
        finally:
            if aclient is not None:
                await aclient.aclose()

    assert [True, True, False, False, True, True] == asyncio.run(main())


# -- Redis and memory agree, step for step -------------------------------------------------------

OPS = st.lists(
    st.one_of(
        st.tuples(st.just("hit"), st.integers(1, 3)),
        st.tuples(st.just("peek"), st.just(0)),
        st.tuples(st.just("refund"), st.integers(1, 2)),
    ),
    min_size=1,
    max_size=12,
)


# The client and prefix are shared by the examples on purpose; each example resets its key.
@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(strategy=st.sampled_from(STRATEGIES), limit=st.integers(3, 6), ops=OPS)
def test_the_redis_store_decides_as_the_memory_store_does(
    client: redis.Redis, prefix: str, strategy: Strategy, limit: int, ops: list[tuple[str, int]]
) -> None:
    # An hour-long window: the milliseconds the test takes on Redis's clock change nothing. The
    # memory limiter's clock starts at Redis's time, so both align their fixed windows alike.
    seconds, micros = client.time()
    clock = ManualClock(seconds + micros / 1e6)
    memory = RateLimiter(limit, HOUR, strategy=strategy, clock=clock)
    shared = RateLimiter(
        limit, HOUR, strategy=strategy, store=RedisRateLimitStore(client, prefix=prefix)
    )
    shared.reset("k")
    for op, cost in ops:
        if op == "hit":
            expected, actual = memory.hit("k", cost), shared.hit("k", cost)
        elif op == "peek":
            expected, actual = memory.peek("k"), shared.peek("k")
        else:
            expected, actual = memory.refund("k", cost), shared.refund("k", cost)
        assert (expected.allowed, expected.remaining) == (actual.allowed, actual.remaining)
        assert math.isclose(expected.retry_after, actual.retry_after, abs_tol=1.0)


# -- what only the Redis store does --------------------------------------------------------------


def test_clients_with_skewed_clocks_share_one_budget(client: redis.Redis, prefix: str) -> None:
    store = RedisRateLimitStore(client, prefix=prefix)
    early = RateLimiter(3, HOUR, store=store, clock=ManualClock(0.0))
    late = RateLimiter(3, HOUR, store=store, clock=ManualClock(1e9))
    assert [True, True, True, False] == [
        limiter.hit("k").allowed for limiter in (early, late, early, late)
    ]


@pytest.mark.parametrize("strategy", STRATEGIES)
def test_keys_carry_a_hash_tag_and_expire_when_idle(
    client: redis.Redis, prefix: str, strategy: Strategy
) -> None:
    limiter = RateLimiter(
        2,
        30,
        strategy=strategy,
        store=RedisRateLimitStore(client, prefix=prefix),
    )
    limiter.hit("user:42")
    registry, state = sorted(os.fsdecode(k) for k in client.keys(prefix + "*"))
    assert f"{prefix}rl-policies" == registry
    assert state.startswith(f"{prefix}rl:{{user:42}}:")
    ttl = limiter.policies[0].ttl
    assert 0 < client.pttl(state) <= ttl * 1000 + 1000
    assert -1 == client.pttl(f"{prefix}rl-policies")  # one entry per policy, kept


@pytest.mark.parametrize("policies", [1, 2])
@pytest.mark.parametrize("strategy", STRATEGIES)
def test_a_decision_is_one_round_trip(
    counting_client: redis.Redis, prefix: str, strategy: Strategy, policies: int
) -> None:
    store = RedisRateLimitStore(counting_client, prefix=prefix)
    limiter = RateLimiter.multi(
        RateLimit(3, HOUR, name="a", strategy=strategy),
        *[RateLimit(5, 60, name="b")][: policies - 1],
        store=store,
    )
    limiter.hit("k")  # loads the script if the server lacks it
    before = CountingConnection.sent
    for _ in range(5):
        limiter.hit("k")
    limiter.peek("k")
    limiter.refund("k")
    assert 7 == CountingConnection.sent - before


def test_the_sync_and_asyncio_faces_share_the_state_of_a_non_ascii_key(
    client: redis.Redis, redis_url: str, prefix: str
) -> None:
    # The sync face packs its commands itself, the asyncio face through redis-py: one key.
    RateLimiter(2, HOUR, store=RedisRateLimitStore(client, prefix=prefix)).hit("ключ")

    async def main() -> float:
        aclient = redis.asyncio.Redis.from_url(redis_url)
        store = RedisRateLimitStore(aclient=aclient, prefix=prefix)
        try:
            return (await RateLimiter(2, HOUR, store=store).apeek("ключ")).remaining
        finally:
            await aclient.aclose()

    assert 1 == asyncio.run(main())


def test_a_single_connection_client_shares_the_budget_of_a_pooled_one(
    redis_url: str, prefix: str
) -> None:
    single = redis.Redis.from_url(redis_url, single_connection_client=True)
    pooled = redis.Redis.from_url(redis_url)
    try:
        limiters = [
            RateLimiter(3, HOUR, store=RedisRateLimitStore(c, prefix=prefix))
            for c in (single, pooled)
        ]
        assert [True, True, True, False] == [
            limiter.hit("k").allowed for limiter in limiters + limiters
        ]
    finally:
        single.close()
        pooled.close()


def test_the_script_is_loaded_again_after_the_server_forgets_it(server: Server) -> None:
    client = server.client()
    limiter = RateLimiter(2, HOUR, store=RedisRateLimitStore(client))
    assert limiter.hit("k")
    client.script_flush()
    assert limiter.hit("k")
    assert not limiter.hit("k")


def test_an_unlabelled_operation_is_refused(client: redis.Redis) -> None:
    store = RedisRateLimitStore(client)
    with pytest.raises(TypeError, match="own operations"):
        store.update("k", lambda state, now, cost: (state, None), 0.0, 1)  # type: ignore[arg-type,return-value]


def test_an_unknown_failure_policy_is_refused(client: redis.Redis) -> None:
    with pytest.raises(ValueError, match="on_failure"):
        RedisRateLimitStore(client, on_failure="maybe")  # type: ignore[arg-type]


# -- when Redis fails ----------------------------------------------------------------------------


def _down(server: Server, on_failure: Literal["local", "open", "closed"]) -> RateLimiter:
    guard = RedisGuard(failure_threshold=1, reset_timeout=7, clock=ManualClock())
    store = RedisRateLimitStore(server.client(), on_failure=on_failure, guard=guard)
    limiter = RateLimiter(2, HOUR, store=store, clock=ManualClock())
    server.stop()
    return limiter


def test_fail_local_limits_each_process_on_its_own(
    server: Server, caplog: pytest.LogCaptureFixture
) -> None:
    limiter = _down(server, "local")
    with caplog.at_level(logging.WARNING, logger="commerce_kit.redis"):
        assert [True, True, False] == [limiter.hit("k").allowed for _ in range(3)]
    [record] = caplog.records
    assert "rate limiter limits each process on its own" in record.getMessage()


def test_fail_open_admits_every_hit(server: Server) -> None:
    limiter = _down(server, "open")
    assert [True] * 3 == [limiter.hit("k").allowed for _ in range(3)]


def test_fail_closed_refuses_every_hit_until_the_guard_retries(server: Server) -> None:
    limiter = _down(server, "closed")
    decision = limiter.hit("k")
    assert (False, 7.0) == (decision.allowed, decision.retry_after)


def test_the_asyncio_face_falls_back_too(server: Server) -> None:
    async def main() -> list[bool]:
        aclient = server.aclient()
        store = RedisRateLimitStore(aclient=aclient, on_failure="local")
        limiter = RateLimiter(1, HOUR, store=store)
        server.stop()
        try:
            return [(await limiter.ahit("k")).allowed for _ in range(2)]
        finally:
            await aclient.aclose()

    assert [True, False] == asyncio.run(main())


# -- several processes ---------------------------------------------------------------------------


def test_four_processes_hitting_one_key_never_admit_more_than_the_limit(
    redis_url: str, prefix: str
) -> None:
    results = _workers.run_processes(_workers.hit_many, (redis_url, prefix, 50, 40), 4)
    for strategy in STRATEGIES:
        counts = [r[strategy] for r in results]  # type: ignore[index]
        assert 50 == sum(counts), (strategy, counts)


@pytest.mark.parametrize("strategy", STRATEGIES)
def test_refunding_every_unit_restores_the_full_quota(
    make_store: MakeStore, strategy: Strategy
) -> None:
    limiter = RateLimiter(3, HOUR, strategy=strategy, store=make_store())
    limiter.hit("k")
    assert 3 == limiter.refund("k").remaining


def test_fail_local_keeps_the_states_of_limiters_with_other_policies_apart(
    server: Server,
) -> None:
    guard = RedisGuard(failure_threshold=1, clock=ManualClock())
    store = RedisRateLimitStore(server.client(), guard=guard)
    exact = RateLimiter(1, HOUR, store=store)
    counter = RateLimiter(2, HOUR, strategy="sliding_counter", store=store)
    server.stop()
    assert [True, False] == [exact.hit("k").allowed for _ in range(2)]
    assert [True, True, False] == [counter.hit("k").allowed for _ in range(3)]
    exact.reset("k")  # forgets the key's local states, under every policy, as in Redis
    assert exact.hit("k").allowed
    assert counter.hit("k").allowed


def test_limiters_with_other_names_keep_their_budgets_apart(
    client: redis.Redis, prefix: str
) -> None:
    store = RedisRateLimitStore(client, prefix=prefix)
    login = RateLimiter(1, HOUR, name="it's \\ login", store=store)
    search = RateLimiter(1, HOUR, name="search", store=store)
    both = RateLimiter.multi(RateLimit(1, HOUR, name="a b"), RateLimit(2, HOUR), store=store)
    assert [True, True, True] == [limiter.hit("k").allowed for limiter in (login, search, both)]
    assert [False, False, False] == [limiter.hit("k").allowed for limiter in (login, search, both)]
    login.reset("k")  # a reset forgets the key for every limiter on the store, as in memory
    assert [True, True] == [login.hit("k").allowed, search.hit("k").allowed]

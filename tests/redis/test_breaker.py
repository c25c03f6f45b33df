from __future__ import annotations

import logging

import pytest
import redis
from hypothesis import given
from hypothesis import strategies as st

from commerce_kit import CircuitBreaker, CircuitOpenError, CircuitState
from commerce_kit.redis import RedisBreakerStore, RedisGuard
from commerce_kit.redis._breaker import decode, encode
from commerce_kit.resilience import BreakerRecord, MemoryBreakerStore
from commerce_kit.testing import ManualClock
from commerce_kit.typing import BreakerStore
from tests.redis.conftest import CountingConnection, Server

T0 = 1_800_000_000.0


def _fail() -> None:
    raise ConnectionError("down")


def _breaker(client: redis.Redis, prefix: str, clock: ManualClock) -> CircuitBreaker:
    store = RedisBreakerStore(client, prefix=prefix, refresh=1.0, clock=clock)
    return CircuitBreaker("psp", failure_threshold=3, reset_timeout=30, clock=clock, store=store)


@given(
    st.builds(
        BreakerRecord,
        st.sampled_from(CircuitState),
        st.floats(allow_nan=False, allow_infinity=False),
        st.lists(st.floats(allow_nan=False, allow_infinity=False), max_size=4).map(tuple),
        st.integers(0, 10),
        st.integers(0, 10),
    )
)
def test_a_record_survives_its_encoding(record: BreakerRecord) -> None:
    assert record == decode(encode(record))


@pytest.mark.redis
def test_failures_seen_by_one_instance_open_the_breaker_for_all(
    redis_url: str, prefix: str
) -> None:
    clock = ManualClock(T0)
    a = _breaker(redis.Redis.from_url(redis_url), prefix, clock)
    b = _breaker(redis.Redis.from_url(redis_url), prefix, clock)
    assert 1 == b.call(lambda: 1)
    for _ in range(3):
        with pytest.raises(ConnectionError):
            a.call(_fail)
    assert CircuitState.OPEN == a.state
    clock.advance(1.0)  # b's local view has aged out
    with pytest.raises(CircuitOpenError) as caught:
        b.call(lambda: 1)
    assert 29.0 == caught.value.retry_after


@pytest.mark.redis
def test_failures_from_two_instances_add_up(redis_url: str, prefix: str) -> None:
    clock = ManualClock(T0)
    a = _breaker(redis.Redis.from_url(redis_url), prefix, clock)
    b = _breaker(redis.Redis.from_url(redis_url), prefix, clock)
    for breaker in (a, b, a):
        with pytest.raises(ConnectionError):
            breaker.call(_fail)
    assert CircuitState.OPEN == a.state
    seen_by_b = [b.state]  # b's view is at most `refresh` old
    clock.advance(1.0)
    seen_by_b.append(b.state)
    assert [CircuitState.CLOSED, CircuitState.OPEN] == seen_by_b


@pytest.mark.redis
def test_the_closed_path_costs_no_round_trip(counting_client: redis.Redis, prefix: str) -> None:
    clock = ManualClock(T0)
    breaker = _breaker(counting_client, prefix, clock)
    breaker.call(lambda: 1)  # the first read loads the view
    before = CountingConnection.sent
    for _ in range(100):
        breaker.call(lambda: 1)
    assert 0 == CountingConnection.sent - before
    clock.advance(1.0)
    breaker.call(lambda: 1)
    assert 1 == CountingConnection.sent - before  # the view aged out: one read


@pytest.mark.redis
def test_only_one_of_two_instances_gets_the_half_open_trial(redis_url: str, prefix: str) -> None:
    clock = ManualClock(T0)
    a = _breaker(redis.Redis.from_url(redis_url), prefix, clock)
    b = _breaker(redis.Redis.from_url(redis_url), prefix, clock)
    for _ in range(3):
        with pytest.raises(ConnectionError):
            a.call(_fail)
    clock.advance(30)
    outcomes: list[str] = []

    def trial() -> str:
        # While a's trial runs, b must be refused: the trial slot is taken in Redis.
        try:
            b.call(lambda: "b")
        except CircuitOpenError:
            outcomes.append("b refused")
        return "a"

    assert "a" == a.call(trial)
    assert ["b refused"] == outcomes
    clock.advance(1)
    assert CircuitState.CLOSED == b.state


@pytest.mark.redis
def test_an_idle_record_leaves_no_key_and_others_expire(client: redis.Redis, prefix: str) -> None:
    clock = ManualClock(T0)
    store = RedisBreakerStore(client, prefix=prefix, record_ttl=60, clock=clock)
    breaker = CircuitBreaker("psp", failure_threshold=3, clock=clock, store=store)
    with pytest.raises(ConnectionError):
        breaker.call(_fail)
    assert 0 < client.pttl(f"{prefix}breaker:psp") <= 60_000
    breaker.call(lambda: 1)  # consecutive mode: a success clears the failure
    assert 0 == client.exists(f"{prefix}breaker:psp")


def test_cells_are_shared_per_name() -> None:
    store = RedisBreakerStore(redis.Redis())
    assert store.cell("a") is store.cell("a")
    assert store.cell("a") is not store.cell("b")


@pytest.mark.redis
def test_when_redis_is_down_the_breaker_keeps_a_local_state(
    server: Server, caplog: pytest.LogCaptureFixture
) -> None:
    clock = ManualClock(T0)
    guard = RedisGuard(failure_threshold=1, reset_timeout=5, clock=clock)
    store = RedisBreakerStore(server.client(), refresh=1.0, guard=guard, clock=clock)
    breaker = CircuitBreaker("psp", failure_threshold=2, reset_timeout=30, clock=clock, store=store)
    server.stop()
    clock.advance(1)
    with caplog.at_level(logging.WARNING, logger="commerce_kit.redis"):
        assert 1 == breaker.call(lambda: 1)
        for _ in range(2):
            with pytest.raises(ConnectionError):
                breaker.call(_fail)
        with pytest.raises(CircuitOpenError):
            breaker.call(lambda: 1)
    assert 1 == len(caplog.records)
    assert "circuit breakers keep a local state per process" in caplog.records[0].getMessage()


# -- one behaviour suite, both backends --------------------------------------------------------


@pytest.fixture(params=["memory", "redis"])
def any_store(request: pytest.FixtureRequest) -> BreakerStore:
    if request.param == "memory":
        return MemoryBreakerStore()
    client = request.getfixturevalue("client")
    clock = request.getfixturevalue("view_clock")
    return RedisBreakerStore(client, prefix=request.getfixturevalue("prefix"), clock=clock)


@pytest.fixture
def view_clock() -> ManualClock:
    return ManualClock()


def _on(store: BreakerStore, clock: ManualClock) -> CircuitBreaker:
    return CircuitBreaker("dep", failure_threshold=2, reset_timeout=10, clock=clock, store=store)


def test_every_backend_opens_after_the_threshold(any_store: BreakerStore) -> None:
    clock = ManualClock(T0)
    breaker = _on(any_store, clock)
    for _ in range(2):
        with pytest.raises(ConnectionError):
            breaker.call(_fail)
    with pytest.raises(CircuitOpenError):
        breaker.call(lambda: 1)


def test_every_backend_closes_after_a_good_trial(any_store: BreakerStore) -> None:
    clock = ManualClock(T0)
    breaker = _on(any_store, clock)
    for _ in range(2):
        with pytest.raises(ConnectionError):
            breaker.call(_fail)
    clock.advance(10)
    assert 1 == breaker.call(lambda: 1)
    assert CircuitState.CLOSED == breaker.state


def test_every_backend_reopens_after_a_failed_trial(any_store: BreakerStore) -> None:
    clock = ManualClock(T0)
    breaker = _on(any_store, clock)
    for _ in range(2):
        with pytest.raises(ConnectionError):
            breaker.call(_fail)
    clock.advance(10)
    with pytest.raises(ConnectionError):
        breaker.call(_fail)
    with pytest.raises(CircuitOpenError) as caught:
        breaker.call(lambda: 1)
    assert 10.0 == caught.value.retry_after


def test_every_backend_shares_state_between_breakers_of_one_name(
    any_store: BreakerStore, view_clock: ManualClock
) -> None:
    clock = ManualClock(T0)
    one, two = _on(any_store, clock), _on(any_store, clock)
    for _ in range(2):
        with pytest.raises(ConnectionError):
            one.call(_fail)
    assert CircuitState.OPEN == two.state


def test_every_backend_lets_a_success_clear_consecutive_failures(any_store: BreakerStore) -> None:
    clock = ManualClock(T0)
    breaker = _on(any_store, clock)
    with pytest.raises(ConnectionError):
        breaker.call(_fail)
    breaker.call(lambda: 1)
    with pytest.raises(ConnectionError):
        breaker.call(_fail)
    assert CircuitState.CLOSED == breaker.state

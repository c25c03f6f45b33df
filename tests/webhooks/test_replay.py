"""The bounded in-memory replay store against a dictionary model."""

from __future__ import annotations

import threading

import pytest
from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule

from commerce_kit import WebhookVerificationError
from commerce_kit.testing import ManualClock
from commerce_kit.webhooks import FailureReason, MemoryReplayStore, Webhook
from tests.strategies import few_keys


class StoreModel:
    """Obviously correct: a dict of key -> expiry, purged and evicted by scanning."""

    def __init__(self, maxsize: int) -> None:
        self.maxsize = maxsize
        self.expiry: dict[str, float] = {}

    def seen_or_add(self, key: str, expires_at: float, now: float) -> bool:
        self.expiry = {k: e for k, e in self.expiry.items() if e >= now}
        if key in self.expiry:
            self.expiry[key] = max(self.expiry[key], expires_at)
            return True
        if expires_at < now:
            return False
        if len(self.expiry) >= self.maxsize:
            victim = min(self.expiry, key=lambda k: (self.expiry[k], k))
            del self.expiry[victim]
        self.expiry[key] = expires_at
        return False


KEYS = few_keys()


class ReplayStoreMachine(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.clock = ManualClock(1_000.0)
        self.store = MemoryReplayStore(maxsize=3, clock=self.clock)
        self.model = StoreModel(maxsize=3)

    @rule(key=KEYS, ttl=st.integers(min_value=-2, max_value=12))
    def seen_or_add(self, key: str, ttl: int) -> None:
        expires_at = self.clock() + ttl
        expected = self.model.seen_or_add(key, expires_at, self.clock())
        assert expected == self.store.seen_or_add(key, expires_at)

    @rule(seconds=st.sampled_from([0.0, 0.5, 1.0, 3.0, 10.0]))
    def advance(self, seconds: float) -> None:
        self.clock.advance(seconds)

    @invariant()
    def never_holds_more_than_maxsize(self) -> None:
        assert len(self.store) <= 3

    @invariant()
    def heap_stays_bounded(self) -> None:
        assert len(self.store._heap) <= 2 * 3


TestReplayStoreMachine = ReplayStoreMachine.TestCase
TestReplayStoreMachine.settings = settings(max_examples=60, stateful_step_count=40, deadline=None)


def test_a_key_is_remembered_up_to_its_expiry_inclusive() -> None:
    clock = ManualClock(100.0)
    store = MemoryReplayStore(clock=clock)
    store.seen_or_add("k", expires_at=110.0)
    clock.advance(10.0)
    assert store.seen_or_add("k", expires_at=110.0)


def test_a_key_is_forgotten_once_the_clock_passes_its_expiry() -> None:
    clock = ManualClock(100.0)
    store = MemoryReplayStore(clock=clock)
    store.seen_or_add("k", expires_at=110.0)
    clock.advance(10.001)
    assert not store.seen_or_add("k", expires_at=120.0)


def test_seeing_a_key_again_extends_its_expiry_to_the_later_one() -> None:
    clock = ManualClock(100.0)
    store = MemoryReplayStore(clock=clock)
    store.seen_or_add("k", expires_at=110.0)
    store.seen_or_add("k", expires_at=150.0)
    clock.advance(45.0)
    assert store.seen_or_add("k", expires_at=0.0)


def test_an_already_expired_key_is_not_stored() -> None:
    store = MemoryReplayStore(clock=ManualClock(100.0))
    assert (False, 0) == (store.seen_or_add("k", expires_at=99.0), len(store))


def test_a_full_store_forgets_the_entry_expiring_soonest() -> None:
    store = MemoryReplayStore(maxsize=2, clock=ManualClock(0.0))
    store.seen_or_add("late", expires_at=50.0)
    store.seen_or_add("soon", expires_at=10.0)
    store.seen_or_add("new", expires_at=30.0)
    assert (True, False) == (store.seen_or_add("late", 50.0), store.seen_or_add("soon", 10.0))


def test_stale_heap_items_are_compacted() -> None:
    store = MemoryReplayStore(maxsize=1, clock=ManualClock(0.0))
    for expiry in range(1, 10):
        store.seen_or_add("k", expires_at=float(expiry))
    assert 2 >= len(store._heap)


def test_concurrent_callers_see_a_key_as_new_exactly_once() -> None:
    store = MemoryReplayStore(clock=ManualClock(0.0))
    barrier = threading.Barrier(8)
    results: list[bool] = []
    lock = threading.Lock()

    def worker() -> None:
        barrier.wait()
        for n in range(200):
            seen = store.seen_or_add(f"id-{n}", expires_at=60.0)
            with lock:
                results.append(seen)

    threads = [threading.Thread(target=worker) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert 200 == results.count(False)


def test_repr_shows_size_not_keys() -> None:
    store = MemoryReplayStore(maxsize=5, clock=ManualClock(0.0))
    store.seen_or_add("msg_secret_id", 10.0)
    assert "MemoryReplayStore(size=1, maxsize=5)" == repr(store)


@pytest.mark.parametrize(
    ("maxsize", "error"), [(0, ValueError), (1.5, TypeError), (True, TypeError)]
)
def test_maxsize_must_be_a_positive_int(maxsize: object, error: type[Exception]) -> None:
    with pytest.raises(error, match="maxsize"):
        MemoryReplayStore(maxsize=maxsize)  # type: ignore[arg-type]


def test_a_replay_at_the_edge_of_the_window_is_refused_even_if_the_clock_moves_mid_check() -> None:
    """The store reads the clock a moment after the timestamp check; that moment must not matter."""
    ts = 1_700_000_000
    readings = iter([ts + 300, ts + 300.5, ts + 300, ts + 300.5])
    hook = Webhook(b"k" * 32, clock=lambda: next(readings))
    headers = hook.sign_headers("msg_1", ts, b"{}")
    hook.verify(b"{}", headers)
    with pytest.raises(WebhookVerificationError) as caught:
        hook.verify(b"{}", headers)
    assert FailureReason.REPLAYED == caught.value.reason

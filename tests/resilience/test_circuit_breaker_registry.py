"""CircuitBreakerRegistry: one breaker per key, bounded, never forgetting an open circuit."""

from __future__ import annotations

import asyncio
import functools
import inspect
import threading
from collections import OrderedDict

import pytest
from hypothesis import given
from hypothesis import strategies as st

from commerce_kit import CircuitBreaker, CircuitBreakerRegistry, CircuitOpenError, CircuitState
from commerce_kit.resilience import MemoryBreakerStore
from commerce_kit.testing import ManualClock


class ProviderDownError(ConnectionError):
    pass


def down() -> None:
    raise ProviderDownError


def registry(clock: ManualClock, maxsize: int = 1024) -> CircuitBreakerRegistry:
    factory = functools.partial(CircuitBreaker, failure_threshold=1, reset_timeout=30, clock=clock)
    return CircuitBreakerRegistry(factory, maxsize=maxsize)


def trip(breakers: CircuitBreakerRegistry, key: str) -> None:
    with pytest.raises(ProviderDownError):
        breakers.get(key).call(down)


def test_get_returns_one_breaker_per_key_named_after_it() -> None:
    breakers = registry(ManualClock())
    paypal = breakers.get("paypal")
    assert paypal is breakers.get("paypal")
    assert paypal is not breakers.get("stripe")
    assert "paypal" == paypal.name


def test_one_failing_dependency_never_trips_the_others() -> None:
    breakers = registry(ManualClock())
    trip(breakers, "paypal")
    assert CircuitState.OPEN == breakers.get("paypal").state
    assert "ok" == breakers.get("stripe").call(lambda: "ok")


def test_the_default_factory_makes_default_breakers() -> None:
    breakers = CircuitBreakerRegistry()
    assert "card" == breakers.get("card").name
    assert CircuitState.CLOSED == breakers.get("card").state


def test_the_least_recently_used_closed_breaker_is_dropped_past_max_size() -> None:
    breakers = registry(ManualClock(), maxsize=2)
    first = breakers.get("a")
    breakers.get("b")
    breakers.get("a")  # a is now more recent than b
    breakers.get("c")
    assert ["a", "c"] == [b.name for b in breakers]
    assert first is breakers.get("a")


def test_open_breakers_are_never_dropped_even_past_max_size() -> None:
    breakers = registry(ManualClock(), maxsize=2)
    trip(breakers, "a")
    trip(breakers, "b")
    breakers.get("c")
    assert 3 == len(breakers)
    assert {"a", "b", "c"} == {b.name for b in breakers}
    breakers.get("d")  # c is closed and least recently used among the closed
    assert {"a", "b", "d"} == {b.name for b in breakers}


def test_a_dropped_key_starts_afresh() -> None:
    breakers = registry(ManualClock(), maxsize=1)
    old = breakers.get("a")
    breakers.get("b")
    assert "a" not in breakers
    assert old is not breakers.get("a")


@given(st.lists(st.sampled_from("abcdefgh"), max_size=40), st.integers(1, 4))
def test_registry_keeps_what_an_lru_of_closed_breakers_keeps(keys: list[str], size: int) -> None:
    breakers = registry(ManualClock(), maxsize=size)
    model: OrderedDict[str, None] = OrderedDict()
    for key in keys:
        breakers.get(key)
        model[key] = None
        model.move_to_end(key)
        if len(model) > size:
            model.popitem(last=False)
    assert list(model) == [b.name for b in breakers]


def test_discard_forgets_a_key() -> None:
    breakers = registry(ManualClock())
    breakers.get("a")
    breakers.discard("a")
    breakers.discard("never there")
    assert 0 == len(breakers)
    assert "a" not in breakers


def test_snapshots_report_every_breaker_by_key() -> None:
    breakers = registry(ManualClock())
    trip(breakers, "paypal")
    breakers.get("stripe")
    states = {key: s.state for key, s in breakers.snapshots().items()}
    assert {"paypal": CircuitState.OPEN, "stripe": CircuitState.CLOSED} == states


def test_repr_counts_breakers() -> None:
    breakers = registry(ManualClock())
    breakers.get("a")
    assert "<CircuitBreakerRegistry 1 breakers>" == repr(breakers)


def test_a_shared_store_shares_state_across_registries() -> None:
    store = MemoryBreakerStore()
    clock = ManualClock()
    factory = functools.partial(CircuitBreaker, failure_threshold=1, store=store, clock=clock)
    first, second = CircuitBreakerRegistry(factory), CircuitBreakerRegistry(factory)
    with pytest.raises(ProviderDownError):
        first.get("paypal").call(down)
    assert CircuitState.OPEN == second.get("paypal").state


@pytest.mark.parametrize("maxsize", [0, -1])
def test_max_size_below_one_is_refused(maxsize: int) -> None:
    with pytest.raises(ValueError, match="maxsize"):
        CircuitBreakerRegistry(maxsize=maxsize)


def test_max_size_must_be_an_int() -> None:
    with pytest.raises(TypeError, match="maxsize"):
        CircuitBreakerRegistry(maxsize=2.5)  # type: ignore[arg-type]


def test_get_is_safe_under_threads() -> None:
    breakers = registry(ManualClock(), maxsize=4)
    seen: list[CircuitBreaker] = []
    lock = threading.Lock()

    def worker() -> None:
        for _ in range(300):
            breaker = breakers.get("shared")
            with lock:
                seen.append(breaker)
            breakers.get(str(threading.get_ident() % 7))

    threads = [threading.Thread(target=worker) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert len(breakers) <= 4
    assert 1200 == len(seen)


# -- per-key decorator ----------------------------------------------------------------------------


def test_protect_with_a_fixed_key() -> None:
    breakers = registry(ManualClock())

    @breakers.protect(key="paypal")
    def charge(amount: int) -> int:
        return amount

    assert 5 == charge(5)
    assert "paypal" in breakers


def test_protect_with_a_key_computed_from_the_arguments() -> None:
    breakers = registry(ManualClock())

    @breakers.protect(key=lambda method, amount: method)
    def charge(method: str, amount: int) -> str:
        if method == "paypal":
            raise ProviderDownError
        return f"{amount} via {method}"

    with pytest.raises(ProviderDownError):
        charge("paypal", 5)
    with pytest.raises(CircuitOpenError):
        charge("paypal", 5)
    assert "5 via stripe" == charge("stripe", 5)


def test_protect_keeps_an_async_def_a_coroutine_function() -> None:
    breakers = registry(ManualClock())

    @breakers.protect(key=lambda method: method)
    async def charge(method: str) -> str:
        if method == "paypal":
            raise ProviderDownError
        return method

    assert inspect.iscoroutinefunction(charge)
    assert "(method: 'str') -> 'str'" == str(inspect.signature(charge))
    assert "stripe" == asyncio.run(charge("stripe"))
    with pytest.raises(ProviderDownError):
        asyncio.run(charge("paypal"))
    with pytest.raises(CircuitOpenError):
        asyncio.run(charge("paypal"))


def test_protect_wraps_an_object_with_an_async_call_as_async() -> None:
    breakers = registry(ManualClock())

    class Charge:
        async def __call__(self, method: str) -> str:
            raise ProviderDownError

    charge = breakers.protect(key=lambda method: method)(Charge())
    assert inspect.iscoroutinefunction(charge)
    with pytest.raises(ProviderDownError):
        asyncio.run(charge("paypal"))
    assert 1 == breakers.get("paypal").snapshot().failures


def test_a_factory_may_use_the_registry_and_the_first_breaker_stored_wins() -> None:
    made: list[CircuitBreaker] = []

    def factory(key: str) -> CircuitBreaker:
        breaker = CircuitBreaker(key)
        made.append(breaker)
        if len(made) == 1:
            breakers.get(key)  # stands in for another thread getting the same key meanwhile
        return breaker

    breakers = CircuitBreakerRegistry(factory)
    winner = breakers.get("paypal")
    assert made[1] is winner
    assert winner is breakers.get("paypal")
    assert 1 == len(breakers)

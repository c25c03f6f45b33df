"""Behaviour of CircuitBreaker: scenario A2, exception sorting, half-open trials, hooks, faces."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import functools
import gc
import inspect
import json
import logging
import math
import threading
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from commerce_kit import CircuitBreaker, CircuitOpenError, CircuitState
from commerce_kit.resilience import (
    BreakerRecord,
    BreakerSnapshot,
    CallFailed,
    CallRejected,
    CallSucceeded,
    MemoryBreakerStore,
    StateChanged,
)
from commerce_kit.testing import ManualClock
from commerce_kit.typing import BreakerEvent

CLOSED = CircuitState.CLOSED
OPEN = CircuitState.OPEN
HALF_OPEN = CircuitState.HALF_OPEN


class ProviderDownError(ConnectionError):
    pass


class CardDeclinedError(ValueError):
    pass


def ok() -> str:
    return "ok"


def down() -> str:
    raise ProviderDownError("provider down")


def fail_n(breaker: CircuitBreaker, n: int, error: type[Exception] = ProviderDownError) -> None:
    def raising() -> None:
        raise error

    for _ in range(n):
        with pytest.raises(error):
            breaker.call(raising)


def a2_breaker(clock: ManualClock, **options: Any) -> CircuitBreaker:
    return CircuitBreaker(
        "payments", failure_threshold=3, window=60.0, reset_timeout=30.0, clock=clock, **options
    )


def open_breaker(clock: ManualClock, **options: Any) -> CircuitBreaker:
    breaker = CircuitBreaker("dep", failure_threshold=1, reset_timeout=10.0, clock=clock, **options)
    fail_n(breaker, 1)
    return breaker


# -- scenario A2 ----------------------------------------------------------------------------------


def test_three_failures_within_sixty_seconds_open_the_circuit() -> None:
    clock = ManualClock()
    breaker = a2_breaker(clock)
    for step in (0.0, 30.0, 29.5):
        clock.advance(step)
        fail_n(breaker, 1)
    assert OPEN == breaker.state


def test_three_failures_sixty_one_seconds_apart_do_not_open_the_circuit() -> None:
    clock = ManualClock()
    breaker = a2_breaker(clock)
    for _ in range(3):
        fail_n(breaker, 1)
        clock.advance(61)
    assert CLOSED == breaker.state
    assert 0 == breaker.snapshot().failures_in_window


def test_a_failure_exactly_one_window_old_no_longer_counts() -> None:
    clock = ManualClock()
    breaker = a2_breaker(clock)
    fail_n(breaker, 1)
    clock.advance(30)
    fail_n(breaker, 1)
    clock.advance(30)  # the first failure is now exactly 60 s old
    fail_n(breaker, 1)
    assert CLOSED == breaker.state
    assert 2 == breaker.snapshot().failures_in_window


def test_open_circuit_fails_fast_without_calling_the_function() -> None:
    clock = ManualClock()
    breaker = a2_breaker(clock)
    fail_n(breaker, 3)
    calls: list[int] = []
    clock.advance(12.5)
    with pytest.raises(CircuitOpenError) as info:
        breaker.call(calls.append, 1)
    assert [] == calls
    assert 17.5 == info.value.retry_after
    assert "payments" == info.value.name


def test_waiting_retry_after_is_never_one_float_step_short() -> None:
    """Opened at 0 with reset_timeout=0.9 and refused at 0.2, the hint was 0.7: 0.2 + 0.7 < 0.9."""
    clock = ManualClock()
    breaker = CircuitBreaker(reset_timeout=0.9, clock=clock)
    breaker.open()
    clock.advance(0.2)
    with pytest.raises(CircuitOpenError) as info:
        breaker.call(ok)
    assert 0.2 + info.value.retry_after >= 0.9
    clock.advance(info.value.retry_after)
    assert "ok" == breaker.call(ok)


@given(
    opened_at=st.floats(min_value=0.0, max_value=1e7),
    reset_timeout=st.floats(min_value=1e-3, max_value=1e5),
    share=st.floats(min_value=0.0, max_value=1.0, exclude_max=True),
)
def test_a_clock_advanced_by_retry_after_always_admits_a_trial(
    opened_at: float, reset_timeout: float, share: float
) -> None:
    clock = ManualClock(opened_at)
    breaker = CircuitBreaker(reset_timeout=reset_timeout, clock=clock)
    breaker.open()
    clock.advance(share * reset_timeout)
    refused_at = clock()
    due = opened_at + reset_timeout
    assume(refused_at < due)  # false only when the advance itself rounded up to the due time
    hint = breaker.snapshot().retry_after
    with pytest.raises(CircuitOpenError) as info:
        breaker.call(ok)
    assert hint == info.value.retry_after
    assert refused_at + info.value.retry_after >= due
    clock.advance(info.value.retry_after)
    assert "ok" == breaker.call(ok)


def test_circuit_is_half_open_exactly_at_the_reset_timeout_not_before() -> None:
    clock = ManualClock()
    breaker = a2_breaker(clock)
    fail_n(breaker, 3)
    clock.advance(29.999)
    assert OPEN == breaker.state
    with pytest.raises(CircuitOpenError) as info:
        breaker.call(ok)
    assert math.isclose(0.001, info.value.retry_after, abs_tol=1e-9)
    clock.advance(0.001)
    assert HALF_OPEN == breaker.state


def test_successful_trial_closes_the_circuit() -> None:
    clock = ManualClock()
    breaker = a2_breaker(clock)
    fail_n(breaker, 3)
    clock.advance(30)
    assert "ok" == breaker.call(ok)
    assert CLOSED == breaker.state


def test_failed_trial_reopens_for_another_full_reset_timeout() -> None:
    clock = ManualClock()
    breaker = a2_breaker(clock)
    fail_n(breaker, 3)
    clock.advance(45)
    fail_n(breaker, 1)
    assert OPEN == breaker.state
    with pytest.raises(CircuitOpenError) as info:
        breaker.call(ok)
    assert 30.0 == info.value.retry_after
    assert 45.0 == breaker.snapshot().opened_at


# -- counting -------------------------------------------------------------------------------------


def test_a_success_clears_the_failures_when_consecutive() -> None:
    clock = ManualClock()
    breaker = a2_breaker(clock)
    fail_n(breaker, 2)
    breaker.call(ok)
    fail_n(breaker, 2)
    assert CLOSED == breaker.state
    assert 2 == breaker.snapshot().failures_in_window


def test_failures_add_up_across_successes_when_not_consecutive() -> None:
    clock = ManualClock()
    breaker = a2_breaker(clock, consecutive=False)
    fail_n(breaker, 2)
    breaker.call(ok)
    fail_n(breaker, 1)
    assert OPEN == breaker.state


def test_a_success_drops_expired_failures_when_not_consecutive() -> None:
    clock = ManualClock()
    breaker = a2_breaker(clock, consecutive=False)
    fail_n(breaker, 2)
    clock.advance(60)
    breaker.call(ok)
    assert 0 == breaker.snapshot().failures_in_window
    fail_n(breaker, 2)
    assert CLOSED == breaker.state


def test_failure_threshold_defaults_to_five() -> None:
    breaker = CircuitBreaker(clock=ManualClock())
    fail_n(breaker, 4)
    assert CLOSED == breaker.state
    fail_n(breaker, 1)
    assert OPEN == breaker.state


def test_durations_accept_timedelta() -> None:
    clock = ManualClock()
    breaker = CircuitBreaker(
        failure_threshold=1, window=timedelta(minutes=1), reset_timeout=timedelta(seconds=30),
        clock=clock,
    )  # fmt: skip
    fail_n(breaker, 1)
    clock.advance(30)
    assert HALF_OPEN == breaker.state


# -- which exceptions count ---------------------------------------------------------------------


def test_exceptions_outside_failure_on_are_reraised_unchanged_and_not_counted() -> None:
    breaker = CircuitBreaker(failure_threshold=1, failure_on=ConnectionError, clock=ManualClock())
    error = KeyError("sku")

    def lookup() -> None:
        raise error

    with pytest.raises(KeyError) as info:
        breaker.call(lookup)
    assert error is info.value
    assert CLOSED == breaker.state
    assert (0, 1) == (breaker.snapshot().failures, breaker.snapshot().ignored)


def test_excluded_exceptions_never_count_even_when_failure_on_matches() -> None:
    breaker = CircuitBreaker(failure_threshold=1, exclude=CardDeclinedError, clock=ManualClock())
    fail_n(breaker, 3, CardDeclinedError)
    assert CLOSED == breaker.state
    fail_n(breaker, 1, ProviderDownError)
    assert OPEN == breaker.state


def test_failure_on_accepts_a_tuple_of_types() -> None:
    breaker = CircuitBreaker(
        failure_threshold=1, failure_on=(TimeoutError, ProviderDownError), clock=ManualClock()
    )
    fail_n(breaker, 1, ValueError)
    assert CLOSED == breaker.state
    fail_n(breaker, 1, TimeoutError)
    assert OPEN == breaker.state


def test_failure_on_accepts_a_predicate() -> None:
    def server_error(error: Exception) -> bool:
        return getattr(error, "status", 0) >= 500

    class HttpError(Exception):
        def __init__(self, status: int) -> None:
            super().__init__(status)
            self.status = status

    def request(status: int) -> None:
        raise HttpError(status)

    breaker = CircuitBreaker(failure_threshold=1, failure_on=server_error, clock=ManualClock())
    for status in (404, 503):
        with pytest.raises(HttpError):
            breaker.call(request, status)
    assert OPEN == breaker.state
    assert (1, 1) == (breaker.snapshot().failures, breaker.snapshot().ignored)


@pytest.mark.parametrize("error", [KeyboardInterrupt, SystemExit, GeneratorExit])
def test_base_exceptions_pass_through_uncounted(error: type[BaseException]) -> None:
    breaker = CircuitBreaker(failure_threshold=1, clock=ManualClock())

    def interrupted() -> None:
        raise error

    with pytest.raises(error):
        breaker.call(interrupted)
    assert CLOSED == breaker.state
    assert 0 == breaker.snapshot().failures


def test_ignored_exception_in_half_open_frees_the_trial_without_closing() -> None:
    clock = ManualClock()
    breaker = open_breaker(clock, exclude=CardDeclinedError)
    clock.advance(10)
    fail_n(breaker, 1, CardDeclinedError)
    assert HALF_OPEN == breaker.state
    assert "ok" == breaker.call(ok)  # the slot came back: this one is a trial too
    assert CLOSED == breaker.state


def test_keyboard_interrupt_in_half_open_frees_the_trial() -> None:
    clock = ManualClock()
    breaker = open_breaker(clock)
    clock.advance(10)

    def interrupted() -> None:
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        breaker.call(interrupted)
    assert HALF_OPEN == breaker.state
    assert "ok" == breaker.call(ok)


def test_a_failing_predicate_propagates_and_frees_the_trial() -> None:
    clock = ManualClock()

    def broken(error: Exception) -> bool:
        raise RuntimeError("bug in predicate")

    breaker = CircuitBreaker(failure_threshold=1, reset_timeout=10, failure_on=broken, clock=clock)
    breaker.open()
    clock.advance(10)
    with pytest.raises(RuntimeError, match="bug in predicate") as info:
        breaker.call(down)
    assert isinstance(info.value.__context__, ProviderDownError)
    assert HALF_OPEN == breaker.state
    assert "ok" == breaker.call(ok)


# -- half-open ------------------------------------------------------------------------------------


def test_success_threshold_needs_that_many_successful_trials() -> None:
    clock = ManualClock()
    breaker = open_breaker(clock, success_threshold=3)
    clock.advance(10)
    breaker.call(ok)
    breaker.call(ok)
    assert HALF_OPEN == breaker.state
    breaker.call(ok)
    assert CLOSED == breaker.state


def test_trial_failure_after_some_successes_reopens() -> None:
    clock = ManualClock()
    breaker = open_breaker(clock, success_threshold=2)
    clock.advance(10)
    breaker.call(ok)
    fail_n(breaker, 1)
    assert OPEN == breaker.state


def test_calls_beyond_half_open_max_calls_fail_fast_with_reset_timeout_as_retry_after() -> None:
    clock = ManualClock()
    breaker = open_breaker(clock)
    clock.advance(10)
    inner: list[float] = []

    def trial() -> str:
        with pytest.raises(CircuitOpenError) as info:
            breaker.call(ok)
        inner.append(info.value.retry_after)
        assert "half-open" in str(info.value)
        return "trial done"

    assert "trial done" == breaker.call(trial)
    assert [10.0] == inner


def test_trial_outcomes_from_an_earlier_half_open_round_are_ignored() -> None:
    clock = ManualClock()
    breaker = open_breaker(clock, half_open_max_calls=2, success_threshold=1)
    clock.advance(10)

    async def scenario() -> CircuitState:
        gate = asyncio.Event()

        async def slow_trial() -> str:
            await gate.wait()
            return "late"

        async def failing_trial() -> None:
            raise ProviderDownError

        late = asyncio.create_task(breaker.acall(slow_trial))
        await asyncio.sleep(0)
        with pytest.raises(ProviderDownError):
            await breaker.acall(failing_trial)  # reopens; round 1 is over
        clock.advance(10)
        assert HALF_OPEN == breaker.state  # round 2 begins
        gate.set()
        assert "late" == await late  # round 1's success must not close round 2
        return breaker.state

    assert HALF_OPEN == asyncio.run(scenario())


# -- slow calls -----------------------------------------------------------------------------------


def slow(clock: ManualClock, seconds: float) -> Callable[[], str]:
    def call() -> str:
        clock.advance(seconds)
        return "slow result"

    return call


def test_slow_calls_count_as_failures_but_return_their_result() -> None:
    clock = ManualClock()
    breaker = a2_breaker(clock, slow_call_threshold=2.0)
    for _ in range(3):
        assert "slow result" == breaker.call(slow(clock, 2.5))
    assert OPEN == breaker.state
    assert 3 == breaker.snapshot().failures


def test_a_call_taking_exactly_the_slow_threshold_is_not_slow() -> None:
    clock = ManualClock()
    breaker = a2_breaker(clock, slow_call_threshold=2.0)
    fail_n(breaker, 2)
    breaker.call(slow(clock, 2.0))
    assert 0 == breaker.snapshot().failures_in_window


def test_a_slow_trial_reopens_the_circuit() -> None:
    clock = ManualClock()
    breaker = open_breaker(clock, slow_call_threshold=1.0)
    clock.advance(10)
    assert "slow result" == breaker.call(slow(clock, 1.5))
    assert OPEN == breaker.state


# -- failure-rate mode ----------------------------------------------------------------------------


def rate_breaker(clock: ManualClock, **options: Any) -> CircuitBreaker:
    return CircuitBreaker(
        failure_rate_threshold=0.5, minimum_calls=4, window=10.0, clock=clock, **options
    )


def test_failure_rate_mode_waits_for_minimum_calls() -> None:
    clock = ManualClock()
    breaker = rate_breaker(clock)
    fail_n(breaker, 3)
    assert CLOSED == breaker.state
    fail_n(breaker, 1)
    assert OPEN == breaker.state


def test_failure_rate_mode_opens_when_the_rate_reaches_the_threshold() -> None:
    clock = ManualClock()
    breaker = rate_breaker(clock)
    for _ in range(3):
        breaker.call(ok)
    fail_n(breaker, 2)
    assert CLOSED == breaker.state  # 2 of 5
    fail_n(breaker, 1)
    assert OPEN == breaker.state  # 3 of 6


def test_failure_rate_snapshot_reports_the_window() -> None:
    clock = ManualClock()
    breaker = rate_breaker(clock)
    breaker.call(ok)
    fail_n(breaker, 1)
    snapshot = breaker.snapshot()
    assert (2, 1, 0.5) == (
        snapshot.calls_in_window,
        snapshot.failures_in_window,
        snapshot.failure_rate,
    )
    clock.advance(10)
    assert (0, None) == (breaker.snapshot().calls_in_window, breaker.snapshot().failure_rate)


def test_failure_rate_statistics_restart_after_the_circuit_closes() -> None:
    clock = ManualClock()
    breaker = rate_breaker(clock, reset_timeout=5.0)
    fail_n(breaker, 4)
    clock.advance(5)
    breaker.call(ok)
    assert CLOSED == breaker.state
    fail_n(breaker, 3)
    assert CLOSED == breaker.state
    assert 3 == breaker.snapshot().calls_in_window


def test_failure_rate_trial_outcomes_do_not_enter_the_window() -> None:
    clock = ManualClock()
    breaker = rate_breaker(clock, reset_timeout=5.0, success_threshold=2)
    fail_n(breaker, 4)
    clock.advance(5)
    breaker.call(ok)
    assert 0 == breaker.snapshot().calls_in_window


def test_failure_rate_mode_counts_slow_calls_as_failures() -> None:
    clock = ManualClock()
    breaker = rate_breaker(clock, slow_call_threshold=1.0)
    for _ in range(4):
        breaker.call(slow(clock, 1.5))
    assert OPEN == breaker.state


def test_failure_rate_outcomes_arriving_while_open_are_not_recorded() -> None:
    clock = ManualClock()
    breaker = rate_breaker(clock)

    def trips_then_fails() -> None:
        fail_n(breaker, 4)  # nested calls open the circuit meanwhile
        raise ProviderDownError

    with pytest.raises(ProviderDownError):
        breaker.call(trips_then_fails)
    assert OPEN == breaker.state
    assert 0 == breaker.snapshot().calls_in_window


# -- manual control -------------------------------------------------------------------------------


def test_open_opens_now_and_half_opens_after_the_timeout() -> None:
    clock = ManualClock()
    breaker = CircuitBreaker(reset_timeout=5, clock=clock)
    breaker.open()
    assert OPEN == breaker.state
    clock.advance(5)
    assert HALF_OPEN == breaker.state


def test_force_open_holds_until_closed_with_infinite_retry_after() -> None:
    clock = ManualClock()
    breaker = CircuitBreaker(reset_timeout=5, clock=clock)
    breaker.force_open()
    clock.advance(1000)
    with pytest.raises(CircuitOpenError, match="forced open") as info:
        breaker.call(ok)
    assert math.inf == info.value.retry_after
    assert CircuitState.FORCED_OPEN == breaker.state
    breaker.close()
    assert "ok" == breaker.call(ok)


def test_disable_lets_everything_through_and_counts_no_failure_toward_opening() -> None:
    breaker = CircuitBreaker(failure_threshold=1, clock=ManualClock())
    breaker.disable()
    fail_n(breaker, 5)
    assert CircuitState.DISABLED == breaker.state
    assert "ok" == breaker.call(ok)
    breaker.close()
    assert CLOSED == breaker.state


def test_close_forgets_failures() -> None:
    clock = ManualClock()
    breaker = a2_breaker(clock)
    fail_n(breaker, 2)
    breaker.close()
    fail_n(breaker, 2)
    assert CLOSED == breaker.state


def test_reset_zeroes_every_count() -> None:
    clock = ManualClock()
    breaker = open_breaker(clock)
    with contextlib.suppress(CircuitOpenError):
        breaker.call(ok)
    breaker.reset()
    snapshot = breaker.snapshot()
    assert (CLOSED, 0, 0, 0, 0) == (
        snapshot.state,
        snapshot.successes,
        snapshot.failures,
        snapshot.rejections,
        snapshot.ignored,
    )


def test_reset_clears_the_failure_rate_window() -> None:
    clock = ManualClock()
    breaker = rate_breaker(clock)
    fail_n(breaker, 3)
    breaker.reset()
    assert 0 == breaker.snapshot().calls_in_window


# -- snapshot -------------------------------------------------------------------------------------


def test_snapshot_of_an_open_breaker() -> None:
    clock = ManualClock(100.0)
    breaker = a2_breaker(clock)
    breaker.call(ok)
    fail_n(breaker, 3)
    with contextlib.suppress(CircuitOpenError):
        breaker.call(ok)
    clock.advance(10)
    expected = BreakerSnapshot(
        name="payments",
        state=OPEN,
        opened_at=100.0,
        retry_after=20.0,
        failures_in_window=0,
        calls_in_window=None,
        failure_rate=None,
        successes=1,
        failures=3,
        rejections=1,
        ignored=0,
    )
    assert expected == breaker.snapshot()


def test_snapshot_is_frozen() -> None:
    snapshot = CircuitBreaker(clock=ManualClock()).snapshot()
    with pytest.raises(dataclasses.FrozenInstanceError):
        snapshot.state = OPEN  # type: ignore[misc]


def test_a_name_that_is_not_a_str_is_a_type_error() -> None:
    with pytest.raises(TypeError, match="name must be a str, got int"):
        CircuitBreaker(123)  # type: ignore[arg-type]


def test_repr_names_the_breaker_and_its_state() -> None:
    assert "<CircuitBreaker 'card' closed>" == repr(CircuitBreaker("card"))


# -- hooks ----------------------------------------------------------------------------------------


def test_hooks_receive_call_and_state_events_in_order() -> None:
    clock = ManualClock()
    events: list[BreakerEvent] = []
    breaker = CircuitBreaker(
        "card", failure_threshold=1, reset_timeout=10, clock=clock, hooks=[events.append]
    )
    error = ProviderDownError()

    def fails() -> None:
        clock.advance(0.25)
        raise error

    with pytest.raises(ProviderDownError):
        breaker.call(fails)
    with pytest.raises(CircuitOpenError):
        breaker.call(ok)
    clock.advance(12)
    breaker.call(ok)
    assert [
        CallFailed("card", error, 0.25),
        StateChanged("card", CLOSED, OPEN, 0.25),
        CallRejected("card", OPEN, 10.0),
        StateChanged("card", OPEN, HALF_OPEN, 10.25),  # when the timeout ended, not when seen
        CallSucceeded("card", 0.0),
        StateChanged("card", HALF_OPEN, CLOSED, 12.25),
    ] == events


def test_a_slow_call_is_reported_as_failed_without_an_error() -> None:
    clock = ManualClock()
    events: list[BreakerEvent] = []
    breaker = CircuitBreaker(slow_call_threshold=1, clock=clock, hooks=[events.append])
    breaker.call(slow(clock, 3))
    assert [CallFailed("default", None, 3.0)] == events


def test_a_raising_hook_is_logged_and_never_breaks_the_call(
    caplog: pytest.LogCaptureFixture,
) -> None:
    def broken(event: BreakerEvent) -> None:
        raise RuntimeError("hook bug")

    seen: list[BreakerEvent] = []
    breaker = CircuitBreaker("card", hooks=[broken, seen.append], clock=ManualClock())
    with caplog.at_level(logging.ERROR, logger="commerce_kit.circuit_breaker"):
        assert "ok" == breaker.call(ok)
    assert 1 == len(seen)
    assert ["commerce_kit.circuit_breaker"] == [r.name for r in caplog.records]
    assert "hook" in caplog.records[0].getMessage()


def test_rejections_in_half_open_are_reported_with_their_state() -> None:
    clock = ManualClock()
    events: list[BreakerEvent] = []
    breaker = open_breaker(clock, hooks=[events.append])
    clock.advance(10)
    events.clear()

    def trial() -> None:
        with pytest.raises(CircuitOpenError):
            breaker.call(ok)

    breaker.call(trial)
    assert CallRejected("dep", HALF_OPEN, 10.0) in events


# -- the error ------------------------------------------------------------------------------------


def test_the_fast_built_error_equals_one_built_by_its_constructor() -> None:
    clock = ManualClock()
    breaker = open_breaker(clock)
    with pytest.raises(CircuitOpenError) as fast:
        breaker.call(ok)
    built = CircuitOpenError("circuit breaker 'dep' is open", name="dep", retry_after=10.0)
    assert (type(built), built.args, vars(built)) == (
        type(fast.value),
        fast.value.args,
        vars(fast.value),
    )
    assert str(built) == str(fast.value)


# -- faces ----------------------------------------------------------------------------------------


def test_decorator_keeps_the_signature_and_name() -> None:
    breaker = CircuitBreaker(clock=ManualClock())

    @breaker
    def charge(amount: int, *, currency: str = "EUR") -> str:
        """Charge a card."""
        return f"{amount} {currency}"

    assert "5 EUR" == charge(5)
    assert "charge" == charge.__name__
    assert "Charge a card." == charge.__doc__
    # the module postpones annotations, so the signature shows them as strings
    assert "(amount: 'int', *, currency: 'str' = 'EUR') -> 'str'" == str(inspect.signature(charge))
    assert not inspect.iscoroutinefunction(charge)


def test_decorator_on_an_async_def_gives_a_coroutine_function() -> None:
    breaker = CircuitBreaker(clock=ManualClock())

    @breaker
    async def charge(amount: int) -> int:
        return amount * 2

    assert inspect.iscoroutinefunction(charge)
    assert "(amount: 'int') -> 'int'" == str(inspect.signature(charge))
    assert 10 == asyncio.run(charge(5))


def test_decorated_functions_count_failures_and_fail_fast() -> None:
    clock = ManualClock()
    breaker = CircuitBreaker(failure_threshold=2, reset_timeout=10, clock=clock)

    @breaker
    def sync_down() -> None:
        raise ProviderDownError

    @breaker
    async def async_down() -> None:
        raise ProviderDownError

    with pytest.raises(ProviderDownError):
        sync_down()
    with pytest.raises(ProviderDownError):
        asyncio.run(async_down())
    with pytest.raises(CircuitOpenError):
        sync_down()
    with pytest.raises(CircuitOpenError):
        asyncio.run(async_down())
    clock.advance(10)
    with pytest.raises(ProviderDownError):
        sync_down()  # the trial fails
    assert OPEN == breaker.state


@pytest.mark.parametrize("decorated", [False, True])
def test_decorated_trials_go_through_the_full_path(decorated: bool) -> None:
    clock = ManualClock()
    breaker = open_breaker(clock)
    clock.advance(10)

    async def aok() -> str:
        return "ok"

    sync_call = breaker(ok) if decorated else functools.partial(breaker.call, ok)
    assert "ok" == sync_call()
    breaker.open()
    clock.advance(10)
    async_call = breaker(aok) if decorated else functools.partial(breaker.acall, aok)
    assert "ok" == asyncio.run(async_call())
    assert CLOSED == breaker.state


def test_an_object_with_an_async_call_is_decorated_as_async() -> None:
    class Charge:
        async def __call__(self, amount: int) -> int:
            raise ConnectionError(amount)

    breaker = CircuitBreaker(failure_threshold=1, clock=ManualClock())
    charge = breaker(Charge())
    assert inspect.iscoroutinefunction(charge)
    with pytest.raises(ConnectionError):
        asyncio.run(charge(5))
    assert OPEN == breaker.state


def test_acall_counts_failures_and_fails_fast() -> None:
    clock = ManualClock()
    breaker = CircuitBreaker(failure_threshold=2, clock=clock)

    async def adown() -> None:
        raise ProviderDownError

    async def aok() -> str:
        return "ok"

    async def scenario() -> None:
        assert "ok" == await breaker.acall(aok)
        for _ in range(2):
            with pytest.raises(ProviderDownError):
                await breaker.acall(adown)
        with pytest.raises(CircuitOpenError):
            await breaker.acall(aok)

    asyncio.run(scenario())
    assert (1, 2, 1) == (
        breaker.snapshot().successes,
        breaker.snapshot().failures,
        breaker.snapshot().rejections,
    )


def test_cancelled_trial_frees_its_slot_and_is_not_counted() -> None:
    clock = ManualClock()
    breaker = open_breaker(clock)
    clock.advance(10)

    async def scenario() -> None:
        gate = asyncio.Event()

        async def hangs() -> None:
            await gate.wait()

        async def aok() -> str:
            return "ok"

        task = asyncio.create_task(breaker.acall(hangs))
        await asyncio.sleep(0)
        with pytest.raises(CircuitOpenError):
            await breaker.acall(aok)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        assert HALF_OPEN == breaker.state
        assert "ok" == await breaker.acall(aok)

    asyncio.run(scenario())
    assert CLOSED == breaker.state
    assert 1 == breaker.snapshot().failures  # only the one that opened it


def test_cancellation_of_a_closed_call_is_not_counted() -> None:
    breaker = CircuitBreaker(failure_threshold=1, clock=ManualClock())

    async def scenario() -> None:
        async def hangs() -> None:
            await asyncio.Event().wait()

        task = asyncio.create_task(breaker.acall(hangs))
        await asyncio.sleep(0)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task

    asyncio.run(scenario())
    assert CLOSED == breaker.state


def test_concurrent_half_open_trials_are_bounded_by_half_open_max_calls() -> None:
    clock = ManualClock()
    breaker = open_breaker(clock, half_open_max_calls=3)
    clock.advance(10)
    inside = threading.Semaphore(0)
    rejected = threading.Semaphore(0)
    release = threading.Event()
    results: list[str] = []

    def trial() -> str:
        inside.release()
        release.wait(timeout=10)
        return "ok"

    def worker() -> None:
        try:
            results.append(breaker.call(trial))
        except CircuitOpenError:
            results.append("rejected")
            rejected.release()

    threads = [threading.Thread(target=worker) for _ in range(10)]
    for thread in threads:
        thread.start()
    for _ in range(3):
        assert inside.acquire(timeout=10)
    for _ in range(7):
        assert rejected.acquire(timeout=10)
    assert not inside.acquire(blocking=False)
    release.set()
    for thread in threads:
        thread.join(timeout=10)
    assert (3, 7) == (results.count("ok"), results.count("rejected"))
    assert CLOSED == breaker.state


def test_counts_stay_consistent_under_threads() -> None:
    clock = ManualClock()
    breaker = CircuitBreaker(failure_threshold=1000, consecutive=False, clock=clock)

    def worker(index: int) -> None:
        for i in range(200):
            if (index + i) % 4 == 0:
                with contextlib.suppress(ProviderDownError):
                    breaker.call(down)
            else:
                breaker.call(ok)

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    snapshot = breaker.snapshot()
    assert 200 == snapshot.failures
    assert 200 == snapshot.failures_in_window  # every failure reached the record
    assert 600 == snapshot.successes


# -- store ----------------------------------------------------------------------------------------


def test_breakers_with_the_same_name_on_one_store_share_their_state() -> None:
    store = MemoryBreakerStore()
    clock = ManualClock()
    first = CircuitBreaker("paypal", failure_threshold=2, store=store, clock=clock)
    second = CircuitBreaker("paypal", failure_threshold=2, store=store, clock=clock)
    other = CircuitBreaker("stripe", failure_threshold=2, store=store, clock=clock)
    fail_n(first, 1)
    fail_n(second, 1)
    assert (OPEN, OPEN, CLOSED) == (first.state, second.state, other.state)


def test_a_memory_store_drops_records_no_breaker_holds() -> None:
    store = MemoryBreakerStore()
    breaker = CircuitBreaker("paypal", store=store)
    assert 1 == len(store)
    del breaker
    gc.collect()
    assert 0 == len(store)


def test_memory_cell_refuses_a_stale_compare_and_set() -> None:
    cell = MemoryBreakerStore().cell("x")
    first = cell.record
    opened = BreakerRecord(OPEN, 1.0)
    assert cell.compare_and_set(first, opened)
    assert not cell.compare_and_set(first, BreakerRecord(OPEN, 2.0))
    assert opened is cell.record
    assert "MemoryBreakerCell" in repr(cell)


class RacingStore:
    """A memory store whose first compare_and_set loses to a rival writer."""

    def __init__(self, rival: Callable[[BreakerRecord], BreakerRecord]) -> None:
        self.inner = MemoryBreakerStore().cell("x")
        self.rival = rival
        self.lost = 0

    def cell(self, name: str) -> RacingStore:
        return self

    @property
    def record(self) -> BreakerRecord:
        return self.inner.record

    def compare_and_set(self, expected: BreakerRecord, new: BreakerRecord) -> bool:
        if not self.lost:
            self.lost += 1
            self.inner.compare_and_set(expected, self.rival(expected))
        return self.inner.compare_and_set(expected, new)


def test_a_lost_compare_and_set_is_retried_on_the_fresh_record() -> None:
    clock = ManualClock(5.0)
    store = RacingStore(lambda _: BreakerRecord(CLOSED, 0.0, (1.0,)))
    breaker = CircuitBreaker(failure_threshold=3, window=10, store=store, clock=clock)
    fail_n(breaker, 1)
    assert (1, (1.0, 5.0)) == (store.lost, store.record.failures)


def test_a_lost_compare_and_set_on_admission_is_retried() -> None:
    clock = ManualClock()
    store = RacingStore(lambda record: BreakerRecord(HALF_OPEN, record.opened_at))
    store.inner.compare_and_set(store.inner.record, BreakerRecord(OPEN, 0.0))
    breaker = CircuitBreaker(reset_timeout=10, store=store, clock=clock)
    clock.advance(10)
    assert "ok" == breaker.call(ok)
    assert (1, CLOSED) == (store.lost, breaker.state)


def test_records_round_trip_through_json() -> None:
    record = BreakerRecord(HALF_OPEN, 12.5, (), 1, 2)
    data = json.dumps({**dataclasses.asdict(record), "state": record.state.value})
    loaded = json.loads(data)
    rebuilt = BreakerRecord(
        CircuitState(loaded["state"]),
        loaded["opened_at"],
        tuple(loaded["failures"]),
        loaded["trials"],
        loaded["trial_successes"],
    )
    assert record == rebuilt


def test_a_stored_closed_record_that_is_not_the_idle_object_still_works() -> None:
    store = MemoryBreakerStore()
    cell = store.cell("x")
    cell.compare_and_set(cell.record, BreakerRecord())  # equal to IDLE, but another object
    breaker = CircuitBreaker("x", failure_threshold=1, store=store, clock=ManualClock())
    assert "ok" == breaker.call(ok)
    fail_n(breaker, 1)
    assert OPEN == breaker.state


# -- arguments ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("options", "error", "match"),
    [
        ({"failure_threshold": 0}, ValueError, "failure_threshold must be >= 1"),
        ({"failure_threshold": 2.5}, TypeError, "failure_threshold must be an int"),
        ({"failure_threshold": True}, TypeError, "failure_threshold must be an int"),
        ({"window": 0}, ValueError, "window"),
        ({"reset_timeout": -1}, ValueError, "reset_timeout"),
        ({"slow_call_threshold": 0}, ValueError, "slow_call_threshold"),
        ({"half_open_max_calls": 0}, ValueError, "half_open_max_calls"),
        ({"success_threshold": 0}, ValueError, "success_threshold"),
        ({"failure_rate_threshold": 0}, ValueError, "failure_rate_threshold must be in"),
        ({"failure_rate_threshold": 1.5}, ValueError, "failure_rate_threshold must be in"),
        ({"failure_rate_threshold": "half"}, TypeError, "failure_rate_threshold must be a"),
        ({"failure_rate_threshold": 0.5, "failure_threshold": 3}, ValueError, "not both"),
        ({"failure_rate_threshold": 0.5, "minimum_calls": 0}, ValueError, "minimum_calls"),
        ({"failure_rate_threshold": 0.5, "window_buckets": 0}, ValueError, "window_buckets"),
        ({"failure_on": KeyboardInterrupt}, TypeError, "Exception subclasses"),
        ({"failure_on": (ValueError, 3)}, TypeError, "failure_on must list Exception subclasses"),
        ({"failure_on": "ValueError"}, TypeError, "an exception type, a tuple of them or a"),
        ({"failure_on": ()}, ValueError, "failure_on must name at least one exception type"),
        ({"exclude": ValueError()}, TypeError, "exclude must be exception types"),
        ({"name": ""}, ValueError, "name"),
    ],
)
def test_invalid_arguments_are_refused(
    options: dict[str, Any], error: type[Exception], match: str
) -> None:
    with pytest.raises(error, match=match):
        CircuitBreaker(**options)


def test_failure_rate_threshold_of_one_is_allowed() -> None:
    clock = ManualClock()
    breaker = CircuitBreaker(failure_rate_threshold=1, minimum_calls=2, clock=clock)
    breaker.call(ok)
    fail_n(breaker, 1)
    assert CLOSED == breaker.state
    assert 0.5 == breaker.snapshot().failure_rate


def test_a_rival_closing_the_circuit_during_admission_lets_the_call_through_normally() -> None:
    clock = ManualClock()
    store = RacingStore(lambda _: BreakerRecord())
    store.inner.compare_and_set(store.inner.record, BreakerRecord(OPEN, 0.0))
    breaker = CircuitBreaker(failure_threshold=1, reset_timeout=10, store=store, clock=clock)
    clock.advance(10)
    fail_n(breaker, 1)  # admitted as a normal call after the rival closed it: it counts
    assert (1, OPEN, 10.0) == (store.lost, breaker.state, store.record.opened_at)


def test_decorated_functions_take_the_full_path_while_failures_are_pending() -> None:
    clock = ManualClock()
    breaker = a2_breaker(clock)

    @breaker
    def charge() -> str:
        return "ok"

    @breaker
    async def acharge() -> str:
        return "ok"

    fail_n(breaker, 2)
    assert "ok" == charge()  # clears the pending failures
    fail_n(breaker, 2)
    assert "ok" == asyncio.run(acharge())
    assert 0 == breaker.snapshot().failures_in_window


def test_decorated_async_failures_on_the_fast_path_are_counted() -> None:
    breaker = CircuitBreaker(failure_threshold=2, clock=ManualClock())

    @breaker
    async def adown() -> None:
        raise ProviderDownError

    for _ in range(2):
        with pytest.raises(ProviderDownError):
            asyncio.run(adown())
    assert OPEN == breaker.state

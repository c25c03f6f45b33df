"""Behaviour of the retry decorator, each test run on a plain and on an ``async def`` function."""

from __future__ import annotations

import asyncio
import contextlib
import functools
import gc
import inspect
import logging
import sys
from collections.abc import Callable, Sequence
from datetime import timedelta
from typing import Any

import pytest

from commerce_kit import (
    CircuitBreaker,
    CircuitOpenError,
    NonIdempotentRetryError,
    RateLimitExceeded,
    retry,
)
from commerce_kit.payments import PaymentUnavailableError
from commerce_kit.resilience import (
    GiveUpReason,
    Jitter,
    RetryGaveUp,
    RetryScheduled,
    retry_after_hint,
)
from commerce_kit.testing import ManualClock
from commerce_kit.typing import RetryEvent

MODES = ("sync", "async")


# -- helpers (imported by the other retry test modules) ------------------------------------------


class Script:
    """A function whose calls follow a script: an exception outcome is raised, others returned.

    Each call first advances ``clock`` by ``cost``, the time an attempt takes. The last outcome
    repeats once the script runs out.
    """

    def __init__(
        self, *outcomes: object, clock: ManualClock | None = None, cost: float = 0.0
    ) -> None:
        self.outcomes: Sequence[object] = outcomes
        self.clock = clock
        self.cost = cost
        self.calls = 0
        self.seen: list[tuple[tuple[Any, ...], dict[str, Any]]] = []

    def __call__(self, *args: Any, **kwargs: Any) -> object:
        self.calls += 1
        self.seen.append((args, kwargs))
        if self.clock is not None and self.cost:
            self.clock.advance(self.cost)
        outcome = self.outcomes[min(self.calls, len(self.outcomes)) - 1]
        if isinstance(outcome, BaseException):
            raise outcome
        return outcome


def wrap(mode: str, decorator: Callable[[Any], Any], body: Callable[..., Any]) -> Any:
    """Decorate ``body`` itself (sync) or an ``async def`` that calls it (async)."""
    if mode == "sync":
        return decorator(body)

    async def async_body(*args: Any, **kwargs: Any) -> Any:
        return body(*args, **kwargs)

    return decorator(async_body)


def call(mode: str, decorated: Any, *args: Any, **kwargs: Any) -> Any:
    """Call what :func:`wrap` returned, running an event loop for the async variant."""
    if mode == "sync":
        return decorated(*args, **kwargs)
    return asyncio.run(decorated(*args, **kwargs))


def run(mode: str, decorator: Callable[[Any], Any], body: Callable[..., Any], /, *a: Any) -> Any:
    """Decorate ``body`` in the given mode and call it once with ``a``."""
    return call(mode, wrap(mode, decorator, body), *a)


def manual(clock: ManualClock, **options: Any) -> Callable[[Any], Any]:
    """``retry(**options)`` on a manual clock, waits recorded in ``clock.sleeps``."""
    return retry(clock=clock, sleep=clock.sleep, asleep=clock.asleep, **options)


def notes(error: BaseException) -> list[str]:
    """The notes on an exception (Python 3.11 and later keep them)."""
    found: list[str] = getattr(error, "__notes__", [])
    return found


needs_notes = pytest.mark.skipif(sys.version_info < (3, 11), reason="exception notes are 3.11+")


@pytest.fixture(params=MODES)
def mode(request: pytest.FixtureRequest) -> str:
    value: str = request.param
    return value


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock()


# -- what is retried -----------------------------------------------------------------------------


def test_success_on_first_attempt_returns_the_result_without_waiting(
    mode: str, clock: ManualClock
) -> None:
    script = Script("paid")
    assert "paid" == run(mode, manual(clock, on=ConnectionError), script)
    assert (1, []) == (script.calls, clock.sleeps)


def test_matching_errors_are_retried_until_success(mode: str, clock: ManualClock) -> None:
    script = Script(ConnectionError(), ConnectionError(), "paid")
    decorator = manual(clock, on=ConnectionError, attempts=3, jitter="none")
    assert "paid" == run(mode, decorator, script)
    assert (3, [0.1, 0.2]) == (script.calls, clock.sleeps)


def test_attempts_counts_every_call_including_the_first(mode: str, clock: ManualClock) -> None:
    error = ConnectionError("down")
    script = Script(error)
    with pytest.raises(ConnectionError) as caught:
        run(mode, manual(clock, on=ConnectionError, attempts=3), script)
    assert error is caught.value
    assert 3 == script.calls
    assert 2 == len(clock.sleeps)


def test_one_attempt_never_retries(mode: str, clock: ManualClock) -> None:
    script = Script(ConnectionError())
    with pytest.raises(ConnectionError):
        run(mode, manual(clock, on=ConnectionError, attempts=1), script)
    assert (1, []) == (script.calls, clock.sleeps)


def test_non_matching_error_is_raised_at_once_untouched(mode: str, clock: ManualClock) -> None:
    error = ValueError("bad card number")
    script = Script(ConnectionError(), error)
    with pytest.raises(ValueError) as caught:
        run(mode, manual(clock, on=ConnectionError, attempts=5), script)
    assert error is caught.value
    assert 2 == script.calls
    assert None is error.__context__
    assert [] == notes(error)


def test_a_tuple_of_types_retries_each(mode: str, clock: ManualClock) -> None:
    script = Script(ConnectionError(), TimeoutError(), "ok")
    decorator = manual(clock, on=(ConnectionError, TimeoutError), attempts=3)
    assert "ok" == run(mode, decorator, script)
    assert 3 == script.calls


def test_subclasses_of_a_listed_type_are_retried(mode: str, clock: ManualClock) -> None:
    script = Script(ConnectionResetError(), "ok")
    assert "ok" == run(mode, manual(clock, on=OSError), script)


def test_predicate_decides_which_errors_are_retried(mode: str, clock: ManualClock) -> None:
    script = Script(OSError(503, "unavailable"), OSError(400, "bad request"), "never")
    decorator = manual(clock, on=lambda e: isinstance(e, OSError) and e.errno == 503, attempts=5)
    with pytest.raises(OSError, match="bad request"):
        run(mode, decorator, script)
    assert 2 == script.calls


@pytest.mark.parametrize("interrupt", [KeyboardInterrupt, SystemExit, GeneratorExit])
def test_base_exceptions_propagate_at_once_even_with_a_catch_all_predicate(
    mode: str, clock: ManualClock, interrupt: type[BaseException]
) -> None:
    script = Script(interrupt())
    with pytest.raises(interrupt):
        run(mode, manual(clock, on=lambda _: True, attempts=5), script)
    assert 1 == script.calls


def test_arguments_reach_every_attempt(mode: str, clock: ManualClock) -> None:
    script = Script(ConnectionError(), "ok")
    decorated = wrap(mode, manual(clock, on=ConnectionError), script)
    assert "ok" == call(mode, decorated, 1, 2, currency="EUR")
    assert [((1, 2), {"currency": "EUR"})] * 2 == script.seen


# -- the error raised in the end -----------------------------------------------------------------


def test_last_error_chains_the_earlier_attempts_as_context(mode: str, clock: ManualClock) -> None:
    first, second, third = ConnectionError(1), ConnectionError(2), ConnectionError(3)
    script = Script(first, second, third)
    with pytest.raises(ConnectionError) as caught:
        run(mode, manual(clock, on=ConnectionError, attempts=3), script)
    assert third is caught.value
    assert second is third.__context__
    assert first is second.__context__
    assert None is first.__context__


def test_the_same_error_raised_each_time_is_not_chained_to_itself(
    mode: str, clock: ManualClock
) -> None:
    error = ConnectionError()
    with pytest.raises(ConnectionError):
        run(mode, manual(clock, on=ConnectionError, attempts=3), Script(error))
    assert None is error.__context__


def test_an_error_with_its_own_context_keeps_it(mode: str, clock: ManualClock) -> None:
    cause = KeyError("session")
    second = ConnectionError(2)
    second.__context__ = cause
    script = Script(ConnectionError(1), second)
    with pytest.raises(ConnectionError):
        run(mode, manual(clock, on=ConnectionError, attempts=2), script)
    assert cause is second.__context__


def test_reused_errors_are_never_chained_into_a_cycle(mode: str, clock: ManualClock) -> None:
    one, two = ConnectionError(1), ConnectionError(2)
    with pytest.raises(ConnectionError):
        run(mode, manual(clock, on=ConnectionError, attempts=4), Script(one, two, one, two))
    assert (one, None) == (two.__context__, one.__context__)


def test_a_very_long_earlier_chain_is_linked_without_walking_it_all() -> None:
    earlier = ConnectionError("earliest")
    for depth in range(100):
        link = ConnectionError(depth)
        link.__context__ = earlier
        earlier = link
    last = ConnectionError("last")
    with pytest.raises(ConnectionError):
        retry(on=ConnectionError, attempts=2, wait_initial=0)(Script(earlier, last))()
    assert earlier is last.__context__


@needs_notes
def test_giving_up_adds_a_note_saying_why(mode: str, clock: ManualClock) -> None:
    with pytest.raises(OSError) as caught:
        run(mode, manual(clock, on=OSError, attempts=2, name="charge"), Script(OSError()))
    expected = "gave up on charge after 2 attempts: the attempt limit was reached"
    assert [f"commerce_kit.retry: {expected}"] == notes(caught.value)


@needs_notes
def test_note_uses_the_singular_for_one_attempt(clock: ManualClock) -> None:
    error = CircuitOpenError("open", name="psp", retry_after=60)
    with pytest.raises(CircuitOpenError):
        manual(clock, on=CircuitOpenError, name="charge")(Script(error))()
    assert "gave up on charge after 1 attempt: the error asked" in notes(error)[0]


@needs_notes
def test_repeated_give_ups_on_one_error_instance_keep_one_note(
    mode: str, clock: ManualClock
) -> None:
    error = ConnectionError("down")  # a function may raise one cached instance again and again
    decorator = manual(clock, on=ConnectionError, attempts=2, name="charge")
    decorated = wrap(mode, decorator, Script(error))
    for _ in range(3):
        with pytest.raises(ConnectionError):
            call(mode, decorated)
    expected = "gave up on charge after 2 attempts: the attempt limit was reached"
    assert [f"commerce_kit.retry: {expected}"] == notes(error)


@needs_notes
def test_a_give_up_note_replaces_the_earlier_one_and_keeps_other_notes(clock: ManualClock) -> None:
    error = ConnectionError("down")
    if sys.version_info >= (3, 11):  # pragma: no branch - the test is skipped on 3.10
        error.add_note("request id 42")
    for attempts, name in ((3, "charge"), (1, "charge"), (1, "refund")):
        decorated = manual(clock, on=ConnectionError, attempts=attempts, name=name)(Script(error))
        with pytest.raises(ConnectionError):
            decorated()
    assert [
        "request id 42",
        "commerce_kit.retry: gave up on charge after 1 attempt: the attempt limit was reached",
        "commerce_kit.retry: gave up on refund after 1 attempt: the attempt limit was reached",
    ] == notes(error)


# -- backoff and jitter --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("options", "expected"),
    [
        ({}, [0.1, 0.2, 0.4, 0.8, 1.6]),
        ({"wait_initial": 1, "wait_exp_base": 3}, [1.0, 3.0, 5.0, 5.0, 5.0]),
        ({"wait_initial": 0.5, "wait_max": 1.0}, [0.5, 1.0, 1.0, 1.0, 1.0]),
        ({"wait_exp_base": 1}, [0.1] * 5),
        ({"wait_initial": timedelta(milliseconds=250)}, [0.25, 0.5, 1.0, 2.0, 4.0]),
    ],
)
def test_backoff_grows_exponentially_up_to_wait_max(
    clock: ManualClock, options: dict[str, Any], expected: list[float]
) -> None:
    decorated = manual(clock, on=ConnectionError, attempts=6, jitter="none", **options)
    with pytest.raises(ConnectionError):
        decorated(Script(ConnectionError()))()
    assert expected == pytest.approx(clock.sleeps)


def test_full_jitter_scales_the_cap_by_the_random_draw(clock: ManualClock) -> None:
    draws = iter([0.5, 0.25, 0.0])
    decorated = manual(clock, on=ConnectionError, attempts=4, random=lambda: next(draws))
    with pytest.raises(ConnectionError):
        decorated(Script(ConnectionError()))()
    assert [0.05, 0.05] == pytest.approx(clock.sleeps)  # the third wait, 0.0, is not slept


def test_equal_jitter_keeps_at_least_half_the_cap(clock: ManualClock) -> None:
    draws = iter([0.0, 0.5])
    decorated = manual(
        clock, on=ConnectionError, attempts=3, jitter=Jitter.EQUAL, random=lambda: next(draws)
    )
    with pytest.raises(ConnectionError):
        decorated(Script(ConnectionError()))()
    assert [0.05, 0.15] == pytest.approx(clock.sleeps)


def test_decorrelated_jitter_grows_from_the_previous_wait(clock: ManualClock) -> None:
    draws = iter([1.0, 1.0, 0.0, 1.0])
    decorated = manual(
        clock,
        on=ConnectionError,
        attempts=5,
        jitter="decorrelated",
        wait_initial=1,
        wait_max=20,
        random=lambda: next(draws),
    )
    with pytest.raises(ConnectionError):
        decorated(Script(ConnectionError()))()
    # uniform(1, 3 * previous) with the draw at its top, its top, its bottom, then capped.
    assert [3.0, 9.0, 1.0, 3.0] == pytest.approx(clock.sleeps)


def test_decorrelated_jitter_is_capped_by_wait_max(clock: ManualClock) -> None:
    decorated = manual(
        clock, on=ConnectionError, attempts=4, jitter="decorrelated", wait_initial=1, wait_max=2
    )
    with pytest.raises(ConnectionError):
        decorated(Script(ConnectionError()))()
    assert all(1.0 <= wait <= 2.0 for wait in clock.sleeps)


def test_huge_exponents_are_capped_not_overflowing(clock: ManualClock) -> None:
    decorated = manual(
        clock, on=ConnectionError, attempts=1200, jitter="none", wait_exp_base=10, wait_max=1
    )
    with pytest.raises(ConnectionError):
        decorated(Script(ConnectionError()))()
    assert 1.0 == clock.sleeps[-1]
    assert 1199 == len(clock.sleeps)


def test_zero_waits_never_call_sleep(mode: str) -> None:
    sleeps: list[float] = []

    async def asleep(seconds: float) -> None:
        sleeps.append(seconds)

    decorator = retry(
        on=ConnectionError, attempts=3, wait_initial=0, sleep=sleeps.append, asleep=asleep
    )
    assert "ok" == run(mode, decorator, Script(ConnectionError(), ConnectionError(), "ok"))
    assert [] == sleeps


# -- deadline ------------------------------------------------------------------------------------


def test_deadline_gives_up_instead_of_sleeping_past_it(mode: str, clock: ManualClock) -> None:
    events: list[RetryEvent] = []
    script = Script(ConnectionError(), clock=clock, cost=1.0)
    decorator = manual(
        clock,
        on=ConnectionError,
        attempts=10,
        jitter="none",
        wait_initial=1,
        deadline=5,
        hooks=[events.append],
    )
    with pytest.raises(ConnectionError):
        run(mode, decorator, script)
    # t=1 fails, waits 1 s; t=3 fails, and a 2 s wait would end on the deadline: stop at once.
    assert (2, [1.0], 3.0) == (script.calls, clock.sleeps, clock())
    assert isinstance(events[-1], RetryGaveUp)
    assert GiveUpReason.DEADLINE == events[-1].reason


def test_deadline_also_refuses_a_wait_ending_exactly_on_it(clock: ManualClock) -> None:
    script = Script(ConnectionError())
    decorated = manual(
        clock, on=ConnectionError, attempts=5, jitter="none", wait_initial=2, deadline=2
    )
    with pytest.raises(ConnectionError):
        decorated(script)()
    assert (1, []) == (script.calls, clock.sleeps)


def test_deadline_counts_from_the_start_of_the_call_not_the_first_failure(
    clock: ManualClock,
) -> None:
    slow = Script(ConnectionError(), clock=clock, cost=4.5)
    decorated = manual(clock, on=ConnectionError, jitter="none", wait_initial=1, deadline=5)
    with pytest.raises(ConnectionError):
        decorated(slow)()
    assert 1 == slow.calls


def test_unlimited_attempts_with_a_deadline_stop_at_the_deadline(
    mode: str, clock: ManualClock
) -> None:
    script = Script(ConnectionError())
    decorator = manual(
        clock,
        on=ConnectionError,
        attempts=None,
        jitter="none",
        wait_initial=1,
        wait_exp_base=1,
        deadline=timedelta(seconds=10),
    )
    with pytest.raises(ConnectionError):
        run(mode, decorator, script)
    assert (10, 9.0) == (script.calls, sum(clock.sleeps))


# -- hints (retry_after) -------------------------------------------------------------------------


def test_an_open_breaker_hint_replaces_the_backoff(mode: str, clock: ManualClock) -> None:
    opened = CircuitOpenError("open", name="psp", retry_after=2.5)
    script = Script(opened, "paid")
    decorator = manual(clock, on=CircuitOpenError, max_hint=30, random=lambda: 0.0)
    assert "paid" == run(mode, decorator, script)
    assert [2.5] == clock.sleeps


def test_a_hint_longer_than_max_hint_gives_up_at_once(mode: str, clock: ManualClock) -> None:
    limited = RateLimitExceeded("slow down", retry_after=60)
    script = Script(limited)
    with pytest.raises(RateLimitExceeded) as caught:
        run(mode, manual(clock, on=RateLimitExceeded, max_hint=30), script)
    assert limited is caught.value
    assert (1, []) == (script.calls, clock.sleeps)


def test_max_hint_defaults_to_wait_max(clock: ManualClock) -> None:
    script = Script(RateLimitExceeded("slow down", retry_after=3), "ok")
    with pytest.raises(RateLimitExceeded):
        manual(clock, on=RateLimitExceeded, wait_max=2)(script)()
    assert "ok" == manual(clock, on=RateLimitExceeded, wait_max=3)(script)()


def test_a_hint_past_the_deadline_gives_up_at_once(mode: str, clock: ManualClock) -> None:
    script = Script(CircuitOpenError("open", name="psp", retry_after=30))
    events: list[RetryEvent] = []
    decorator = manual(clock, on=CircuitOpenError, max_hint=60, deadline=5, hooks=[events.append])
    with pytest.raises(CircuitOpenError):
        run(mode, decorator, script)
    assert (1, []) == (script.calls, clock.sleeps)
    assert isinstance(events[-1], RetryGaveUp)
    assert GiveUpReason.DEADLINE == events[-1].reason


@pytest.mark.parametrize(
    ("retry_after", "expected"),
    [
        (timedelta(seconds=1.5), [1.5]),
        (-3, []),  # a hint in the past means "now": no wait at all
        (0, []),
        (2, [2.0]),
    ],
)
def test_hint_values_are_normalised(
    clock: ManualClock, retry_after: object, expected: list[float]
) -> None:
    class ThrottledError(Exception):
        pass

    error = ThrottledError()
    error.retry_after = retry_after  # type: ignore[attr-defined]
    manual(clock, on=ThrottledError)(Script(error, "ok"))()
    assert expected == clock.sleeps


@pytest.mark.parametrize("retry_after", [None, True, "3", float("nan")])
def test_a_missing_or_non_numeric_hint_falls_back_to_the_backoff(
    clock: ManualClock, retry_after: object
) -> None:
    class ThrottledError(Exception):
        pass

    error = ThrottledError()
    error.retry_after = retry_after  # type: ignore[attr-defined]
    manual(clock, on=ThrottledError, jitter="none")(Script(error, "ok"))()
    assert [0.1] == clock.sleeps


@pytest.mark.parametrize(
    "retry_after", [10**400, float("inf"), timedelta.max], ids=["huge int", "inf", "timedelta.max"]
)
def test_a_hint_too_large_for_a_float_gives_up_with_the_original_error(
    mode: str, clock: ManualClock, retry_after: object
) -> None:
    class ThrottledError(Exception):
        pass

    error = ThrottledError()
    error.retry_after = retry_after  # type: ignore[attr-defined]
    events: list[RetryEvent] = []
    decorator = manual(clock, on=ThrottledError, hooks=[events.append])
    with pytest.raises(ThrottledError) as caught:
        run(mode, decorator, Script(error))
    assert error is caught.value
    assert [GiveUpReason.HINT_TOO_LONG] == [getattr(e, "reason", None) for e in events]


@pytest.mark.parametrize(
    "returned",
    ["3", b"3", [3], True, 10**400, -(10**400)],
    ids=["str", "bytes", "list", "bool", "huge int", "huge negative int"],
)
def test_a_custom_hint_returning_a_non_number_or_a_huge_int_keeps_the_original_error(
    clock: ManualClock, returned: object
) -> None:
    error = ConnectionError("reset")
    decorated = manual(clock, on=ConnectionError, attempts=2, hint=lambda _: returned)
    with pytest.raises(ConnectionError) as caught:
        decorated(Script(error))()
    assert error is caught.value


def test_payment_unavailable_without_retry_after_uses_the_backoff(clock: ManualClock) -> None:
    script = Script(PaymentUnavailableError("timeout"), PaymentUnavailableError("x", retry_after=1))
    with pytest.raises(PaymentUnavailableError):
        manual(clock, on=PaymentUnavailableError, attempts=3, jitter="none")(script)()
    assert [0.1, 1.0] == clock.sleeps


def test_hint_none_ignores_hints(clock: ManualClock) -> None:
    script = Script(CircuitOpenError("open", name="psp", retry_after=60), "ok")
    assert "ok" == manual(clock, on=CircuitOpenError, hint=None, jitter="none")(script)()
    assert [0.1] == clock.sleeps


def test_a_custom_hint_reads_the_wait_from_anywhere(clock: ManualClock) -> None:
    class HTTPError(Exception):
        def __init__(self, headers: dict[str, str]) -> None:
            self.headers = headers

    def header_hint(error: Exception) -> float | None:
        if isinstance(error, HTTPError) and "Retry-After" in error.headers:
            return float(error.headers["Retry-After"])
        return None

    script = Script(HTTPError({"Retry-After": "4"}), HTTPError({}), "ok")
    decorated = manual(clock, on=HTTPError, hint=header_hint, wait_max=5, jitter="none")
    assert "ok" == decorated(script)()
    assert [4.0, 0.2] == clock.sleeps


def test_a_custom_hint_may_return_a_timedelta(clock: ManualClock) -> None:
    def hint(error: Exception) -> timedelta:
        return timedelta(milliseconds=1500)

    assert "ok" == manual(clock, on=ConnectionError, hint=hint)(Script(ConnectionError(), "ok"))()
    assert [1.5] == clock.sleeps


def test_retry_after_hint_reads_only_numbers_and_timedeltas() -> None:
    assert 2.0 == retry_after_hint(RateLimitExceeded("x", retry_after=2))
    assert 0.5 == retry_after_hint(CircuitOpenError("x", name="b", retry_after=0.5))
    assert None is retry_after_hint(ConnectionError())
    error = ConnectionError()
    error.retry_after = timedelta(minutes=1)  # type: ignore[attr-defined]
    assert 60.0 == retry_after_hint(error)
    error.retry_after = "soon"  # type: ignore[attr-defined]
    assert None is retry_after_hint(error)


# -- idempotency ---------------------------------------------------------------------------------


def test_non_idempotent_call_without_key_refuses_to_retry(mode: str, clock: ManualClock) -> None:
    original = ConnectionError("reset after the request was sent")
    script = Script(original)
    decorator = manual(clock, on=ConnectionError, idempotent=False, name="charge")
    with pytest.raises(NonIdempotentRetryError) as caught:
        run(mode, decorator, script)
    assert original is caught.value.__cause__
    assert (1, []) == (script.calls, clock.sleeps)
    assert "charge" in str(caught.value)


def test_non_idempotent_call_with_key_argument_is_retried(mode: str, clock: ManualClock) -> None:
    script = Script(ConnectionError(), "paid")
    decorated = wrap(mode, manual(clock, on=ConnectionError, idempotent=False), script)
    assert "paid" == call(mode, decorated, 100, idempotency_key="order-42")
    assert 2 == script.calls


@pytest.mark.parametrize("key", [None, ""])
def test_an_empty_or_none_key_counts_as_missing(clock: ManualClock, key: str | None) -> None:
    decorated = manual(clock, on=ConnectionError, idempotent=False)(Script(ConnectionError()))
    with pytest.raises(NonIdempotentRetryError):
        decorated(idempotency_key=key)


def test_a_key_function_finds_the_key_in_the_arguments(clock: ManualClock) -> None:
    def key_of(order: dict[str, str]) -> str | None:
        return order.get("id")

    script = Script(ConnectionError(), "paid")
    decorated = manual(clock, on=ConnectionError, idempotent=False, idempotency_key=key_of)(script)
    assert "paid" == decorated({"id": "order-42"})
    with pytest.raises(NonIdempotentRetryError):
        manual(clock, on=ConnectionError, idempotent=False, idempotency_key=key_of)(
            Script(ConnectionError())
        )({})


def test_non_idempotent_errors_that_would_not_be_retried_are_raised_as_they_are(
    clock: ManualClock,
) -> None:
    once = manual(clock, on=ConnectionError, attempts=1, idempotent=False)
    with pytest.raises(ConnectionError):
        once(Script(ConnectionError()))()
    other = manual(clock, on=ConnectionError, idempotent=False)
    with pytest.raises(ValueError):
        other(Script(ValueError()))()


# -- hooks ---------------------------------------------------------------------------------------


def test_hooks_see_each_scheduled_retry_and_the_give_up(mode: str, clock: ManualClock) -> None:
    events: list[RetryEvent] = []
    first, second = ConnectionError(1), ConnectionError(2)
    script = Script(first, second, clock=clock, cost=0.5)
    decorator = manual(
        clock, on=ConnectionError, attempts=2, jitter="none", hooks=[events.append], name="pay"
    )
    with pytest.raises(ConnectionError):
        run(mode, decorator, script)
    assert [
        RetryScheduled("pay", 1, 0.1, first, 0.5, hinted=False),
        RetryGaveUp("pay", 2, second, 1.1, GiveUpReason.ATTEMPTS),
    ] == events


def test_scheduled_event_says_when_the_wait_was_hinted(clock: ManualClock) -> None:
    events: list[RetryEvent] = []
    error = CircuitOpenError("open", name="psp", retry_after=1)
    manual(clock, on=CircuitOpenError, hooks=[events.append], name="pay")(Script(error, "ok"))()
    assert [RetryScheduled("pay", 1, 1.0, error, 0.0, hinted=True)] == events


@pytest.mark.parametrize(
    ("options", "error", "reason"),
    [
        ({"deadline": 0.05, "jitter": "none"}, ConnectionError(), GiveUpReason.DEADLINE),
        ({"idempotent": False}, ConnectionError(), GiveUpReason.NOT_IDEMPOTENT),
        (
            {},
            CircuitOpenError("open", name="psp", retry_after=99),
            GiveUpReason.HINT_TOO_LONG,
        ),
    ],
)
def test_give_up_event_names_the_reason(
    clock: ManualClock, options: dict[str, Any], error: Exception, reason: GiveUpReason
) -> None:
    events: list[RetryEvent] = []
    decorated = manual(clock, on=Exception, hooks=[events.append], name="pay", **options)
    with pytest.raises(Exception):  # noqa: B017 - the kind depends on the reason
        decorated(Script(error))()
    assert [RetryGaveUp("pay", 1, error, 0.0, reason)] == events


def test_default_name_is_the_module_and_qualified_name(clock: ManualClock) -> None:
    events: list[RetryEvent] = []

    def charge() -> None:
        raise ConnectionError

    with pytest.raises(ConnectionError):
        manual(clock, on=ConnectionError, attempts=1, hooks=[events.append])(charge)()
    expected = f"{__name__}.test_default_name_is_the_module_and_qualified_name.<locals>.charge"
    assert expected == events[0].fn_name


def test_callables_without_a_qualname_are_named_by_their_class(clock: ManualClock) -> None:
    events: list[RetryEvent] = []
    script = Script(ConnectionError())
    partial = functools.partial(script)
    decorator = manual(clock, on=ConnectionError, attempts=1, hooks=[events.append])
    with pytest.raises(ConnectionError):
        decorator(partial)()

    def moduleless() -> None:
        raise ConnectionError

    moduleless.__module__ = None  # type: ignore[assignment]
    with pytest.raises(ConnectionError):
        decorator(moduleless)()
    assert f"{__name__}.Script" == events[0].fn_name  # stable: no memory address in the name
    assert moduleless.__qualname__ == events[1].fn_name


def test_a_failing_hook_is_logged_and_the_call_goes_on(
    mode: str, clock: ManualClock, caplog: pytest.LogCaptureFixture
) -> None:
    seen: list[RetryEvent] = []

    def broken(event: RetryEvent) -> None:
        raise RuntimeError("metrics backend down")

    decorator = manual(clock, on=ConnectionError, hooks=[broken, seen.append])
    with caplog.at_level(logging.ERROR, logger="commerce_kit.retry"):
        assert "ok" == run(mode, decorator, Script(ConnectionError(), "ok"))
    assert 1 == len(seen)
    assert ["commerce_kit.retry"] == [record.name for record in caplog.records]
    assert "RetryScheduled" in caplog.records[0].getMessage()


# -- time is read only when needed ---------------------------------------------------------------


class CountingClock(ManualClock):
    def __init__(self) -> None:
        super().__init__()
        self.reads = 0

    def __call__(self) -> float:
        self.reads += 1
        return super().__call__()


def test_without_deadline_or_hooks_the_clock_is_never_read(mode: str) -> None:
    clock = CountingClock()
    decorator = manual(clock, on=ConnectionError)
    assert "ok" == run(mode, decorator, Script(ConnectionError(), "ok"))
    assert 0 == clock.reads


def test_with_a_deadline_the_clock_is_read_once_per_call_and_once_per_failure(mode: str) -> None:
    clock = CountingClock()
    decorator = manual(clock, on=ConnectionError, deadline=5)
    assert "ok" == run(mode, decorator, Script("ok"))
    assert 1 == clock.reads
    assert "ok" == run(mode, decorator, Script(ConnectionError(), ConnectionError(), "ok"))
    assert 4 == clock.reads


# -- the decorated function ----------------------------------------------------------------------


def test_signature_name_and_docstring_are_kept() -> None:
    def charge(amount: int, *, currency: str = "EUR") -> str:
        """Charge the card."""
        return f"{amount} {currency}"

    decorated = retry(on=ConnectionError)(charge)
    assert inspect.signature(charge) == inspect.signature(decorated)
    assert ("charge", "Charge the card.") == (decorated.__name__, decorated.__doc__)
    assert charge is decorated.__wrapped__  # type: ignore[attr-defined]


def test_async_functions_stay_coroutine_functions() -> None:
    async def charge(amount: int) -> int:
        return amount

    decorated = retry(on=ConnectionError)(charge)
    assert inspect.iscoroutinefunction(decorated)
    assert inspect.signature(charge) == inspect.signature(decorated)
    assert 5 == asyncio.run(decorated(5))


def test_objects_with_an_async_call_are_retried_as_async(clock: ManualClock) -> None:
    class Charger:
        def __init__(self) -> None:
            self.script = Script(ConnectionError(), "paid")

        async def __call__(self, amount: int) -> object:
            return self.script(amount)

    charger = Charger()
    decorated = manual(clock, on=ConnectionError, jitter="none")(charger)
    assert inspect.iscoroutinefunction(decorated)
    assert "paid" == asyncio.run(decorated(5))
    assert (2, [0.1]) == (charger.script.calls, clock.sleeps)


def test_partials_of_async_functions_are_retried_as_async(clock: ManualClock) -> None:
    script = Script(ConnectionError(), "paid")

    async def charge(amount: int) -> object:
        return script(amount)

    decorated = manual(clock, on=ConnectionError)(functools.partial(charge, 5))
    assert "paid" == asyncio.run(decorated())
    assert 2 == script.calls


def test_sync_functions_stay_sync() -> None:
    assert not inspect.iscoroutinefunction(retry(on=ConnectionError)(Script("ok")))


def test_generator_functions_are_refused() -> None:
    def rows() -> Any:
        yield 1

    async def arows() -> Any:
        yield 1

    for fn in (rows, arows):
        with pytest.raises(TypeError, match="generator"):
            retry(on=ConnectionError)(fn)


def test_cancellation_during_a_wait_propagates_at_once() -> None:
    script = Script(ConnectionError())
    blocked = asyncio.Event()

    async def asleep(seconds: float) -> None:
        blocked.set()
        await asyncio.Event().wait()  # never set: only cancellation ends this wait

    async def scenario() -> None:
        decorated = wrap("async", retry(on=ConnectionError, attempts=5, asleep=asleep), script)
        task = asyncio.ensure_future(decorated())
        await blocked.wait()
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task

    asyncio.run(scenario())
    assert 1 == script.calls


def test_cancelled_error_raised_by_the_function_is_not_retried(clock: ManualClock) -> None:
    script = Script(asyncio.CancelledError())
    with pytest.raises(asyncio.CancelledError):
        run("async", manual(clock, on=lambda _: True, attempts=5), script)
    assert 1 == script.calls


def test_methods_are_retried_with_their_instance(clock: ManualClock) -> None:
    class Gateway:
        def __init__(self) -> None:
            self.script = Script(ConnectionError(), "paid")

        @retry(on=ConnectionError, sleep=clock.sleep)
        def charge(self, amount: int) -> object:
            return self.script(amount)

        @retry(on=ConnectionError, asleep=clock.asleep)
        async def acharge(self, amount: int) -> object:
            return self.script(amount)

    gateway = Gateway()
    assert "paid" == gateway.charge(5)
    gateway.script = Script(ConnectionError(), "paid")
    assert "paid" == asyncio.run(gateway.acharge(6))
    assert [((6,), {})] * 2 == gateway.script.seen


def test_the_decorator_is_reusable_across_functions(clock: ManualClock) -> None:
    decorator = manual(clock, on=ConnectionError, jitter="none")
    first = decorator(Script(ConnectionError(), "a"))
    second = decorator(Script(ConnectionError(), ConnectionError(), "b"))
    assert ("a", "b", "a") == (first(), second(), first())


@pytest.mark.parametrize(
    "kinds",
    [
        ("fail", "fail", "ok"),  # success after retries
        ("fail", "fail", "fail"),  # giving up on the attempt limit
        ("fail", "other"),  # an error that does not match
    ],
)
def test_retried_calls_leave_no_reference_cycles_behind(mode: str, kinds: tuple[str, ...]) -> None:
    # An error's traceback holds the wrapper's frame: were the retry state to keep the error
    # after the call, every retried call would leave garbage for the cyclic collector.
    count = 0

    def body() -> str:
        nonlocal count
        kind = kinds[count % len(kinds)]
        count += 1
        if kind == "fail":
            raise ConnectionError  # a fresh instance each time, unreachable once handled
        if kind == "other":
            raise KeyError
        return "ok"

    decorated = wrap(mode, retry(on=ConnectionError, attempts=3, wait_initial=0), body)

    def calls() -> None:
        nonlocal count
        for _ in range(20):
            count = 0
            with contextlib.suppress(ConnectionError, KeyError):
                decorated()

    async def async_calls() -> None:
        nonlocal count
        for _ in range(20):
            count = 0
            with contextlib.suppress(ConnectionError, KeyError):
                await decorated()

    gc.collect()
    gc.disable()
    try:
        # One event loop for all calls: asyncio.run itself leaves cycles when its coroutine raises.
        calls() if mode == "sync" else asyncio.run(async_calls())
        leaked = gc.collect()
    finally:
        gc.enable()
    assert 0 == leaked


# -- argument checks -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("options", "error", "match"),
    [
        ({"on": KeyboardInterrupt}, TypeError, "always pass through"),
        ({"on": (ConnectionError, asyncio.CancelledError)}, TypeError, "always pass through"),
        ({"on": (ConnectionError, "oops")}, TypeError, "Exception subclasses"),
        ({"on": ()}, ValueError, "at least one"),
        ({"on": 3}, TypeError, "predicate"),
        ({"attempts": 0}, ValueError, "attempts"),
        ({"attempts": -1}, ValueError, "attempts"),
        ({"attempts": True}, TypeError, "attempts"),
        ({"attempts": 2.0}, TypeError, "attempts"),
        ({"attempts": "3"}, TypeError, "attempts"),
        ({"attempts": None}, ValueError, "deadline"),
        ({"deadline": 0}, ValueError, "deadline"),
        ({"deadline": -1}, ValueError, "deadline"),
        ({"wait_initial": -0.1}, ValueError, "wait_initial"),
        ({"wait_max": float("inf")}, ValueError, "wait_max"),
        ({"wait_exp_base": 0.5}, ValueError, "wait_exp_base"),
        ({"wait_exp_base": float("nan")}, ValueError, "wait_exp_base"),
        ({"wait_exp_base": 10**400}, ValueError, "wait_exp_base must be a finite number"),
        ({"jitter": "random"}, ValueError, "jitter must be one of"),
        ({"max_hint": -1}, ValueError, "max_hint"),
        ({"idempotency_key": lambda: "k"}, ValueError, "idempotent=False"),
    ],
)
def test_invalid_arguments_are_refused_when_decorating(
    options: dict[str, Any], error: type[Exception], match: str
) -> None:
    arguments: dict[str, Any] = {"on": ConnectionError, **options}
    with pytest.raises(error, match=match):
        retry(**arguments)


def test_zero_waits_and_a_zero_max_hint_are_allowed() -> None:
    decorated = retry(on=ConnectionError, wait_initial=0, wait_max=0, max_hint=0)(
        Script(ConnectionError(), "ok")
    )
    assert "ok" == decorated()


# -- scenario A2: retry stacked over a circuit breaker -------------------------------------------


def test_retry_over_an_open_breaker_answers_at_once_within_the_deadline(mode: str) -> None:
    clock = ManualClock()
    breaker = CircuitBreaker("psp", failure_threshold=3, reset_timeout=30, clock=clock)
    provider = Script(PaymentUnavailableError("provider down"), clock=clock, cost=0.2)
    decorator = manual(
        clock,
        on=(PaymentUnavailableError, CircuitOpenError),
        attempts=3,
        wait_initial=0.1,
        wait_max=2.0,
        deadline=5.0,
    )
    charge = wrap(mode, lambda fn: decorator(breaker(fn)), provider)

    with pytest.raises(PaymentUnavailableError):
        call(mode, charge)
    assert 3 == provider.calls  # three attempts, and the breaker has now seen three failures
    assert clock() < 5.0

    before = clock()
    with pytest.raises(CircuitOpenError) as caught:
        call(mode, charge)
    assert 3 == provider.calls  # the open breaker refused without calling the provider
    assert before == clock()  # its 30 s hint is past max_hint: no wait, an answer at once
    assert 30.0 == caught.value.retry_after


def test_retry_waits_out_a_breaker_hint_it_may_honour(clock: ManualClock) -> None:
    breaker = CircuitBreaker("psp", failure_threshold=1, reset_timeout=3, clock=clock)
    provider = Script(PaymentUnavailableError("blip"), "paid")
    guarded = breaker(provider)
    with pytest.raises(PaymentUnavailableError):
        guarded()  # opens the breaker
    decorated = manual(clock, on=CircuitOpenError, max_hint=5, deadline=10)(guarded)
    assert "paid" == decorated()
    assert [3.0] == clock.sleeps  # slept exactly until the half-open trial was allowed

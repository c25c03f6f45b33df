"""The ``retrying`` loop: a block retried with the same policy, in ``for`` and ``async for``."""

from __future__ import annotations

import asyncio
import contextlib
import gc
from collections.abc import Callable
from typing import Any

import pytest

from commerce_kit import retrying
from commerce_kit.resilience import Attempt, GiveUpReason, RetryGaveUp, RetryLoop
from commerce_kit.testing import ManualClock
from commerce_kit.typing import RetryEvent
from tests.resilience.test_retry import MODES, Script


def drive(mode: str, loop: RetryLoop, block: Callable[[], object]) -> tuple[object, int]:
    """Run ``block`` inside the loop; return its last result and the number of attempts made."""
    result: object = None
    numbers: list[int] = []
    if mode == "sync":
        for attempt in loop:
            with attempt:
                numbers.append(attempt.number)
                result = block()
        return result, len(numbers)

    async def main() -> None:
        nonlocal result
        async for attempt in loop:
            with attempt:
                numbers.append(attempt.number)
                result = block()

    asyncio.run(main())
    return result, len(numbers)


def loop_on(clock: ManualClock, **options: Any) -> RetryLoop:
    return retrying(clock=clock, sleep=clock.sleep, asleep=clock.asleep, **options)


@pytest.fixture(params=MODES)
def mode(request: pytest.FixtureRequest) -> str:
    value: str = request.param
    return value


def test_a_block_that_succeeds_runs_once(mode: str) -> None:
    clock = ManualClock()
    assert ("ok", 1) == drive(mode, loop_on(clock, on=ConnectionError), Script("ok"))
    assert [] == clock.sleeps


def test_matching_errors_are_swallowed_and_the_block_retried(mode: str) -> None:
    clock = ManualClock()
    loop = loop_on(clock, on=ConnectionError, jitter="none")
    script = Script(ConnectionError(), ConnectionError(), "ok")
    assert ("ok", 3) == drive(mode, loop, script)
    assert [0.1, 0.2] == clock.sleeps


def test_the_last_error_leaves_the_with_statement_unchanged(mode: str) -> None:
    clock = ManualClock()
    events: list[RetryEvent] = []
    last = ConnectionError("third")
    script = Script(ConnectionError(), ConnectionError(), last)
    loop = loop_on(clock, on=ConnectionError, hooks=[events.append], name="stock")
    with pytest.raises(ConnectionError) as caught:
        drive(mode, loop, script)
    assert last is caught.value
    assert 3 == script.calls
    assert (
        RetryGaveUp("stock", 3, last, 0.0 + sum(clock.sleeps), GiveUpReason.ATTEMPTS)
        == (events[-1])
    )


def test_non_matching_errors_propagate_from_the_first_attempt(mode: str) -> None:
    script = Script(KeyError("sku"))
    with pytest.raises(KeyError):
        drive(mode, loop_on(ManualClock(), on=ConnectionError), script)
    assert 1 == script.calls


def test_base_exceptions_propagate_even_with_a_catch_all_predicate(mode: str) -> None:
    script = Script(KeyboardInterrupt())
    with pytest.raises(KeyboardInterrupt):
        drive(mode, loop_on(ManualClock(), on=lambda _: True), script)
    assert 1 == script.calls


def test_the_deadline_bounds_the_loop(mode: str) -> None:
    clock = ManualClock()
    loop = loop_on(clock, on=TimeoutError, attempts=None, deadline=3, jitter="none", wait_initial=1)
    script = Script(TimeoutError(), clock=clock, cost=0.5)
    with pytest.raises(TimeoutError):
        drive(mode, loop, script)
    # t=0.5 fail, wait 1; t=2 fail, a 2 s wait would end past 3: stop.
    assert (2, [1.0]) == (script.calls, clock.sleeps)


def test_a_loop_object_can_be_reused_with_fresh_attempts(mode: str) -> None:
    clock = ManualClock()
    loop = loop_on(clock, on=ConnectionError, attempts=2)
    assert ("a", 2) == drive(mode, loop, Script(ConnectionError(), "a"))
    assert ("b", 2) == drive(mode, loop, Script(ConnectionError(), "b"))


def test_attempts_not_used_as_context_managers_end_the_loop() -> None:
    seen = [attempt.number for attempt in retrying(on=ConnectionError)]
    assert [1] == seen


def test_the_attempt_iterators_are_their_own_iterators() -> None:
    loop = retrying(on=ConnectionError)
    attempts = iter(loop)
    async_attempts = aiter(loop)
    assert (attempts, async_attempts) == (iter(attempts), aiter(async_attempts))


def test_reprs_name_the_loop_and_the_attempt() -> None:
    loop = retrying(on=ConnectionError, name="stock")
    attempt = next(iter(loop))
    assert ("<RetryLoop stock>", "<Attempt number=1>") == (repr(loop), repr(attempt))
    assert isinstance(attempt, Attempt)


def test_loop_arguments_are_checked_like_the_decorator() -> None:
    with pytest.raises(ValueError, match="attempts"):
        retrying(on=ConnectionError, attempts=0)


@pytest.mark.parametrize("failures", [1, 3])
def test_the_loop_leaves_no_reference_cycles_behind(failures: int) -> None:
    def block() -> None:
        for attempt in retrying(on=ConnectionError, attempts=3, wait_initial=0):
            with attempt:
                if attempt.number <= failures:
                    raise ConnectionError  # fresh each time: unreachable once handled

    gc.collect()
    gc.disable()
    try:
        for _ in range(20):
            with contextlib.suppress(ConnectionError):
                block()
        leaked = gc.collect()
    finally:
        gc.enable()
    assert 0 == leaked

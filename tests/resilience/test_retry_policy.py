"""The retry policy: one frozen, validated configuration behind ``retry`` and ``retrying``."""

from __future__ import annotations

import asyncio
import dataclasses
from datetime import timedelta
from typing import Any

import pytest

import commerce_kit
import commerce_kit.resilience
import commerce_kit.typing
from commerce_kit import (
    CommerceKitError,
    NonIdempotentRetryError,
    RetryBudget,
    RetryPolicy,
    retry,
    retrying,
)
from commerce_kit.resilience import Jitter, retry_after_hint
from commerce_kit.testing import ManualClock
from tests.resilience.test_retry import Script, needs_notes


def test_options_are_kept_normalised() -> None:
    hook = print
    policy = RetryPolicy(
        on=ConnectionError,
        deadline=timedelta(seconds=5),
        wait_initial=timedelta(milliseconds=200),
        wait_max=3,
        wait_exp_base=3,
        jitter="equal",
        max_hint=timedelta(seconds=1),
        hooks=[hook],
    )
    expected = ((ConnectionError,), 5.0, 0.2, 3.0, 3.0, Jitter.EQUAL, 1.0, (hook,))
    actual = (
        policy.on,
        policy.deadline,
        policy.wait_initial,
        policy.wait_max,
        policy.wait_exp_base,
        policy.jitter,
        policy.max_hint,
        policy.hooks,
    )
    assert expected == actual
    assert isinstance(policy.wait_max, float)


def test_defaults_are_the_documented_ones() -> None:
    policy = RetryPolicy(on=ConnectionError)
    assert (3, None, 0.1, 5.0, 2.0, Jitter.FULL, None, True, ()) == (
        policy.attempts,
        policy.deadline,
        policy.wait_initial,
        policy.wait_max,
        policy.wait_exp_base,
        policy.jitter,
        policy.max_hint,
        policy.idempotent,
        policy.hooks,
    )
    assert retry_after_hint is policy.hint


def test_a_predicate_is_kept_as_the_predicate() -> None:
    def transient(error: Exception) -> bool:
        return isinstance(error, OSError)

    assert transient is RetryPolicy(on=transient).on


def test_a_policy_cannot_be_changed() -> None:
    policy = RetryPolicy(on=ConnectionError)
    with pytest.raises(dataclasses.FrozenInstanceError):
        policy.attempts = 5  # type: ignore[misc]


def test_replace_derives_a_variant_and_validates_it_again() -> None:
    policy = RetryPolicy(on=ConnectionError, deadline=5)
    assert (6, 5.0) == (dataclasses.replace(policy, attempts=6).attempts, policy.deadline)
    assert 3 == policy.attempts
    with pytest.raises(ValueError, match="attempts"):
        dataclasses.replace(policy, attempts=0)


def test_policies_with_the_same_options_are_equal() -> None:
    assert RetryPolicy(on=ConnectionError, deadline=5) == RetryPolicy(
        on=(ConnectionError,), deadline=timedelta(seconds=5)
    )
    assert RetryPolicy(on=ConnectionError) != RetryPolicy(on=ConnectionError, attempts=4)


def test_one_policy_decorates_several_functions_and_a_block() -> None:
    clock = ManualClock()
    policy = RetryPolicy(on=ConnectionError, jitter="none", clock=clock, sleep=clock.sleep)
    first = policy.decorate(Script(ConnectionError(), "a"))
    second = policy.decorate(Script(ConnectionError(), "b"), name="second")
    assert ("a", "b") == (first(), second())
    block = Script(ConnectionError(), "c")
    for attempt in policy.retrying(name="block"):
        with attempt:
            result = block()
    assert ("c", [0.1, 0.1, 0.1]) == (result, clock.sleeps)


def test_decorate_is_a_bare_decorator_for_async_functions_too() -> None:
    clock = ManualClock()
    policy = RetryPolicy(on=ConnectionError, clock=clock, asleep=clock.asleep)
    script = Script(ConnectionError(), 7)

    @policy.decorate
    async def reserve() -> object:
        return script()

    assert 7 == asyncio.run(reserve())
    assert 2 == script.calls


def test_retry_is_the_policy_s_decorator() -> None:
    clock = ManualClock()
    options: dict[str, Any] = {"jitter": "none", "clock": clock, "sleep": clock.sleep}
    by_function = retry(on=ConnectionError, **options)(Script(ConnectionError(), "ok"))
    by_policy = RetryPolicy(on=ConnectionError, **options).decorate(Script(ConnectionError(), "ok"))
    assert by_function() == by_policy()
    assert [0.1, 0.1] == clock.sleeps


@pytest.mark.parametrize("build", [retry, retrying, RetryPolicy])
def test_an_unknown_option_is_refused(build: Any) -> None:
    with pytest.raises(TypeError, match="unknown retry option 'atempts'"):
        build(on=ConnectionError, atempts=3)


def test_a_block_cannot_be_retried_under_a_non_idempotent_policy() -> None:
    with pytest.raises(ValueError, match="idempotency key"):
        retrying(on=ConnectionError, idempotent=False)
    policy = RetryPolicy(on=ConnectionError, idempotent=False)
    with pytest.raises(ValueError, match="idempotency key"):
        policy.retrying()


@pytest.mark.parametrize(
    ("options", "match"),
    [
        ({"attempts": "3"}, "attempts must be an int"),
        ({"attempts": 3.0}, "attempts must be an int"),
        ({"attempts": True}, "attempts must be an int"),
        ({"deadline": "5"}, "deadline"),
        ({"wait_max": "1"}, "wait_max"),
        ({"wait_exp_base": "2"}, "wait_exp_base must be a number"),
        ({"wait_exp_base": True}, "wait_exp_base must be a number"),
        ({"jitter": 3}, "jitter must be a Jitter"),
        ({"hint": 3}, "hint must be a callable or None"),
        ({"budget": object()}, "budget must be a RetryBudget"),
        ({"idempotent": 0}, "idempotent must be a bool"),
        ({"idempotent": False, "idempotency_key": "order-1"}, "idempotency_key must be"),
        ({"hooks": print}, "put a single hook in a list"),
        ({"hooks": 3}, "hooks must be an iterable"),
        ({"hooks": ["log"]}, "each hook must be a callable"),
        ({"clock": 0.0}, "clock must be a callable"),
        ({"sleep": None}, "sleep must be a callable"),
        ({"asleep": None}, "asleep must be a callable"),
        ({"random": 0.5}, "random must be a callable"),
    ],
)
def test_a_wrong_type_is_a_type_error(options: dict[str, Any], match: str) -> None:
    with pytest.raises(TypeError, match=match):
        RetryPolicy(on=ConnectionError, **options)


def test_a_budget_is_accepted() -> None:
    budget = RetryBudget()
    assert budget is RetryPolicy(on=ConnectionError, budget=budget).budget


@needs_notes
def test_an_error_whose_notes_are_not_a_list_is_re_raised_unchanged() -> None:
    error = ConnectionError("down")
    error.__notes__ = ("set by someone else",)  # type: ignore[attr-defined]
    with pytest.raises(ConnectionError) as caught:
        retry(on=ConnectionError, attempts=1)(Script(error))()
    assert error is caught.value
    assert ("set by someone else",) == getattr(error, "__notes__", None)


# -- names that went away ------------------------------------------------------------------------


def test_retry_error_is_gone_and_the_idempotency_error_derives_from_the_root() -> None:
    assert not hasattr(commerce_kit, "RetryError")
    assert (CommerceKitError, ValueError) == NonIdempotentRetryError.__bases__


def test_exception_matcher_replaces_retry_on() -> None:
    assert "ExceptionMatcher" in commerce_kit.typing.__all__
    assert "RetryOn" not in commerce_kit.resilience.__all__
    assert not hasattr(commerce_kit.resilience, "RetryOn")


def test_the_retry_logger_is_commerce_kit_retry(caplog: pytest.LogCaptureFixture) -> None:
    def broken(event: object) -> None:
        raise RuntimeError(event)

    with caplog.at_level("ERROR", logger="commerce_kit.retry"), pytest.raises(ConnectionError):
        retry(on=ConnectionError, attempts=1, hooks=[broken])(Script(ConnectionError()))()
    assert ["commerce_kit.retry"] == [record.name for record in caplog.records]

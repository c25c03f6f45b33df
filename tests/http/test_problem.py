"""RFC 9457 problem documents: any failure becomes a safe, valid JSON answer."""

from __future__ import annotations

import dataclasses
import json
import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from commerce_kit import (
    CircuitBreaker,
    CircuitOpenError,
    CommerceKitError,
    OutOfStockError,
    RateLimitExceeded,
)
from commerce_kit.feeds import FeedLimitError, UnknownFeedFormatError
from commerce_kit.http import (
    MEDIA_TYPE,
    PROBLEM_TYPE_BASE,
    Problem,
    problem_for,
    user_message_for,
)
from commerce_kit.payments import PaymentDeclinedError, PaymentUnavailableError
from commerce_kit.testing import ManualClock

HIGH_TRAFFIC = "System experiencing high traffic. Please try again shortly."
UNAVAILABLE = "Service Unavailable"
PAYMENT_FAILED = "Payment could not be processed. Please try again or use different payment method."


def _json(problem: Problem) -> dict[str, object]:
    decoded: dict[str, object] = json.loads(json.dumps(problem.as_dict(), allow_nan=False))
    return decoded


def test_the_media_type_is_rfc_9457s() -> None:
    assert "application/problem+json" == MEDIA_TYPE


def test_a_rate_limit_is_a_429_problem_with_a_retry_after_header() -> None:
    problem = problem_for(RateLimitExceeded("user:7 over 5/60s", retry_after=41.2), instance="/buy")
    assert {
        "type": "https://commerce-kit.dev/problems/rate-limited",
        "title": "Too Many Requests",
        "status": 429,
        "detail": "Too many requests. Please wait and try again.",
        "code": "rate_limited",
        "instance": "/buy",
        "retry_after": 41.2,
    } == _json(problem)
    assert {"Retry-After": "42"} == problem.headers


@pytest.mark.parametrize(
    ("error", "status", "title", "detail"),
    [
        (PaymentDeclinedError("card 4242 declined"), 402, "Payment Required", PAYMENT_FAILED),
        (
            PaymentUnavailableError("provider 10.0.0.7 down"),
            503,
            "Service Unavailable",
            HIGH_TRAFFIC,
        ),
        (OutOfStockError("sku-1"), 409, "Conflict", "This item is no longer available."),
        (
            CircuitOpenError("x", name="card", retry_after=3),
            503,
            "Service Unavailable",
            HIGH_TRAFFIC,
        ),
        (FeedLimitError("x"), 413, "Content Too Large", "The feed is too large."),
        (
            UnknownFeedFormatError("x"),
            415,
            "Unsupported Media Type",
            "The feed format is not supported.",
        ),
        (TimeoutError("read timed out after 30s"), 503, UNAVAILABLE, HIGH_TRAFFIC),
        (ConnectionResetError("peer 10.0.0.7"), 503, UNAVAILABLE, HIGH_TRAFFIC),
    ],
)
def test_each_failure_answers_with_its_status_title_and_sentence(
    error: BaseException, status: int, title: str, detail: str
) -> None:
    problem = problem_for(error)
    assert (status, title, detail) == (problem.status, problem.title, problem.detail)


def test_anything_else_is_a_generic_500_that_never_shows_the_exception_text() -> None:
    problem = problem_for(RuntimeError("db password is hunter2"))
    assert {
        "type": "https://commerce-kit.dev/problems/error",
        "title": "Internal Server Error",
        "status": 500,
        "detail": "Something went wrong. Please try again shortly.",
        "code": "error",
    } == _json(problem)
    assert ({}, True) == (problem.headers, "hunter2" not in json.dumps(problem.as_dict()))


def test_the_problem_agrees_with_the_user_message_catalogue() -> None:
    error = PaymentDeclinedError("x")
    answer = user_message_for(error)
    problem = problem_for(error)
    assert (answer.code, answer.message, answer.http_status) == (
        problem.code,
        problem.detail,
        problem.status,
    )


def test_the_type_uri_is_stable_per_code() -> None:
    assert [
        PROBLEM_TYPE_BASE + "payment-declined",
        PROBLEM_TYPE_BASE + "service-unavailable",
        PROBLEM_TYPE_BASE + "service-unavailable",
    ] == [
        problem_for(PaymentDeclinedError("a")).type,
        problem_for(CircuitOpenError("b", name="x", retry_after=1)).type,
        problem_for(TimeoutError()).type,
    ]


def test_a_custom_error_code_becomes_a_safe_uri_path() -> None:
    class OddError(CommerceKitError):
        code = "Odd Code/ü"

    assert PROBLEM_TYPE_BASE + "odd-code--" == problem_for(OddError("x")).type


def test_a_force_opened_breaker_is_a_503_without_retry_after_and_valid_json() -> None:
    breaker = CircuitBreaker("card", clock=ManualClock())
    breaker.force_open()
    with pytest.raises(CircuitOpenError) as caught:
        breaker.call(lambda: None)
    assert math.isinf(caught.value.retry_after)
    problem = problem_for(caught.value)
    assert (503, {}, None) == (problem.status, problem.headers, problem.retry_after)
    assert "retry_after" not in _json(problem)


@pytest.mark.parametrize("retry_after", [math.inf, math.nan, -math.inf])
def test_a_problem_built_with_an_unknown_delay_leaves_it_out(retry_after: float) -> None:
    problem = Problem(
        type=PROBLEM_TYPE_BASE + "x",
        title="Service Unavailable",
        status=503,
        detail="d",
        code="x",
        retry_after=retry_after,
    )
    assert ({}, False) == (problem.headers, "retry_after" in _json(problem))


def test_a_problem_is_a_frozen_value() -> None:
    problem = problem_for(OutOfStockError("x"))
    with pytest.raises(dataclasses.FrozenInstanceError):
        problem.status = 200  # type: ignore[misc]


@given(
    retry_after=st.one_of(
        st.none(), st.floats(allow_nan=True, allow_infinity=True), st.integers(-(10**400), 10**400)
    ),
    message=st.text(max_size=50),
)
def test_every_rate_limit_problem_is_valid_json_with_a_sane_header(
    retry_after: float | None, message: str
) -> None:
    error = RateLimitExceeded(message, retry_after=0.0)
    error.retry_after = retry_after  # type: ignore[assignment]
    problem = problem_for(error)
    body = _json(problem)
    assert "Too many requests. Please wait and try again." == body["detail"]
    header = problem.headers.get("Retry-After")
    if header is not None:
        assert header.isdigit()
        assert int(header) >= 1
        assert "retry_after" in body

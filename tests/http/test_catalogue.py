"""The user-facing catalogue: U1's exact words, a status for every error, no leaked detail."""

from __future__ import annotations

import json
import math

import pytest

from commerce_kit import (
    CircuitBreaker,
    CircuitOpenError,
    CommerceKitError,
    OutOfStockError,
    RateLimitExceeded,
)
from commerce_kit.feeds import FeedLimitError
from commerce_kit.http import HTTP_STATUS, UserMessage, user_message_for
from commerce_kit.payments import (
    PaymentDeclinedError,
    PaymentUnavailableError,
    UnknownPaymentMethodError,
)
from commerce_kit.testing import ManualClock

U1 = {
    "rate limit": "Too many requests. Please wait and try again.",
    "payment failure": (
        "Payment could not be processed. Please try again or use different payment method."
    ),
    "out of stock": "This item is no longer available.",
    "service unavailable": "System experiencing high traffic. Please try again shortly.",
}
GENERIC = "Something went wrong. Please try again shortly."


def _all_errors() -> list[type[CommerceKitError]]:
    found: list[type[CommerceKitError]] = []
    todo: list[type[CommerceKitError]] = [CommerceKitError]
    while todo:
        kind = todo.pop()
        found.append(kind)
        todo.extend(kind.__subclasses__())
    return found


def _instance(kind: type[CommerceKitError]) -> CommerceKitError:
    if kind is RateLimitExceeded:
        return RateLimitExceeded("detail", retry_after=1.0)
    if kind is CircuitOpenError:
        return CircuitOpenError("detail", name="card", retry_after=1.0)
    try:
        return kind("technical detail: card 4242 at host 10.0.0.7")
    except TypeError:
        pytest.skip(f"{kind.__name__} needs more arguments")


def _forced_open_error() -> CircuitOpenError:
    breaker = CircuitBreaker("card", clock=ManualClock())
    breaker.force_open()
    with pytest.raises(CircuitOpenError) as caught:
        breaker.call(lambda: None)
    return caught.value


def test_u1_messages_word_for_word() -> None:
    actual = {
        "rate limit": user_message_for(RateLimitExceeded("x", retry_after=3)).message,
        "payment failure": user_message_for(PaymentDeclinedError("x")).message,
        "out of stock": user_message_for(OutOfStockError("sku-1 sold out")).message,
        "service unavailable": user_message_for(
            CircuitOpenError("x", name="card", retry_after=3)
        ).message,
    }
    assert U1 == actual


def test_an_outage_that_outlasts_the_retries_reads_as_high_traffic_not_as_payment() -> None:
    answer = user_message_for(PaymentUnavailableError("provider down after 3 attempts"))
    assert (503, U1["service unavailable"]) == (answer.http_status, answer.message)


def test_each_u1_status_speaks_with_one_sentence() -> None:
    """Every error answering 402, 409, 429 or 503 says that status's one sentence."""
    by_status: dict[int, set[str]] = {}
    kinds: list[type[BaseException]] = [*_all_errors(), TimeoutError, ConnectionError]
    for kind in kinds:
        answer = user_message_for(kind.__new__(kind))
        by_status.setdefault(answer.http_status, set()).add(answer.message)
    assert {
        402: {U1["payment failure"]},
        409: {U1["out of stock"]},
        429: {U1["rate limit"]},
        503: {U1["service unavailable"]},
        500: {GENERIC},
    } == {status: by_status[status] for status in (402, 409, 429, 503, 500)}


def test_the_sentences_have_one_home_the_catalogue() -> None:
    assert [] == [kind.__name__ for kind in _all_errors() if hasattr(kind, "user_message")]


@pytest.mark.parametrize("kind", _all_errors(), ids=lambda k: k.__name__)
def test_every_error_maps_to_its_own_code_and_plain_words(kind: type[CommerceKitError]) -> None:
    error = _instance(kind)
    answer = user_message_for(error)
    assert kind.code == answer.code
    assert 400 <= answer.http_status <= 599
    assert answer.message.endswith(".")
    assert "4242" not in answer.message
    assert "10.0.0.7" not in answer.message


@pytest.mark.parametrize(
    ("error", "status", "code"),
    [
        (RateLimitExceeded("x", retry_after=2.5), 429, "rate_limited"),
        (CircuitOpenError("x", name="card", retry_after=30), 503, "service_unavailable"),
        (PaymentDeclinedError("x"), 402, "payment_declined"),
        (PaymentUnavailableError("x"), 503, "payment_unavailable"),
        (OutOfStockError("x"), 409, "out_of_stock"),
        (UnknownPaymentMethodError("x"), 400, "payment_unknown_method"),
        (FeedLimitError("x"), 413, "feed_limit"),
        (TimeoutError("read timed out"), 503, "service_unavailable"),
        (ConnectionRefusedError("refused"), 503, "service_unavailable"),
        (KeyError("secret-token"), 500, "error"),
        (KeyboardInterrupt(), 500, "error"),
    ],
)
def test_status_and_code(error: BaseException, status: int, code: str) -> None:
    answer = user_message_for(error)
    assert (status, code) == (answer.http_status, answer.code)


def test_an_unexpected_exception_shows_the_generic_message_only() -> None:
    answer = user_message_for(RuntimeError("db password is hunter2"))
    assert UserMessage("error", GENERIC, 500) == answer
    assert "hunter2" not in str(answer.as_dict())


def test_builtin_timeouts_read_as_service_unavailable() -> None:
    assert U1["service unavailable"] == user_message_for(TimeoutError()).message


def test_retry_after_becomes_a_whole_second_header_and_a_body_field() -> None:
    answer = user_message_for(RateLimitExceeded("x", retry_after=41.2))
    assert {"Retry-After": "42"} == answer.headers
    assert {"error": "rate_limited", "message": U1["rate limit"], "retry_after": 41.2} == (
        answer.as_dict()
    )


def test_no_retry_hint_means_no_header() -> None:
    answer = user_message_for(PaymentUnavailableError("x"))
    assert ({}, {"error": "payment_unavailable", "message": U1["service unavailable"]}) == (
        answer.headers,
        answer.as_dict(),
    )


def test_provider_retry_hint_is_passed_on() -> None:
    assert 7.0 == user_message_for(PaymentUnavailableError("x", retry_after=7.0)).retry_after


def test_a_boolean_retry_after_is_not_a_hint() -> None:
    error = PaymentUnavailableError("x")
    error.retry_after = True
    assert user_message_for(error).retry_after is None


def test_a_force_opened_breaker_has_no_retry_hint_and_a_valid_json_body() -> None:
    answer = user_message_for(_forced_open_error())
    assert (503, None, {}) == (answer.http_status, answer.retry_after, answer.headers)
    assert {"error": "service_unavailable", "message": U1["service unavailable"]} == json.loads(
        json.dumps(answer.as_dict(), allow_nan=False)
    )


@pytest.mark.parametrize("retry_after", [math.inf, -math.inf, math.nan, 10**400])
def test_an_unknown_delay_is_no_header_and_no_body_field(retry_after: float) -> None:
    answer = UserMessage("x", "y", 503, retry_after)
    assert ({}, {"error": "x", "message": "y"}) == (answer.headers, answer.as_dict())
    json.dumps(answer.as_dict(), allow_nan=False)


def test_the_status_table_is_read_only() -> None:
    with pytest.raises(TypeError):
        HTTP_STATUS[ValueError] = 400  # type: ignore[index]


@pytest.mark.parametrize(
    ("retry_after", "header"), [(30.000000000000004, "30"), (29.2, "30"), (0.0, "1"), (-1.0, "1")]
)
def test_retry_after_header_rounds_up_to_at_least_a_second_ignoring_float_noise(
    retry_after: float, header: str
) -> None:
    assert {"Retry-After": header} == UserMessage("x", "y", 503, retry_after).headers

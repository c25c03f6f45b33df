"""Stripe-Signature verification: published vectors, malformed headers, window, replays."""

from __future__ import annotations

import hmac
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from commerce_kit import WebhookVerificationError
from commerce_kit.testing import ManualClock
from commerce_kit.typing import WebhookEvent
from commerce_kit.webhooks import (
    FailureReason,
    MemoryReplayStore,
    StripeWebhook,
    Webhook,
    WebhookRejected,
    WebhookVerified,
)
from tests.webhooks._vectors import load, params, vectors_dir

SECRET = "whsec_test_secret"
NOW = 1_700_000_000
BODY = b'{"id": "evt_1", "object": "event"}'


def stripe(secret: Any = SECRET, now: float = NOW, **kwargs: Any) -> StripeWebhook:
    kwargs.setdefault("replay_store", None)
    return StripeWebhook(secret, clock=ManualClock(now), **kwargs)


def reason_of(hook: StripeWebhook, payload: bytes | str, hdrs: Any) -> FailureReason:
    with pytest.raises(WebhookVerificationError) as caught:
        hook.verify(payload, hdrs)
    assert isinstance(caught.value.reason, FailureReason)
    return caught.value.reason


def expected_mac(secret: str, t: int, body: bytes) -> str:
    return hmac.new(secret.encode(), f"{t}.".encode() + body, "sha256").hexdigest()


@pytest.mark.parametrize("vector", params("stripe_webhooks.json", "vectors", ids="note"))
def test_published_vectors_verify_exactly_when_marked_valid(vector: dict[str, Any]) -> None:
    vectors_dir()
    hook = stripe(vector["secret"], now=vector["now"], tolerance=vector["tolerance"])
    try:
        result = hook.verify(vector["payload"].encode(), vector["header"])
    except WebhookVerificationError:
        assert not vector["valid"]
    else:
        assert (True, vector["payload"].encode()) == (vector["valid"], result)


@pytest.mark.parametrize("header", params("stripe_webhooks.json", "malformed_headers_must_reject"))
def test_published_malformed_headers_are_refused(header: str) -> None:
    vectors_dir()
    vector = load("stripe_webhooks.json")["vectors"][0]
    hook = stripe(vector["secret"], now=vector["now"])
    assert reason_of(hook, vector["payload"], header) in {
        FailureReason.MISSING_HEADER,
        FailureReason.INVALID_TIMESTAMP,
        FailureReason.TIMESTAMP_TOO_OLD,
        FailureReason.NO_MATCHING_SIGNATURE,
    }


@pytest.mark.parametrize(("tolerance", "accepted"), [(10, False), (20, True)])
def test_the_sdk_tolerance_cases_hold(tolerance: int, accepted: bool) -> None:
    inputs = load("stripe_webhooks.json")["other_sdk_inputs"]
    secret, payload = inputs["stripe-python/stripe-go secret"], inputs["stripe-python payload"]
    header = stripe(secret).sign(NOW - 15, payload)
    hook = stripe(secret, tolerance=tolerance)
    if accepted:
        assert payload.encode() == hook.verify(payload, header)
    else:
        assert FailureReason.TIMESTAMP_TOO_OLD == reason_of(hook, payload, header)


def test_sign_writes_t_and_one_hex_v1_per_secret() -> None:
    other = "whsec_other"
    expected = f"t={NOW},v1={expected_mac(SECRET, NOW, BODY)},v1={expected_mac(other, NOW, BODY)}"
    assert expected == stripe([SECRET, other]).sign(NOW, BODY)


def test_sign_headers_names_the_stripe_header() -> None:
    assert {"Stripe-Signature": stripe().sign(None, BODY)} == stripe().sign_headers(NOW, BODY)


@given(body=st.binary(max_size=200), offset=st.integers(-300, 300))
def test_what_we_sign_we_verify(body: bytes, offset: int) -> None:
    assert body == stripe().verify(body, stripe().sign_headers(NOW + offset, body))


def test_the_whsec_prefix_is_part_of_the_key() -> None:
    bare = stripe(SECRET.removeprefix("whsec_")).sign(NOW, BODY)
    assert FailureReason.NO_MATCHING_SIGNATURE == reason_of(stripe(), BODY, bare)


@pytest.mark.parametrize("name", ["Stripe-Signature", "stripe-signature", "STRIPE-SIGNATURE"])
def test_the_header_is_found_in_any_case(name: str) -> None:
    assert BODY == stripe().verify(BODY, {name: stripe().sign(NOW, BODY), "Other": "x"})


@pytest.mark.parametrize("hdrs", [{}, {"Stripe-Signature": ""}, ""])
def test_a_missing_header_is_refused(hdrs: Any) -> None:
    assert FailureReason.MISSING_HEADER == reason_of(stripe(), BODY, hdrs)


def test_a_repeated_t_is_refused() -> None:
    header = stripe().sign(NOW, BODY) + f",t={NOW}"
    assert FailureReason.INVALID_TIMESTAMP == reason_of(stripe(), BODY, header)


def test_only_v1_entries_count() -> None:
    mac = expected_mac(SECRET, NOW, BODY)
    header = f"t={NOW},v0={mac},v2={mac},v1=x\u00e9"
    assert FailureReason.NO_MATCHING_SIGNATURE == reason_of(stripe(), BODY, header)


@pytest.mark.parametrize(
    ("offset", "reason"),
    [(300, None), (301, FailureReason.TIMESTAMP_TOO_OLD), (-301, FailureReason.TIMESTAMP_TOO_NEW)],
)
def test_the_window_is_checked_both_ways(offset: int, reason: FailureReason | None) -> None:
    header = stripe().sign(NOW - offset, BODY)
    if reason is None:
        assert BODY == stripe().verify(BODY, header)
    else:
        assert reason == reason_of(stripe(), BODY, header)


def test_without_a_tolerance_any_age_passes_and_no_guard_is_kept() -> None:
    hook = StripeWebhook(SECRET, tolerance=None, clock=ManualClock(NOW * 2))
    header = hook.sign(1, BODY)
    assert (None, None, BODY, BODY) == (
        hook.tolerance,
        hook.replay_store,
        hook.verify(BODY, header),
        hook.verify(BODY, header),
    )


def test_a_replay_store_without_a_tolerance_is_refused() -> None:
    with pytest.raises(ValueError, match="needs a tolerance"):
        StripeWebhook(SECRET, tolerance=None, replay_store=MemoryReplayStore())


def test_the_same_request_twice_is_a_replay_but_a_re_signed_retry_is_not() -> None:
    clock = ManualClock(NOW)
    hook = StripeWebhook(SECRET, clock=clock)
    header = hook.sign(NOW, BODY)
    hook.verify(BODY, header)
    replayed = reason_of(hook, BODY, header)
    clock.advance(60)
    assert (FailureReason.REPLAYED, BODY) == (replayed, hook.verify(BODY, hook.sign(None, BODY)))


def test_a_replay_is_caught_whichever_rotated_secret_signed_it() -> None:
    old, new = "whsec_old", "whsec_new"
    hook = StripeWebhook([new, old], clock=ManualClock(NOW))
    hook.verify(BODY, stripe(old).sign(NOW, BODY))
    assert FailureReason.REPLAYED == reason_of(hook, BODY, stripe(new).sign(NOW, BODY))


def test_hooks_see_stripe_events_without_an_id() -> None:
    events: list[WebhookEvent] = []
    hook = stripe(hooks=[events.append])
    hook.verify(BODY, hook.sign(NOW, BODY))
    reason_of(hook, BODY, "t=1")
    assert [
        WebhookVerified("stripe", None, NOW),
        WebhookRejected("stripe", FailureReason.TIMESTAMP_TOO_OLD, None),
    ] == events


def test_a_str_payload_is_verified_as_its_utf8() -> None:
    text = '{"name": "café"}'
    assert text.encode() == stripe().verify(text, stripe().sign(NOW, text.encode()))


def test_repr_never_shows_a_secret() -> None:
    assert "test_secret" not in repr(StripeWebhook(SECRET))


@pytest.mark.parametrize(
    ("secret", "error"), [("", ValueError), (b"", ValueError), (1, TypeError), ([1], TypeError)]
)
def test_unusable_secrets_are_refused(secret: Any, error: type[Exception]) -> None:
    with pytest.raises(error, match="secret"):
        StripeWebhook(secret)


def test_raw_bytes_secret_equals_its_text() -> None:
    assert stripe(SECRET.encode()).sign(NOW, BODY) == stripe().sign(NOW, BODY)


def test_standard_webhooks_headers_are_not_stripe_headers() -> None:
    std = Webhook("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", replay_store=None)
    hdrs = std.sign_headers("msg_1", NOW, BODY)
    assert FailureReason.MISSING_HEADER == reason_of(stripe(), BODY, hdrs)

"""Standard Webhooks: published vectors, tampering, the clock window, rotation, replays, hooks."""

from __future__ import annotations

import base64
import hmac
import logging
from collections.abc import Iterator, Mapping
from datetime import timedelta
from types import MappingProxyType
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from commerce_kit import CommerceKitError, WebhookVerificationError
from commerce_kit.http import user_message_for
from commerce_kit.testing import ManualClock
from commerce_kit.typing import WebhookEvent
from commerce_kit.webhooks import (
    FailureReason,
    MemoryReplayStore,
    StripeWebhook,
    Webhook,
    WebhookRejected,
    WebhookVerified,
    generate_secret,
)
from tests.webhooks._vectors import load, params, vectors_dir

# The canonical known-answer vector of the scheme (the same in every reference library's tests).
SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
MSG_ID = "msg_p5jXN8AQM9LWM0D4loKWxJek"
TS = 1614265330
PAYLOAD = b'{"test": 2432232314}'
SIGNATURE = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="


def headers(msg_id: str = MSG_ID, ts: str = str(TS), sig: str = SIGNATURE) -> dict[str, str]:
    return {"webhook-id": msg_id, "webhook-timestamp": ts, "webhook-signature": sig}


def webhook(secret: Any = SECRET, now: float = TS, **kwargs: Any) -> Webhook:
    kwargs.setdefault("replay_store", None)
    return Webhook(secret, clock=ManualClock(now), **kwargs)


def reason_of(hook: Webhook, payload: bytes | str, hdrs: Mapping[str, str]) -> FailureReason:
    with pytest.raises(WebhookVerificationError) as caught:
        hook.verify(payload, hdrs)
    assert isinstance(caught.value.reason, FailureReason)
    return caught.value.reason


# -- the published vectors -------------------------------------------------------------------


@pytest.mark.parametrize("vector", params("standard_webhooks.json", ids="note"))
def test_published_vectors_verify_exactly_when_marked_valid(vector: dict[str, Any]) -> None:
    vectors_dir()
    hook = webhook(vector["secret"], now=vector["timestamp"])
    hdrs = headers(vector["msg_id"], str(vector["timestamp"]), vector["signature"])
    try:
        hook.verify(vector["payload"].encode(), hdrs)
    except WebhookVerificationError as error:
        assert (False, FailureReason.NO_MATCHING_SIGNATURE) == (vector["valid"], error.reason)
    else:
        assert vector["valid"]


@pytest.mark.parametrize("vector", params("standard_webhooks.json", ids="note"))
def test_signing_reproduces_a_vector_signature_exactly_when_valid(vector: dict[str, Any]) -> None:
    vectors_dir()
    signed = webhook(vector["secret"]).sign(
        vector["msg_id"], vector["timestamp"], vector["payload"]
    )
    assert vector["valid"] == (signed in vector["signature"].split())


@pytest.mark.parametrize(
    "case", params("standard_webhooks_extra.json", "secret_normalization_cases", ids="input")
)
def test_secret_forms_that_name_the_same_key_sign_alike(case: dict[str, str]) -> None:
    vectors_dir()
    sign = [webhook(s).sign(MSG_ID, TS, PAYLOAD) for s in (case["input"], case["equivalent_to"])]
    assert sign[0] == sign[1]


@pytest.mark.parametrize("case", params("standard_webhooks_extra.json", "secret_errors"))
def test_empty_secrets_from_the_vectors_are_refused(case: dict[str, str]) -> None:
    vectors_dir()
    with pytest.raises(ValueError, match="empty"):
        Webhook(case["input"])


@pytest.mark.parametrize("case", params("standard_webhooks_extra.json", "timestamp_cases"))
def test_timestamp_cases_from_the_vectors(case: dict[str, Any]) -> None:
    vectors_dir()
    now = 1_700_000_000
    hook = webhook(now=now)
    if "offset_from_now_s" in case:
        ts = now + case["offset_from_now_s"]
        hdrs = hook.sign_headers(MSG_ID, ts, PAYLOAD)
        expected = {
            "accept": None,
            "reject (too old)": FailureReason.TIMESTAMP_TOO_OLD,
            "reject (too new)": FailureReason.TIMESTAMP_TOO_NEW,
        }[case["expect"]]
        actual = None if expected is None else reason_of(hook, PAYLOAD, hdrs)
        if expected is None:
            assert PAYLOAD == hook.verify(PAYLOAD, hdrs)
        assert expected == actual
    elif "header_value" in case:
        hdrs = headers(ts=case["header_value"])
        assert FailureReason.INVALID_TIMESTAMP == reason_of(hook, PAYLOAD, hdrs)
    elif "sign_timestamp" in case:
        raw = case["sign_timestamp"]
        value: object = int(raw) if raw.lstrip("-").isdigit() else raw
        with pytest.raises((TypeError, ValueError), match="timestamp"):
            hook.sign(MSG_ID, value, PAYLOAD)  # type: ignore[arg-type]
    else:
        assert "note" in case


@pytest.mark.parametrize(
    "name",
    [pytest.param(n, id=n) for n in ("webhook-id", "webhook-timestamp", "webhook-signature")],
)
def test_each_missing_header_named_in_the_vectors_is_refused(name: str) -> None:
    listed = load("standard_webhooks_extra.json")["missing_header_cases"]
    hdrs = headers()
    del hdrs[name]
    assert (True, FailureReason.MISSING_HEADER) == (
        name in listed,
        reason_of(webhook(), PAYLOAD, hdrs),
    )


def test_an_empty_payload_signs_and_verifies() -> None:
    note = load("standard_webhooks_extra.json")["empty_payload_note"]
    hook = webhook()
    assert ("''" in note, b"") == (True, hook.verify(b"", hook.sign_headers(MSG_ID, TS, b"")))


# -- behaviour without the shared vectors ----------------------------------------------------


def test_the_known_answer_vector_signs_and_verifies() -> None:
    hook = webhook()
    assert (SIGNATURE, PAYLOAD) == (hook.sign(MSG_ID, TS, PAYLOAD), hook.verify(PAYLOAD, headers()))


def test_verify_returns_the_bytes_object_it_was_given() -> None:
    body = bytes(PAYLOAD)
    assert body is webhook().verify(body, headers())


def test_verify_returns_a_str_payload_as_its_utf8() -> None:
    assert PAYLOAD == webhook().verify(PAYLOAD.decode(), headers())


def test_sign_headers_carries_the_three_headers() -> None:
    expected = {"webhook-id": MSG_ID, "webhook-timestamp": str(TS), "webhook-signature": SIGNATURE}
    assert expected == webhook().sign_headers(MSG_ID, TS, PAYLOAD)


def test_a_missing_timestamp_means_now_from_the_clock() -> None:
    hook = webhook(now=TS + 0.9)
    assert str(TS) == hook.sign_headers(MSG_ID, None, PAYLOAD)["webhook-timestamp"]


def test_raw_key_bytes_are_used_as_the_key() -> None:
    raw = base64.b64decode(SECRET.removeprefix("whsec_"))
    assert SIGNATURE == webhook(raw).sign(MSG_ID, TS, PAYLOAD)


def test_a_secret_with_surrounding_whitespace_is_the_same_secret() -> None:
    assert SIGNATURE == webhook(f"  {SECRET}\n").sign(MSG_ID, TS, PAYLOAD)


@pytest.mark.parametrize("secret", ["whsec_not base64!", "whsec_abcde", "whsec_ab-_"])
def test_a_secret_that_is_not_base64_is_refused_without_quoting_it(secret: str) -> None:
    with pytest.raises(ValueError, match="not base64") as caught:
        Webhook(secret)
    assert secret.removeprefix("whsec_") not in str(caught.value)


@pytest.mark.parametrize("secret", [b"", [], ()])
def test_no_key_material_is_refused(secret: Any) -> None:
    with pytest.raises(ValueError, match=r"empty|at least one"):
        Webhook(secret)


def test_a_secret_of_another_type_is_refused() -> None:
    with pytest.raises(TypeError, match="str or bytes"):
        Webhook([123])  # type: ignore[list-item]


def test_repr_never_shows_a_secret() -> None:
    text = repr(Webhook([SECRET, generate_secret()]))
    assert ("2 secret(s) hidden", False) == (
        text[text.index("<") + 1 : text.index(">")],
        "MfKQ9r8" in text,
    )


def test_generated_secrets_are_random_and_well_formed() -> None:
    first, second = generate_secret(), generate_secret(48)
    decoded = base64.b64decode(second.removeprefix("whsec_"), validate=True)
    assert (True, 48, False) == (first.startswith("whsec_"), len(decoded), first == second)


@pytest.mark.parametrize("size", [23, 65])
def test_generated_secret_size_stays_within_the_scheme(size: int) -> None:
    with pytest.raises(ValueError, match=r"24\.\.64"):
        generate_secret(size)


@pytest.mark.parametrize("msg_id", ["", "a.b", "has space", "new\nline", "naïve"])
def test_sign_refuses_ids_a_header_or_the_scheme_cannot_carry(msg_id: str) -> None:
    with pytest.raises(ValueError, match="msg_id"):
        webhook().sign(msg_id, TS, PAYLOAD)


@pytest.mark.parametrize(("ts", "error"), [(-1, ValueError), (1.5, TypeError), (True, TypeError)])
def test_sign_refuses_a_timestamp_that_is_not_unix_seconds(ts: Any, error: type[Exception]) -> None:
    with pytest.raises(error, match="timestamp"):
        webhook().sign(MSG_ID, ts, PAYLOAD)


def test_verify_accepts_ids_with_dots_from_other_senders() -> None:
    key = base64.b64decode(SECRET.removeprefix("whsec_"))
    mac = hmac.digest(key, f"evt.1.{TS}.".encode() + PAYLOAD, "sha256")
    hdrs = headers(msg_id="evt.1", sig="v1," + base64.b64encode(mac).decode())
    assert PAYLOAD == webhook().verify(PAYLOAD, hdrs)


def test_the_error_is_a_commerce_kit_value_error_with_code_and_user_message() -> None:
    with pytest.raises(WebhookVerificationError) as caught:
        webhook().verify(PAYLOAD, headers(sig="v1,AAAA"))
    error = caught.value
    assert (True, True, "webhook_invalid", "The webhook could not be verified.") == (
        isinstance(error, CommerceKitError),
        isinstance(error, ValueError),
        error.code,
        user_message_for(error).message,
    )


def test_the_reason_compares_equal_to_its_plain_string() -> None:
    assert "no_matching_signature" == reason_of(webhook(), PAYLOAD, headers(sig="v1,AAAA"))


# -- headers -----------------------------------------------------------------------------------


class Headers(Mapping[str, str]):
    """A read-only mapping that is not a dict, as web frameworks hand out."""

    def __init__(self, items: dict[str, str]) -> None:
        self._items = items

    def __getitem__(self, key: str) -> str:
        return self._items[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self._items)

    def __len__(self) -> int:
        return len(self._items)


@pytest.mark.parametrize(
    "wrap",
    [
        pytest.param(lambda h: {k.upper(): v for k, v in h.items()}, id="upper"),
        pytest.param(lambda h: {k.title(): v for k, v in h.items()}, id="title"),
        pytest.param(MappingProxyType, id="mappingproxy"),
        pytest.param(lambda h: Headers({k.title(): v for k, v in h.items()}), id="mapping"),
    ],
)
def test_header_names_match_in_any_case_in_any_mapping(wrap: Any) -> None:
    assert PAYLOAD == webhook().verify(PAYLOAD, wrap(headers()))


@pytest.mark.parametrize("name", ["webhook-id", "webhook-timestamp", "webhook-signature"])
def test_an_empty_header_counts_as_missing_and_is_named(name: str) -> None:
    hdrs = headers()
    hdrs[name] = ""
    with pytest.raises(WebhookVerificationError, match=name) as caught:
        webhook().verify(PAYLOAD, hdrs)
    assert FailureReason.MISSING_HEADER == caught.value.reason


@pytest.mark.parametrize(
    "raw", ["1614265330.0", "-1614265330", "+1614265330", " 1614265330", "١٢٣", "9" * 13]
)
def test_a_timestamp_that_is_not_plain_digits_is_refused(raw: str) -> None:
    assert FailureReason.INVALID_TIMESTAMP == reason_of(webhook(), PAYLOAD, headers(ts=raw))


# -- tampering ---------------------------------------------------------------------------------


@given(index=st.integers(min_value=0, max_value=len(PAYLOAD) - 1), delta=st.integers(1, 255))
def test_changing_any_payload_byte_is_refused(index: int, delta: int) -> None:
    tampered = bytearray(PAYLOAD)
    tampered[index] = (tampered[index] + delta) % 256
    assert FailureReason.NO_MATCHING_SIGNATURE == reason_of(webhook(), bytes(tampered), headers())


@given(index=st.integers(min_value=0, max_value=len(MSG_ID) - 1), char=st.characters(codec="ascii"))
def test_changing_any_id_character_is_refused(index: int, char: str) -> None:
    tampered = MSG_ID[:index] + char + MSG_ID[index + 1 :]
    if tampered == MSG_ID or not tampered.strip():
        return
    hdrs = headers(msg_id=tampered)
    assert FailureReason.NO_MATCHING_SIGNATURE == reason_of(webhook(), PAYLOAD, hdrs)


@pytest.mark.parametrize("delta", [-300, -1, 1, 300])
def test_changing_the_timestamp_within_the_window_is_refused(delta: int) -> None:
    hdrs = headers(ts=str(TS + delta))
    assert FailureReason.NO_MATCHING_SIGNATURE == reason_of(webhook(), PAYLOAD, hdrs)


@given(
    index=st.integers(min_value=3, max_value=len(SIGNATURE) - 1),
    char=st.sampled_from("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/="),
)
def test_changing_any_signature_character_is_refused(index: int, char: str) -> None:
    tampered = SIGNATURE[:index] + char + SIGNATURE[index + 1 :]
    if tampered == SIGNATURE:
        return
    hdrs = headers(sig=tampered)
    assert FailureReason.NO_MATCHING_SIGNATURE == reason_of(webhook(), PAYLOAD, hdrs)


@pytest.mark.parametrize(
    "sig",
    [
        SIGNATURE.replace("v1,", "v1a,"),
        SIGNATURE.replace("v1,", "V1,"),
        SIGNATURE.replace("v1,", "v1 "),
        SIGNATURE.replace("v1,", ""),
        SIGNATURE + "A",
        SIGNATURE.rstrip("="),
        SIGNATURE.replace("g0hM", "g0hM\u00e9"),
        "v1," + base64.b64encode(base64.b64decode(SIGNATURE[3:])[:-1]).decode(),
    ],
    ids=[
        "v1a",
        "uppercase-version",
        "space-for-comma",
        "no-version",
        "extra-char",
        "unpadded",
        "non-ascii",
        "short-mac",
    ],
)
def test_a_signature_entry_not_exactly_v1_of_the_mac_is_refused(sig: str) -> None:
    assert FailureReason.NO_MATCHING_SIGNATURE == reason_of(webhook(), PAYLOAD, headers(sig=sig))


def test_the_wrong_secret_is_refused() -> None:
    hook = webhook(generate_secret())
    assert FailureReason.NO_MATCHING_SIGNATURE == reason_of(hook, PAYLOAD, headers())


# -- the clock window ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("offset", "reason"),
    [
        (-300.0, None),
        (-300.001, FailureReason.TIMESTAMP_TOO_NEW),
        (300.0, None),
        (300.001, FailureReason.TIMESTAMP_TOO_OLD),
        (0.0, None),
    ],
)
def test_the_default_window_is_five_minutes_either_way_inclusive(
    offset: float, reason: FailureReason | None
) -> None:
    hook = webhook(now=TS + offset)
    if reason is None:
        assert PAYLOAD == hook.verify(PAYLOAD, headers())
    else:
        assert reason == reason_of(hook, PAYLOAD, headers())


@pytest.mark.parametrize("tolerance", [30, 30.0, timedelta(seconds=30)])
def test_the_tolerance_takes_seconds_or_a_timedelta(tolerance: float | timedelta) -> None:
    hook = webhook(now=TS + 31, tolerance=tolerance)
    assert (30.0, FailureReason.TIMESTAMP_TOO_OLD) == (
        hook.tolerance,
        reason_of(hook, PAYLOAD, headers()),
    )


@pytest.mark.parametrize("tolerance", [0, -1, float("nan")])
def test_a_tolerance_that_is_not_positive_is_refused(tolerance: float) -> None:
    with pytest.raises(ValueError, match="tolerance"):
        Webhook(SECRET, tolerance=tolerance)


def test_the_clock_is_checked_before_the_signature() -> None:
    hook = webhook(now=TS + 10_000)
    assert FailureReason.TIMESTAMP_TOO_OLD == reason_of(hook, PAYLOAD, headers(sig="v1,junk"))


# -- rotation ----------------------------------------------------------------------------------


def test_rotation_signs_once_per_secret_newest_first() -> None:
    new = generate_secret()
    signed = webhook([new, SECRET]).sign(MSG_ID, TS, PAYLOAD)
    assert [webhook(new).sign(MSG_ID, TS, PAYLOAD), SIGNATURE] == signed.split(" ")


@pytest.mark.parametrize("order", ["old-first", "new-first"])
def test_rotation_verifies_a_delivery_signed_with_either_secret(order: str) -> None:
    new = generate_secret()
    secrets = [SECRET, new] if order == "old-first" else [new, SECRET]
    by_new = webhook(new).sign_headers(MSG_ID, TS, PAYLOAD)
    hook = webhook(secrets)
    assert (PAYLOAD, PAYLOAD) == (hook.verify(PAYLOAD, headers()), hook.verify(PAYLOAD, by_new))


def test_a_receiver_with_only_one_secret_verifies_a_rotating_sender() -> None:
    new = generate_secret()
    hdrs = webhook([new, SECRET]).sign_headers(MSG_ID, TS, PAYLOAD)
    assert (PAYLOAD, PAYLOAD) == (
        webhook(new).verify(PAYLOAD, hdrs),
        webhook().verify(PAYLOAD, hdrs),
    )


def test_any_matching_entry_among_junk_and_unknown_versions_verifies() -> None:
    sig = f"v2,abc v1a,xyz v1,AAAA  {SIGNATURE}\tv1,BBBB"
    assert PAYLOAD == webhook().verify(PAYLOAD, headers(sig=sig))


# -- replays -----------------------------------------------------------------------------------


def test_the_default_guard_refuses_an_id_seen_within_the_window() -> None:
    hook = Webhook(SECRET, clock=ManualClock(TS))
    hook.verify(PAYLOAD, headers())
    assert FailureReason.REPLAYED == reason_of(hook, PAYLOAD, headers())


def test_a_retry_with_the_same_id_and_a_new_timestamp_is_a_replay() -> None:
    clock = ManualClock(TS)
    hook = Webhook(SECRET, clock=clock)
    hook.verify(PAYLOAD, headers())
    clock.advance(5)
    retry = hook.sign_headers(MSG_ID, TS + 5, PAYLOAD)
    assert FailureReason.REPLAYED == reason_of(hook, PAYLOAD, retry)


def test_the_id_is_remembered_while_a_replay_could_pass_the_clock_check() -> None:
    clock = ManualClock(TS - 200)
    hook = Webhook(SECRET, clock=clock)
    hook.verify(PAYLOAD, headers())
    clock.advance(500)  # now == TS + 300: the replay would still be on time
    assert FailureReason.REPLAYED == reason_of(hook, PAYLOAD, headers())


def test_a_later_retry_extends_how_long_the_id_is_remembered() -> None:
    clock = ManualClock(TS)
    hook = Webhook(SECRET, clock=clock)
    hook.verify(PAYLOAD, headers())
    clock.advance(100)
    retry = hook.sign_headers(MSG_ID, TS + 100, PAYLOAD)
    reason_of(hook, PAYLOAD, retry)
    clock.advance(250)  # past the first delivery's window, inside the retry's
    assert FailureReason.REPLAYED == reason_of(hook, PAYLOAD, retry)


def test_a_forged_delivery_never_reaches_the_replay_store() -> None:
    store = MemoryReplayStore(clock=ManualClock(TS))
    hook = Webhook(SECRET, clock=ManualClock(TS), replay_store=store)
    reason_of(hook, PAYLOAD, headers(sig="v1,forged"))
    assert (0, PAYLOAD) == (len(store), hook.verify(PAYLOAD, headers()))


def test_a_store_shared_between_verifiers_guards_them_all() -> None:
    store = MemoryReplayStore(clock=ManualClock(TS))
    first = Webhook(SECRET, clock=ManualClock(TS), replay_store=store)
    second = Webhook(SECRET, clock=ManualClock(TS), replay_store=store)
    first.verify(PAYLOAD, headers())
    assert (store, FailureReason.REPLAYED) == (
        second.replay_store,
        reason_of(second, PAYLOAD, headers()),
    )


def test_no_store_means_no_guard() -> None:
    hook = webhook(replay_store=None)
    assert (None, PAYLOAD, PAYLOAD) == (
        hook.replay_store,
        hook.verify(PAYLOAD, headers()),
        hook.verify(PAYLOAD, headers()),
    )


def test_an_unknown_replay_store_word_is_refused() -> None:
    with pytest.raises(ValueError, match="replay_store"):
        Webhook(SECRET, replay_store="redis")  # type: ignore[arg-type]


# -- hooks -------------------------------------------------------------------------------------


def test_hooks_receive_one_event_per_verification() -> None:
    events: list[WebhookEvent] = []
    hook = Webhook(SECRET, clock=ManualClock(TS), hooks=[events.append])
    hook.verify(PAYLOAD, headers())
    reason_of(hook, PAYLOAD, headers())
    reason_of(hook, PAYLOAD, {"webhook-id": "x"})
    assert [
        WebhookVerified("standard-webhooks", MSG_ID, TS),
        WebhookRejected("standard-webhooks", FailureReason.REPLAYED, MSG_ID),
        WebhookRejected("standard-webhooks", FailureReason.MISSING_HEADER, "x"),
    ] == events


def test_a_failing_hook_is_logged_and_does_not_break_verification(
    caplog: pytest.LogCaptureFixture,
) -> None:
    def broken(event: WebhookEvent) -> None:
        raise RuntimeError("instrumentation bug")

    events: list[WebhookEvent] = []
    hook = webhook(hooks=[broken, events.append])
    with caplog.at_level(logging.ERROR, logger="commerce_kit.webhooks"):
        result = hook.verify(PAYLOAD, headers())
    assert (PAYLOAD, 1, ["commerce_kit.webhooks"]) == (
        result,
        len(events),
        [record.name for record in caplog.records],
    )
    assert "MfKQ9r8" not in caplog.text


def test_no_secret_or_payload_reaches_error_messages() -> None:
    hook = webhook(now=TS)
    messages = []
    for hdrs in (headers(sig="v1,AAAA"), headers(ts="x"), {}, headers(ts=str(TS - 999))):
        with pytest.raises(WebhookVerificationError) as caught:
            hook.verify(PAYLOAD, hdrs)
        messages.append(str(caught.value))
    assert [] == [m for m in messages if "MfKQ9r8" in m or "2432232314" in m]


def test_a_long_hostile_id_is_clipped_in_the_message() -> None:
    with pytest.raises(WebhookVerificationError) as caught:
        webhook().verify(PAYLOAD, headers(msg_id="x" * 10_000))
    assert len(str(caught.value)) < 200


# -- a str payload UTF-8 cannot carry ------------------------------------------------------------

LONE_SURROGATE = '{"name": "\udcff"}'


def test_signing_refuses_a_str_payload_holding_a_lone_surrogate() -> None:
    with pytest.raises(WebhookVerificationError, match="lone surrogate") as caught:
        webhook().sign(MSG_ID, TS, LONE_SURROGATE)
    assert (FailureReason.INVALID_PAYLOAD, "U+DCFF at index 10") == (
        caught.value.reason,
        str(caught.value).split("(")[1].split(")")[0],
    )


def test_verifying_refuses_it_the_same_way_and_tells_the_hooks() -> None:
    events: list[WebhookEvent] = []
    hdrs = headers(sig=webhook().sign(MSG_ID, TS, LONE_SURROGATE.encode("utf-8", "surrogatepass")))
    hook = webhook(hooks=[events.append])
    with pytest.raises(WebhookVerificationError, match="lone surrogate") as caught:
        hook.verify(LONE_SURROGATE, hdrs)
    rejected = WebhookRejected(hook.scheme, FailureReason.INVALID_PAYLOAD, MSG_ID)
    assert (FailureReason.INVALID_PAYLOAD, [rejected]) == (caught.value.reason, events)


def test_stripe_signing_and_verifying_agree_on_a_lone_surrogate() -> None:
    stripe = StripeWebhook("whsec_test", clock=ManualClock(TS), replay_store=None)
    reasons = []
    for attempt in (
        lambda: stripe.sign(TS, LONE_SURROGATE),
        lambda: stripe.verify(LONE_SURROGATE, stripe.sign_headers(TS, b"{}")),
    ):
        with pytest.raises(WebhookVerificationError) as caught:
            attempt()
        reasons.append(caught.value.reason)
    assert [FailureReason.INVALID_PAYLOAD] * 2 == reasons

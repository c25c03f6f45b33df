"""Interoperability with the reference ``standardwebhooks`` library, both ways."""

from __future__ import annotations

import base64
import math
import string
import time
from datetime import datetime, timedelta, timezone

import pytest
from hypothesis import given
from hypothesis import strategies as st
from standardwebhooks.webhooks import Webhook as SW  # noqa: N814 - short for the reference
from standardwebhooks.webhooks import WebhookVerificationError as SWError

from commerce_kit import WebhookVerificationError
from commerce_kit.testing import ManualClock
from commerce_kit.webhooks import FailureReason, Webhook, generate_secret

# Ids as senders make them: visible ASCII, no space; ours refuses "." when signing.
IDS = st.text(alphabet=string.ascii_letters + string.digits + "_-:", min_size=1, max_size=40)
FOREIGN_IDS = st.text(
    alphabet=string.ascii_letters + string.digits + "_-:.", min_size=1, max_size=40
)
SECRETS = st.binary(min_size=24, max_size=64).map(
    lambda key: "whsec_" + base64.b64encode(key).decode()
)
TIMESTAMPS = st.integers(min_value=0, max_value=4_102_444_800)  # up to 2100-01-01
PAYLOADS = st.text(max_size=300)


def _at(ts: int) -> datetime:
    return datetime.fromtimestamp(ts, tz=timezone.utc)


@given(secret=SECRETS, msg_id=IDS, offset=st.integers(-250, 250), payload=PAYLOADS)
def test_the_reference_library_verifies_what_we_sign(
    secret: str, msg_id: str, offset: int, payload: str
) -> None:
    # The reference library reads the real wall clock, so the timestamp is near real time.
    ts = int(time.time()) + offset
    hdrs = Webhook(secret).sign_headers(msg_id, ts, payload.encode())
    assert SW(secret).verify(payload.encode(), hdrs, json_parse=False) is None


@given(secret=SECRETS, msg_id=FOREIGN_IDS, ts=TIMESTAMPS, payload=PAYLOADS)
def test_we_verify_what_the_reference_library_signs(
    secret: str, msg_id: str, ts: int, payload: str
) -> None:
    signature = SW(secret).sign(msg_id, _at(ts), payload)
    hdrs = {"webhook-id": msg_id, "webhook-timestamp": str(ts), "webhook-signature": signature}
    assert payload.encode() == Webhook(secret, clock=ManualClock(ts)).verify(payload, hdrs)


@given(secret=SECRETS, msg_id=IDS, ts=TIMESTAMPS, payload=PAYLOADS)
def test_both_sign_the_same_signature(secret: str, msg_id: str, ts: int, payload: str) -> None:
    assert SW(secret).sign(msg_id, _at(ts), payload) == Webhook(secret).sign(msg_id, ts, payload)


@given(
    secret=SECRETS,
    msg_id=IDS,
    ts=TIMESTAMPS,
    payload=PAYLOADS,
    other=st.text(min_size=1, max_size=20),
)
def test_a_body_changed_after_the_reference_signed_it_is_refused(
    secret: str, msg_id: str, ts: int, payload: str, other: str
) -> None:
    signature = SW(secret).sign(msg_id, _at(ts), payload)
    hdrs = {"webhook-id": msg_id, "webhook-timestamp": str(ts), "webhook-signature": signature}
    with pytest.raises(WebhookVerificationError) as caught:
        Webhook(secret, clock=ManualClock(ts)).verify(payload + other, hdrs)
    assert FailureReason.NO_MATCHING_SIGNATURE == caught.value.reason


def test_the_reference_library_verifies_our_rotation_header_with_either_secret() -> None:
    old, new = generate_secret(), generate_secret()
    hdrs = Webhook([new, old]).sign_headers("msg_1", int(time.time()), b"{}")
    assert [None, None] == [SW(s).verify(b"{}", hdrs, json_parse=False) for s in (old, new)]


def test_the_reference_library_refuses_what_another_secret_signed() -> None:
    hdrs = Webhook(generate_secret()).sign_headers("msg_1", int(time.time()), b"{}")
    with pytest.raises(SWError):
        SW(generate_secret()).verify(b"{}", hdrs, json_parse=False)


AWARE = st.datetimes(
    min_value=datetime(1970, 1, 2),  # noqa: DTZ001 - hypothesis bounds are naive by design
    max_value=datetime(2100, 1, 1),  # noqa: DTZ001
    timezones=st.sampled_from([timezone.utc, timezone(timedelta(hours=-8)), timezone.max]),
)


@given(secret=SECRETS, msg_id=IDS, when=AWARE, payload=PAYLOADS)
def test_an_aware_datetime_signs_as_the_reference_library_signs_it(
    secret: str, msg_id: str, when: datetime, payload: str
) -> None:
    assert SW(secret).sign(msg_id, when, payload) == Webhook(secret).sign(msg_id, when, payload)


@given(when=AWARE)
def test_sign_headers_send_the_datetime_as_whole_unix_seconds(when: datetime) -> None:
    hdrs = Webhook(generate_secret()).sign_headers("msg_1", when, b"{}")
    assert str(math.floor(when.timestamp())) == hdrs["webhook-timestamp"]


def test_a_naive_datetime_is_refused_rather_than_guessed() -> None:
    # The reference library reads a naive datetime as UTC; the machine's zone is as likely.
    with pytest.raises(ValueError, match="aware datetime"):
        Webhook(generate_secret()).sign("msg_1", datetime(2024, 1, 1), b"{}")  # noqa: DTZ001


def test_a_datetime_before_1970_is_refused() -> None:
    with pytest.raises(ValueError, match="before 1970"):
        Webhook(generate_secret()).sign("msg_1", datetime(1969, 12, 31, tzinfo=timezone.utc), b"")


def test_the_reference_library_verifies_what_we_sign_at_an_aware_datetime() -> None:
    secret = generate_secret()
    hdrs = Webhook(secret).sign_headers("msg_1", datetime.now(timezone.utc), b"{}")
    assert SW(secret).verify(b"{}", hdrs, json_parse=False) is None

"""Standard Webhooks ``v1a``: ed25519 signatures made and verified with whsk_/whpk_ keys.

The reference ``standardwebhooks`` Python package signs and verifies ``v1`` only, so ``v1a`` is
checked against the scheme's published format (``v1a,`` + base64 of the 64-byte ed25519
signature of ``{id}.{timestamp}.{body}``; keys ``whsk_`` + base64 of the 32-byte seed and
``whpk_`` + base64 of the 32-byte public key), against ``cryptography`` directly, and against the
known answer of the reference Go library's test suite.
"""

from __future__ import annotations

import base64
import subprocess
import sys
import time

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import (
    Encoding,
    NoEncryption,
    PrivateFormat,
    PublicFormat,
)
from hypothesis import given
from hypothesis import strategies as st

from commerce_kit import WebhookVerificationError
from commerce_kit.testing import ManualClock
from commerce_kit.webhooks import FailureReason, Webhook, generate_secret
from commerce_kit.webhooks._standard import MAX_V1A_ENTRIES

# The known answer in the reference Go library's asymmetric tests (TestAsymmetricWebhookSign):
# a 32-byte seed, the scheme's canonical id, timestamp and body, and the v1a entry it signs.
GO_SEED = "VEVTVFNJR05JTkdLRVlET05PVFVTRVRISVNGT1JBTlk="
MSG_ID = "msg_p5jXN8AQM9LWM0D4loKWxJek"
TS = 1614265330
PAYLOAD = b'{"test": 2432232314}'
GO_SIGNATURE = (
    "v1a,tQ9V2XOqn7jL/DQenEFpqIugdBVtiMmER5mhSkXBNwM0mkATuDe6KYYUuxqtaiHeYGb7KaaBRdM5WqyeFiL8Ag=="
)


def key_pair(seed: bytes | None = None) -> tuple[str, str, Ed25519PrivateKey]:
    private = (
        Ed25519PrivateKey.generate() if seed is None else Ed25519PrivateKey.from_private_bytes(seed)
    )
    public = private.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
    raw = private.private_bytes(Encoding.Raw, PrivateFormat.Raw, NoEncryption())
    return (
        "whsk_" + base64.b64encode(raw).decode(),
        "whpk_" + base64.b64encode(public).decode(),
        private,
    )


def public_of(secret_key: str) -> str:
    private = Ed25519PrivateKey.from_private_bytes(base64.b64decode(secret_key[5:]))
    public = private.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
    return "whpk_" + base64.b64encode(public).decode()


def headers(sig: str, msg_id: str = MSG_ID, ts: int = TS) -> dict[str, str]:
    return {"webhook-id": msg_id, "webhook-timestamp": str(ts), "webhook-signature": sig}


def receiver(*keys: str, now: float = TS) -> Webhook:
    return Webhook(list(keys), clock=ManualClock(now), replay_store=None)


def reason_of(hook: Webhook, payload: bytes, hdrs: dict[str, str]) -> FailureReason:
    with pytest.raises(WebhookVerificationError) as caught:
        hook.verify(payload, hdrs)
    assert isinstance(caught.value.reason, FailureReason)
    return caught.value.reason


# -- the reference's known answer ----------------------------------------------------------------


def test_signing_reproduces_the_reference_go_librarys_known_answer() -> None:
    assert GO_SIGNATURE == receiver("whsk_" + GO_SEED).sign(MSG_ID, TS, PAYLOAD)


def test_the_public_key_verifies_the_reference_go_librarys_known_answer() -> None:
    public = public_of("whsk_" + GO_SEED)
    assert PAYLOAD == receiver(public).verify(PAYLOAD, headers(GO_SIGNATURE))


def test_a_secret_key_verifies_what_it_signs_too() -> None:
    assert PAYLOAD == receiver("whsk_" + GO_SEED).verify(PAYLOAD, headers(GO_SIGNATURE))


def test_unpadded_and_padded_keys_name_the_same_key() -> None:
    padded, unpadded = "whsk_" + GO_SEED, "whsk_" + GO_SEED.rstrip("=")
    assert receiver(padded).sign(MSG_ID, TS, PAYLOAD) == receiver(unpadded).sign(
        MSG_ID, TS, PAYLOAD
    )


# -- against cryptography directly, by the scheme's format ---------------------------------------


@given(
    msg_id=st.text(alphabet="abcdefghijklmnopqrstuvwxyz0123456789_-", min_size=1, max_size=30),
    ts=st.integers(min_value=0, max_value=4_102_444_800),
    payload=st.binary(max_size=300),
)
def test_a_v1a_entry_is_the_ed25519_signature_of_id_timestamp_and_body(
    msg_id: str, ts: int, payload: bytes
) -> None:
    secret, _, private = key_pair(bytes(range(32)))
    entry = receiver(secret).sign(msg_id, ts, payload)
    version, _, encoded = entry.partition(",")
    signature = base64.b64decode(encoded, validate=True)
    # verify() raises InvalidSignature unless it is exactly the signature of the content.
    private.public_key().verify(signature, f"{msg_id}.{ts}.".encode() + payload)
    assert ("v1a", 64) == (version, len(signature))


@given(payload=st.binary(max_size=300), offset=st.integers(-300, 300))
def test_we_verify_what_cryptography_signs_in_the_scheme_format(
    payload: bytes, offset: int
) -> None:
    _, public, private = key_pair(bytes(range(1, 33)))
    signature = private.sign(f"{MSG_ID}.{TS}.".encode() + payload)
    sig = "v1a," + base64.b64encode(signature).decode()
    assert payload == receiver(public, now=TS + offset).verify(payload, headers(sig))


def test_a_changed_body_is_refused() -> None:
    public = public_of("whsk_" + GO_SEED)
    assert FailureReason.NO_MATCHING_SIGNATURE == reason_of(
        receiver(public), PAYLOAD + b" ", headers(GO_SIGNATURE)
    )


def test_another_keys_signature_is_refused() -> None:
    _, public, _ = key_pair()
    assert FailureReason.NO_MATCHING_SIGNATURE == reason_of(
        receiver(public), PAYLOAD, headers(GO_SIGNATURE)
    )


def test_the_refusal_names_the_versions_it_looked_for() -> None:
    _, public, _ = key_pair()
    with pytest.raises(WebhookVerificationError, match="no v1 or v1a signature"):
        receiver(generate_secret(), public).verify(PAYLOAD, headers(GO_SIGNATURE))


@pytest.mark.parametrize(
    "sig",
    [
        GO_SIGNATURE.replace("v1a,", "v1,"),
        GO_SIGNATURE.replace("v1a,", "V1A,"),
        GO_SIGNATURE.rstrip("="),
        GO_SIGNATURE + "A",
        GO_SIGNATURE[:-4] + "AA==",
        "v1a," + base64.b64encode(base64.b64decode(GO_SIGNATURE[4:])[:-1]).decode(),
        "v1a,",
        "v1a,\u00e9" * 10,
    ],
    ids=["as-v1", "upper", "unpadded", "extra", "flipped", "short", "empty", "non-ascii"],
)
def test_an_entry_not_exactly_v1a_of_the_signature_is_refused(sig: str) -> None:
    public = public_of("whsk_" + GO_SEED)
    assert FailureReason.NO_MATCHING_SIGNATURE == reason_of(receiver(public), PAYLOAD, headers(sig))


def test_an_hmac_only_receiver_still_ignores_v1a_entries() -> None:
    assert FailureReason.NO_MATCHING_SIGNATURE == reason_of(
        receiver(generate_secret()), PAYLOAD, headers(GO_SIGNATURE)
    )


# -- rotation and mixing -------------------------------------------------------------------------


def test_mixed_keys_sign_one_entry_each_in_the_order_given() -> None:
    hmac_secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
    signed = receiver("whsk_" + GO_SEED, hmac_secret).sign(MSG_ID, TS, PAYLOAD)
    assert [GO_SIGNATURE, "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="] == signed.split()


def test_a_receiver_holding_either_public_key_verifies_a_rotating_sender() -> None:
    old, new = key_pair(), key_pair()
    hdrs = receiver(new[0], old[0]).sign_headers(MSG_ID, TS, PAYLOAD)
    assert [PAYLOAD, PAYLOAD] == [receiver(k[1]).verify(PAYLOAD, hdrs) for k in (old, new)]


def test_the_valid_entry_is_found_among_junk_and_other_versions() -> None:
    public = public_of("whsk_" + GO_SEED)
    sig = f"v1,AAAA v2,abc v1a,xyz {GO_SIGNATURE} v1a,{'A' * 88}"
    assert PAYLOAD == receiver(public).verify(PAYLOAD, headers(sig))


def test_at_most_a_bounded_number_of_v1a_entries_are_checked() -> None:
    public = public_of("whsk_" + GO_SEED)
    junk = " ".join(
        "v1a," + base64.b64encode(bytes([n]) * 64).decode() for n in range(MAX_V1A_ENTRIES)
    )
    within = " ".join([*junk.split()[:-1], GO_SIGNATURE])
    beyond = f"{junk} {GO_SIGNATURE}"
    assert PAYLOAD == receiver(public).verify(PAYLOAD, headers(within))
    assert FailureReason.NO_MATCHING_SIGNATURE == reason_of(
        receiver(public), PAYLOAD, headers(beyond)
    )


# -- keys ----------------------------------------------------------------------------------------


def test_a_public_key_cannot_sign() -> None:
    with pytest.raises(ValueError, match=r"whpk_ public key .* cannot make them"):
        receiver(public_of("whsk_" + GO_SEED)).sign(MSG_ID, TS, PAYLOAD)


@pytest.mark.parametrize(
    ("key", "match"),
    [
        ("whsk_not base64!", "not base64"),
        ("whpk_" + base64.b64encode(b"x" * 31).decode(), "holds 32 bytes"),
        ("whsk_" + base64.b64encode(b"x" * 64).decode(), "holds 32 bytes"),
        ("whpk_", "holds 32 bytes"),
    ],
)
def test_malformed_keys_are_refused_without_quoting_them(key: str, match: str) -> None:
    with pytest.raises(ValueError, match=match) as caught:
        Webhook(key)
    assert (key[5:] or "-") not in str(caught.value)


def test_keys_are_hidden_in_the_repr() -> None:
    assert "VEVT" not in repr(Webhook("whsk_" + GO_SEED))
    assert "VEVT" not in repr(Webhook("whsk_" + GO_SEED)._keys)


def test_an_ed25519_key_without_cryptography_is_a_clear_error(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setitem(sys.modules, "cryptography", None)  # makes the import fail
    with pytest.raises(ModuleNotFoundError, match=r"pip install 'commerce-kit\[ed25519\]'") as e:
        Webhook("whsk_" + GO_SEED)
    assert "cryptography" == e.value.name


def test_hmac_webhooks_never_import_cryptography() -> None:
    code = (
        "import sys; from commerce_kit.webhooks import Webhook; "
        "w = Webhook('whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw'); "
        "w.verify(b'{}', w.sign_headers('m', None, b'{}')); "
        "print('cryptography' in sys.modules)"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert "False" == done.stdout.strip()


def test_a_delivery_signed_now_verifies_on_the_real_clock() -> None:
    secret, public, _ = key_pair()
    hdrs = Webhook(secret).sign_headers("msg_1", int(time.time()), PAYLOAD)
    assert PAYLOAD == Webhook(public).verify(PAYLOAD, hdrs)

"""Signing and verifying webhooks by the Standard Webhooks scheme (``v1`` and ``v1a``)."""

from __future__ import annotations

import base64
import binascii
import secrets
import time
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime, timedelta
from hmac import compare_digest
from typing import Literal

from commerce_kit._types import Clock
from commerce_kit.webhooks._ed25519 import (
    PUBLIC_KEY_PREFIX,
    SECRET_KEY_PREFIX,
    Ed25519Key,
    decode_signature,
)
from commerce_kit.webhooks._events import FailureReason, WebhookHook
from commerce_kit.webhooks._hmac import HmacSha256
from commerce_kit.webhooks._replay import ReplayStore
from commerce_kit.webhooks._verifier import (
    Verifier,
    clip,
    header,
    payload_bytes,
    secrets_of,
    signing_timestamp,
)

_PREFIX = "whsec_"
# The most v1a entries of one header checked against the keys: an ed25519 verification costs
# tens of microseconds, and the header is the sender's (unauthenticated) text.
MAX_V1A_ENTRIES = 16


def generate_secret(size: int = 32) -> str:
    """Return a new random secret in the ``whsec_<base64>`` form senders hand out.

    Args:
        size: How many random bytes; the scheme asks for 24 to 64.

    Raises:
        ValueError: ``size`` is outside 24..64.

    .. versionadded:: 0.1.0
    """
    if not 24 <= size <= 64:
        raise ValueError(f"size must be 24..64 bytes, got {size!r}")
    return _PREFIX + base64.b64encode(secrets.token_bytes(size)).decode("ascii")


def _key(secret: str | bytes) -> HmacSha256 | Ed25519Key:
    """Decode one secret to a key; the error never quotes the secret."""
    if isinstance(secret, str):
        text = secret.strip()
        if text.startswith((SECRET_KEY_PREFIX, PUBLIC_KEY_PREFIX)):
            return Ed25519Key(text)
    return HmacSha256(_hmac_key(secret))


def _hmac_key(secret: str | bytes) -> bytes:
    """Decode one HMAC secret to key bytes; the error never quotes the secret."""
    if isinstance(secret, (bytes, bytearray)):
        key = bytes(secret)
    elif isinstance(secret, str):
        text = secret.strip().removeprefix(_PREFIX)
        try:
            # Unpadded base64 is accepted, as by the reference library.
            key = base64.b64decode(text + "=" * (-len(text) % 4), validate=True)
        except (binascii.Error, ValueError):
            raise ValueError(
                "the webhook secret is not base64 (after an optional 'whsec_' prefix)"
            ) from None
    else:
        raise TypeError(f"a webhook secret is str or bytes, got {type(secret).__name__}")
    if not key:
        raise ValueError("the webhook secret is empty")
    return key


class Webhook(Verifier):
    """Sign and verify webhooks by the `Standard Webhooks`_ scheme.

    The signed content is ``{webhook-id}.{webhook-timestamp}.{payload}``. A symmetric secret
    (``whsec_``) MACs it with HMAC-SHA256, giving a ``v1,<base64 MAC>`` entry; an ed25519 key
    (``whsk_`` secret key, ``whpk_`` public key) signs it, giving a ``v1a,<base64 signature>``
    entry. The ``webhook-signature`` header is a space-separated list of such entries.

    **Asymmetric keys.** A sender signs with its ``whsk_`` secret key and hands receivers the
    ``whpk_`` public key, which verifies but cannot sign. ed25519 keys need the
    ``cryptography`` package (``pip install 'commerce-kit[ed25519]'``), imported only when such
    a key is given; ``whsec_`` secrets need nothing beyond the standard library. At most
    16 ``v1a`` entries of a header are checked, since each costs an
    ed25519 verification.

    **Rotation.** Give several secrets or keys, newest first, while one is being replaced.
    :meth:`verify` accepts a delivery whose header matches any of them, and :meth:`sign` emits
    one entry per secret, as the scheme asks of senders during a rotation, so receivers
    holding either the old or the new secret keep verifying. Drop the old secret when the
    rotation is over. Symmetric and asymmetric keys may be mixed.

    **Time.** Timestamps are Unix seconds, so ``clock`` is wall-clock time (default
    :func:`time.time`), not the monotonic clock other components take; pass a
    :class:`~commerce_kit.testing.ManualClock` set to a Unix time in tests.

    **Replays.** After the signature verified, the ``webhook-id`` goes to ``replay_store``; an
    id already accepted is refused with :attr:`FailureReason.REPLAYED` until a replay of it could
    no longer pass the timestamp check. A replayed delivery is authentic, so answering it with
    a 2xx (without processing it again) is right: the sender retries a delivery whose answer it
    lost with the same id.

    Args:
        secret: One secret (``"whsec_<base64>"``, bare base64, raw key bytes, or an ed25519
            ``"whsk_<base64>"`` / ``"whpk_<base64>"`` key) or a sequence of them, newest first.
        tolerance: How far a timestamp may be from now, either way; default 5 minutes.
        clock: Wall-clock Unix seconds; read once per call.
        replay_store: ``"memory"`` (default) for a fresh :class:`MemoryReplayStore` on
            ``clock``, any :class:`ReplayStore` (share one between processes), or ``None`` to
            turn the guard off.
        hooks: Callables receiving a :class:`WebhookVerified` or :class:`WebhookRejected` for
            each verification.

    Raises:
        ValueError: A secret is empty or not base64, an ed25519 key is not 32 bytes, no secret
            is given, or ``tolerance`` is not positive.
        TypeError: A secret is neither str nor bytes.
        ModuleNotFoundError: An ed25519 key is given and ``cryptography`` is not installed.

    Example:
        >>> from commerce_kit.webhooks import Webhook
        >>> from commerce_kit.testing import ManualClock
        >>> hook = Webhook("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", clock=ManualClock(1614265330))
        >>> hook.sign("msg_p5jXN8AQM9LWM0D4loKWxJek", 1614265330, b'{"test": 2432232314}')
        'v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE='

    .. _Standard Webhooks: https://www.standardwebhooks.com/

    .. versionadded:: 0.1.0

    .. versionchanged:: 0.2.0
       ed25519 keys (``whsk_``, ``whpk_``): ``v1a`` signatures are made and verified instead
       of ignored.
    """

    __slots__ = ("_ed25519", "_hmac", "_keys")

    scheme = "standard-webhooks"

    def __init__(
        self,
        secret: str | bytes | Sequence[str | bytes],
        *,
        tolerance: float | timedelta = 300.0,
        clock: Clock = time.time,
        replay_store: ReplayStore | Literal["memory"] | None = "memory",
        hooks: Iterable[WebhookHook] = (),
    ) -> None:
        keys = tuple(_key(one) for one in secrets_of(secret))
        super().__init__(tolerance=tolerance, clock=clock, replay_store=replay_store, hooks=hooks)
        # Every key in the order given (signing), and the keys of each version (verifying).
        self._keys = keys
        self._hmac = tuple(key for key in keys if isinstance(key, HmacSha256))
        self._ed25519 = tuple(key for key in keys if isinstance(key, Ed25519Key))

    def __repr__(self) -> str:
        return (
            f"Webhook(<{len(self._keys)} secret(s) hidden>, tolerance={self._tolerance!r}, "
            f"replay_store={self.replay_store!r})"
        )

    def sign(self, msg_id: str, timestamp: int | datetime | None, payload: str | bytes) -> str:
        """Return the ``webhook-signature`` header value for a delivery.

        Args:
            msg_id: The delivery's unique id, kept across retries: visible ASCII, no spaces, no
                ``"."``.
            timestamp: The attempt's time: Unix seconds, an aware
                :class:`~datetime.datetime` (rounded down to whole seconds), or ``None`` for
                the clock's.
            payload: The exact body that will be sent (a str is sent as UTF-8).

        Returns:
            One entry per secret, space-separated: ``v1,<base64>`` for a ``whsec_`` secret,
            ``v1a,<base64>`` for a ``whsk_`` key.

        Raises:
            ValueError: ``msg_id`` is empty or holds a character it may not, ``timestamp``
                is negative or a naive datetime, or a key is a ``whpk_`` public key, which
                cannot sign.
            TypeError: ``timestamp`` is neither an int nor a datetime.
            WebhookVerificationError: ``payload`` is a str holding a lone surrogate, which
                UTF-8 cannot encode (reason :attr:`FailureReason.INVALID_PAYLOAD`), as
                :meth:`verify` refuses it.

        .. versionchanged:: 0.2.0
           ``timestamp`` may be an aware datetime; ed25519 keys sign ``v1a`` entries; a str
           payload UTF-8 cannot encode raises :class:`~commerce_kit.WebhookVerificationError`
           instead of :class:`UnicodeEncodeError`.
        """
        # A header value carries visible ASCII; a "." would let id and timestamp trade
        # characters inside the signed content.
        if (
            not (msg_id.isascii() and msg_id.isprintable())
            or not msg_id
            or " " in msg_id
            or "." in msg_id
        ):
            raise ValueError(
                f"msg_id must be non-empty visible ASCII without spaces or '.', got {msg_id!r}"
            )
        head = f"{msg_id}.{signing_timestamp(timestamp, self._clock)}.".encode("ascii")
        body = payload_bytes(payload)
        entries = []
        for key in self._keys:
            if isinstance(key, HmacSha256):
                mac = binascii.b2a_base64(key.digest(head, body), newline=False)
                entries.append("v1," + mac.decode("ascii"))
            else:
                entries.append(key.sign(head + body))
        return " ".join(entries)

    def sign_headers(
        self, msg_id: str, timestamp: int | datetime | None, payload: str | bytes
    ) -> dict[str, str]:
        """Return the three headers to send with a delivery.

        Args:
            msg_id: As for :meth:`sign`.
            timestamp: As for :meth:`sign`; the clock's reading when ``None``.
            payload: As for :meth:`sign`.

        Returns:
            ``webhook-id``, ``webhook-timestamp`` and ``webhook-signature``.

        Raises:
            ValueError: As for :meth:`sign`.
            TypeError: As for :meth:`sign`.
            WebhookVerificationError: As for :meth:`sign`.

        .. versionchanged:: 0.2.0
           As for :meth:`sign`.
        """
        timestamp = signing_timestamp(timestamp, self._clock)
        return {
            "webhook-id": msg_id,
            "webhook-timestamp": str(timestamp),
            "webhook-signature": self.sign(msg_id, timestamp, payload),
        }

    def verify(self, payload: str | bytes, headers: Mapping[str, str]) -> bytes:
        """Check a delivery and return its body.

        Pass the raw body as received: a JSON body parsed and serialised again is not the body
        that was signed.

        Args:
            payload: The request body, bytes as received (a str is taken as its UTF-8).
            headers: The request headers, any mapping; names match in any case.

        Returns:
            The verified body as bytes (``payload`` itself when it is bytes).

        Raises:
            WebhookVerificationError: The delivery did not verify; its ``reason`` is a
                :class:`FailureReason`: a missing header, a malformed timestamp, one too old or
                too new, a str payload UTF-8 cannot encode, no matching ``v1`` (or, with
                ed25519 keys, ``v1a``) signature, or a replayed id.

        .. versionchanged:: 0.2.0
           ``v1a`` entries are verified with ed25519 keys; a str payload holding a lone
           surrogate is refused (:attr:`FailureReason.INVALID_PAYLOAD`).
        """
        msg_id = header(headers, "webhook-id")
        raw_timestamp = header(headers, "webhook-timestamp")
        signatures = header(headers, "webhook-signature")
        if not (msg_id and raw_timestamp and signatures):
            missing = [
                name
                for name, value in (
                    ("webhook-id", msg_id),
                    ("webhook-timestamp", raw_timestamp),
                    ("webhook-signature", signatures),
                )
                if not value
            ]
            self._reject(
                FailureReason.MISSING_HEADER,
                f"missing header {', '.join(missing)}",
                msg_id or None,
            )
        timestamp = self._check_time(raw_timestamp, msg_id)
        # The timestamp is signed as received: it is plain digits once it has parsed.
        head = f"{msg_id}.{raw_timestamp}.".encode("utf-8", "surrogatepass")
        body = self._body(payload, msg_id)
        matched = False
        if self._hmac:
            expected = [
                binascii.b2a_base64(key.digest(head, body), newline=False).decode("ascii")
                for key in self._hmac
            ]
            matched = _any_v1_matches(signatures, expected)
        if not matched and self._ed25519:
            matched = _any_v1a_matches(signatures, head + body, self._ed25519)
        if not matched:
            versions = " or ".join(
                version for version, keys in (("v1", self._hmac), ("v1a", self._ed25519)) if keys
            )
            self._reject(
                FailureReason.NO_MATCHING_SIGNATURE,
                f"no {versions} signature of delivery {clip(msg_id)} matches",
                msg_id,
            )
        self._accept(msg_id, timestamp, msg_id)
        return body


def _any_v1_matches(signatures: str, expected: list[str]) -> bool:
    """Tell whether any ``v1`` entry equals any expected MAC, comparing in constant time.

    Entries of other versions (``v1a``, future ones) are ignored.
    """
    for entry in signatures.split():
        version, _, candidate = entry.partition(",")
        if version == "v1" and candidate.isascii():
            for mac in expected:
                if compare_digest(mac, candidate):
                    return True
    return False


def _any_v1a_matches(signatures: str, content: bytes, keys: tuple[Ed25519Key, ...]) -> bool:
    """Tell whether any of the first 16 ``v1a`` entries signs ``content``."""
    tried = 0
    for entry in signatures.split():
        version, _, candidate = entry.partition(",")
        if version != "v1a":
            continue
        signature = decode_signature(candidate)
        if signature is None:
            continue
        tried += 1
        if tried > MAX_V1A_ENTRIES:
            return False
        if any(key.verify(signature, content) for key in keys):
            return True
    return False

"""Signing and verifying webhooks by the Standard Webhooks scheme (HMAC-SHA256, ``v1``)."""

from __future__ import annotations

import base64
import binascii
import secrets
import time
from collections.abc import Iterable, Mapping, Sequence
from datetime import timedelta
from hmac import compare_digest
from typing import Literal

from commerce_kit._types import Clock
from commerce_kit.webhooks._events import FailureReason, WebhookHook
from commerce_kit.webhooks._hmac import HmacSha256
from commerce_kit.webhooks._replay import ReplayStore
from commerce_kit.webhooks._verifier import (
    Verifier,
    as_bytes,
    clip,
    header,
    secrets_of,
    signing_timestamp,
)

_PREFIX = "whsec_"


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


def _key(secret: str | bytes) -> bytes:
    """Decode one secret to key bytes; the error never quotes the secret."""
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

    The signed content is ``{webhook-id}.{webhook-timestamp}.{payload}``, MACed with
    HMAC-SHA256; the ``webhook-signature`` header is a space-separated list of
    ``v1,<base64 MAC>`` entries.

    **Rotation.** Give several secrets, newest first, while a secret is being replaced.
    :meth:`verify` accepts a delivery whose header matches any of them, and :meth:`sign` emits
    one ``v1`` entry per secret, as the scheme asks of senders during a rotation, so receivers
    holding either the old or the new secret keep verifying. Drop the old secret when the
    rotation is over.

    **Time.** Timestamps are Unix seconds, so ``clock`` is wall-clock time (default
    :func:`time.time`), not the monotonic clock other components take; pass a
    :class:`~commerce_kit.testing.ManualClock` set to a Unix time in tests.

    **Replays.** After the signature verified, the ``webhook-id`` goes to ``replay_store``; an
    id already accepted is refused with :attr:`FailureReason.REPLAYED` until a replay of it could
    no longer pass the timestamp check. A replayed delivery is authentic, so answering it with
    a 2xx (without processing it again) is right: the sender retries a delivery whose answer it
    lost with the same id.

    Args:
        secret: One secret (``"whsec_<base64>"``, bare base64, or raw key bytes) or a sequence
            of them, newest first.
        tolerance: How far a timestamp may be from now, either way; default 5 minutes.
        clock: Wall-clock Unix seconds; read once per call.
        replay_store: ``"memory"`` (default) for a fresh :class:`MemoryReplayStore` on
            ``clock``, any :class:`ReplayStore` (share one between processes), or ``None`` to
            turn the guard off.
        hooks: Callables receiving a :class:`WebhookVerified` or :class:`WebhookRejected` for
            each verification.

    Raises:
        ValueError: A secret is empty or not base64, no secret is given, or ``tolerance`` is not
            positive.
        TypeError: A secret is neither str nor bytes.

    Example:
        >>> from commerce_kit.webhooks import Webhook
        >>> from commerce_kit.testing import ManualClock
        >>> hook = Webhook("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", clock=ManualClock(1614265330))
        >>> hook.sign("msg_p5jXN8AQM9LWM0D4loKWxJek", 1614265330, b'{"test": 2432232314}')
        'v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE='

    .. _Standard Webhooks: https://www.standardwebhooks.com/

    .. versionadded:: 0.1.0
    """

    __slots__ = ("_keys",)

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
        keys = tuple(HmacSha256(_key(one)) for one in secrets_of(secret))
        super().__init__(tolerance=tolerance, clock=clock, replay_store=replay_store, hooks=hooks)
        self._keys = keys

    def __repr__(self) -> str:
        return (
            f"Webhook(<{len(self._keys)} secret(s) hidden>, tolerance={self._tolerance!r}, "
            f"replay_store={self.replay_store!r})"
        )

    def sign(self, msg_id: str, timestamp: int | None, payload: str | bytes) -> str:
        """Return the ``webhook-signature`` header value for a delivery.

        Args:
            msg_id: The delivery's unique id, kept across retries: visible ASCII, no spaces, no
                ``"."``.
            timestamp: The attempt's Unix time in whole seconds, or ``None`` for the clock's.
            payload: The exact body that will be sent (a str is sent as UTF-8).

        Returns:
            One ``v1,<base64>`` entry per secret, space-separated.

        Raises:
            ValueError: ``msg_id`` is empty or holds a character it may not, or ``timestamp``
                is negative.
            TypeError: ``timestamp`` is not an int.
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
        body = payload.encode() if isinstance(payload, str) else payload
        return " ".join(
            "v1," + binascii.b2a_base64(key.digest(head, body), newline=False).decode("ascii")
            for key in self._keys
        )

    def sign_headers(
        self, msg_id: str, timestamp: int | None, payload: str | bytes
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
                too new, no matching ``v1`` signature, or a replayed id.
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
        body = as_bytes(payload)
        expected = [
            binascii.b2a_base64(key.digest(head, body), newline=False).decode("ascii")
            for key in self._keys
        ]
        if not _any_v1_matches(signatures, expected):
            self._reject(
                FailureReason.NO_MATCHING_SIGNATURE,
                f"no v1 signature of delivery {clip(msg_id)} matches",
                msg_id,
            )
        self._accept(msg_id, timestamp, msg_id)
        return body


def _any_v1_matches(signatures: str, expected: list[str]) -> bool:
    """Tell whether any ``v1`` entry equals any expected MAC, comparing in constant time.

    Entries of other versions (``v1a`` for ed25519, future ones) are ignored.
    """
    for entry in signatures.split():
        version, _, candidate = entry.partition(",")
        if version == "v1" and candidate.isascii():
            for mac in expected:
                if compare_digest(mac, candidate):
                    return True
    return False

"""Verifying Stripe's ``Stripe-Signature: t=...,v1=...`` webhook headers."""

from __future__ import annotations

import time
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime, timedelta
from hmac import compare_digest
from typing import Literal

from commerce_kit._types import Clock
from commerce_kit.webhooks._events import FailureReason, WebhookHook
from commerce_kit.webhooks._hmac import HmacSha256
from commerce_kit.webhooks._replay import ReplayStore
from commerce_kit.webhooks._verifier import (
    Verifier,
    header,
    payload_bytes,
    secrets_of,
    signing_timestamp,
)

_HEADER = "stripe-signature"


def _key(secret: str | bytes) -> bytes:
    """Return the key bytes: a str secret is used as its UTF-8, ``whsec_`` prefix included."""
    if isinstance(secret, str):
        key = secret.encode()
    elif isinstance(secret, (bytes, bytearray)):
        key = bytes(secret)
    else:
        raise TypeError(f"a webhook secret is str or bytes, got {type(secret).__name__}")
    if not key:
        raise ValueError("the webhook secret is empty")
    return key


class StripeWebhook(Verifier):
    """Verify (and, for tests, sign) webhooks carrying Stripe's ``Stripe-Signature`` header.

    The header is ``t=<unix seconds>,v1=<hex>[,v1=<hex>...]``; the signed content is
    ``{t}.{payload}``, MACed with HMAC-SHA256 keyed with the endpoint secret's UTF-8 bytes as
    they are (the ``whsec_`` prefix is part of the key, unlike Standard Webhooks). A delivery
    passes if any ``v1`` entry matches any secret; ``v0`` and unknown schemes are ignored.

    The timestamp is refused when it is more than ``tolerance`` away from now in either
    direction, as stripe-dotnet and stripe-php do (stripe-python refuses only old ones).
    ``tolerance=None`` turns the clock check off, and with it the replay guard, since a replay
    would then never expire.

    The header carries no delivery id, so the replay guard keys an accepted delivery by its
    MAC under the first secret: the exact request sent again is refused, while Stripe's own
    retries, signed anew with a later ``t``, pass; deduplicate those by the event's ``id`` in
    the payload.

    Args:
        secret: The endpoint secret (``"whsec_..."``), or several, newest first, while rolling.
        tolerance: How far ``t`` may be from now, either way; default 5 minutes; ``None`` for
            no check.
        clock: Wall-clock Unix seconds (default :func:`time.time`); read once per call.
        replay_store: ``"memory"`` (default) for a fresh :class:`MemoryReplayStore` on
            ``clock``, any :class:`ReplayStore`, or ``None`` to turn the guard off.
        hooks: Callables receiving a :class:`WebhookVerified` or :class:`WebhookRejected` for
            each verification.

    Raises:
        ValueError: A secret is empty, no secret is given, ``tolerance`` is not positive, or a
            replay store is given with ``tolerance=None``.
        TypeError: A secret is neither str nor bytes.

    .. versionadded:: 0.1.0
    """

    __slots__ = ("_keys",)

    scheme = "stripe"

    def __init__(
        self,
        secret: str | bytes | Sequence[str | bytes],
        *,
        tolerance: float | timedelta | None = 300.0,
        clock: Clock = time.time,
        replay_store: ReplayStore | Literal["memory"] | None = "memory",
        hooks: Iterable[WebhookHook] = (),
    ) -> None:
        keys = tuple(HmacSha256(_key(one)) for one in secrets_of(secret))
        super().__init__(tolerance=tolerance, clock=clock, replay_store=replay_store, hooks=hooks)
        self._keys = keys

    def __repr__(self) -> str:
        return (
            f"StripeWebhook(<{len(self._keys)} secret(s) hidden>, tolerance={self._tolerance!r}, "
            f"replay_store={self.replay_store!r})"
        )

    def sign(self, timestamp: int | datetime | None, payload: str | bytes) -> str:
        """Return a ``Stripe-Signature`` header value, as Stripe would send it.

        Args:
            timestamp: Unix seconds, an aware :class:`~datetime.datetime` (rounded down to
                whole seconds), or ``None`` for the clock's reading.
            payload: The exact body (a str is taken as its UTF-8).

        Returns:
            ``t=<timestamp>`` followed by one ``v1=<hex>`` entry per secret.

        Raises:
            ValueError: ``timestamp`` is negative or a naive datetime.
            TypeError: ``timestamp`` is neither an int nor a datetime.
            WebhookVerificationError: ``payload`` is a str holding a lone surrogate
                (reason :attr:`FailureReason.INVALID_PAYLOAD`), as :meth:`verify` refuses it.

        .. versionchanged:: 0.2.0
           ``timestamp`` may be an aware datetime; a str payload UTF-8 cannot encode raises
           :class:`~commerce_kit.WebhookVerificationError` instead of
           :class:`UnicodeEncodeError`.
        """
        t = signing_timestamp(timestamp, self._clock)
        head = f"{t}.".encode("ascii")
        body = payload_bytes(payload)
        return f"t={t}," + ",".join("v1=" + key.digest(head, body).hex() for key in self._keys)

    def sign_headers(
        self, timestamp: int | datetime | None, payload: str | bytes
    ) -> dict[str, str]:
        """Return ``{"Stripe-Signature": ...}`` for a delivery.

        Args:
            timestamp: As for :meth:`sign`.
            payload: As for :meth:`sign`.

        Returns:
            The one header Stripe sends.

        Raises:
            ValueError: As for :meth:`sign`.
            TypeError: As for :meth:`sign`.
            WebhookVerificationError: As for :meth:`sign`.
        """
        return {"Stripe-Signature": self.sign(timestamp, payload)}

    def verify(self, payload: str | bytes, headers: Mapping[str, str] | str) -> bytes:
        """Check a delivery and return its body.

        Args:
            payload: The request body, bytes as received (a str is taken as its UTF-8).
            headers: The request headers (any mapping, names in any case), or the
                ``Stripe-Signature`` value itself.

        Returns:
            The verified body as bytes (``payload`` itself when it is bytes).

        Raises:
            WebhookVerificationError: The delivery did not verify; its ``reason`` is a
                :class:`FailureReason`: the header is missing, ``t`` is absent, repeated or not
                an integer, too old or too new, a str payload UTF-8 cannot encode, no ``v1``
                entry matches, or the same request was already accepted.

        .. versionchanged:: 0.2.0
           A str payload holding a lone surrogate is refused
           (:attr:`FailureReason.INVALID_PAYLOAD`) instead of verified as surrogate bytes.
        """
        value = headers if isinstance(headers, str) else header(headers, _HEADER)
        if not value:
            self._reject(FailureReason.MISSING_HEADER, "missing header Stripe-Signature", None)
        raw_timestamp: str | None = None
        repeated = False
        candidates: list[str] = []
        for item in value.split(","):
            name, sep, element = item.partition("=")
            if not sep:
                continue
            if name == "t":
                repeated = raw_timestamp is not None
                raw_timestamp = element
            elif name == "v1" and element.isascii():
                candidates.append(element)
        if repeated:
            self._reject(
                FailureReason.INVALID_TIMESTAMP, "Stripe-Signature carries more than one t=", None
            )
        timestamp = self._check_time(raw_timestamp, None)
        head = f"{raw_timestamp}.".encode("ascii")
        body = self._body(payload, None)
        expected = [key.digest(head, body).hex() for key in self._keys]
        if not any(compare_digest(mac, given) for given in candidates for mac in expected):
            self._reject(
                FailureReason.NO_MATCHING_SIGNATURE,
                "no v1 signature in Stripe-Signature matches",
                None,
            )
        self._accept("stripe:" + expected[0], timestamp, None)
        return body

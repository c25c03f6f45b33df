"""Why a webhook was refused, and the events verifiers send to hooks."""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from enum import Enum
from typing import TypeAlias

from commerce_kit._hooks import emit as _emit

_logger = logging.getLogger("commerce_kit.webhooks")


class FailureReason(str, Enum):
    """Why a webhook did not verify, as given in ``WebhookVerificationError.reason``.

    Members are strings, so ``error.reason == "replayed"`` works as well as
    ``error.reason is FailureReason.REPLAYED``.

    .. versionadded:: 0.1.0

    .. versionchanged:: 0.2.0
       Added :attr:`INVALID_PAYLOAD`.
    """

    #: A required header is absent or empty.
    MISSING_HEADER = "missing_header"
    #: The timestamp is not a non-negative integer of Unix seconds (or, for Stripe, the
    #: ``t=`` element is absent or repeated).
    INVALID_TIMESTAMP = "invalid_timestamp"
    #: The timestamp is further in the past than the tolerance allows.
    TIMESTAMP_TOO_OLD = "timestamp_too_old"
    #: The timestamp is further in the future than the tolerance allows.
    TIMESTAMP_TOO_NEW = "timestamp_too_new"
    #: No signature of a known version matches any of the secrets.
    NO_MATCHING_SIGNATURE = "no_matching_signature"
    #: The signature is valid, but this delivery was already accepted within the tolerance.
    REPLAYED = "replayed"
    #: The payload is a str holding a lone surrogate, which UTF-8 cannot encode, so it is not
    #: the body that was signed (signing refuses such a str with this reason too).
    #: (New in 0.2.0.)
    INVALID_PAYLOAD = "invalid_payload"


@dataclass(frozen=True, slots=True)
class WebhookVerified:
    """A webhook passed every check.

    Attributes:
        scheme: ``"standard-webhooks"`` or ``"stripe"``.
        msg_id: The ``webhook-id`` header (``None`` for Stripe, whose header carries no id).
        timestamp: The signed Unix timestamp, in seconds.

    .. versionadded:: 0.1.0
    """

    scheme: str
    msg_id: str | None
    timestamp: int


@dataclass(frozen=True, slots=True)
class WebhookRejected:
    """A webhook was refused.

    Attributes:
        scheme: ``"standard-webhooks"`` or ``"stripe"``.
        reason: Why it was refused.
        msg_id: The ``webhook-id`` header as received, or ``None``. Unless ``reason`` is
            :attr:`FailureReason.REPLAYED`, the sender is unauthenticated, so treat it as
            untrusted text when logging it.

    .. versionadded:: 0.1.0
    """

    scheme: str
    reason: FailureReason
    msg_id: str | None


#: Any event a webhook verifier sends to its hooks.
WebhookEvent: TypeAlias = WebhookVerified | WebhookRejected

#: A hook receives each event; what it raises is logged and swallowed.
WebhookHook: TypeAlias = Callable[[WebhookEvent], None]


def emit(hooks: Sequence[WebhookHook], event: WebhookEvent) -> None:
    """Send ``event`` to every hook; a failing hook is logged and never breaks verification."""
    _emit(hooks, event, _logger)

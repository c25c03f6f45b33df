"""The one catalogue that turns any failure into what an end user sees.

The words and codes come from the exception classes themselves (``code`` and ``user_message`` on
every :class:`~commerce_kit.CommerceKitError`); this module adds the HTTP status and the retry
hint, and gives a safe answer for exceptions commerce_kit did not raise. The technical detail,
``str(error)``, never reaches the user: log it.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType

from commerce_kit._errors import (
    CircuitOpenError,
    CommerceKitError,
    FeedError,
    FeedLimitError,
    OutOfStockError,
    PaymentDeclinedError,
    PaymentError,
    PaymentUnavailableError,
    RateLimitExceeded,
    RegistryError,
    UnknownFeedFormatError,
    UnknownPaymentMethodError,
    WebhookVerificationError,
)

__all__ = ["HTTP_STATUS", "UserMessage", "user_message_for"]

#: The HTTP status for each kind of failure; a class not listed takes its nearest listed base's.
HTTP_STATUS: Mapping[type[BaseException], int] = MappingProxyType(
    {
        CommerceKitError: 500,
        RateLimitExceeded: 429,
        CircuitOpenError: 503,
        RegistryError: 500,
        FeedError: 400,
        FeedLimitError: 413,
        UnknownFeedFormatError: 415,
        WebhookVerificationError: 401,
        OutOfStockError: 409,
        PaymentError: 402,
        PaymentDeclinedError: 402,
        PaymentUnavailableError: 503,
        UnknownPaymentMethodError: 400,
        # Not ours, but what an exhausted network call looks like to the user: the system is busy.
        TimeoutError: 503,
        ConnectionError: 503,
    }
)

# Builtin failures borrow the words of the error the user would otherwise have seen.
_BORROWED: Mapping[type[BaseException], type[CommerceKitError]] = MappingProxyType(
    {TimeoutError: CircuitOpenError, ConnectionError: CircuitOpenError}
)


@dataclass(frozen=True, slots=True)
class UserMessage:
    """What to tell an end user about a failure: no technical detail, ever.

    Attributes:
        code: A stable machine-readable identifier, such as ``"rate_limited"``.
        message: The plain-language sentence to show.
        http_status: The status code a web response should carry.
        retry_after: Seconds after which trying again may succeed, when known.

    .. versionadded:: 0.1.0
    """

    code: str
    message: str
    http_status: int
    retry_after: float | None = None

    @property
    def headers(self) -> dict[str, str]:
        """The response headers to send, ``Retry-After`` in whole seconds when it is known."""
        if self.retry_after is None:
            return {}
        # Rounded to the millisecond first, so clock arithmetic noise (30.000000000000004) does
        # not add a whole second.
        return {"Retry-After": str(max(0, math.ceil(round(self.retry_after, 3))))}

    def as_dict(self) -> dict[str, object]:
        """Return a JSON-ready body: ``error`` (the code), ``message`` and ``retry_after``."""
        body: dict[str, object] = {"error": self.code, "message": self.message}
        if self.retry_after is not None:
            body["retry_after"] = self.retry_after
        return body


def _resolve(kind: type[BaseException]) -> tuple[int, type[CommerceKitError]]:
    """Return the status of ``kind``'s nearest listed base, and the class whose words to use."""
    for base in kind.__mro__:
        status = HTTP_STATUS.get(base)
        if status is not None:
            return status, kind if issubclass(kind, CommerceKitError) else _BORROWED[base]
    return 500, CommerceKitError


def user_message_for(error: BaseException) -> UserMessage:
    """Return the end-user message, code, HTTP status and retry hint for ``error``.

    Any :class:`~commerce_kit.CommerceKitError` answers with its own ``code`` and
    ``user_message``; a builtin :class:`TimeoutError` or :class:`ConnectionError` reads as
    "service unavailable"; anything else gets the generic message and status 500, so an
    unexpected bug never leaks its text to a user.

    Args:
        error: The exception that ended the request.

    Returns:
        The message to show, with the status and, when the error carries one, ``retry_after``.

    Example:
        >>> from commerce_kit import RateLimitExceeded
        >>> from commerce_kit.payments import user_message_for
        >>> answer = user_message_for(RateLimitExceeded("user:7 over 5/60s", retry_after=41.2))
        >>> answer.http_status, answer.message, answer.headers
        (429, 'Too many requests. Please wait and try again.', {'Retry-After': '42'})

    .. versionadded:: 0.1.0
    """
    status, words = _resolve(type(error))
    retry_after = getattr(error, "retry_after", None)
    if not isinstance(retry_after, (int, float)) or isinstance(retry_after, bool):
        retry_after = None
    return UserMessage(words.code, words.user_message, status, retry_after)

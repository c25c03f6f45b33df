"""The one catalogue that turns any failure into what an end user sees.

Each kind of failure maps to an HTTP status and one plain-language sentence; a class not listed
takes its nearest listed base's entry. The sentences live here and nowhere else: an exception
keeps its developer wording in ``str(error)`` (log it) and its machine-readable ``code``, and
this catalogue answers for the user.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from http import HTTPStatus
from types import MappingProxyType

from commerce_kit._errors import (
    CircuitOpenError,
    CommerceKitError,
    FeedError,
    FeedFormatError,
    FeedLimitError,
    OutOfStockError,
    PaymentError,
    PaymentUnavailableError,
    RateLimitExceeded,
    RegistryError,
    UnknownFeedFormatError,
    UnknownPaymentMethodError,
    UnsafeFeedError,
    WebhookVerificationError,
)
from commerce_kit._http_headers import format_retry_after

__all__ = ["HTTP_STATUS", "UserMessage", "user_message_for"]

# The U1 sentences, one per status a flash-sale checkout answers with.
_GENERIC = "Something went wrong. Please try again shortly."
_TOO_MANY_REQUESTS = "Too many requests. Please wait and try again."
_PAYMENT_FAILED = (
    "Payment could not be processed. Please try again or use different payment method."
)
_OUT_OF_STOCK = "This item is no longer available."
_HIGH_TRAFFIC = "System experiencing high traffic. Please try again shortly."

# (status, sentence) per kind of failure.
_CATALOGUE: Mapping[type[BaseException], tuple[int, str]] = MappingProxyType(
    {
        CommerceKitError: (500, _GENERIC),
        RateLimitExceeded: (429, _TOO_MANY_REQUESTS),
        CircuitOpenError: (503, _HIGH_TRAFFIC),
        RegistryError: (500, _GENERIC),
        FeedError: (400, "The feed could not be read."),
        FeedFormatError: (400, "The feed is not valid in its format."),
        UnsafeFeedError: (400, "The feed was refused because it contains unsafe XML constructs."),
        FeedLimitError: (413, "The feed is too large."),
        UnknownFeedFormatError: (415, "The feed format is not supported."),
        WebhookVerificationError: (401, "The webhook could not be verified."),
        OutOfStockError: (409, _OUT_OF_STOCK),
        PaymentError: (402, _PAYMENT_FAILED),
        # Retries ran out against an outage: the system is busy, the payment itself is fine.
        PaymentUnavailableError: (503, _HIGH_TRAFFIC),
        UnknownPaymentMethodError: (400, _PAYMENT_FAILED),
        # Not ours, but what an exhausted network call looks like to the user: the system is busy.
        TimeoutError: (503, _HIGH_TRAFFIC),
        ConnectionError: (503, _HIGH_TRAFFIC),
    }
)

# The code a builtin failure answers with: the one of the error the user would otherwise see.
_BORROWED_CODES: Mapping[type[BaseException], str] = MappingProxyType(
    {TimeoutError: CircuitOpenError.code, ConnectionError: CircuitOpenError.code}
)

#: The HTTP status for each kind of failure; a class not listed takes its nearest listed base's.
HTTP_STATUS: Mapping[type[BaseException], int] = MappingProxyType(
    {kind: status for kind, (status, _) in _CATALOGUE.items()}
)

# RFC 9110's reason phrases, fixed here because Python renames some between versions
# (413 is "Request Entity Too Large" before 3.13).
_TITLES: Mapping[int, str] = MappingProxyType(
    {
        400: "Bad Request",
        401: "Unauthorized",
        402: "Payment Required",
        409: "Conflict",
        413: "Content Too Large",
        415: "Unsupported Media Type",
        429: "Too Many Requests",
        500: "Internal Server Error",
        503: "Service Unavailable",
    }
)


def title_for(status: int) -> str:
    """Return the standard reason phrase of ``status`` (RFC 9110), such as ``"Conflict"``."""
    known = _TITLES.get(status)
    if known is not None:
        return known
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return "Error"


def known_delay(value: object) -> float | None:
    """Return ``value`` as seconds when it is a usable retry hint, else ``None``.

    A hint is a finite real number; a negative one reads as "now". Infinity (a breaker forced
    open), NaN, a bool or anything else means the delay is unknown.
    """
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    try:
        seconds = float(value)
    except OverflowError:  # an int beyond the float range: as good as infinite
        return None
    if not math.isfinite(seconds):
        return None
    return max(0.0, seconds)


def retry_after_headers(retry_after: float | None) -> dict[str, str]:
    """Return ``{"Retry-After": ...}`` when ``retry_after`` is a usable hint, else ``{}``.

    Serves every answer that carries a delay (:class:`UserMessage`, ``Problem``), so they agree.
    """
    delay = known_delay(retry_after)
    if delay is None:
        return {}
    return {"Retry-After": format_retry_after(delay)}


@dataclass(frozen=True, slots=True)
class UserMessage:
    """What to tell an end user about a failure: no technical detail, ever.

    Attributes:
        code: A stable machine-readable identifier, such as ``"rate_limited"``.
        message: The plain-language sentence to show.
        http_status: The status code a web response should carry.
        retry_after: Seconds after which trying again may succeed, when known.

    .. versionadded:: 0.1.0
    .. versionchanged:: 0.2.0
       Moved from :mod:`commerce_kit.payments` to :mod:`commerce_kit.http`. An infinite or NaN
       ``retry_after`` reads as unknown: no header, no body field.
    """

    code: str
    message: str
    http_status: int
    retry_after: float | None = None

    @property
    def headers(self) -> dict[str, str]:
        """Headers to send with the response, with ``Retry-After`` (whole seconds) when known.

        The delay is rounded up and at least 1 (see :func:`format_retry_after`).
        """
        return retry_after_headers(self.retry_after)

    def as_dict(self) -> dict[str, object]:
        """Return a JSON-ready body: ``error`` (the code), ``message`` and ``retry_after``.

        ``retry_after`` is present only when the delay is known, so the body is always valid
        JSON (never ``Infinity`` or ``NaN``).
        """
        body: dict[str, object] = {"error": self.code, "message": self.message}
        delay = known_delay(self.retry_after)
        if delay is not None:
            body["retry_after"] = delay
        return body


def _entry(kind: type[BaseException]) -> tuple[type[BaseException], int, str]:
    """Return the nearest listed base of ``kind``, with its status and sentence."""
    for base in kind.__mro__:
        found = _CATALOGUE.get(base)
        if found is not None:
            return base, *found
    return CommerceKitError, *_CATALOGUE[CommerceKitError]


def user_message_for(error: BaseException) -> UserMessage:
    """Return the end-user sentence, code, HTTP status and retry hint for ``error``.

    Any :class:`~commerce_kit.CommerceKitError` answers with its own ``code``, its status and
    the catalogue's sentence for it; a builtin :class:`TimeoutError` or :class:`ConnectionError`
    reads as "service unavailable" (503); anything else gets the generic sentence and status
    500, so an unexpected bug never leaks its text to a user.

    Each status speaks with one voice: 429 "Too many requests. Please wait and try again.",
    402 the payment sentence, 409 "This item is no longer available.", 503 "System experiencing
    high traffic. Please try again shortly." (an outage that outlasted the retries included).

    Args:
        error: The exception that ended the request.

    Returns:
        The message to show, with the status and, when the error carries a finite one,
        ``retry_after``.

    Example:
        >>> from commerce_kit import RateLimitExceeded
        >>> from commerce_kit.http import user_message_for
        >>> answer = user_message_for(RateLimitExceeded("user:7 over 5/60s", retry_after=41.2))
        >>> answer.http_status, answer.message, answer.headers
        (429, 'Too many requests. Please wait and try again.', {'Retry-After': '42'})

    .. versionadded:: 0.1.0
    .. versionchanged:: 0.2.0
       Moved from :mod:`commerce_kit.payments` to :mod:`commerce_kit.http`;
       :class:`~commerce_kit.payments.PaymentUnavailableError` answers with the 503 sentence.
    """
    base, status, message = _entry(type(error))
    if isinstance(error, CommerceKitError):
        code = error.code
    else:
        code = _BORROWED_CODES.get(base, CommerceKitError.code)
    return UserMessage(code, message, status, known_delay(getattr(error, "retry_after", None)))

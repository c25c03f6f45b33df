"""The exceptions commerce_kit raises, all rooted at :class:`CommerceKitError`.

Every error carries a stable machine-readable ``code`` and a plain-language ``user_message`` that is
safe to show an end user; the technical detail stays in ``str(error)`` for logs. Where a builtin
exception fits, the error also inherits it, so ``except ValueError`` keeps working.

The tree::

    CommerceKitError
    ├── RateLimitExceeded
    ├── CircuitOpenError
    ├── RetryError
    │   └── NonIdempotentRetryError (also ValueError)
    ├── RegistryError (also LookupError)
    ├── FeedError
    │   ├── FeedFormatError (also ValueError)
    │   │   └── UnsafeFeedError
    │   ├── FeedLimitError (also ValueError)
    │   └── UnknownFeedFormatError (also LookupError)
    ├── WebhookVerificationError (also ValueError)
    └── PaymentError
        ├── PaymentDeclinedError
        ├── PaymentUnavailableError
        └── UnknownPaymentMethodError (also LookupError)
"""

from __future__ import annotations

from typing import ClassVar


class CommerceKitError(Exception):
    """Root of every exception raised by commerce_kit.

    Attributes:
        code: A stable, machine-readable identifier of the kind of failure.
        user_message: A plain-language sentence that may be shown to an end user; it never
            contains technical detail.
    """

    code: ClassVar[str] = "error"
    user_message: ClassVar[str] = "Something went wrong. Please try again shortly."


class RateLimitExceeded(CommerceKitError):  # noqa: N818 - the name says what happened, like httpx's
    """A rate limit denied the request.

    Args:
        message: Technical detail for logs.
        retry_after: Seconds until the next request may be allowed.
    """

    code = "rate_limited"
    user_message = "Too many requests. Please wait and try again."

    def __init__(self, message: str, *, retry_after: float) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class CircuitOpenError(CommerceKitError):
    """A circuit breaker is open, so the call was refused without being attempted.

    Args:
        message: Technical detail for logs.
        name: The breaker's name.
        retry_after: Seconds until the breaker lets a trial call through.
    """

    code = "service_unavailable"
    user_message = "System experiencing high traffic. Please try again shortly."

    def __init__(self, message: str, *, name: str, retry_after: float) -> None:
        super().__init__(message)
        self.name = name
        self.retry_after = retry_after


class RetryError(CommerceKitError):
    """Base class for errors about how a retry is configured or used."""

    code = "retry_error"


class NonIdempotentRetryError(RetryError, ValueError):
    """A call marked non-idempotent would have been retried without an idempotency key."""

    code = "non_idempotent_retry"


class RegistryError(CommerceKitError, LookupError):
    """A registry lookup or registration failed (unknown or duplicate name)."""

    code = "registry_error"


class FeedError(CommerceKitError):
    """Base class for errors about a partner feed as a whole."""

    code = "feed_error"
    user_message = "The feed could not be read."


class FeedFormatError(FeedError, ValueError):
    """The feed is not well-formed in its format (bad CSV, JSON, XML, ...)."""

    code = "feed_format"
    user_message = "The feed is not valid in its format."


class UnsafeFeedError(FeedFormatError):
    """The feed was refused: it carries an attack (entity expansion, external entity, DTD)."""

    code = "feed_unsafe"
    user_message = "The feed was refused because it contains unsafe XML constructs."


class FeedLimitError(FeedError, ValueError):
    """The feed exceeds a configured limit (bytes, records, field length)."""

    code = "feed_limit"
    user_message = "The feed is too large."


class UnknownFeedFormatError(FeedError, LookupError):
    """No adapter is registered for the requested or detected feed format."""

    code = "feed_unknown_format"
    user_message = "The feed format is not supported."


class WebhookVerificationError(CommerceKitError, ValueError):
    """A webhook's signature, timestamp or id did not verify."""

    code = "webhook_invalid"
    user_message = "The webhook could not be verified."


class PaymentError(CommerceKitError):
    """Base class for payment failures."""

    code = "payment_failed"
    user_message = (
        "Payment could not be processed. Please try again or use different payment method."
    )


class PaymentDeclinedError(PaymentError):
    """The provider declined the payment; retrying will not help."""

    code = "payment_declined"


class PaymentUnavailableError(PaymentError):
    """The provider could not be reached or failed transiently; retrying may help."""

    code = "payment_unavailable"


class UnknownPaymentMethodError(PaymentError, LookupError):
    """No payment method is registered under the requested name."""

    code = "payment_unknown_method"

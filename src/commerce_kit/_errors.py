"""The exceptions commerce_kit raises, all rooted at :class:`CommerceKitError`.

Every error carries a stable machine-readable ``code``; the technical detail stays in
``str(error)`` for logs. What an end user sees comes from one catalogue,
:func:`commerce_kit.http.user_message_for`. Where a builtin exception fits, the error also
inherits it, so ``except ValueError`` keeps working.

The tree::

    CommerceKitError
    ├── RateLimitExceeded
    ├── CircuitOpenError
    ├── NonIdempotentRetryError (also ValueError)
    ├── RegistryError (also LookupError)
    ├── FeedError
    │   ├── FeedFormatError (also ValueError)
    │   │   └── UnsafeFeedError
    │   ├── FeedLimitError (also ValueError)
    │   └── UnknownFeedFormatError (also LookupError)
    ├── WebhookVerificationError (also ValueError)
    ├── OutOfStockError
    └── PaymentError
        ├── PaymentDeclinedError
        ├── PaymentUnavailableError
        └── UnknownPaymentMethodError (also LookupError)
"""

from __future__ import annotations

from typing import ClassVar, TypeVar

_E = TypeVar("_E", bound=BaseException)


def _restore(kind: type[_E], args: tuple[object, ...], state: dict[str, object]) -> _E:
    """Rebuild an error without calling ``__init__``, whose keyword-only fields pickle drops."""
    error = kind.__new__(kind, *args)
    error.args = args
    error.__dict__.update(state)
    return error


class CommerceKitError(Exception):
    """Root of every exception raised by commerce_kit.

    Attributes:
        code: A stable, machine-readable identifier of the kind of failure.

    .. versionchanged:: 0.2.0
       ``user_message`` moved out of the exceptions into one catalogue: use
       ``commerce_kit.http.user_message_for(error).message``.
    """

    code: ClassVar[str] = "error"

    def __reduce__(self) -> tuple[object, ...]:
        # Exception pickles as ``type(self)(*self.args)``, which loses (or, when required, fails
        # on) the keyword-only fields: keep them across pickling and copying (worker queues,
        # multiprocessing, copy.copy).
        return (_restore, (type(self), self.args, dict(self.__dict__)))


class RateLimitExceeded(CommerceKitError):  # noqa: N818 - the name says what happened, like httpx's
    """A rate limit denied the request.

    Args:
        message: Technical detail for logs.
        retry_after: Seconds until the next request may be allowed.
    """

    code = "rate_limited"

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

    def __init__(self, message: str, *, name: str, retry_after: float) -> None:
        super().__init__(message)
        self.name = name
        self.retry_after = retry_after


class NonIdempotentRetryError(CommerceKitError, ValueError):
    """A call marked non-idempotent would have been retried without an idempotency key.

    Raised by :func:`~commerce_kit.retry` with ``idempotent=False`` instead of the retry, chained
    from the error that would have been retried (its ``__cause__``). Pass an idempotency key
    that the service deduplicates by, or let the error through.

    .. versionchanged:: 0.2.0
       Derives from :class:`CommerceKitError` and :class:`ValueError` directly: ``RetryError``,
       its former base that nothing raised, is removed.
    """

    code = "non_idempotent_retry"


class RegistryError(CommerceKitError, LookupError):
    """A registry lookup or registration failed (unknown or duplicate name)."""

    code = "registry_error"


class FeedError(CommerceKitError):
    """Base class for errors about a partner feed as a whole.

    Args:
        message: Technical detail for logs.
        line: The 1-based line of the feed the error was found at, if known.
    """

    code = "feed_error"

    def __init__(self, message: str, *, line: int | None = None) -> None:
        super().__init__(message)
        self.line = line


class FeedFormatError(FeedError, ValueError):
    """The feed is not well-formed in its format (bad CSV, JSON, XML, ...).

    Args:
        message: Technical detail for logs.
        line: The 1-based line of the feed the error was found at, if known.
        column: The 1-based column on that line, if known.
    """

    code = "feed_format"

    def __init__(self, message: str, *, line: int | None = None, column: int | None = None) -> None:
        super().__init__(message, line=line)
        self.column = column


class UnsafeFeedError(FeedFormatError):
    """The feed was refused: it carries an attack (entity expansion, external entity, DTD).

    Args:
        message: Technical detail for logs.
        attack: What was refused, as a stable machine-readable string such as
            ``"entity_expansion"``, ``"quadratic_blowup"``, ``"external_entity"`` or ``"dtd"``.
        line: The 1-based line of the feed the construct was found at, if known.
    """

    code = "feed_unsafe"

    def __init__(self, message: str, *, attack: str = "unsafe", line: int | None = None) -> None:
        super().__init__(message, line=line)
        self.attack = attack


class FeedLimitError(FeedError, ValueError):
    """The feed exceeds a configured limit (bytes, records, field length).

    Args:
        message: Technical detail for logs.
        limit: The name of the limit exceeded, such as ``"max_bytes"`` (a field of
            :class:`commerce_kit.feeds.FeedLimits`).
        maximum: The value of that limit.
        line: The 1-based line of the feed the limit was exceeded at, if known.
    """

    code = "feed_limit"

    def __init__(
        self, message: str, *, limit: str = "", maximum: int = 0, line: int | None = None
    ) -> None:
        super().__init__(message, line=line)
        self.limit = limit
        self.maximum = maximum


class UnknownFeedFormatError(FeedError, LookupError):
    """No adapter is registered for the requested or detected feed format.

    Args:
        message: Technical detail for logs; it lists the supported formats.
        supported: The names of the formats that are registered.
    """

    code = "feed_unknown_format"

    def __init__(self, message: str, *, supported: tuple[str, ...] = ()) -> None:
        super().__init__(message)
        self.supported = supported


class WebhookVerificationError(CommerceKitError, ValueError):
    """A webhook's signature, timestamp or id did not verify.

    Args:
        message: Technical detail for logs; it never contains a secret or the payload.
        reason: Why, as a stable machine-readable string; :mod:`commerce_kit.webhooks` passes a
            member of :class:`commerce_kit.webhooks.FailureReason` (a ``str`` enum), such as
            ``"no_matching_signature"`` or ``"replayed"``.
    """

    code = "webhook_invalid"

    def __init__(self, message: str, *, reason: str = "invalid") -> None:
        super().__init__(message)
        self.reason = reason


class OutOfStockError(CommerceKitError):
    """The item cannot be sold: no stock is left.

    Args:
        message: Technical detail for logs.
        item: The identifier of the item (a SKU, a product id), if known.
    """

    code = "out_of_stock"

    def __init__(self, message: str, *, item: str | None = None) -> None:
        super().__init__(message)
        self.item = item


class PaymentError(CommerceKitError):
    """Base class for payment failures.

    Args:
        message: Technical detail for logs; never a card number or a secret.
        method: The name of the payment method involved, if known.
    """

    code = "payment_failed"

    def __init__(self, message: str, *, method: str | None = None) -> None:
        super().__init__(message)
        self.method = method


class PaymentDeclinedError(PaymentError):
    """The provider declined the payment; retrying will not help.

    Args:
        message: Technical detail for logs.
        method: The name of the payment method involved, if known.
        decline_code: The provider's machine-readable reason, such as ``"insufficient_funds"``.
    """

    code = "payment_declined"

    def __init__(
        self, message: str, *, method: str | None = None, decline_code: str = "declined"
    ) -> None:
        super().__init__(message, method=method)
        self.decline_code = decline_code


class PaymentUnavailableError(PaymentError):
    """The provider could not be reached or failed transiently; retrying may help.

    Args:
        message: Technical detail for logs.
        method: The name of the payment method involved, if known.
        retry_after: Seconds the provider asked the caller to wait before trying again, if it
            said so; retries honour it.
    """

    code = "payment_unavailable"

    def __init__(
        self, message: str, *, method: str | None = None, retry_after: float | None = None
    ) -> None:
        super().__init__(message, method=method)
        self.retry_after = retry_after


class UnknownPaymentMethodError(PaymentError, LookupError):
    """No payment method is registered under the requested name.

    Args:
        message: Technical detail for logs.
        method: The name that was asked for.
        known: The names that are registered.
    """

    code = "payment_unknown_method"

    def __init__(
        self, message: str, *, method: str | None = None, known: tuple[str, ...] = ()
    ) -> None:
        super().__init__(message, method=method)
        self.known = known

"""commerce_kit: the parts e-commerce services keep rewriting, done once and measured.

The package root re-exports the standard-library-only core eagerly; the pydantic-based areas
(:mod:`commerce_kit.feeds`, :mod:`commerce_kit.validation`, :mod:`commerce_kit.webhooks`,
:mod:`commerce_kit.payments`) load on first use, so ``import commerce_kit`` stays cheap.
"""

from __future__ import annotations

import importlib
from typing import Any

from commerce_kit._errors import (
    CircuitOpenError,
    CommerceKitError,
    FeedError,
    FeedFormatError,
    FeedLimitError,
    NonIdempotentRetryError,
    PaymentDeclinedError,
    PaymentError,
    PaymentUnavailableError,
    RateLimitExceeded,
    RegistryError,
    RetryError,
    UnknownFeedFormatError,
    UnknownPaymentMethodError,
    UnsafeFeedError,
    WebhookVerificationError,
)

# -- rate limiter --------------------------------------------------------------------------------
# -- cache ---------------------------------------------------------------------------------------
# -- circuit breaker -----------------------------------------------------------------------------
# -- retry ---------------------------------------------------------------------------------------

__all__ = [
    "CircuitOpenError",
    "CommerceKitError",
    "FeedError",
    "FeedFormatError",
    "FeedLimitError",
    "NonIdempotentRetryError",
    "PaymentDeclinedError",
    "PaymentError",
    "PaymentUnavailableError",
    "RateLimitExceeded",
    "RegistryError",
    "RetryError",
    "UnknownFeedFormatError",
    "UnknownPaymentMethodError",
    "UnsafeFeedError",
    "WebhookVerificationError",
]

_LAZY_SUBMODULES = frozenset({"feeds", "payments", "testing", "validation", "webhooks"})


def __getattr__(name: str) -> Any:
    if name == "__version__":
        from importlib.metadata import version  # noqa: PLC0415 - loaded only when asked for

        return version("commerce-kit")
    if name in _LAZY_SUBMODULES:
        return importlib.import_module(f"commerce_kit.{name}")
    raise AttributeError(f"module 'commerce_kit' has no attribute {name!r}")

"""commerce_kit: the parts e-commerce services keep rewriting, done once and measured.

The package root re-exports the standard-library-only core eagerly; the pydantic-based areas
(:mod:`commerce_kit.feeds`, :mod:`commerce_kit.validation`, :mod:`commerce_kit.webhooks`,
:mod:`commerce_kit.payments`) load on first use, so ``import commerce_kit`` stays cheap.
"""

from __future__ import annotations

import importlib
import logging
from typing import Any

from commerce_kit._errors import (
    CircuitOpenError,
    CommerceKitError,
    FeedError,
    FeedFormatError,
    FeedLimitError,
    NonIdempotentRetryError,
    OutOfStockError,
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
from commerce_kit.resilience import (
    HitDenied,
    RateLimit,
    RateLimitDecision,
    RateLimiter,
    RateLimitStrategy,
    format_retry_after,
)

# isort: split
# -- cache ---------------------------------------------------------------------------------------
from commerce_kit.resilience import (
    CacheStats,
    EntryEvicted,
    EvictionReason,
    LoadFinished,
    TTLCache,
)

# isort: split
# -- circuit breaker -----------------------------------------------------------------------------
from commerce_kit.resilience import (
    BreakerRecord,
    BreakerSnapshot,
    BreakerStore,
    CallFailed,
    CallRejected,
    CallSucceeded,
    CircuitBreaker,
    CircuitBreakerRegistry,
    CircuitState,
    MemoryBreakerStore,
    StateChanged,
)

# isort: split
# -- retry ---------------------------------------------------------------------------------------
from commerce_kit.resilience import (
    Attempt,
    GiveUpReason,
    Jitter,
    RetryBudget,
    RetryGaveUp,
    RetryLoop,
    RetryScheduled,
    retry,
    retry_after_hint,
    retrying,
)

__all__ = [
    "Attempt",
    "BreakerRecord",
    "BreakerSnapshot",
    "BreakerStore",
    "CacheStats",
    "CallFailed",
    "CallRejected",
    "CallSucceeded",
    "CircuitBreaker",
    "CircuitBreakerRegistry",
    "CircuitOpenError",
    "CircuitState",
    "CommerceKitError",
    "EntryEvicted",
    "EvictionReason",
    "FeedError",
    "FeedFormatError",
    "FeedLimitError",
    "GiveUpReason",
    "HitDenied",
    "Jitter",
    "LoadFinished",
    "MemoryBreakerStore",
    "NonIdempotentRetryError",
    "OutOfStockError",
    "PaymentDeclinedError",
    "PaymentError",
    "PaymentUnavailableError",
    "RateLimit",
    "RateLimitDecision",
    "RateLimitExceeded",
    "RateLimitStrategy",
    "RateLimiter",
    "RegistryError",
    "RetryBudget",
    "RetryError",
    "RetryGaveUp",
    "RetryLoop",
    "RetryScheduled",
    "StateChanged",
    "TTLCache",
    "UnknownFeedFormatError",
    "UnknownPaymentMethodError",
    "UnsafeFeedError",
    "WebhookVerificationError",
    "format_retry_after",
    "retry",
    "retry_after_hint",
    "retrying",
]

# A library never configures logging; without this, warnings would reach stderr through Python's
# last-resort handler when the application has not set logging up.
logging.getLogger("commerce_kit").addHandler(logging.NullHandler())

_LAZY_SUBMODULES = frozenset({"feeds", "payments", "testing", "validation", "webhooks"})


def __getattr__(name: str) -> Any:
    if name == "__version__":
        from importlib.metadata import version  # noqa: PLC0415 - loaded only when asked for

        return version("commerce-kit")
    if name in _LAZY_SUBMODULES:
        return importlib.import_module(f"commerce_kit.{name}")
    raise AttributeError(f"module 'commerce_kit' has no attribute {name!r}")

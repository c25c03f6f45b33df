"""commerce_kit: the parts e-commerce services keep rewriting, done once and measured.

The package root holds the resilience components (:class:`RateLimiter`, :class:`CircuitBreaker`,
:func:`retry`, :class:`TTLCache` and their kin), :class:`CommerceKitError` and the base error of
each area. Every other public name has one home: :mod:`commerce_kit.resilience` (the core's
events and value types), :mod:`commerce_kit.http`, :mod:`commerce_kit.typing`,
:mod:`commerce_kit.testing`, and each area's own module (:mod:`commerce_kit.feeds`,
:mod:`commerce_kit.validation`, :mod:`commerce_kit.payments`, :mod:`commerce_kit.webhooks`) with
its functions and leaf errors. The standard-library-only core loads eagerly; the pydantic-based
areas on first use, so ``import commerce_kit`` stays cheap.
"""

from __future__ import annotations

import importlib
import logging
from typing import TYPE_CHECKING, Any

from commerce_kit._errors import (
    CircuitOpenError,
    CommerceKitError,
    FeedError,
    NonIdempotentRetryError,
    OutOfStockError,
    PaymentError,
    RateLimitExceeded,
    RegistryError,
    WebhookVerificationError,
)

# -- rate limiter --------------------------------------------------------------------------------
from commerce_kit.resilience._rate_limit_policy import (
    RateLimit,
    RateLimitDecision,
    RateLimitStrategy,
)
from commerce_kit.resilience._rate_limiter import RateLimiter

# isort: split
# -- cache ---------------------------------------------------------------------------------------
from commerce_kit.resilience._cache import TTLCache

# isort: split
# -- circuit breaker -----------------------------------------------------------------------------
from commerce_kit.resilience._circuit_breaker import CircuitBreaker
from commerce_kit.resilience._circuit_breaker_machine import CircuitState
from commerce_kit.resilience._circuit_breaker_registry import CircuitBreakerRegistry

# isort: split
# -- retry ---------------------------------------------------------------------------------------
from commerce_kit.resilience._retry import RetryPolicy, retry, retrying
from commerce_kit.resilience._retry_budget import RetryBudget

__all__ = [
    "CircuitBreaker",
    "CircuitBreakerRegistry",
    "CircuitOpenError",
    "CircuitState",
    "CommerceKitError",
    "FeedError",
    "NonIdempotentRetryError",
    "OutOfStockError",
    "PaymentError",
    "RateLimit",
    "RateLimitDecision",
    "RateLimitExceeded",
    "RateLimitStrategy",
    "RateLimiter",
    "RegistryError",
    "RetryBudget",
    "RetryPolicy",
    "TTLCache",
    "WebhookVerificationError",
    "retry",
    "retrying",
]

# A library never configures logging; without this, warnings would reach stderr through Python's
# last-resort handler when the application has not set logging up.
logging.getLogger("commerce_kit").addHandler(logging.NullHandler())

_LAZY_SUBMODULES = frozenset(
    {"feeds", "http", "payments", "resilience", "testing", "typing", "validation", "webhooks"}
)


if TYPE_CHECKING:
    # What the lazy loading below hands out, spelled out for type checkers; hiding __getattr__
    # from them makes a name imported from the wrong module a type error, not a silent Any.
    from commerce_kit import feeds as feeds
    from commerce_kit import http as http
    from commerce_kit import payments as payments
    from commerce_kit import resilience as resilience
    from commerce_kit import testing as testing
    from commerce_kit import typing as typing
    from commerce_kit import validation as validation
    from commerce_kit import webhooks as webhooks

    __version__: str
else:

    def __getattr__(name: str) -> Any:
        if name == "__version__":
            from importlib.metadata import version  # noqa: PLC0415 - loaded only when asked for

            return version("commerce-kit")
        if name in _LAZY_SUBMODULES:
            return importlib.import_module(f"commerce_kit.{name}")
        raise AttributeError(f"module 'commerce_kit' has no attribute {name!r}")

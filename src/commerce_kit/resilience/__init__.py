"""Resilience primitives: rate limiting, circuit breaking, retries and caching.

Pure standard library. Every component takes ``clock=`` (and ``sleep=`` where it waits), serves
sync and asyncio callers from one core of logic, and is safe to share between threads.
"""

from __future__ import annotations

# -- rate limiter --------------------------------------------------------------------------------
from commerce_kit.resilience._http import format_retry_after
from commerce_kit.resilience._rate_limit_policy import (
    RateLimit,
    RateLimitDecision,
    RateLimitStrategy,
)
from commerce_kit.resilience._rate_limiter import HitDenied, RateLimiter

# isort: split
# -- cache ---------------------------------------------------------------------------------------
from commerce_kit.resilience._cache import (
    CacheEvent,
    CacheStats,
    EntryEvicted,
    EvictionReason,
    LoadFinished,
    TTLCache,
)

# isort: split
# -- circuit breaker -----------------------------------------------------------------------------
from commerce_kit.resilience._circuit_breaker import (
    BreakerEvent,
    BreakerSnapshot,
    CallFailed,
    CallRejected,
    CallSucceeded,
    CircuitBreaker,
    StateChanged,
)
from commerce_kit.resilience._circuit_breaker_machine import BreakerRecord, CircuitState
from commerce_kit.resilience._circuit_breaker_registry import CircuitBreakerRegistry
from commerce_kit.resilience._circuit_breaker_store import (
    BreakerCell,
    BreakerStore,
    MemoryBreakerCell,
    MemoryBreakerStore,
)
from commerce_kit.resilience._matchers import ExceptionMatcher

# -- retry ---------------------------------------------------------------------------------------
from commerce_kit.resilience._retry import (
    Attempt,
    GiveUpReason,
    Jitter,
    RetryEvent,
    RetryGaveUp,
    RetryHook,
    RetryLoop,
    RetryOn,
    RetryScheduled,
    retry,
    retry_after_hint,
    retrying,
)
from commerce_kit.resilience._retry_budget import RetryBudget

__all__ = [
    "Attempt",
    "BreakerCell",
    "BreakerEvent",
    "BreakerRecord",
    "BreakerSnapshot",
    "BreakerStore",
    "CacheEvent",
    "CacheStats",
    "CallFailed",
    "CallRejected",
    "CallSucceeded",
    "CircuitBreaker",
    "CircuitBreakerRegistry",
    "CircuitState",
    "EntryEvicted",
    "EvictionReason",
    "ExceptionMatcher",
    "GiveUpReason",
    "HitDenied",
    "Jitter",
    "LoadFinished",
    "MemoryBreakerCell",
    "MemoryBreakerStore",
    "RateLimit",
    "RateLimitDecision",
    "RateLimitStrategy",
    "RateLimiter",
    "RetryBudget",
    "RetryEvent",
    "RetryGaveUp",
    "RetryHook",
    "RetryLoop",
    "RetryOn",
    "RetryScheduled",
    "StateChanged",
    "TTLCache",
    "format_retry_after",
    "retry",
    "retry_after_hint",
    "retrying",
]

"""Resilience primitives: rate limiting, circuit breaking, retries and caching.

Pure standard library. Every component takes ``clock=`` (and ``sleep=`` where it waits), serves
sync and asyncio callers from one core of logic, and is safe to share between threads.
"""

from __future__ import annotations

# -- rate limiter --------------------------------------------------------------------------------
from commerce_kit.resilience._http import format_retry_after
from commerce_kit.resilience._rate_limiter import (
    LimitExceeded,
    RateLimit,
    RateLimitDecision,
    RateLimiter,
    RateLimitStrategy,
)

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
    ExceptionFilter,
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

# -- retry ---------------------------------------------------------------------------------------
from commerce_kit.resilience._matchers import ExceptionMatcher
from commerce_kit.resilience._retry import (
    Attempt,
    RetryLoop,
    RetryOptions,
    RetryPolicy,
    retry,
    retry_after_hint,
    retrying,
)
from commerce_kit.resilience._retry_budget import RetryBudget
from commerce_kit.resilience._retry_core import Jitter
from commerce_kit.resilience._retry_events import (
    GiveUpReason,
    RetryEvent,
    RetryGaveUp,
    RetryHook,
    RetryScheduled,
)

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
    "ExceptionFilter",
    "ExceptionMatcher",
    "GiveUpReason",
    "Jitter",
    "LimitExceeded",
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
    "RetryOptions",
    "RetryPolicy",
    "RetryScheduled",
    "StateChanged",
    "TTLCache",
    "format_retry_after",
    "retry",
    "retry_after_hint",
    "retrying",
]

"""The resilience core's events, snapshots, loops and value types.

Pure standard library. The components themselves (:class:`~commerce_kit.RateLimiter`,
:class:`~commerce_kit.CircuitBreaker`, :func:`~commerce_kit.retry`, :class:`~commerce_kit.TTLCache`
and their kin) are imported from the package root; this module holds what they hand back and send
to hooks. Their protocols and hook aliases live in :mod:`commerce_kit.typing`.

.. versionchanged:: 0.2.0
   The components moved to the package root only; the protocols and aliases to
   :mod:`commerce_kit.typing`; ``format_retry_after`` to :mod:`commerce_kit.http`.
"""

from __future__ import annotations

# -- rate limiter --------------------------------------------------------------------------------
from commerce_kit.resilience._rate_limiter import HitDenied

# isort: split
# -- cache ---------------------------------------------------------------------------------------
from commerce_kit.resilience._cache import CacheStats, EntryEvicted, EvictionReason, LoadFinished

# isort: split
# -- circuit breaker -----------------------------------------------------------------------------
from commerce_kit.resilience._circuit_breaker import (
    BreakerSnapshot,
    CallFailed,
    CallRejected,
    CallSucceeded,
    StateChanged,
)
from commerce_kit.resilience._circuit_breaker_machine import BreakerRecord
from commerce_kit.resilience._circuit_breaker_store import MemoryBreakerCell, MemoryBreakerStore

# isort: split
# -- retry ---------------------------------------------------------------------------------------
from commerce_kit.resilience._retry import (
    Attempt,
    RetryLoop,
    retry_after_hint,
)
from commerce_kit.resilience._retry_core import Jitter
from commerce_kit.resilience._retry_events import GiveUpReason, RetryGaveUp, RetryScheduled

__all__ = [
    "Attempt",
    "BreakerRecord",
    "BreakerSnapshot",
    "CacheStats",
    "CallFailed",
    "CallRejected",
    "CallSucceeded",
    "EntryEvicted",
    "EvictionReason",
    "GiveUpReason",
    "HitDenied",
    "Jitter",
    "LoadFinished",
    "MemoryBreakerCell",
    "MemoryBreakerStore",
    "RetryGaveUp",
    "RetryLoop",
    "RetryScheduled",
    "StateChanged",
    "retry_after_hint",
]

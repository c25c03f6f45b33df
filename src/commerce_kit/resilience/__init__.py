"""Resilience primitives: rate limiting, circuit breaking, retries and caching.

Pure standard library. Every component takes ``clock=`` (and ``sleep=`` where it waits), serves
sync and asyncio callers from one core of logic, and is safe to share between threads.
"""

from __future__ import annotations

# -- rate limiter --------------------------------------------------------------------------------
# -- cache ---------------------------------------------------------------------------------------
# -- circuit breaker -----------------------------------------------------------------------------
# -- retry ---------------------------------------------------------------------------------------

__all__: list[str] = []

"""Redis backends: the same limiter, cache, breaker and replay guard, shared by many processes.

Install with ``pip install commerce-kit[redis]``. Importing this package imports
`redis-py <https://redis.readthedocs.io>`_; ``import commerce_kit`` alone never does. The
:class:`~commerce_kit.typing.Codec` protocol a cache's values go through is in
:mod:`commerce_kit.typing`, with the other protocols.

.. versionadded:: 0.2.0
"""

from __future__ import annotations

from commerce_kit.redis._breaker import RedisBreakerCell, RedisBreakerStore
from commerce_kit.redis._cache import RedisCache
from commerce_kit.redis._codec import JSONCodec
from commerce_kit.redis._guard import RedisGuard
from commerce_kit.redis._rate_limit import RedisRateLimitStore
from commerce_kit.redis._replay import RedisReplayStore

__all__ = [
    "JSONCodec",
    "RedisBreakerCell",
    "RedisBreakerStore",
    "RedisCache",
    "RedisGuard",
    "RedisRateLimitStore",
    "RedisReplayStore",
]

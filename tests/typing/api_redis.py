"""Never executed: mypy checks that the Redis backends read well from a user's side."""

from __future__ import annotations

import time
from datetime import timedelta
from typing import Any

import redis
import redis.asyncio

from commerce_kit import CircuitBreaker, RateLimit, RateLimiter, TTLCache
from commerce_kit.redis import (
    JSONCodec,
    RedisBreakerCell,
    RedisBreakerStore,
    RedisCache,
    RedisGuard,
    RedisRateLimitStore,
    RedisReplayStore,
)
from commerce_kit.typing import BreakerCell, BreakerStore, Codec, RateLimitStore, ReplayStore

client = redis.Redis()
aclient = redis.asyncio.Redis()
guard = RedisGuard(failure_threshold=2, window=timedelta(seconds=5), reset_timeout=1.0)
up: bool = guard.available

limits_store: RateLimitStore = RedisRateLimitStore(
    client, aclient=aclient, prefix="shop:", on_failure="closed", guard=guard
)
limiter = RateLimiter(5, 60.0, strategy="gcra", store=limits_store)
both = RateLimiter.multi(RateLimit(5, 60, name="minute"), RateLimit(100, 3600), store=limits_store)

breakers: BreakerStore = RedisBreakerStore(client, refresh=0.5, record_ttl=timedelta(minutes=5))
cell: BreakerCell = RedisBreakerStore(client).cell("psp")
redis_cell: RedisBreakerCell = RedisBreakerStore(client).cell("psp")
breaker = CircuitBreaker("psp", clock=time.time, store=breakers)

replays: ReplayStore = RedisReplayStore(client, on_failure="refuse", guard=guard)


class MsgpackLike:
    def encode(self, value: Any) -> bytes:
        return repr(value).encode()

    def decode(self, data: bytes) -> Any:
        return data.decode()


codec: Codec = MsgpackLike()
json_codec: Codec = JSONCodec()
listings: RedisCache[dict[str, float]] = RedisCache(
    client, name="listings", ttl=30, codec=codec, local=TTLCache(ttl=2), lease=5.0
)
price: dict[str, float] = listings.get_or_load("sku:1", lambda: {"price": 9.5})
maybe: dict[str, float] | None = listings.get("sku:1")
listings.set("sku:2", {"price": 1.0}, ttl=timedelta(seconds=10))


async def read() -> dict[str, float]:
    async def load() -> dict[str, float]:
        return {"price": 2.0}

    return await RedisCache[dict[str, float]](aclient=aclient).aget_or_load("sku:3", load)


async def plain() -> dict[str, float] | None:
    cache = RedisCache[dict[str, float]](aclient=aclient)
    await cache.aset("sku:4", {"price": 3.0})
    removed: bool = await cache.adelete("sku:5")
    return await cache.aget("sku:4")

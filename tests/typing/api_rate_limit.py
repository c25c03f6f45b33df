"""Never executed: mypy checks that the rate-limiting API reads well from a user's side."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import Any

from commerce_kit import (
    RateLimit,
    RateLimitDecision,
    RateLimiter,
    RateLimitExceeded,
    RateLimitStrategy,
)
from commerce_kit.http import format_retry_after
from commerce_kit.resilience import HitDenied
from commerce_kit.testing import ManualClock
from commerce_kit.typing import RateLimitStore


def log_refusal(event: HitDenied) -> None:
    key: str = event.key
    name: str = event.policy.name
    wait: float = event.retry_after
    cost: int = event.cost


limiter = RateLimiter(
    limit=5,
    window=60.0,
    strategy="exact",
    name="checkout",
    clock=ManualClock(),
    hooks=[log_refusal],
    maxsize=50_000,
)
by_enum = RateLimiter(10, timedelta(seconds=1), strategy=RateLimitStrategy.GCRA, burst=20)
counter = RateLimiter(1000, 60, strategy="sliding_counter")

decision: RateLimitDecision = limiter.hit("user:42")
allowed: bool = decision.allowed
remaining: int = decision.remaining
retry_after: float = decision.retry_after
reset_after: float = decision.reset_after
quota: int = decision.limit
policy: RateLimit = decision.policy
parts: tuple[RateLimitDecision, ...] = decision.parts
headers: dict[str, str] = decision.headers()
legacy: dict[str, str] = decision.headers(legacy=True)
if decision:
    pass
by_hand: RateLimitDecision = RateLimitDecision(True, 4, 0.0, 60.0, RateLimit(5, 60))
combined = RateLimitDecision(False, 0, 3.5, 60.0, RateLimit(5, 60), parts=(by_hand, decision))

costly: RateLimitDecision = limiter.hit("user:42", cost=2)
peeked: RateLimitDecision = limiter.peek("user:42")
refunded: RateLimitDecision = limiter.refund("user:42", cost=1)
limiter.reset("user:42")

try:
    limiter.check("user:42")
except RateLimitExceeded as error:
    value: str = format_retry_after(error.retry_after)

orders = RateLimiter.multi(
    RateLimit(5, 60, name="minute"),
    RateLimit(100, timedelta(days=1), name="day", strategy="sliding_counter"),
    clock=ManualClock(),
)
policies: tuple[RateLimit, ...] = orders.policies
capacity: int = policies[0].capacity
window: float = policies[0].window
strategy: RateLimitStrategy = policies[0].strategy
store: RateLimitStore = orders.store


async def handler() -> RateLimitDecision:
    await limiter.acheck("user:7")
    await limiter.apeek("user:7")
    await limiter.arefund("user:7")
    await limiter.areset("user:7")
    return await limiter.ahit("user:7", cost=1)


result: RateLimitDecision = asyncio.run(handler())


class NullStore:
    """A user's own store satisfies the protocol structurally."""

    def update(self, key: str, op: Any, now: float, cost: int, /) -> RateLimitDecision:
        return op(None, now, cost)[1]  # type: ignore[no-any-return]

    async def aupdate(self, key: str, op: Any, now: float, cost: int, /) -> RateLimitDecision:
        return self.update(key, op, now, cost)

    def delete(self, key: str, /) -> None:
        return None

    async def adelete(self, key: str, /) -> None:
        return None


custom = RateLimiter(5, 60.0, store=NullStore())

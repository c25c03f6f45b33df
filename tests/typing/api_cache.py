"""Never executed: mypy checks that TTLCache reads well from a user's side."""

from __future__ import annotations

import logging
from collections.abc import Hashable
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

from commerce_kit import TTLCache
from commerce_kit.resilience import CacheStats, EntryEvicted, EvictionReason, LoadFinished
from commerce_kit.testing import ManualClock
from commerce_kit.typing import CacheEvent


class Listing:
    def __init__(self, sale_id: int) -> None:
        self.sale_id = sale_id


def on_event(event: CacheEvent) -> None:
    if isinstance(event, LoadFinished):
        seconds: float = event.duration
        ok: bool = event.ok
        error: BaseException | None = event.error
    else:
        reason: EvictionReason = event.reason
        key: Hashable = event.key


def log_any(event: object) -> None:
    logging.getLogger("shop").info("%s", event)


listings: TTLCache[int, Listing] = TTLCache(
    ttl=30.0,
    maxsize=10_000,
    clock=ManualClock(),
    stale_ttl=timedelta(seconds=10),
    beta=1.0,
    negative_ttl=2,
    executor=ThreadPoolExecutor(max_workers=2),
    hooks=[on_event, log_any],
)

listings.set(7, Listing(7))
listings.set(7, Listing(7), ttl=timedelta(minutes=1))
maybe: Listing | None = listings.get(7)
surely: Listing | str = listings.get(7, "none")
removed: bool = listings.delete(7)
present: bool = 7 in listings
count: int = len(listings)
dropped: int = listings.expire()
listings.clear()


def load_listing() -> Listing:
    return Listing(7)


async def aload_listing() -> Listing:
    return Listing(7)


loaded: Listing = listings.get_or_load(7, load_listing, ttl=5)


async def read() -> Listing:
    return await listings.aget_or_load(7, aload_listing)


stats: CacheStats = listings.stats
rate: float = stats.hit_rate
hits: int = stats.hits + stats.stale_hits + stats.loads + stats.load_failures
ttl: float = listings.ttl
size: int = listings.maxsize

pages: TTLCache[Hashable, object] = TTLCache(ttl=60)


@pages.cached(ttl=10)
def page(sale_id: int, *, number: int = 1) -> str:
    return f"{sale_id}:{number}"


@pages.cached(key=lambda sale_id: ("apage", sale_id))
async def apage(sale_id: int) -> str:
    return str(sale_id)


text: str = page(7, number=2)


async def use_async() -> str:
    return await apage(7)


evicted = EntryEvicted(key=7, reason=EvictionReason.SIZE)
finished = LoadFinished(key=7, duration=0.1)


def refresh_in_the_background() -> None:
    with TTLCache[str, str](ttl=30.0, stale_ttl=10.0) as prices:
        prices.get_or_load("sku-1", lambda: "12.00")
    prices.close()


async def refresh_in_tasks() -> str:
    async with TTLCache[str, str](ttl=30.0, stale_ttl=10.0) as prices:

        async def load() -> str:
            return "12.00"

        price: str = await prices.aget_or_load("sku-1", load)
    await prices.aclose()
    return price


class AsyncFetcher:
    async def __call__(self, sale_id: int) -> str:
        return str(sale_id)


fetch_listing = pages.cached()(AsyncFetcher())


async def use_fetcher() -> object:
    return await fetch_listing(7)

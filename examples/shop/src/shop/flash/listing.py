"""The product listing, cached: at most one database query per TTL window (scenario P1).

The cache holds the listing's ready-made JSON bytes under one key; :meth:`TTLCache.aget_or_load`
is single-flight, so however many readers miss at once, one query runs and they all share it.
The cache fills on the first read, so a product added before anyone reads is listed at once.

With ``shared=`` (a :class:`~commerce_kit.redis.RedisCache` whose local tier becomes this
listing's cache), the window holds for every worker of a fleet: one query per window in all.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

from commerce_kit import TTLCache
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from shop.db import products
from shop.money import from_cents

if TYPE_CHECKING:
    from commerce_kit.redis import RedisCache

__all__ = ["Listing"]

_KEY = "flash"


class Listing:
    """The flash-sale products as JSON, through a single-flight TTL cache."""

    def __init__(
        self,
        engine: AsyncEngine,
        *,
        ttl: float,
        on_query: object = None,
        shared: RedisCache[bytes] | None = None,
    ) -> None:
        self._engine = engine
        local = None if shared is None else shared.local
        self.cache: TTLCache[str, bytes] = TTLCache(ttl=ttl, maxsize=4) if local is None else local
        self._source: TTLCache[str, bytes] | RedisCache[bytes] = (
            self.cache if shared is None else shared
        )
        self._on_query = on_query

    async def json(self) -> bytes:
        """Return the listing as JSON bytes, from the cache when fresh."""
        return await self._source.aget_or_load(_KEY, self._load)

    async def rows(self) -> list[dict[str, object]]:
        """Return the listing as a list of dicts (for the page)."""
        data: list[dict[str, object]] = json.loads(await self.json())
        return data

    async def _load(self) -> bytes:
        if callable(self._on_query):
            self._on_query()
        query = select(
            products.c.sku,
            products.c.title,
            products.c.price_cents,
            products.c.currency,
            products.c.stock,
        ).order_by(products.c.sku)
        async with self._engine.connect() as conn:
            result = await conn.execute(query)
            rows = result.all()
        items = [
            {
                "sku": row.sku,
                "title": row.title,
                "price": str(from_cents(row.price_cents)),
                "currency": row.currency,
                "stock": row.stock,
            }
            for row in rows
        ]
        return json.dumps(items, separators=(",", ":")).encode()

"""The product listing, cached: at most one database query per TTL window (scenario P1).

The cache holds the listing's ready-made JSON bytes under one key; :meth:`TTLCache.aget_or_load`
is single-flight, so however many readers miss at once, one query runs and they all share it.
The cache fills on the first read, so a product added before anyone reads is listed at once.
"""

from __future__ import annotations

import json

from commerce_kit import TTLCache
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from shop.db import products
from shop.money import from_cents

__all__ = ["Listing"]

_KEY = "flash"


class Listing:
    """The flash-sale products as JSON, through a single-flight TTL cache."""

    def __init__(self, engine: AsyncEngine, *, ttl: float, on_query: object = None) -> None:
        self._engine = engine
        self.cache: TTLCache[str, bytes] = TTLCache(ttl=ttl, maxsize=4)
        self._on_query = on_query

    async def json(self) -> bytes:
        """Return the listing as JSON bytes, from the cache when fresh."""
        return await self.cache.aget_or_load(_KEY, self._load)

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

"""Adding users and products (the CLI's commands and the demo seed)."""

from __future__ import annotations

from decimal import Decimal

from sqlalchemy import func, insert, select
from sqlalchemy.ext.asyncio import AsyncEngine

from shop.auth import hash_token, new_token
from shop.db import now_ms, products, users
from shop.money import to_cents

__all__ = ["create_product", "create_user", "is_empty", "seed_demo"]

DEMO_USERS = ("alice", "bob", "carol")
DEMO_PRODUCTS = (
    ("FLASH-HEADPHONES", "Noise-cancelling headphones", Decimal("79.00"), 100),
    ("FLASH-KEYBOARD", "Mechanical keyboard", Decimal("49.50"), 50),
    ("FLASH-MUG", "Insulated travel mug", Decimal("12.99"), 200),
    ("FLASH-LAMP", "Desk lamp, last few", Decimal("24.00"), 3),
)


async def create_user(engine: AsyncEngine, name: str) -> tuple[int, str]:
    """Add a user and return ``(id, token)``; the token is shown only now.

    Raises:
        sqlalchemy.exc.IntegrityError: The name is taken.
    """
    token = new_token()
    async with engine.begin() as conn:
        result = await conn.execute(
            insert(users)
            .values(name=name, token_hash=hash_token(token), created_at=now_ms())
            .returning(users.c.id)
        )
        user_id = int(result.scalar_one())
    return user_id, token


async def create_product(
    engine: AsyncEngine,
    *,
    sku: str,
    title: str,
    price: Decimal,
    stock: int,
    currency: str = "EUR",
) -> None:
    """Add a flash-sale product.

    Raises:
        ValueError: The price or stock is invalid.
        sqlalchemy.exc.IntegrityError: The SKU is taken.
    """
    if stock < 0:
        raise ValueError(f"stock must be 0 or more, got {stock}")
    async with engine.begin() as conn:
        await conn.execute(
            insert(products).values(
                sku=sku, title=title, price_cents=to_cents(price), currency=currency, stock=stock
            )
        )


async def is_empty(engine: AsyncEngine) -> bool:
    """Whether the database has neither users nor products."""
    async with engine.connect() as conn:
        count_users = await conn.scalar(select(func.count()).select_from(users))
        count_products = await conn.scalar(select(func.count()).select_from(products))
    return not count_users and not count_products


async def seed_demo(engine: AsyncEngine) -> list[tuple[str, str]]:
    """Fill an empty database with a live flash sale; return the demo users' ``(name, token)``."""
    for sku, title, price, stock in DEMO_PRODUCTS:
        await create_product(engine, sku=sku, title=title, price=price, stock=stock)
    tokens = []
    for name in DEMO_USERS:
        _, token = await create_user(engine, name)
        tokens.append((name, token))
    return tokens

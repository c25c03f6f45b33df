"""Shoppers' bearer tokens: random, shown once, stored only as a SHA-256 hash."""

from __future__ import annotations

import hashlib
import secrets

from commerce_kit import TTLCache
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from shop.db import users

__all__ = ["Authenticator", "hash_token", "new_token"]

_MAX_TOKEN = 200


def new_token() -> str:
    """Return a fresh random token (256 bits, URL-safe)."""
    return secrets.token_urlsafe(32)


def hash_token(token: str) -> str:
    """Return the hex SHA-256 of ``token``: what the database keeps.

    A token has 256 random bits, so a fast hash is enough (no password stretching needed),
    and the lookup by hash is a constant-time comparison's equivalent: the database compares
    hashes, never the secret.
    """
    return hashlib.sha256(token.encode()).hexdigest()


class Authenticator:
    """Find the user behind an ``Authorization: Bearer`` header, with a short cache."""

    def __init__(self, engine: AsyncEngine, *, ttl: float = 60.0) -> None:
        self._engine = engine
        # Token hash -> user id. Users are never deleted in this shop, so a cached answer
        # cannot outlive its user; a miss (unknown token) is not cached.
        self._cache: TTLCache[str, int] = TTLCache(ttl=ttl, maxsize=10_000)

    async def user_id(self, authorization: str | None) -> int | None:
        """Return the user id for the header, or None when it is missing or unknown."""
        if not authorization:
            return None
        scheme, _, token = authorization.partition(" ")
        token = token.strip()
        if scheme.lower() != "bearer" or not token or len(token) > _MAX_TOKEN:
            return None
        digest = hash_token(token)
        cached = self._cache.get(digest)
        if cached is not None:
            return cached
        async with self._engine.connect() as conn:
            found = await conn.scalar(select(users.c.id).where(users.c.token_hash == digest))
        if found is None:
            return None
        self._cache.set(digest, int(found))
        return int(found)

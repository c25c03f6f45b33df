"""Partner administration (the ``shop partners`` commands): create, list, rotate, revoke."""

from __future__ import annotations

from dataclasses import dataclass

from commerce_kit.webhooks import generate_secret
from sqlalchemy import insert, select, update
from sqlalchemy.ext.asyncio import AsyncEngine

from shop.db import now_ms
from shop.partners.keys import hash_key, new_key
from shop.partners.tables import partner_keys, partners

__all__ = [
    "NewPartner",
    "PartnerView",
    "create_partner",
    "list_partners",
    "revoke_partner",
    "rotate_key",
]


@dataclass(frozen=True, slots=True)
class NewPartner:
    """What creating a partner returns, once: the key and the webhook secret."""

    id: int
    api_key: str
    webhook_secret: str


@dataclass(frozen=True, slots=True)
class PartnerView:
    """A partner as ``shop partners list`` shows it (no secret)."""

    id: int
    name: str
    email: str
    callback_url: str | None
    status: str
    keys: tuple[str, ...]
    created_at: int


async def create_partner(
    engine: AsyncEngine, name: str, email: str, callback_url: str | None = None
) -> NewPartner:
    """Add a partner with a first key; the key and secret are returned only now.

    Raises:
        sqlalchemy.exc.IntegrityError: The name is taken.
    """
    key = new_key()
    secret = generate_secret()
    now = now_ms()
    async with engine.begin() as conn:
        partner_id = int(
            (
                await conn.execute(
                    insert(partners)
                    .values(
                        name=name,
                        email=email,
                        callback_url=callback_url,
                        webhook_secret=secret,
                        created_at=now,
                    )
                    .returning(partners.c.id)
                )
            ).scalar_one()
        )
        await conn.execute(
            insert(partner_keys).values(
                partner_id=partner_id, prefix=key.prefix, key_hash=hash_key(key.key), created_at=now
            )
        )
    return NewPartner(partner_id, key.key, secret)


async def list_partners(engine: AsyncEngine) -> list[PartnerView]:
    """Every partner with its usable key prefixes."""
    now = now_ms()
    async with engine.connect() as conn:
        rows = (await conn.execute(select(partners).order_by(partners.c.id))).all()
        keys = (
            await conn.execute(
                select(partner_keys.c.partner_id, partner_keys.c.prefix, partner_keys.c.expires_at)
                .where(partner_keys.c.revoked_at.is_(None))
                .order_by(partner_keys.c.id)
            )
        ).all()
    usable: dict[int, list[str]] = {}
    for key in keys:
        if key.expires_at is None or key.expires_at > now:
            usable.setdefault(key.partner_id, []).append(key.prefix)
    return [
        PartnerView(
            id=row.id,
            name=row.name,
            email=row.email,
            callback_url=row.callback_url,
            status="revoked" if row.revoked_at is not None else "active",
            keys=tuple(usable.get(row.id, ())),
            created_at=row.created_at,
        )
        for row in rows
    ]


async def rotate_key(engine: AsyncEngine, partner_id: int, *, grace: float = 0.0) -> str | None:
    """Give the partner a new key; its current keys keep working ``grace`` seconds more.

    Returns:
        The new key (shown once), or None when there is no such active partner.
    """
    key = new_key()
    now = now_ms()
    async with engine.begin() as conn:
        found = await conn.scalar(
            select(partners.c.id).where(
                partners.c.id == partner_id, partners.c.revoked_at.is_(None)
            )
        )
        if found is None:
            return None
        ends = now + int(grace * 1000)
        current = partner_keys.c.partner_id == partner_id
        usable = partner_keys.c.revoked_at.is_(None)
        await conn.execute(
            update(partner_keys)
            .where(current, usable, partner_keys.c.expires_at.is_(None))
            .values(expires_at=ends)
        )
        # A key already ending sooner keeps its earlier end.
        await conn.execute(
            update(partner_keys)
            .where(current, usable, partner_keys.c.expires_at > ends)
            .values(expires_at=ends)
        )
        await conn.execute(
            insert(partner_keys).values(
                partner_id=partner_id, prefix=key.prefix, key_hash=hash_key(key.key), created_at=now
            )
        )
    return key.key


async def revoke_partner(engine: AsyncEngine, partner_id: int) -> bool:
    """Revoke the partner and every key of it at once; False when there is no such partner."""
    now = now_ms()
    async with engine.begin() as conn:
        result = await conn.execute(
            update(partners)
            .where(partners.c.id == partner_id, partners.c.revoked_at.is_(None))
            .values(revoked_at=now)
        )
        await conn.execute(
            update(partner_keys)
            .where(partner_keys.c.partner_id == partner_id, partner_keys.c.revoked_at.is_(None))
            .values(revoked_at=now)
        )
    return bool(result.rowcount)

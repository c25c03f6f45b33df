"""Partner authentication: ``Authorization: Bearer ck_live_...``, audited and rate-limited.

Missing, malformed, unknown, expired and revoked keys get the very same 401 problem document
(only the audit trail tells them apart), and the work done is the same for a well-formed
unknown key as for a wrong one: a hash and a constant-time comparison against a stored or a
dummy digest.
"""

from __future__ import annotations

from dataclasses import dataclass

from commerce_kit import RateLimiter, RateLimitExceeded
from fastapi import Request
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from shop.db import now_ms
from shop.partners.audit import AuditLog, entry_now
from shop.partners.keys import DUMMY_HASH, hash_key, parse_key, same_hash
from shop.partners.tables import partner_keys, partners
from shop.problems import ProblemError, problem, problem_for

__all__ = ["Partner", "PartnerAuth", "unauthorized"]

UNAUTHORIZED_DETAIL = (
    "A valid partner API key is required: send it as 'Authorization: Bearer <key>'."
)


@dataclass(frozen=True, slots=True)
class Partner:
    """The partner behind a request."""

    id: int
    name: str
    email: str
    callback_url: str | None
    webhook_secret: str
    key_prefix: str


def unauthorized() -> ProblemError:
    """The one 401 answer, whatever was wrong with the key."""
    return ProblemError(
        problem(401, "unauthenticated", "Unauthorized", UNAUTHORIZED_DETAIL),
        headers={"WWW-Authenticate": 'Bearer realm="partner"'},
    )


def _route(request: Request) -> str:
    route = request.scope.get("route")
    path = getattr(route, "path", None)
    return path if isinstance(path, str) else request.url.path[:200]


class PartnerAuth:
    """Finds the partner of a request, records the attempt, applies the per-key limit."""

    def __init__(self, engine: AsyncEngine, audit: AuditLog, limiter: RateLimiter) -> None:
        self._engine = engine
        self.audit = audit
        self.limiter = limiter

    async def lookup(self, authorization: str | None) -> tuple[str, str | None, Partner | None]:
        """Return ``(outcome, key prefix, partner or None)`` for an Authorization header."""
        if not authorization:
            return "missing", None, None
        scheme, _, token = authorization.partition(" ")
        parsed = parse_key(token.strip()) if scheme.lower() == "bearer" else None
        if parsed is None:
            return "malformed", None, None
        async with self._engine.connect() as conn:
            row = (
                await conn.execute(
                    select(
                        partner_keys.c.key_hash,
                        partner_keys.c.expires_at,
                        partner_keys.c.revoked_at,
                        partners.c.id,
                        partners.c.name,
                        partners.c.email,
                        partners.c.callback_url,
                        partners.c.webhook_secret,
                        partners.c.revoked_at.label("partner_revoked_at"),
                    )
                    .join(partners, partners.c.id == partner_keys.c.partner_id)
                    .where(partner_keys.c.prefix == parsed.prefix)
                )
            ).first()
        matches = same_hash(hash_key(parsed.key), DUMMY_HASH if row is None else row.key_hash)
        if row is None or not matches:
            return "unknown", parsed.prefix, None
        if row.revoked_at is not None or row.partner_revoked_at is not None:
            return "revoked", parsed.prefix, None
        if row.expires_at is not None and row.expires_at <= now_ms():
            return "expired", parsed.prefix, None
        partner = Partner(
            id=row.id,
            name=row.name,
            email=row.email,
            callback_url=row.callback_url,
            webhook_secret=row.webhook_secret,
            key_prefix=parsed.prefix,
        )
        return "ok", parsed.prefix, partner

    async def authenticate(self, request: Request) -> Partner:
        """Return the request's partner.

        Raises:
            ProblemError: 401 for any key that is not valid now; 429 over the per-key rate.
        """
        outcome, prefix, partner = await self.lookup(request.headers.get("authorization"))
        decision = None
        if partner is not None:
            decision = await self.limiter.ahit(f"partner-key:{partner.key_prefix}")
            if not decision.allowed:
                outcome = "rate_limited"
        self.audit.record(
            entry_now(
                source=(request.client.host if request.client else "unknown")[:64],
                key_prefix=prefix,
                partner_id=partner.id if partner is not None else None,
                method=request.method[:10],
                route=_route(request),
                outcome=outcome,
                request_id=request.scope.get("state", {}).get("request_id"),
            )
        )
        if partner is None:
            raise unauthorized()
        if decision is not None and not decision.allowed:
            error = RateLimitExceeded(
                f"partner key {partner.key_prefix} over the partner rate",
                retry_after=decision.retry_after,
            )
            raise ProblemError(problem_for(error), headers=decision.headers(), cause=error)
        request.state.partner = partner
        request.state.rate_limit_headers = decision.headers() if decision is not None else {}
        return partner

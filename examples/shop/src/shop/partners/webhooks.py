"""Stock webhooks in, signed callbacks out (Standard Webhooks, the partner's secret).

In: the delivery is verified (signature, timestamp tolerance, replay guard) and its stock
updates are enqueued as one job whose key is the ``webhook-id``, so a delivery sent twice is
applied once; nothing else is written on the request path. The job applies the updates and, in
the same transaction, enqueues the callback to the partner's URL.

Out: the callback job checks the URL against SSRF after resolving it, signs the body, POSTs it,
and lets the worker retry with backoff, honouring ``Retry-After`` on 429 and 503; a 410 stops it.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import httpx
from commerce_kit import WebhookVerificationError
from commerce_kit.typing import ReplayStore
from commerce_kit.webhooks import FailureReason, MemoryReplayStore, Webhook
from pydantic import BaseModel, ConfigDict, Field, StrictInt, StrictStr, TypeAdapter
from pydantic import ValidationError as PydanticValidationError
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from shop.db import now_ms
from shop.jobs.queue import JobQueue, enqueue
from shop.jobs.worker import JobContext, PermanentJobError
from shop.partners.auth import Partner
from shop.partners.ssrf import CallbackPolicy, UnsafeUrlError
from shop.partners.tables import partner_products, partners

__all__ = [
    "CallbackFailedError",
    "StockUpdate",
    "WebhookInbox",
    "deliver_callback",
    "run_apply_stock",
]

MAX_UPDATES = 1000


class StockUpdate(BaseModel):
    """One stock level for one of the partner's SKUs."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    sku: StrictStr = Field(min_length=1, max_length=64)
    stock: StrictInt = Field(ge=0, le=1_000_000_000)


_UPDATES = TypeAdapter(StockUpdate | list[StockUpdate])


class BadWebhookError(Exception):
    """The delivery is authentic but its body is not stock updates (422)."""


@dataclass(frozen=True, slots=True)
class Received:
    """What :meth:`WebhookInbox.receive` decided."""

    job_id: int | None
    new: bool


class WebhookInbox:
    """Verifies stock deliveries and enqueues them."""

    def __init__(
        self,
        queue: JobQueue,
        *,
        max_attempts: int,
        tolerance: float = 300.0,
        replay_store: Callable[[int], ReplayStore] | None = None,
    ) -> None:
        self.queue = queue
        self.max_attempts = max_attempts
        self.tolerance = tolerance
        # A partner's replay guard, by partner id: shared by a fleet through Redis when given.
        self._replay_store = replay_store
        self._verifiers: dict[tuple[int, str], Webhook] = {}

    def verifier(self, partner: Partner) -> Webhook:
        """The partner's verifier, with its own replay guard (kept per secret)."""
        key = (partner.id, partner.webhook_secret)
        found = self._verifiers.get(key)
        if found is None:
            if len(self._verifiers) > 10_000:
                self._verifiers.clear()
            found = Webhook(
                partner.webhook_secret,
                tolerance=self.tolerance,
                replay_store=(
                    MemoryReplayStore(maxsize=10_000)
                    if self._replay_store is None
                    else self._replay_store(partner.id)
                ),
            )
            self._verifiers[key] = found
        return found

    async def receive(self, partner: Partner, body: bytes, headers: Mapping[str, str]) -> Received:
        """Verify and enqueue a delivery.

        Raises:
            WebhookVerificationError: Not authentic, or outside the time tolerance (401); a
                replay is not raised but answered as already received.
            BadWebhookError: Authentic, but the body is not ``{"sku", "stock"}`` or a list of them.
        """
        try:
            self.verifier(partner).verify(body, headers)
        except WebhookVerificationError as error:
            if error.reason is not FailureReason.REPLAYED:
                raise
            return Received(None, new=False)
        try:
            parsed = _UPDATES.validate_json(body)
        except PydanticValidationError:
            raise BadWebhookError(
                'The body must be {"sku": "...", "stock": 0} or a list of such objects.'
            ) from None
        updates = parsed if isinstance(parsed, list) else [parsed]
        if not 1 <= len(updates) <= MAX_UPDATES:
            raise BadWebhookError(f"Send 1 to {MAX_UPDATES} stock updates per delivery.")
        msg_id = headers.get("webhook-id", "")[:150]
        payload = {"webhook_id": msg_id, "updates": [u.model_dump() for u in updates]}

        async def work(conn: AsyncConnection) -> tuple[int, bool]:
            return await enqueue(
                conn,
                "apply_stock",
                payload,
                max_attempts=self.max_attempts,
                partner_id=partner.id,
                dedup_key=f"stock:{partner.id}:{msg_id}",
            )

        job_id, new = await self.queue.write(work)
        return Received(job_id, new)


async def run_apply_stock(ctx: JobContext) -> None:
    """The ``apply_stock`` job: set the stock levels, enqueue the partner's callback."""
    job = ctx.job
    updates = list(job.payload["updates"])

    async def work(conn: AsyncConnection) -> None:
        now = now_ms()
        applied: list[str] = []
        unknown: list[str] = []
        for item in updates:
            result = await conn.execute(
                update(partner_products)
                .where(
                    partner_products.c.partner_id == job.partner_id,
                    partner_products.c.sku == item["sku"],
                )
                .values(stock=int(item["stock"]), updated_at=now)
            )
            (applied if result.rowcount else unknown).append(item["sku"])
        await ctx.succeed(conn, {"applied": len(applied), "unknown_skus": unknown[:100]})
        callback = await conn.scalar(
            select(partners.c.callback_url).where(partners.c.id == job.partner_id)
        )
        if callback:
            await enqueue(
                conn,
                "deliver_callback",
                {
                    "type": "stock.applied",
                    "webhook_id": job.payload.get("webhook_id"),
                    "applied": applied,
                    "unknown": unknown,
                    "at": now,
                },
                max_attempts=job.max_attempts,
                partner_id=job.partner_id,
                dedup_key=f"callback:{job.id}",
            )

    await ctx.queue.write(work)


class CallbackFailedError(Exception):
    """The receiver answered with an error; ``retry_after`` carries its ``Retry-After``."""

    def __init__(self, message: str, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


def _retry_after(value: str | None) -> float | None:
    if value is None:
        return None
    try:
        seconds = float(value.strip())
    except ValueError:
        return None
    return seconds if 0 <= seconds < 86_400 else None


async def deliver_callback(
    ctx: JobContext, *, policy: CallbackPolicy, client: httpx.AsyncClient
) -> None:
    """The ``deliver_callback`` job: one signed POST; the worker retries it."""
    job = ctx.job
    async with ctx.queue.engine.connect() as conn:
        partner = (
            await conn.execute(select(partners).where(partners.c.id == job.partner_id))
        ).first()
    if partner is None or not partner.callback_url or partner.revoked_at is not None:
        raise PermanentJobError("the partner has no callback URL any more")
    try:
        target = await policy.resolve(partner.callback_url)
    except UnsafeUrlError as error:
        raise PermanentJobError(f"callback refused: {error}") from None
    body = json.dumps(
        {"id": f"evt_{job.id}", "type": job.payload.get("type"), "data": dict(job.payload)},
        separators=(",", ":"),
    ).encode()
    signer = Webhook(partner.webhook_secret, replay_store=None)
    headers: dict[str, Any] = signer.sign_headers(f"msg_{job.id}", None, body)
    headers["content-type"] = "application/json"
    url = target.url
    if target.parts.scheme == "http":
        # Connect to the address just checked; a second lookup could be rebound elsewhere.
        url = target.pinned_url
        headers["host"] = target.parts.netloc
    try:
        response = await client.post(url, content=body, headers=headers)
    except httpx.HTTPError as error:
        raise CallbackFailedError(f"callback not delivered: {type(error).__name__}") from None
    status = response.status_code
    if 200 <= status < 300:
        ctx.result.update({"delivered": True, "status": status})
        return
    if status == 410:
        raise PermanentJobError("the receiver answered 410 Gone: deliveries stopped")
    hint = _retry_after(response.headers.get("retry-after")) if status in {429, 503} else None
    raise CallbackFailedError(f"the receiver answered {status}", retry_after=hint)

"""The partner integration's parts, built once per app, and their wiring into the shop."""

from __future__ import annotations

import asyncio
import contextlib
import functools
from collections.abc import AsyncIterator
from dataclasses import dataclass

import httpx
from commerce_kit import RateLimiter
from fastapi import FastAPI
from sqlalchemy.ext.asyncio import AsyncEngine

from shop.jobs.queue import JobQueue
from shop.jobs.worker import JobContext, JobKind, Worker
from shop.partners.audit import AuditLog
from shop.partners.auth import PartnerAuth
from shop.partners.ingest import run_ingest
from shop.partners.mail import MailSender, enqueue_failure_mail
from shop.partners.ssrf import CallbackPolicy
from shop.partners.webhooks import WebhookInbox, deliver_callback, run_apply_stock
from shop.scale import Fleet
from shop.settings import Settings

__all__ = ["PartnerServices", "build_services", "install"]


@dataclass(slots=True)
class PartnerServices:
    """Queue, worker, audit, auth, webhook inbox and mail of one shop."""

    settings: Settings
    engine: AsyncEngine
    queue: JobQueue
    audit: AuditLog
    auth: PartnerAuth
    inbox: WebhookInbox
    mail: MailSender
    callbacks: CallbackPolicy
    http: httpx.AsyncClient
    worker: Worker
    #: Products per write batch of the feed ingest (the setting, or the database's default).
    ingest_batch: int

    @contextlib.asynccontextmanager
    async def running(self, *, worker: bool | None = None) -> AsyncIterator[None]:
        """Flush the audit trail and (unless turned off) run a worker while the app runs."""
        stop = asyncio.Event()
        tasks = [asyncio.create_task(self.audit.run(stop))]
        if self.settings.worker if worker is None else worker:
            tasks.append(asyncio.create_task(self.worker.run(stop)))
        try:
            yield
        finally:
            stop.set()
            await asyncio.gather(*tasks, return_exceptions=True)
            await self.http.aclose()


def build_services(
    settings: Settings, engine: AsyncEngine, *, concurrency: int = 1, fleet: Fleet | None = None
) -> PartnerServices:
    """Build the partner parts on ``engine``.

    With ``fleet``, the per-key limit and the webhook replay guard are shared through Redis.
    """
    queue = JobQueue(engine, lease=settings.job_lease)
    audit = AuditLog(engine)
    limit = settings.partner_limit
    store = None if fleet is None else fleet.rate_limit_store()
    auth = PartnerAuth(
        engine, audit, RateLimiter(limit.limit, limit.window, name="partner", store=store)
    )
    mail = MailSender(settings.smtp_url, settings.outbox, settings.public_url)
    callbacks = CallbackPolicy.parse(settings.callback_allow)
    http = httpx.AsyncClient(timeout=10.0, follow_redirects=False, trust_env=False)

    batch = settings.ingest_batch or (20_000 if engine.dialect.name == "postgresql" else 5_000)

    async def ingest(ctx: JobContext) -> None:
        await run_ingest(ctx, batch_size=batch, max_bytes=settings.feed_max_bytes)

    kinds = {
        "ingest_feed": JobKind(ingest, on_failed=enqueue_failure_mail),
        "send_mail": JobKind(mail.run, on_failed=MailSender.on_failed),
        "apply_stock": JobKind(run_apply_stock),
        "deliver_callback": JobKind(
            functools.partial(deliver_callback, policy=callbacks, client=http)
        ),
    }
    worker = Worker(queue, kinds, concurrency=concurrency, retry_wait=settings.job_retry_wait)
    return PartnerServices(
        settings=settings,
        engine=engine,
        queue=queue,
        audit=audit,
        auth=auth,
        inbox=WebhookInbox(
            queue,
            max_attempts=settings.job_attempts,
            replay_store=None
            if fleet is None
            else (lambda partner: fleet.replay_store(str(partner))),
        ),
        mail=mail,
        callbacks=callbacks,
        http=http,
        worker=worker,
        ingest_batch=batch,
    )


def install(
    app: FastAPI, settings: Settings, engine: AsyncEngine, fleet: Fleet | None = None
) -> PartnerServices:
    """Add the partner routes to ``app``; return the parts (also at ``app.state.partners``)."""
    from shop.partners.routes import router  # noqa: PLC0415 - routes import this module

    services = build_services(settings, engine, fleet=fleet)
    app.state.partners = services
    app.include_router(router)
    return services

"""Extension and faults: a plugin's format, a dropped database connection, a receiver that
comes back, security events with the request's detail, the key check's latency."""

from __future__ import annotations

import json
import logging
import statistics
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import BinaryIO

import pytest
from commerce_kit.feeds import FeedLimits, FeedRecord, registry
from sqlalchemy import text

from shop.jobs.worker import JobKind

pytestmark = pytest.mark.anyio


@dataclass(frozen=True)
class PipeAdapter:
    """A format the shop has never heard of: ``sku|title|price|currency`` lines."""

    name: str = "pipe-test"
    content_types: tuple[str, ...] = ("text/x-pipe-test",)
    extensions: tuple[str, ...] = (".pipetest",)

    def parse(self, stream: BinaryIO, limits: FeedLimits) -> Iterator[FeedRecord]:
        for number, raw in enumerate(stream.read().decode().splitlines(), 1):
            sku, title, price, currency = raw.split("|")
            yield FeedRecord(
                {"sku": sku, "title": title, "price": price, "currency": currency}, number, number
            )


async def test_a_format_registered_by_a_plugin_is_ingested_unchanged(partner_shop):
    ps = await partner_shop()
    registry.register(PipeAdapter())
    try:
        response = await ps.upload(
            b"P-1|Pipe one|2.00|EUR\nP-2|Pipe two|3.00|EUR\n",
            content_type="text/x-pipe-test",
            multipart=False,
        )
        assert 202 == response.status_code, response.text
        await ps.run_jobs()
    finally:
        registry.unregister("pipe-test")
    job = (await ps.client.get(response.headers["location"], headers=ps.auth)).json()
    assert ("succeeded", 2) == (job["status"], job["accepted"])


async def test_a_dropped_postgresql_connection_mid_job_is_retried(partner_shop, database_url):
    if not database_url.startswith("postgresql"):
        pytest.skip("a PostgreSQL connection is what is dropped")
    ps = await partner_shop()
    services = ps.services
    real = services.worker.kinds["ingest_feed"]
    dropped: list[int] = []

    async def drop_then_run(ctx):
        if not dropped:
            async with ctx.queue.engine.connect() as conn:
                dropped.append(int(await conn.scalar(text("SELECT pg_backend_pid()"))))
                # The server ends this very connection, as a restart or a network cut would.
                await conn.execute(text("SELECT pg_terminate_backend(pg_backend_pid())"))
        await real.run(ctx)

    services.worker.kinds["ingest_feed"] = JobKind(drop_then_run, real.on_failed)
    response = await ps.upload(b"sku,title,price,currency\nD-1,Dropped,1.00,EUR\n")
    await ps.run_jobs()
    job = (await ps.client.get(response.headers["location"], headers=ps.auth)).json()
    assert ("succeeded", 1) == (job["status"], job["accepted"])
    assert dropped
    assert 2 == await ps.shop.count(
        "SELECT attempts FROM jobs WHERE id = :j", j=response.json()["job_id"]
    )


async def test_a_callback_receiver_down_then_back_gets_the_delivery(partner_shop):
    from tests.partners.test_partners_webhooks import Receiver, free_port, signed  # type: ignore[import-not-found,unused-ignore]

    port = free_port()
    ps = await partner_shop(callback_url=f"http://127.0.0.1:{port}/hook", SHOP_JOB_ATTEMPTS=2)
    body = b'{"sku": "S-1", "stock": 1}'
    headers = {**ps.auth, **signed(ps.webhook_secret, body, "msg_down")}
    await ps.client.post("/partner/webhooks/stock", content=body, headers=headers)
    await ps.run_jobs()
    [failed] = [j for j in await ps.services.queue.failed() if j.partner_id == ps.partner_id]
    assert "deliver_callback" == failed.kind and 2 == failed.attempts
    receiver = Receiver([(204, {})])
    with receiver.serving(port) as _url:
        assert await ps.services.queue.retry(failed.id)
        await ps.run_jobs()
    assert 1 == len(receiver.received)
    assert "succeeded" == await ps.services.queue.state_of(failed.id)


async def test_security_events_carry_the_request_detail_and_no_payload(partner_shop, caplog):
    ps = await partner_shop()
    attack = "<script>alert(document.cookie)</script>Mug"
    feed = f"sku,title,price,currency\nX-1,{attack},1.00,EUR\n".encode()
    with caplog.at_level(logging.WARNING, logger="shop.security"):
        response = await ps.upload(feed, headers_request_id="req-sec-1")
        await ps.run_jobs()
    events = [json.loads(r.getMessage()) for r in caplog.records if r.name == "shop.security"]
    assert events
    event = events[0]
    assert {
        "partner_id": ps.partner_id,
        "request_id": "req-sec-1",
        "job_id": response.json()["job_id"],
        "line": 2,
        "field": "title",
    } == {k: event[k] for k in ("partner_id", "request_id", "job_id", "line", "field")}
    assert event["source"] and event["rule"]
    assert all(
        "alert(document.cookie)" not in r.getMessage()
        for r in caplog.records
        if r.name == "shop.security"
    )


async def test_the_key_check_stays_under_50ms_at_p99(partner_shop):
    ps = await partner_shop()
    header = f"Bearer {ps.api_key}"
    auth = ps.services.auth
    timings = []
    for _ in range(200):
        start = time.perf_counter()
        outcome, _, partner = await auth.lookup(header)
        timings.append(time.perf_counter() - start)
        assert "ok" == outcome and partner is not None
    p99 = statistics.quantiles(timings, n=100)[98]
    assert p99 < 0.05, f"p99 {p99 * 1000:.1f} ms"

"""A served shop (uvicorn, its worker in process): an upload is acknowledged fast and its job
shows its validation status within 2 seconds (U2)."""

from __future__ import annotations

import asyncio
import time

import httpx

from shop.app import create_app
from shop.db import make_engine
from shop.partners.admin import create_partner


async def _partner(url: str) -> str:
    engine = make_engine(url, pool_size=1)
    try:
        made = await create_partner(engine, f"served-{time.time_ns()}", "s@example.com")
    finally:
        await engine.dispose()
    return made.api_key


def feed(n: int, salt: int) -> bytes:
    rows = b"".join(b"W-%d-%d,Widget %d,3.00,EUR,%d\n" % (salt, i, i, i) for i in range(n))
    return b"sku,title,price,currency,stock\n" + rows


def test_uploads_are_acknowledged_fast_and_validated_within_two_seconds(
    database_url, serve, settings_for, tmp_path
):
    key = asyncio.run(_partner(database_url))
    headers = {"Authorization": f"Bearer {key}", "Content-Type": "text/csv"}
    app = create_app(settings_for(SHOP_OUTBOX=str(tmp_path / "outbox")))
    with serve(app) as base_url, httpx.Client(base_url=base_url) as client:
        acknowledged = []
        for salt in range(5):
            body = feed(1000, salt)
            start = time.perf_counter()
            response = client.post("/partner/feeds", content=body, headers=headers)
            acknowledged.append(time.perf_counter() - start)
            assert 202 == response.status_code, response.text
        assert min(acknowledged) < 0.1, acknowledged
        status_url = response.headers["location"]
        deadline = time.monotonic() + 2.0
        while True:
            job = client.get(status_url, headers=headers).json()
            if job["status"] in {"succeeded", "failed"}:
                break
            assert time.monotonic() < deadline, job
            time.sleep(0.05)
    assert ("succeeded", 1000, 1000) == (job["status"], job["records"], job["accepted"])

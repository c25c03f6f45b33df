"""A served shop (uvicorn, its worker in process): an upload is acknowledged fast and its job
shows its validation status within 2 seconds (U2)."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import httpx
from commerce_kit.webhooks import Webhook

from shop.app import create_app
from shop.db import make_engine
from shop.partners.admin import create_partner


async def _made(url: str) -> Any:
    engine = make_engine(url, pool_size=1)
    try:
        return await create_partner(engine, f"served-{time.time_ns()}", "s@example.com")
    finally:
        await engine.dispose()


async def _partner(url: str) -> str:
    made = await _made(url)
    key: str = made.api_key
    return key


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


def test_a_stock_webhook_is_acknowledged_and_applied_within_five_seconds(
    database_url, serve, settings_for, tmp_path
):
    made = asyncio.run(_made(database_url))
    auth = {"Authorization": f"Bearer {made.api_key}"}
    app = create_app(settings_for(SHOP_OUTBOX=str(tmp_path / "outbox")))
    with serve(app) as base_url, httpx.Client(base_url=base_url) as client:
        uploaded = client.post(
            "/partner/feeds",
            content=b"sku,title,price,currency,stock\nH-1,Hook,1.00,EUR,10\n",
            headers={**auth, "Content-Type": "text/csv"},
        )
        deadline = time.monotonic() + 5
        while client.get(uploaded.headers["location"], headers=auth).json()["status"] != (
            "succeeded"
        ):
            assert time.monotonic() < deadline
            time.sleep(0.05)
        body = b'{"sku": "H-1", "stock": 3}'
        signed = Webhook(made.webhook_secret).sign_headers("msg_served", None, body)
        start = time.monotonic()
        response = client.post("/partner/webhooks/stock", content=body, headers={**auth, **signed})
        acknowledged = time.monotonic() - start
        assert 202 == response.status_code
        while True:
            items = client.get("/partner/products", headers=auth).json()["items"]
            if items[0]["stock"] == 3:
                break
            assert time.monotonic() - start < 5.0, items
            time.sleep(0.05)
    assert acknowledged < 1.0

"""Stock webhooks in, signed callbacks out, mail over real SMTP: on SQLite and PostgreSQL."""

from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from commerce_kit.webhooks import Webhook

pytestmark = pytest.mark.anyio

FEED = b"sku,title,price,currency,stock\nS-1,Shirt,20.00,EUR,5\nS-2,Socks,4.00,EUR,9\n"


class Receiver:
    """A real local HTTP server answering callbacks with scripted statuses."""

    def __init__(self, answers: list[tuple[int, dict[str, str]]]) -> None:
        self.answers = answers
        self.received: list[tuple[dict[str, str], bytes]] = []

    @contextmanager
    def serving(self, port: int = 0) -> Iterator[str]:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("content-length", "0")))
                receiver.received.append(({k.lower(): v for k, v in self.headers.items()}, body))
                status, headers = receiver.answers.pop(0) if receiver.answers else (200, {})
                self.send_response(status)
                for name, value in headers.items():
                    self.send_header(name, value)
                self.send_header("content-length", "0")
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
        thread = threading.Thread(target=server.serve_forever, daemon=True)
        thread.start()
        try:
            yield f"http://127.0.0.1:{server.server_address[1]}/hook"
        finally:
            server.shutdown()
            server.server_close()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def signed(secret: str, body: bytes, msg_id: str, timestamp: int | None = None) -> dict[str, str]:
    headers = Webhook(secret, replay_store=None).sign_headers(
        msg_id, int(time.time()) if timestamp is None else timestamp, body
    )
    return {**headers, "content-type": "application/json"}


async def stock_of(ps: Any) -> dict[str, int]:
    page = (await ps.client.get("/partner/products", headers=ps.auth)).json()
    return {p["sku"]: p["stock"] for p in page["items"]}


async def test_a_signed_stock_webhook_is_applied_once_and_called_back(partner_shop):
    receiver = Receiver([(200, {})])
    with receiver.serving() as url:
        ps = await partner_shop(callback_url=url)
        await ps.upload(FEED)
        await ps.run_jobs()
        body = json.dumps([{"sku": "S-1", "stock": 2}, {"sku": "NOPE", "stock": 1}]).encode()
        headers = {**ps.auth, **signed(ps.webhook_secret, body, "msg_one")}
        first = await ps.client.post("/partner/webhooks/stock", content=body, headers=headers)
        assert 202 == first.status_code, first.text
        again = await ps.client.post("/partner/webhooks/stock", content=body, headers=headers)
        assert 200 == again.status_code
        await ps.run_jobs()
        assert {"S-1": 2, "S-2": 9} == await stock_of(ps)
        assert 1 == await ps.shop.count(
            "SELECT count(*) FROM jobs WHERE partner_id = :p AND kind = 'apply_stock'",
            p=ps.partner_id,
        )
        [(got_headers, got_body)] = receiver.received
    Webhook(ps.webhook_secret).verify(got_body, got_headers)
    event = json.loads(got_body)
    assert "stock.applied" == event["type"]
    assert (["S-1"], ["NOPE"]) == (event["data"]["applied"], event["data"]["unknown"])


async def test_bad_signatures_and_stale_timestamps_are_401(partner_shop):
    ps = await partner_shop()
    body = b'{"sku": "S-1", "stock": 1}'
    cases = [
        {**signed("whsec_" + "A" * 40, body, "msg_x")},
        {**signed(ps.webhook_secret, body, "msg_y", timestamp=int(time.time()) - 3600)},
        {"content-type": "application/json"},
    ]
    for headers in cases:
        response = await ps.client.post(
            "/partner/webhooks/stock", content=body, headers={**ps.auth, **headers}
        )
        assert 401 == response.status_code
        assert "invalid_signature" == response.json()["code"]
    no_key = await ps.client.post(
        "/partner/webhooks/stock", content=body, headers=signed(ps.webhook_secret, body, "m")
    )
    assert 401 == no_key.status_code
    junk = b'{"sku": "S-1", "stock": -4}'
    bad = await ps.client.post(
        "/partner/webhooks/stock",
        content=junk,
        headers={**ps.auth, **signed(ps.webhook_secret, junk, "msg_z")},
    )
    assert 422 == bad.status_code


async def test_callbacks_retry_honour_retry_after_and_stop_on_410(partner_shop):
    receiver = Receiver([(503, {"Retry-After": "0"}), (500, {}), (200, {})])
    with receiver.serving() as url:
        ps = await partner_shop(callback_url=url)
        body = b'{"sku": "S-1", "stock": 1}'
        headers = {**ps.auth, **signed(ps.webhook_secret, body, "msg_retry")}
        assert (
            202
            == (
                await ps.client.post("/partner/webhooks/stock", content=body, headers=headers)
            ).status_code
        )
        await ps.run_jobs()
        assert 3 == len(receiver.received)
        ids = {h["webhook-id"] for h, _ in receiver.received}
        assert 1 == len(ids)
        receiver.answers[:] = [(410, {})]
        body = b'{"sku": "S-1", "stock": 2}'
        headers = {**ps.auth, **signed(ps.webhook_secret, body, "msg_gone")}
        await ps.client.post("/partner/webhooks/stock", content=body, headers=headers)
        await ps.run_jobs()
        assert 4 == len(receiver.received)
    failed = await ps.services.queue.failed()
    gone = [j for j in failed if j.partner_id == ps.partner_id]
    assert gone and "410" in (gone[0].last_error or "")


async def test_a_callback_answered_503_with_retry_after_is_rescheduled_that_late(partner_shop):
    from shop.db import now_ms

    receiver = Receiver([(503, {"Retry-After": "120"})])
    with receiver.serving() as url:
        ps = await partner_shop(callback_url=url)
        body = b'{"sku": "S-1", "stock": 1}'
        headers = {**ps.auth, **signed(ps.webhook_secret, body, "msg_later")}
        response = await ps.client.post("/partner/webhooks/stock", content=body, headers=headers)
        assert 202 == response.status_code
        before = now_ms()
        await ps.run_jobs(settle=0)
        assert 1 == len(receiver.received)
    where = "FROM jobs WHERE kind = 'deliver_callback' AND partner_id = :p"
    queued = await ps.shop.count(
        f"SELECT count(*) {where} AND state = 'queued' AND attempts = 1 AND locked_by IS NULL "
        "AND last_error LIKE '%503%'",
        p=ps.partner_id,
    )
    assert 1 == queued
    run_after = await ps.shop.count(f"SELECT run_after {where}", p=ps.partner_id)
    assert run_after >= before + 120_000


async def test_a_callback_to_a_private_address_is_refused_at_delivery(partner_shop):
    ps = await partner_shop(callback_url="http://127.0.0.1:9/hook", SHOP_CALLBACK_ALLOW="")
    body = b'{"sku": "S-1", "stock": 1}'
    headers = {**ps.auth, **signed(ps.webhook_secret, body, "msg_ssrf")}
    await ps.client.post("/partner/webhooks/stock", content=body, headers=headers)
    await ps.run_jobs()
    [job] = [j for j in await ps.services.queue.failed() if j.partner_id == ps.partner_id]
    assert "private" in (job.last_error or "")


async def test_the_end_of_job_mail_goes_over_smtp(partner_shop):
    from aiosmtpd.controller import Controller

    class Inbox:
        def __init__(self) -> None:
            self.messages: list[bytes] = []

        async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802 - aiosmtpd names it
            self.messages.append(envelope.content)
            return "250 OK"

    inbox = Inbox()
    port = free_port()
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        ps = await partner_shop(SHOP_SMTP_URL=f"smtp://127.0.0.1:{port}")
        job = (await ps.upload(FEED)).json()
        await ps.run_jobs()
    finally:
        controller.stop()
    [message] = inbox.messages
    text = message.decode()
    assert "partner@example.com" in text and "2 accepted, 0 rejected" in text
    assert f"/partner/jobs/{job['job_id']}" in text


async def test_smtp_down_the_job_succeeds_and_the_mail_is_recorded_failed(partner_shop):
    ps = await partner_shop(SHOP_SMTP_URL=f"smtp://127.0.0.1:{free_port()}", SHOP_JOB_ATTEMPTS=2)
    job = (await ps.upload(FEED)).json()
    await ps.run_jobs()
    status = (await ps.client.get(job["status_url"], headers=ps.auth)).json()
    assert "succeeded" == status["status"]
    result = await ps.shop.count(
        'SELECT count(*) FROM jobs WHERE id = :j AND result LIKE \'%"mail": "failed"%\'',
        j=job["job_id"],
    )
    assert 1 == result

"""The HTTP API on SQLite and PostgreSQL: listing, checkout, orders, methods, health, errors."""

from __future__ import annotations

import asyncio
import json
import logging
import time
from importlib.metadata import EntryPoint
from typing import Any

import pytest
from sqlalchemy import insert, update

from shop.db import make_engine, now_ms, orders, products

pytestmark = pytest.mark.anyio

RATE_LIMITED = "Too many requests. Please wait and try again."
PAYMENT_FAILED = "Payment could not be processed. Please try again or use different payment method."
OUT_OF_STOCK = "This item is no longer available."
UNAVAILABLE = "System experiencing high traffic. Please try again shortly."
PROBLEM = "application/problem+json"


def assert_problem(response, status: int, code: str, detail: str | None = None) -> Any:
    assert status == response.status_code, response.text
    assert response.headers["content-type"].startswith(PROBLEM)
    assert response.headers["x-request-id"]
    body = response.json()
    assert status == body["status"]
    assert code == body["code"]
    assert body["type"] and body["title"]
    if detail is not None:
        assert detail == body["detail"]
    return body


async def test_listing_shows_a_product_added_before_the_first_read(make_shop):
    shop = await make_shop()
    sku = await shop.product(stock=7, price="19.5")
    response = await shop.client.get("/flash/products")
    assert 200 == response.status_code
    listed = {item["sku"]: item for item in response.json()}
    assert {
        "sku": sku,
        "title": f"Product {sku}",
        "price": "19.50",
        "currency": "EUR",
        "stock": 7,
    } == listed[sku]


async def test_listing_runs_one_query_for_a_thousand_concurrent_readers(make_shop):
    shop = await make_shop()
    await shop.product(stock=1)
    answers = await asyncio.gather(*(shop.client.get("/flash/products") for _ in range(1000)))
    assert {200} == {a.status_code for a in answers}
    assert 1 == len({a.content for a in answers})
    metrics = (await shop.client.get("/metrics")).text
    assert "shop_listing_queries_total 1.0" in metrics


async def test_checkout_pays_and_the_order_is_visible_to_its_owner_only(make_shop):
    shop = await make_shop()
    sku = await shop.product(stock=3, price="12.34")
    _, token = await shop.user()
    _, other = await shop.user()
    response = await shop.checkout(token, sku, quantity=2)
    assert 201 == response.status_code, response.text
    order = response.json()
    assert {"status": "paid", "sku": sku, "quantity": 2, "amount": "24.68", "currency": "EUR"} == {
        k: v for k, v in order.items() if k != "order_id"
    }
    assert 1 == await shop.stock(sku)
    mine = await shop.client.get(
        f"/orders/{order['order_id']}", headers={"Authorization": f"Bearer {token}"}
    )
    assert 200 == mine.status_code
    assert order == mine.json()
    theirs = await shop.client.get(
        f"/orders/{order['order_id']}", headers={"Authorization": f"Bearer {other}"}
    )
    assert_problem(theirs, 404, "order_not_found")


@pytest.mark.parametrize("authorization", [None, "Bearer nope", "Basic abc", "Bearer ", "x" * 5000])
async def test_checkout_without_a_valid_token_is_401(make_shop, authorization):
    shop = await make_shop()
    headers = {} if authorization is None else {"Authorization": authorization}
    response = await shop.client.post(
        "/flash/checkout",
        json={"sku": "X", "quantity": 1, "payment_method": "card"},
        headers=headers,
    )
    assert_problem(response, 401, "unauthenticated")
    assert "Bearer" == response.headers["www-authenticate"]


async def test_sixth_checkout_in_a_minute_is_429_with_retry_after_fast(make_shop):
    shop = await make_shop()
    sku = await shop.product(stock=100)
    _, token = await shop.user()
    for _ in range(5):
        assert 201 == (await shop.checkout(token, sku)).status_code
    started = time.perf_counter()
    response = await shop.checkout(token, sku)
    elapsed = time.perf_counter() - started
    body = assert_problem(response, 429, "rate_limited", RATE_LIMITED)
    assert elapsed < 0.1
    assert 55 <= int(response.headers["retry-after"]) <= 60
    assert "ratelimit" in response.headers
    assert "ratelimit-policy" in response.headers
    assert body["retry_after"] > 0
    assert 95 == await shop.stock(sku)


async def test_the_rate_is_per_user(make_shop):
    shop = await make_shop(SHOP_CHECKOUT_RATE="1/60s")
    sku = await shop.product(stock=10)
    _, first = await shop.user()
    _, second = await shop.user()
    assert 201 == (await shop.checkout(first, sku)).status_code
    assert 429 == (await shop.checkout(first, sku)).status_code
    assert 201 == (await shop.checkout(second, sku)).status_code


async def test_out_of_stock_is_409_with_the_sentence(make_shop):
    shop = await make_shop()
    sku = await shop.product(stock=1)
    _, token = await shop.user()
    assert 201 == (await shop.checkout(token, sku)).status_code
    assert_problem(await shop.checkout(token, sku), 409, "out_of_stock", OUT_OF_STOCK)
    assert_problem(await shop.checkout(token, sku, quantity=5), 409, "out_of_stock", OUT_OF_STOCK)
    assert 0 == await shop.stock(sku)


async def test_a_declined_payment_is_402_and_gives_the_stock_back(make_shop):
    shop = await make_shop()
    sku = await shop.product(stock=2, price="402.00")  # every sandbox declines 402.00
    _, token = await shop.user()
    assert_problem(await shop.checkout(token, sku), 402, "payment_declined", PAYMENT_FAILED)
    assert 2 == await shop.stock(sku)
    failed = await shop.count(
        "SELECT count(*) FROM orders WHERE sku = :s AND status = 'failed'", s=sku
    )
    assert 1 == failed


async def test_unknown_sku_and_unknown_method_are_422(make_shop):
    shop = await make_shop()
    sku = await shop.product(stock=2)
    _, token = await shop.user()
    assert_problem(await shop.checkout(token, "NO-SUCH-SKU"), 422, "unknown_product")
    assert_problem(
        await shop.checkout(token, sku, method="bitcoin-cash"), 422, "unknown_payment_method"
    )
    assert 2 == await shop.stock(sku)


async def test_a_retry_with_the_same_key_returns_the_same_order(make_shop):
    shop = await make_shop()
    sku = await shop.product(stock=5)
    user_id, token = await shop.user()
    first = await shop.checkout(token, sku, key="key-1")
    again = await shop.checkout(token, sku, key="key-1")
    assert 201 == first.status_code == again.status_code
    assert first.json() == again.json()
    assert 4 == await shop.stock(sku)
    assert 1 == await shop.count("SELECT count(*) FROM orders WHERE user_id = :u", u=user_id)
    sandbox = shop.app.state.shop.payments.sandboxes[0]
    assert 1 == len([c for c in sandbox.charges if c.order_id == first.json()["order_id"]])


async def test_concurrent_retries_with_one_key_make_one_order(make_shop):
    shop = await make_shop(SHOP_CHECKOUT_RATE="50/60s")
    sku = await shop.product(stock=50)
    user_id, token = await shop.user()
    answers = await asyncio.gather(*(shop.checkout(token, sku, key="same") for _ in range(10)))
    statuses = [a.status_code for a in answers]
    assert set(statuses) <= {201, 409}, statuses
    paid = {a.json()["order_id"] for a in answers if a.status_code == 201}
    assert 1 == len(paid)
    assert 49 == await shop.stock(sku)
    assert 1 == await shop.count("SELECT count(*) FROM orders WHERE user_id = :u", u=user_id)


async def test_the_same_key_with_another_body_is_422(make_shop):
    shop = await make_shop()
    sku = await shop.product(stock=5)
    _, token = await shop.user()
    assert 201 == (await shop.checkout(token, sku, key="k")).status_code
    assert_problem(
        await shop.checkout(token, sku, quantity=2, key="k"), 422, "idempotency_key_reused"
    )
    assert 4 == await shop.stock(sku)


async def test_payment_methods_come_from_the_registry_and_plugins(make_shop, monkeypatch):
    class Invoice:
        name = "invoice"
        display_name = "Pay by invoice"

        def charge(self, request): ...
        def refund(self, payment_id, amount, *, idempotency_key): ...
        async def acharge(self, request): ...
        async def arefund(self, payment_id, amount, *, idempotency_key): ...

    import commerce_kit.payments._registry as registry_module

    monkeypatch.setattr(registry_module, "Invoice", Invoice, raising=False)
    plugin = EntryPoint(
        "invoice", f"{registry_module.__name__}:Invoice", registry_module.ENTRY_POINT_GROUP
    )
    monkeypatch.setattr(
        registry_module, "entry_points", lambda group: [plugin] if group == plugin.group else []
    )
    shop = await make_shop()
    response = await shop.client.get("/payment-methods")
    assert 200 == response.status_code
    names = [m["name"] for m in response.json()]
    assert {"card", "wallet", "crypto", "invoice"} == set(names)
    assert all(m["available"] for m in response.json())
    page = await shop.client.get("/flash")
    assert "Pay by invoice" in page.text


async def test_health_metrics_and_request_ids(make_shop):
    shop = await make_shop()
    health = await shop.client.get("/healthz")
    assert 200 == health.status_code
    assert {"status": "ok"} == health.json()
    metrics = await shop.client.get("/metrics")
    for name in (
        "shop_http_requests_total",
        "shop_http_request_duration_seconds",
        "shop_payment_breaker_state",
        "shop_listing_cache_events_total",
    ):
        assert name in metrics.text
    assert health.headers["x-request-id"] != metrics.headers["x-request-id"]
    echoed = await shop.client.get("/healthz", headers={"X-Request-ID": "abc-123"})
    assert "abc-123" == echoed.headers["x-request-id"]
    assert_problem(await shop.client.get("/no/such/page"), 404, "not_found")


async def test_an_unexpected_error_is_a_500_problem_without_detail_and_one_log_line(
    make_shop, caplog
):
    shop = await make_shop()

    async def broken() -> bytes:
        raise RuntimeError("SELECT secret FROM internals")

    shop.app.state.shop.listing.json = broken
    with caplog.at_level(logging.WARNING, logger="shop"):
        response = await shop.client.get("/flash/products")
    body = assert_problem(response, 500, "internal_error")
    assert "secret" not in response.text
    assert "Traceback" not in response.text
    lines = [r for r in caplog.records if r.name == "shop"]
    assert 1 == len(lines)
    logged = json.loads(lines[0].getMessage())
    assert body["request_id"] == logged["request_id"] == response.headers["x-request-id"]
    assert "RuntimeError" == logged["error"]


async def test_an_abandoned_reservation_expires_and_returns_to_stock(make_shop):
    shop = await make_shop()
    sku = await shop.product(stock=5)
    user_id, _ = await shop.user()
    engine = make_engine(shop.database_url, pool_size=1)
    try:
        async with engine.begin() as conn:  # what a checkout that crashed mid-payment leaves
            await conn.execute(
                update(products).where(products.c.sku == sku).values(stock=products.c.stock - 2)
            )
            await conn.execute(
                insert(orders).values(
                    id=f"ord_crash_{sku}",
                    user_id=user_id,
                    sku=sku,
                    quantity=2,
                    amount_cents=3800,
                    currency="EUR",
                    payment_method="card",
                    status="reserved",
                    request_hash="x",
                    created_at=now_ms() - 10_000,
                    expires_at=now_ms() - 1,
                )
            )
    finally:
        await engine.dispose()
    assert 3 == await shop.stock(sku)
    assert 1 <= await shop.app.state.shop.checkout.sweep()
    assert 5 == await shop.stock(sku)
    assert 1 == await shop.count(
        "SELECT count(*) FROM orders WHERE id = :i AND status = 'expired'", i=f"ord_crash_{sku}"
    )
    assert 0 == await shop.app.state.shop.checkout.sweep()
    assert 5 == await shop.stock(sku)


async def test_a_lock_conflict_is_retried_inside_the_flow_and_counted(make_shop):
    import sqlite3

    from sqlalchemy.exc import OperationalError

    shop = await make_shop()
    checkout = shop.app.state.shop.checkout
    calls = []

    async def work(conn) -> str:
        calls.append(conn)
        if len(calls) < 3:
            raise OperationalError("UPDATE", {}, sqlite3.OperationalError("database is locked"))
        return "done"

    assert "done" == await checkout._write(work)
    assert 3 == len(calls)
    metrics = (await shop.client.get("/metrics")).text
    assert "shop_db_lock_conflicts_total 2.0" in metrics


async def test_a_retry_of_a_failed_payment_with_its_key_replays_the_failure(make_shop):
    shop = await make_shop()
    sku = await shop.product(stock=2, price="402.00")
    user_id, token = await shop.user()
    first = await shop.checkout(token, sku, key="declined-once")
    again = await shop.checkout(token, sku, key="declined-once")
    assert_problem(first, 402, "payment_declined", PAYMENT_FAILED)
    assert_problem(again, 402, "payment_declined", PAYMENT_FAILED)
    assert 1 == await shop.count("SELECT count(*) FROM orders WHERE user_id = :u", u=user_id)
    assert 2 == await shop.stock(sku)

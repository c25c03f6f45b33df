"""Hostile and malformed input: always a 4xx problem document, never a 500, the data intact."""

from __future__ import annotations

import json

import pytest

pytestmark = pytest.mark.anyio

SQL = "'; DROP TABLE products; --"
SCRIPT = "<script>alert(1)</script>"
PAYLOADS = [
    SQL,
    SCRIPT,
    "1 OR 1=1",
    "\u0000",
    "ä" * 70,
    "${jndi:ldap://x}",
    "../../etc/passwd",
    "\ud7ff" * 3,
]

BODIES: list[bytes] = [
    b"{bad json",
    b"",
    b"null",
    b"[]",
    b'"sku"',
    b"[" * 100_000 + b"]" * 100_000,
    b'{"sku": 5, "quantity": 1, "payment_method": "card"}',
    b'{"sku": "X", "quantity": "1", "payment_method": "card"}',
    b'{"sku": "X", "quantity": 1.5, "payment_method": "card"}',
    b'{"sku": "X", "quantity": true, "payment_method": "card"}',
    b'{"sku": "X", "quantity": -1, "payment_method": "card"}',
    b'{"sku": "X", "quantity": 0, "payment_method": "card"}',
    b'{"sku": "X", "quantity": 100000000000000000000000000000, "payment_method": "card"}',
    b'{"sku": "X", "quantity": 1}',
    b'{"sku": "X", "quantity": 1, "payment_method": "card", "price": "0.01"}',
    b'{"sku": "X", "quantity": 1, "payment_method": null}',
    b'{"sku": "X", "quantity": NaN, "payment_method": "card"}',
    b"\xff\xfe\x00garbage",
]
for payload in PAYLOADS:
    BODIES.append(json.dumps({"sku": payload, "quantity": 1, "payment_method": "card"}).encode())
    BODIES.append(json.dumps({"sku": "X", "quantity": 1, "payment_method": payload}).encode())
    BODIES.append(json.dumps({"sku": "X", "quantity": payload, "payment_method": "card"}).encode())


async def _fingerprint(shop) -> tuple[int, int, int]:
    return (
        await shop.count("SELECT count(*) FROM products"),
        await shop.count("SELECT count(*) FROM users"),
        await shop.count("SELECT coalesce(sum(stock), 0) FROM products"),
    )


def assert_client_error(response) -> None:
    assert 400 <= response.status_code < 500, (response.status_code, response.text[:300])
    assert response.headers["content-type"].startswith("application/problem+json")
    body = response.json()
    assert body["status"] == response.status_code
    assert "Traceback" not in response.text
    assert "sqlalchemy" not in response.text.lower()
    assert "SELECT" not in response.text


async def test_bad_checkout_bodies_are_4xx_problems_and_change_nothing(make_shop):
    shop = await make_shop(SHOP_CHECKOUT_RATE="1000/60s")
    sku = await shop.product(stock=3)
    _, token = await shop.user()
    before = await _fingerprint(shop)
    for body in BODIES:
        response = await shop.client.post(
            "/flash/checkout",
            content=body.replace(b'"X"', json.dumps(sku).encode()),
            headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
        )
        assert_client_error(response)
    assert before == await _fingerprint(shop)
    assert 3 == await shop.stock(sku)


async def test_a_huge_body_is_413(make_shop):
    shop = await make_shop()
    _, token = await shop.user()
    huge = b'{"sku": "' + b"A" * 2_000_000 + b'", "quantity": 1, "payment_method": "card"}'
    response = await shop.client.post(
        "/flash/checkout", content=huge, headers={"Authorization": f"Bearer {token}"}
    )
    assert_client_error(response)
    assert 413 == response.status_code


@pytest.mark.parametrize("key", [SQL, "", "x" * 256, "é".encode(), "tab\there"])
async def test_bad_idempotency_keys_are_422(make_shop, key):
    shop = await make_shop()
    sku = await shop.product(stock=3)
    _, token = await shop.user()
    response = await shop.client.post(
        "/flash/checkout",
        json={"sku": sku, "quantity": 1, "payment_method": "card"},
        headers={"Authorization": f"Bearer {token}", "Idempotency-Key": key},
    )
    assert_client_error(response)
    assert 3 == await shop.stock(sku)


@pytest.mark.parametrize("payload", [SQL, SCRIPT, "ord_' OR '1'='1", "x" * 500])
async def test_hostile_order_ids_and_tokens(make_shop, payload):
    shop = await make_shop()
    _, token = await shop.user()
    response = await shop.client.get(
        f"/orders/{payload}", headers={"Authorization": f"Bearer {token}"}
    )
    assert_client_error(response)
    response = await shop.client.get("/orders/x", headers={"Authorization": f"Bearer {payload}"})
    assert 401 == response.status_code


async def test_sql_in_a_sku_is_data_not_code(make_shop):
    shop = await make_shop()
    _, token = await shop.user()
    response = await shop.checkout(token, SQL)
    assert 422 == response.status_code
    assert "unknown_product" == response.json()["code"]
    assert 0 < await shop.count("SELECT count(*) FROM products")

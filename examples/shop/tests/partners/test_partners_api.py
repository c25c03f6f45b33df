"""Partner API on SQLite and PostgreSQL: keys and audit, feeds and jobs, products, limits."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import text

from shop.db import make_engine

pytestmark = pytest.mark.anyio

PROBLEM = "application/problem+json"
GOOD_CSV = (
    b"sku,title,price,currency,stock\n"
    b"A-1,Blue mug,12.50,EUR,4\n"
    b"A-2,Red mug,9.99,EUR,0\n"
    b"A-3,Green mug,-3,EUR,1\n"
    b"A-4,Teapot,30.00,EUR,2\n"
)
JOB_FIELDS = {
    "id",
    "status",
    "mode",
    "dry_run",
    "records",
    "processed",
    "accepted",
    "rejected",
    "errors",
    "created_at",
    "finished_at",
}


async def test_an_uploaded_feed_becomes_products_a_job_report_and_a_mail(partner_shop):
    ps = await partner_shop()
    response = await ps.upload(GOOD_CSV, mode="delta")
    assert 202 == response.status_code, response.text
    body = response.json()
    assert {"job_id", "status_url"} == set(body)
    assert body["status_url"] == response.headers["location"]
    queued = (await ps.client.get(body["status_url"], headers=ps.auth)).json()
    assert "queued" == queued["status"]
    assert 2 <= await ps.run_jobs()
    job = (await ps.client.get(body["status_url"], headers=ps.auth)).json()
    assert JOB_FIELDS == set(job)
    assert {
        "status": "succeeded",
        "mode": "delta",
        "dry_run": False,
        "records": 4,
        "processed": 4,
        "accepted": 3,
        "rejected": 1,
    } == {
        k: job[k]
        for k in ("status", "mode", "dry_run", "records", "processed", "accepted", "rejected")
    }
    [error] = job["errors"]
    assert {"line": 4, "index": 3, "field": "price"} == {
        k: error[k] for k in ("line", "index", "field")
    }
    assert error["code"] and "price" in error["message"]
    assert job["finished_at"]
    products = (await ps.client.get("/partner/products", headers=ps.auth)).json()
    assert ["A-1", "A-2", "A-4"] == [p["sku"] for p in products["items"]]
    assert {"sku": "A-1", "title": "Blue mug", "price": "12.50", "currency": "EUR", "stock": 4} == {
        k: v for k, v in products["items"][0].items() if k != "updated_at"
    }
    [mail] = list(ps.outbox.glob("*.eml"))
    text_ = mail.read_text()
    assert "partner@example.com" in text_ and "3 accepted, 1 rejected" in text_
    assert f"/partner/jobs/{body['job_id']}" in text_


async def test_a_raw_body_upload_with_its_content_type_is_accepted(partner_shop):
    ps = await partner_shop()
    feed = json.dumps([{"sku": "J-1", "title": "Json", "price": "1.00", "currency": "USD"}])
    response = await ps.upload(feed.encode(), content_type="application/json", multipart=False)
    assert 202 == response.status_code, response.text
    await ps.run_jobs()
    job = (await ps.client.get(response.headers["location"], headers=ps.auth)).json()
    assert ("succeeded", 1) == (job["status"], job["accepted"])


async def test_the_same_bytes_twice_are_the_same_job(partner_shop):
    ps = await partner_shop()
    first = (await ps.upload(GOOD_CSV, mode="full")).json()
    second = (await ps.upload(GOOD_CSV, mode="full")).json()
    other_mode = (await ps.upload(GOOD_CSV, mode="delta")).json()
    assert first == second
    assert first["job_id"] != other_mode["job_id"]


async def test_auth_failures_are_indistinguishable_and_all_audited(partner_shop):
    ps = await partner_shop()
    other = await ps.new_partner()
    from shop.partners.admin import revoke_partner

    await revoke_partner(ps.shop.app.state.shop.engine, other.id)
    prefix = ps.api_key.split("_")[2]
    cases = {
        "missing": None,
        "malformed": "Bearer nope",
        "unknown": f"Bearer ck_live_{prefix}_{'x' * 43}",
        "revoked": f"Bearer {other.api_key}",
    }
    bodies = []
    for header in cases.values():
        headers = {} if header is None else {"Authorization": header}
        response = await ps.client.get("/partner/products", headers=headers)
        assert 401 == response.status_code
        assert response.headers["content-type"].startswith(PROBLEM)
        body = response.json()
        body.pop("request_id")
        bodies.append(body)
    assert 1 == len({json.dumps(b, sort_keys=True) for b in bodies})
    ok = await ps.client.get("/partner/products", headers=ps.auth)
    assert 200 == ok.status_code
    await ps.flush_audit()
    engine = make_engine(ps.shop.database_url, pool_size=1)
    try:
        async with engine.connect() as conn:
            rows = (
                await conn.execute(
                    text(
                        "SELECT outcome, key_prefix, route, source FROM audit_log"
                        " ORDER BY id DESC LIMIT 5"
                    )
                )
            ).all()
    finally:
        await engine.dispose()
    assert ["ok", "revoked", "unknown", "malformed", "missing"] == [r.outcome for r in rows]
    assert {"/partner/products"} == {r.route for r in rows}
    assert all(r.source for r in rows)
    assert prefix == rows[0].key_prefix
    secret_part = ps.api_key.rsplit("_", 1)[1]
    assert all(secret_part not in (r.key_prefix or "") for r in rows)


async def test_a_partner_never_sees_another_partners_job(partner_shop):
    ps = await partner_shop()
    other = await ps.new_partner()
    job = (await ps.upload(GOOD_CSV)).json()
    theirs = await ps.client.get(
        job["status_url"], headers={"Authorization": f"Bearer {other.api_key}"}
    )
    missing = await ps.client.get("/partner/jobs/999999", headers=ps.auth)
    assert 404 == theirs.status_code == missing.status_code
    assert theirs.json()["detail"] == missing.json()["detail"]


async def test_rotation_keeps_the_old_key_for_the_grace_period_only(partner_shop):
    from shop.partners.admin import rotate_key

    ps = await partner_shop()
    engine = ps.shop.app.state.shop.engine
    graced = await rotate_key(engine, ps.partner_id, grace=3600)
    assert graced is not None
    for key in (ps.api_key, graced):
        response = await ps.client.get(
            "/partner/products", headers={"Authorization": f"Bearer {key}"}
        )
        assert 200 == response.status_code
    newest = await rotate_key(engine, ps.partner_id)
    for key, status in ((ps.api_key, 401), (graced, 401), (newest, 200)):
        response = await ps.client.get(
            "/partner/products", headers={"Authorization": f"Bearer {key}"}
        )
        assert status == response.status_code


async def test_partner_requests_are_rate_limited_per_key(partner_shop):
    ps = await partner_shop(SHOP_PARTNER_RATE="2/60s")
    answers = [await ps.client.get("/partner/products", headers=ps.auth) for _ in range(3)]
    assert [200, 200, 429] == [a.status_code for a in answers]
    assert "RateLimit" in answers[0].headers and "RateLimit-Policy" in answers[1].headers
    denied = await ps.client.get("/partner/products", headers=ps.auth)
    assert "RateLimit" in denied.headers and "RateLimit-Policy" in denied.headers
    assert int(denied.headers["Retry-After"]) >= 1
    assert "rate_limited" == denied.json()["code"]


async def test_oversized_and_unknown_feeds_are_refused_before_queueing(partner_shop):
    ps = await partner_shop(SHOP_FEED_MAX_BYTES=100)
    big = await ps.upload(GOOD_CSV + b"x" * 200, multipart=False)
    assert 413 == big.status_code
    big_multipart = await ps.upload(GOOD_CSV + b"x" * 200)
    assert 413 == big_multipart.status_code
    odd = await ps.upload(b"\x00\x01binary", content_type="application/x-thing", multipart=False)
    assert 415 == odd.status_code
    body = odd.json()
    assert "csv" in body["supported_formats"] and "csv" in body["detail"]
    assert 0 == await ps.shop.count(
        "SELECT count(*) FROM jobs WHERE partner_id = :p", p=ps.partner_id
    )


async def test_full_mode_retires_unlisted_products_delta_and_dry_run_do_not(partner_shop):
    ps = await partner_shop()
    await ps.upload(GOOD_CSV, mode="delta")
    await ps.run_jobs()
    smaller = b"sku,title,price,currency,stock\nA-1,Blue mug,12.50,EUR,7\n"
    dry = (await ps.upload(smaller, mode="full", dry_run="true")).json()
    await ps.run_jobs()
    dry_job = (await ps.client.get(dry["status_url"], headers=ps.auth)).json()
    assert (True, "succeeded", 1) == (dry_job["dry_run"], dry_job["status"], dry_job["accepted"])
    listed = (await ps.client.get("/partner/products", headers=ps.auth)).json()
    assert 3 == listed["total"]
    assert 4 == listed["items"][0]["stock"]
    await ps.upload(smaller, mode="full")
    await ps.run_jobs()
    listed = (await ps.client.get("/partner/products", headers=ps.auth)).json()
    assert [("A-1", 7)] == [(p["sku"], p["stock"]) for p in listed["items"]]


async def test_job_errors_are_paginated(partner_shop):
    ps = await partner_shop()
    rows = b"".join(b"B-%d,Bad,-1,EUR,1\n" % i for i in range(250))
    job = (await ps.upload(b"sku,title,price,currency,stock\n" + rows)).json()
    await ps.run_jobs()
    first = await ps.client.get(job["status_url"], headers=ps.auth)
    assert 200 == len(first.json()["errors"])
    assert "250" == first.headers["x-total-errors"]
    following = first.headers["link"].split(">")[0].lstrip("<")
    second = (await ps.client.get(following, headers=ps.auth)).json()
    assert 50 == len(second["errors"])
    assert 202 == second["errors"][0]["line"]


async def test_xml_attacks_are_refused_and_nothing_is_written(partner_shop):
    ps = await partner_shop()
    bomb = (
        b'<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol">'
        b'<!ENTITY lol2 "&lol;&lol;&lol;">]>'
        b"<products><product><sku>&lol2;</sku></product></products>"
    )
    response = await ps.upload(bomb, content_type="application/xml", filename="feed.xml")
    assert 422 == response.status_code
    assert "unsafe_feed" == response.json()["code"]
    assert 0 == await ps.shop.count(
        "SELECT count(*) FROM jobs WHERE partner_id = :p", p=ps.partner_id
    )


async def test_buffered_and_dropped_audit_rows_show_on_metrics(partner_shop, monkeypatch):
    import re

    import shop.partners.audit

    ps = await partner_shop()
    monkeypatch.setattr(shop.partners.audit, "_MAX_PENDING", 3)

    def counts(text_: str) -> dict[str, float]:
        found = re.findall(r'^shop_audit_rows\{state="(\w+)"\} ([0-9.e+]+)$', text_, re.MULTILINE)
        return {state: float(value) for state, value in found}

    for _ in range(5):
        answer = await ps.client.get("/partner/products", headers={"Authorization": "Bearer x"})
        assert 401 == answer.status_code
    assert {"pending": 3.0, "dropped": 2.0} == counts((await ps.client.get("/metrics")).text)
    await ps.flush_audit()
    assert {"pending": 0.0, "dropped": 2.0} == counts((await ps.client.get("/metrics")).text)

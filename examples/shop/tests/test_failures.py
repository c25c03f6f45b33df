"""Infrastructure failures: the database unreachable, lock conflicts, fuzzed bodies."""

from __future__ import annotations

import asyncio
import sqlite3

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy.exc import IntegrityError, OperationalError

from shop.app import create_app
from shop.flash.checkout import is_lock_conflict
from shop.settings import Settings

UNAVAILABLE = "System experiencing high traffic. Please try again shortly."


class _PgError(Exception):
    def __init__(self, sqlstate: str) -> None:
        super().__init__("conflict")
        self.sqlstate = sqlstate


@pytest.mark.parametrize(
    ("error", "expected"),
    [
        (OperationalError("UPDATE", {}, sqlite3.OperationalError("database is locked")), True),
        (OperationalError("UPDATE", {}, _PgError("40001")), True),
        (OperationalError("UPDATE", {}, _PgError("40P01")), True),
        (OperationalError("UPDATE", {}, _PgError("57014")), False),
        (IntegrityError("INSERT", {}, sqlite3.IntegrityError("UNIQUE constraint failed")), False),
        (ValueError("database is locked"), False),
    ],
)
def test_lock_conflicts_are_recognised(error, expected):
    assert expected == is_lock_conflict(error)


@pytest.mark.parametrize(
    "url",
    [
        "postgresql+psycopg://postgres@127.0.0.1:1/nowhere",
        "sqlite+aiosqlite:////nonexistent/dir/shop.db",
    ],
)
@pytest.mark.anyio
# aiosqlite's worker thread may report its failed open after the test's loop has closed.
@pytest.mark.filterwarnings("ignore::pytest.PytestUnhandledThreadExceptionWarning")
async def test_an_unreachable_database_is_503_with_retry_after(url):
    app = create_app(Settings(DATABASE_URL=url))
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://shop.test") as client:
        answers = [await client.get(path) for path in ("/healthz", "/flash/products", "/flash")]
    await app.state.shop.engine.dispose()
    for response in answers:
        path = response.request.url.path
        assert 503 == response.status_code, (path, response.text)
        assert response.headers["content-type"].startswith("application/problem+json")
        assert UNAVAILABLE == response.json()["detail"]
        assert 0 < int(response.headers["retry-after"])
        assert "psycopg" not in response.text
        assert "sqlite" not in response.text.lower()


JSON = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=80),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=20), inner, max_size=4)
    ),
    max_leaves=12,
)
FIELDS = st.fixed_dictionaries(
    {},
    optional={
        "sku": JSON | st.text(max_size=80),
        "quantity": JSON | st.integers(),
        "payment_method": JSON | st.sampled_from(["card", "wallet", "crypto"]),
    },
)


@pytest.fixture
def fuzz_client(sqlite_url, serve):
    from shop.admin import create_user
    from shop.db import make_engine

    async def user() -> str:
        engine = make_engine(sqlite_url, pool_size=1)
        try:
            return (await create_user(engine, f"fuzzer-{id(engine)}"))[1]
        finally:
            await engine.dispose()

    token = asyncio.run(user())
    app = create_app(Settings(DATABASE_URL=sqlite_url, SHOP_CHECKOUT_RATE="100000/60s"))
    with serve(app) as base_url, httpx.Client(base_url=base_url) as client:

        def post(body: object) -> httpx.Response:
            return client.post(
                "/flash/checkout", json=body, headers={"Authorization": f"Bearer {token}"}
            )

        yield post


@settings(
    max_examples=80, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(body=FIELDS | JSON)
def test_fuzzed_checkout_bodies_never_cause_a_5xx(fuzz_client, body):
    response = fuzz_client(body)
    assert response.status_code < 500, response.text
    if response.status_code != 201:
        assert response.headers["content-type"].startswith("application/problem+json")

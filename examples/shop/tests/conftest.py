"""Fixtures: a database per backend per session (SQLite file, fresh PostgreSQL database), apps,
served apps on a free port, and helpers to add users and products."""

from __future__ import annotations

import asyncio
import contextlib
import os
import secrets
import shutil
import socket
import tempfile
import threading
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn
from fastapi import FastAPI
from sqlalchemy import select, text

from shop.admin import create_product, create_user
from shop.app import create_app
from shop.db import make_engine, products
from shop.migrate import upgrade
from shop.settings import Settings

PG_HOST = os.environ.get("TEST_SHOP_PG_HOST", "127.0.0.1")
PG_PORT = int(os.environ.get("TEST_SHOP_PG_PORT", "5432"))
IN_CI = os.environ.get("CI", "").lower() in {"1", "true", "yes"}


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


def _pg_admin() -> Any:
    import psycopg

    last: Exception | None = None
    for user in ("postgres", "root"):
        try:
            return psycopg.connect(
                host=PG_HOST,
                port=PG_PORT,
                user=user,
                dbname="test",
                autocommit=True,
                connect_timeout=3,
            ), user
        except psycopg.OperationalError as error:
            last = error
    raise RuntimeError(f"PostgreSQL at {PG_HOST}:{PG_PORT} is not reachable: {last}")


def _fresh_pg_database() -> Iterator[str]:
    """Create a fresh PostgreSQL database, migrated; yield its URL; drop it."""
    try:
        admin, user = _pg_admin()
    except RuntimeError as error:
        if IN_CI:
            pytest.fail(f"CI needs PostgreSQL: {error}")
        pytest.skip(f"PostgreSQL tests skipped: {error}")
    name = f"shop_test_{secrets.token_hex(4)}"
    with admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    url = f"postgresql+psycopg://{user}@{PG_HOST}:{PG_PORT}/{name}"
    upgrade(url)
    yield url
    admin, _ = _pg_admin()
    with admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(scope="session")
def pg_url() -> Iterator[str]:
    """A fresh PostgreSQL database for this test session, dropped at the end."""
    yield from _fresh_pg_database()


@pytest.fixture
def own_pg_url() -> Iterator[str]:
    """A fresh PostgreSQL database for this test alone (no other test's jobs in it)."""
    yield from _fresh_pg_database()


@pytest.fixture(scope="session")
def sqlite_url(tmp_path_factory: pytest.TempPathFactory) -> str:
    path = tmp_path_factory.mktemp("shop") / "shop.db"
    url = f"sqlite+aiosqlite:///{path}"
    upgrade(url)
    return url


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest) -> str:
    """Each test that takes this runs once on SQLite and once on PostgreSQL."""
    fixture = "sqlite_url" if request.param == "sqlite" else "pg_url"
    url: str = request.getfixturevalue(fixture)
    return url


def make_settings(database_url: str, **overrides: object) -> Settings:
    # A REDIS_URL in the developer's environment must not make tests share state through Redis.
    values: dict[str, object] = {
        "DATABASE_URL": database_url,
        "REDIS_URL": "",
        "SHOP_OUTBOX": tempfile.mkdtemp(prefix="shop-outbox-"),
    }
    values.update(overrides)
    return Settings(**values)  # type: ignore[arg-type]


def unique(prefix: str) -> str:
    return f"{prefix}-{secrets.token_hex(4)}"


@dataclass
class Shop:
    """A shop under test: its app, a client, and a setup engine in the test's loop."""

    app: FastAPI
    client: httpx.AsyncClient
    database_url: str

    async def user(self) -> tuple[int, str]:
        engine = make_engine(self.database_url, pool_size=1)
        try:
            return await create_user(engine, unique("user"))
        finally:
            await engine.dispose()

    async def users(self, count: int) -> list[str]:
        """Add ``count`` users through one connection; return their tokens."""
        engine = make_engine(self.database_url, pool_size=1)
        try:
            return [(await create_user(engine, unique("user")))[1] for _ in range(count)]
        finally:
            await engine.dispose()

    async def product(self, stock: int, price: str = "19.00") -> str:
        sku = unique("SKU")
        engine = make_engine(self.database_url, pool_size=1)
        try:
            await create_product(
                engine, sku=sku, title=f"Product {sku}", price=Decimal(price), stock=stock
            )
        finally:
            await engine.dispose()
        return sku

    async def stock(self, sku: str) -> int:
        engine = make_engine(self.database_url, pool_size=1)
        try:
            async with engine.connect() as conn:
                value = await conn.scalar(select(products.c.stock).where(products.c.sku == sku))
        finally:
            await engine.dispose()
        assert value is not None, sku
        return int(value)

    async def count(self, sql: str, **params: object) -> int:
        engine = make_engine(self.database_url, pool_size=1)
        try:
            async with engine.connect() as conn:
                value = await conn.scalar(text(sql), params)
        finally:
            await engine.dispose()
        return int(value or 0)

    def checkout(
        self,
        token: str,
        sku: str,
        *,
        quantity: int = 1,
        method: str = "card",
        key: str | None = None,
    ) -> Any:
        headers = {"Authorization": f"Bearer {token}"}
        if key is not None:
            headers["Idempotency-Key"] = key
        return self.client.post(
            "/flash/checkout",
            json={"sku": sku, "quantity": quantity, "payment_method": method},
            headers=headers,
        )


@pytest.fixture
async def make_shop(database_url: str) -> AsyncIterator[Any]:
    """Build in-process shops (ASGI transport) with settings overrides; closed after the test."""
    made: list[Shop] = []

    async def build(**overrides: object) -> Shop:
        app = create_app(make_settings(database_url, **overrides))
        client = httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app, raise_app_exceptions=False),
            base_url="http://shop.test",
        )
        shop = Shop(app, client, database_url)
        made.append(shop)
        return shop

    yield build
    for shop in made:
        await shop.client.aclose()
        shop.app.state.shop.payments.gateway.close()
        await shop.app.state.shop.engine.dispose()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@contextmanager
def served(app: FastAPI) -> Iterator[str]:
    """Serve ``app`` with uvicorn on a free port in a thread; yield its base URL."""
    port = free_port()
    config = uvicorn.Config(
        app, host="127.0.0.1", port=port, log_level="warning", access_log=False, backlog=2048
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 15
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("the shop did not start")
        time.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(15)


def run(coro: Any) -> Any:
    """Run a coroutine from a sync test."""
    return asyncio.run(coro)


ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture
def serve() -> Any:
    """The :func:`served` context manager, for tests that need real HTTP."""
    return served


@pytest.fixture
def settings_for(database_url: str) -> Any:
    """Build settings for this test's database with overrides."""

    def build(**overrides: object) -> Settings:
        return make_settings(database_url, **overrides)

    return build


@contextmanager
def served_process(database_url: str, log: Path, *serve_args: str, **env: str) -> Iterator[str]:
    """Run ``shop serve [serve_args]`` in a subprocess on a free port with ``env``; yield its URL."""
    import subprocess
    import sys

    port = free_port()
    environment = {
        k: v for k, v in os.environ.items() if not k.startswith("SHOP_") and k != "REDIS_URL"
    }
    environment.update(env, DATABASE_URL=database_url)
    # Its worker may mail about jobs other tests left in the database: never into the checkout.
    environment.setdefault("SHOP_OUTBOX", str(log.parent / "outbox"))
    with log.open("wb") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "shop", "serve", "--port", str(port), *serve_args],
            env=environment,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
        base_url = f"http://127.0.0.1:{port}"
        try:
            deadline = time.monotonic() + 60
            while True:
                if process.poll() is not None:
                    raise RuntimeError(f"shop serve exited: {log.read_text()[-2000:]}")
                try:
                    if httpx.get(f"{base_url}/healthz", timeout=1).status_code == 200:
                        break
                except httpx.TransportError:
                    pass
                if time.monotonic() > deadline:
                    raise RuntimeError(f"shop serve did not start: {log.read_text()[-2000:]}")
                time.sleep(0.1)
            yield base_url
        finally:
            process.terminate()
            try:
                process.wait(20)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


@pytest.fixture
def shop_server() -> Any:
    """:func:`served_process`, for tests that start ``shop serve`` with arguments of their own."""
    return served_process


@pytest.fixture
def serve_process(database_url: str, tmp_path: Path) -> Any:
    """Start ``shop serve`` in a subprocess for this test's database (real HTTP)."""

    def start(**env: str) -> Any:
        return served_process(database_url, tmp_path / "serve.log", **env)

    return start


class RawConnection:
    """A minimal HTTP/1.1 keep-alive client on asyncio streams.

    The load tests use it instead of httpx so that the client, which shares the machine with
    the server, spends as little CPU per request as possible.
    """

    def __init__(self, base_url: str) -> None:
        host, _, port = base_url.removeprefix("http://").partition(":")
        self.host, self.port = host, int(port)
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None

    async def request(
        self, method: str, path: str, body: bytes = b"", headers: dict[str, str] | None = None
    ) -> tuple[int, dict[str, str], bytes]:
        if self.writer is None:
            self.reader, self.writer = await asyncio.open_connection(self.host, self.port)
        assert self.reader is not None
        lines = [f"{method} {path} HTTP/1.1", f"Host: {self.host}", f"Content-Length: {len(body)}"]
        lines += [f"{k}: {v}" for k, v in (headers or {}).items()]
        self.writer.write(("\r\n".join(lines) + "\r\n\r\n").encode() + body)
        head = await self.reader.readuntil(b"\r\n\r\n")
        status_line, *header_lines = head.decode("latin-1").split("\r\n")
        found = {}
        for line in header_lines:
            if ":" in line:
                name, _, value = line.partition(":")
                found[name.strip().lower()] = value.strip()
        content = await self.reader.readexactly(int(found.get("content-length", "0")))
        return int(status_line.split()[1]), found, content

    async def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
            with contextlib.suppress(OSError):
                await self.writer.wait_closed()
            self.writer = None


@pytest.fixture
def raw_http() -> type[RawConnection]:
    """The minimal keep-alive HTTP client class."""
    return RawConnection


@pytest.fixture
def serve_database() -> Any:
    """:func:`served_process` itself, for a test that brings its own database URL."""
    return served_process


CHROMIUM = os.environ.get("TEST_SHOP_CHROMIUM", "/usr/bin/chromium")
# Debian's Chromium, as the project's design notes launch it (never a downloaded browser build).
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


@pytest.fixture
def launch_chromium() -> Any:
    """Launch headless Chromium from a Playwright handle; skips without it, fails under CI."""
    if not Path(CHROMIUM).exists() and shutil.which("chromium") is None:
        if os.environ.get("CI"):
            pytest.fail(f"CI needs Chromium at {CHROMIUM} (apt-get install chromium)")
        pytest.skip(f"no Chromium at {CHROMIUM} (apt-get install chromium)")

    def launch(playwright: Any) -> Any:
        return playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)

    return launch

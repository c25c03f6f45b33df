"""REDIS_URL: shops (the workers of a fleet) share the limiter, listing cache and breakers, and a
Redis outage never makes them answer 5xx.

Two apps built in one process stand for two workers: they share nothing but the database and
Redis. The shared server is Redis at 127.0.0.1:6379 (``TEST_SHOP_REDIS_URL`` overrides it), used
under a key prefix of each test's own, deleted afterwards; the outage test starts a second
``redis-server`` of its own on a free port and stops it, so the shared one stays up. Without them
the tests skip with the reason; under ``CI=true`` they fail.
"""

from __future__ import annotations

import asyncio
import functools
import json
import os
import re
import secrets
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import contextmanager
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import pytest
import redis
from commerce_kit.redis import RedisGuard
from commerce_kit.webhooks import Webhook
from prometheus_client import CollectorRegistry
from prometheus_client.multiprocess import MultiProcessCollector
from sqlalchemy import select, text

from shop.admin import create_product, create_user
from shop.cli import main
from shop.db import make_engine, products
from shop.jobs.tables import jobs
from shop.partners.admin import create_partner
from shop.partners.tables import partner_products
from shop.scale import BytesCodec

pytestmark = pytest.mark.anyio

REDIS_URL = os.environ.get("TEST_SHOP_REDIS_URL", "redis://127.0.0.1:6379/0")
IN_CI = os.environ.get("CI", "").lower() in {"1", "true", "yes"}
UNAVAILABLE = "System experiencing high traffic. Please try again shortly."


def unavailable(reason: str) -> None:
    if IN_CI:
        pytest.fail(f"{reason}; CI must run the fleet tests")
    pytest.skip(reason)


@pytest.fixture(scope="session")
def redis_url() -> str:
    """The shared Redis server's URL; skips (fails under CI) when nothing answers there."""
    client = redis.Redis.from_url(REDIS_URL, socket_connect_timeout=1)
    try:
        client.ping()
    except redis.RedisError as error:
        unavailable(f"no Redis server answers at {REDIS_URL} ({error})")
    finally:
        client.close()
    return REDIS_URL


def delete_prefix(url: str, prefix: str) -> None:
    client = redis.Redis.from_url(url)
    try:
        keys = list(client.scan_iter(match=prefix + "*", count=1000))
        if keys:
            client.delete(*keys)
    finally:
        client.close()


@pytest.fixture
def redis_prefix(redis_url: str) -> Iterator[str]:
    """A key prefix of this test's own; every key under it is deleted afterwards."""
    prefix = f"shop-test-{secrets.token_hex(6)}:"
    yield prefix
    delete_prefix(redis_url, prefix)


class RedisServer:
    """A ``redis-server`` of a test's own on a free port, which the test stops and starts."""

    def __init__(self) -> None:
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            self.port: int = sock.getsockname()[1]
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        self.process = subprocess.Popen(
            ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1", "--save", ""],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        probe = redis.Redis(port=self.port, socket_connect_timeout=0.5)
        deadline = time.monotonic() + 10
        try:
            while True:
                try:
                    probe.ping()
                    return
                except redis.ConnectionError:
                    if time.monotonic() > deadline:
                        raise
                    time.sleep(0.01)
        finally:
            probe.close()

    def stop(self) -> None:
        if self.process is not None:
            self.process.kill()
            self.process.wait(10)
            self.process = None


@pytest.fixture
def redis_server() -> Iterator[RedisServer]:
    """A second Redis server, started; killed after the test."""
    if shutil.which("redis-server") is None:
        unavailable("redis-server is not installed, so no Redis can be started and stopped")
    server = RedisServer()
    server.start()
    yield server
    server.stop()


@pytest.fixture
async def make_worker(make_shop) -> AsyncIterator[Any]:
    """Build shops like ``make_shop`` and close their Redis clients afterwards."""
    made: list[Any] = []

    async def build(**overrides: object) -> Any:
        shop = await make_shop(**overrides)
        made.append(shop)
        return shop

    yield build
    for shop in made:
        fleet = shop.app.state.shop.fleet
        if fleet is not None:
            await fleet.aclose()


def metric(text: str, name: str) -> float:
    """The sum of a metric's samples in Prometheus text."""
    total = 0.0
    for line in text.splitlines():
        if line.startswith(name) and line[len(name) : len(name) + 1] in {" ", "{"}:
            total += float(line.rsplit(" ", 1)[1])
    return total


def test_redis_settings(monkeypatch, capsys):
    from shop.settings import load_settings

    monkeypatch.delenv("REDIS_URL", raising=False)
    monkeypatch.delenv("SHOP_REDIS_PREFIX", raising=False)
    settings = load_settings()
    assert settings.redis_url is None
    assert "shop:" == settings.redis_prefix
    assert load_settings(REDIS_URL="").redis_url is None
    assert "redis://h:1/2" == load_settings(REDIS_URL="redis://h:1/2").redis_url
    for name, value in [
        ("REDIS_URL", "http://h:6379"),
        ("REDIS_URL", "127.0.0.1:6379"),
        ("SHOP_REDIS_PREFIX", "has{brace}"),
        ("SHOP_REDIS_PREFIX", ""),
    ]:
        monkeypatch.setenv(name, value)
        assert 2 == main(["db", "upgrade"])
        err = capsys.readouterr().err.strip()
        assert err.startswith(f"shop: {name}: "), err
        assert 1 == len(err.splitlines())
        monkeypatch.delenv(name)


def test_the_bytes_codec_keeps_bytes_and_refuses_the_rest():
    codec = BytesCodec()
    assert b'[{"sku":"A"}]' == codec.decode(codec.encode(b'[{"sku":"A"}]'))
    with pytest.raises(TypeError):
        codec.encode("text")


async def test_without_redis_url_nothing_is_shared(make_worker):
    shop = await make_worker()
    assert shop.app.state.shop.fleet is None


async def test_two_workers_share_the_limit_the_listing_and_the_breakers(
    make_worker, redis_url, redis_prefix
):
    shared = {"REDIS_URL": redis_url, "SHOP_REDIS_PREFIX": redis_prefix}
    one = await make_worker(SHOP_CHECKOUT_RATE="3/60s", **shared)
    two = await make_worker(SHOP_CHECKOUT_RATE="3/60s", **shared)
    sku = await one.product(stock=20)
    _, token = await one.user()
    # The per-user limit: 3 for the user in all, whichever worker answers.
    statuses = [(await (one, two)[i % 2].checkout(token, sku)).status_code for i in range(8)]
    assert Counter({201: 3, 429: 5}) == Counter(statuses), statuses
    # The listing: one query for both workers.
    for shop in (one, two, one, two):
        listing = await shop.client.get("/flash/products")
        assert 200 == listing.status_code
        assert 17 == next(p["stock"] for p in listing.json() if p["sku"] == sku)
    queries = [
        metric((await shop.client.get("/metrics")).text, "shop_listing_queries_total")
        for shop in (one, two)
    ]
    assert 1.0 == sum(queries), queries


async def test_payments_failing_in_one_worker_open_the_breaker_in_all(
    make_worker, redis_url, redis_prefix
):
    shared = {"REDIS_URL": redis_url, "SHOP_REDIS_PREFIX": redis_prefix}
    failing = await make_worker(SHOP_SANDBOX_DOWN="true", SHOP_CHECKOUT_RATE="100/60s", **shared)
    healthy = await make_worker(SHOP_CHECKOUT_RATE="100/60s", **shared)
    sku = await failing.product(stock=10)
    _, token = await failing.user()
    for _ in range(3):
        assert 503 == (await failing.checkout(token, sku)).status_code
    # A worker trusts its view of a breaker for a second (RedisBreakerStore's refresh) before it
    # reads the shared record again: the healthy worker built its view before the failures.
    await asyncio.sleep(1.1)
    sandbox = healthy.app.state.shop.payments.sandboxes[0]
    started = time.perf_counter()
    answer = await healthy.checkout(token, sku)
    assert time.perf_counter() - started < 0.5
    assert 503 == answer.status_code, answer.text
    assert "service_unavailable" == answer.json()["code"]
    assert UNAVAILABLE == answer.json()["detail"]
    assert 0 == sandbox.calls  # the other worker never called the provider
    assert 10 == await healthy.stock(sku)
    # Another method's breaker is its own.
    assert 201 == (await healthy.checkout(token, sku, method="wallet")).status_code


async def test_redis_down_never_makes_the_shop_answer_5xx(make_worker, redis_server, caplog):
    shop = await make_worker(REDIS_URL=redis_server.url, SHOP_CHECKOUT_RATE="3/60s")
    sku = await shop.product(stock=50)
    _, before = await shop.user()
    assert 201 == (await shop.checkout(before, sku)).status_code
    assert 200 == (await shop.client.get("/flash/products")).status_code

    redis_server.stop()
    _, token = await shop.user()
    started = time.perf_counter()
    statuses = [(await shop.checkout(token, sku)).status_code for _ in range(5)]
    listings = [(await shop.client.get("/flash/products")).status_code for _ in range(5)]
    # The limiter falls back to this worker's memory: the limit still holds, per worker.
    assert [201, 201, 201, 429, 429] == statuses
    assert {200} == set(listings)
    assert 200 == (await shop.client.get("/payment-methods")).status_code
    assert 200 == (await shop.client.get("/metrics")).status_code
    assert time.perf_counter() - started < 10
    assert any("is failing" in r.getMessage() for r in caplog.records if r.name.endswith("redis"))
    assert 46 == await shop.stock(sku)

    # Redis comes back (empty): after the guard's reset timeout the worker shares again.
    redis_server.start()
    guard = shop.app.state.shop.fleet.guard
    deadline = time.monotonic() + guard.reset_timeout + 10
    _, after = await shop.user()
    client = redis.Redis(port=redis_server.port)
    try:
        while not client.keys("shop:rl:*"):
            answer = await shop.checkout(after, sku)
            assert answer.status_code < 500, answer.text
            assert time.monotonic() < deadline, "the limiter never wrote to Redis again"
            await asyncio.sleep(0.2)
    finally:
        client.close()
    assert guard.available


def test_fleet_metrics_is_only_for_several_workers(monkeypatch, tmp_path):
    from shop.scale import MULTIPROC_ENV, fleet_metrics

    monkeypatch.delenv(MULTIPROC_ENV, raising=False)
    with fleet_metrics(1) as directory:
        assert directory is None
        assert MULTIPROC_ENV not in os.environ
    with fleet_metrics(4) as directory:
        assert directory is not None and directory.is_dir()
        assert str(directory) == os.environ[MULTIPROC_ENV]
    assert not directory.exists()
    assert MULTIPROC_ENV not in os.environ
    # A directory the operator named is emptied of a previous run's files and kept.
    named = tmp_path / "metrics"
    named.mkdir()
    (named / "counter_123.db").write_bytes(b"old")
    (named / "notes.txt").write_text("kept")
    monkeypatch.setenv(MULTIPROC_ENV, str(named))
    with fleet_metrics(2) as directory:
        assert named == directory
        assert ["notes.txt"] == sorted(p.name for p in named.iterdir())
    assert named.is_dir()


# -- the fleet: shop serve --workers 4 over PostgreSQL and Redis ------------------------------------

WORKERS = 4


async def fresh_request(
    connect: Callable[[], Any], method: str, path: str, body: bytes = b"", token: str = ""
) -> int:
    """One request on a connection of its own, so that the kernel hands them to every worker."""
    connection = connect()
    headers = {"Content-Type": "application/json"}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    try:
        status, _, _ = await connection.request(method, path, body, headers)
    finally:
        await connection.close()
    return int(status)


def checkout_body(sku: str) -> bytes:
    """A checkout of one unit of ``sku`` by card."""
    return json.dumps({"sku": sku, "quantity": 1, "payment_method": "card"}).encode()


def requests_per_worker(directory: Path, route: str) -> dict[str, float]:
    """How many requests to ``route`` each worker counted, from its own metrics file."""
    found: dict[str, float] = {}
    for path in sorted(directory.glob("counter_*.db")):
        alone = Path(tempfile.mkdtemp(prefix=f"alone-{path.stem}-"))
        shutil.copy(path, alone / path.name)
        registry = CollectorRegistry()
        MultiProcessCollector(registry, path=str(alone))  # type: ignore[no-untyped-call]
        total = sum(
            sample.value
            for family in registry.collect()
            if family.name == "shop_http_requests"
            for sample in family.samples
            if sample.name == "shop_http_requests_total" and sample.labels.get("route") == route
        )
        shutil.rmtree(alone)
        if total:
            found[path.stem.removeprefix("counter_")] = total
    return found


@pytest.mark.slow
async def test_a_fleet_of_four_workers_shares_limits_stock_and_the_listing(  # noqa: PLR0917 - fixtures
    pg_url, redis_url, redis_prefix, tmp_path, raw_http, shop_server
):
    """shop serve --workers 4 on PostgreSQL and Redis: one limit per user, no oversell, and one
    listing query per window for the whole fleet, read from /metrics."""
    engine = make_engine(pg_url, pool_size=1)
    try:
        scarce = f"FLEET-{secrets.token_hex(4)}"
        plenty = f"FLEET-{secrets.token_hex(4)}"
        await create_product(engine, sku=scarce, title="Scarce", price=Decimal("9.00"), stock=30)
        await create_product(engine, sku=plenty, title="Plenty", price=Decimal("5.00"), stock=500)
        _, greedy = await create_user(engine, f"greedy-{secrets.token_hex(4)}")
        buyers = [
            (await create_user(engine, f"buyer-{secrets.token_hex(4)}"))[1] for _ in range(60)
        ]
    finally:
        await engine.dispose()

    metrics_dir = tmp_path / "metrics"
    env = {
        "DATABASE_URL": pg_url,
        "REDIS_URL": redis_url,
        "SHOP_REDIS_PREFIX": redis_prefix,
        "SHOP_CHECKOUT_RATE": "5/60s",
        "SHOP_LISTING_TTL": "120",
        "PROMETHEUS_MULTIPROC_DIR": str(metrics_dir),
    }
    fleet = ("--workers", str(WORKERS))
    with shop_server(pg_url, tmp_path / "serve.log", *fleet, **env) as base_url:
        once = functools.partial(fresh_request, functools.partial(raw_http, base_url))
        buy = checkout_body

        listings = await asyncio.gather(*(once("GET", "/flash/products") for _ in range(120)))
        greedy_tries = await asyncio.gather(
            *(once("POST", "/flash/checkout", buy(plenty), greedy) for _ in range(30))
        )
        sales = await asyncio.gather(
            *(once("POST", "/flash/checkout", buy(scarce), token) for token in buyers)
        )
        async with httpx.AsyncClient(base_url=base_url, timeout=10) as client:
            metrics = (await client.get("/metrics")).text
        serving = requests_per_worker(metrics_dir, "/flash/checkout")
        # The kernel decides which worker takes a connection, and a burst can (rarely) land on
        # one: read more listings until the metrics show several workers serving.
        workers = set(serving) | set(requests_per_worker(metrics_dir, "/flash/products"))
        deadline = time.monotonic() + 20
        while len(workers) < 2 and time.monotonic() < deadline:
            await asyncio.gather(*(once("GET", "/flash/products") for _ in range(20)))
            workers |= set(requests_per_worker(metrics_dir, "/flash/products"))

    assert {200} == set(listings)
    # One limit for the user across the fleet: exactly 5 of 30 admitted.
    assert Counter({201: 5, 429: 25}) == Counter(greedy_tries)
    # No oversell: exactly the stock sold, every other buyer told it is gone.
    assert Counter({201: 30, 409: 30}) == Counter(sales)
    engine = make_engine(pg_url, pool_size=1)
    try:
        async with engine.connect() as conn:
            stock = await conn.scalar(select(products.c.stock).where(products.c.sku == scarce))
            paid = await conn.scalar(
                text("SELECT count(*) FROM orders WHERE sku = :s AND status = 'paid'"),
                {"s": scarce},
            )
    finally:
        await engine.dispose()
    assert (0, 30) == (stock, paid)
    # /metrics, whichever worker answers, counts the whole fleet.
    assert 1.0 == metric(metrics, "shop_listing_queries_total")
    assert 65.0 == metric(metrics, 'shop_rate_limit_decisions_total{decision="allowed"}')
    assert 25.0 == metric(metrics, 'shop_rate_limit_decisions_total{decision="denied"}')
    assert 90.0 == sum(serving.values())
    # ... and several workers really served.
    assert len(workers) >= 2, workers


async def test_with_redis_an_unreachable_database_is_503_and_leaves_no_lease(
    redis_url, redis_prefix
):
    from shop.app import create_app
    from shop.settings import Settings

    app = create_app(
        Settings(
            DATABASE_URL="postgresql+psycopg://postgres@127.0.0.1:1/nowhere",
            REDIS_URL=redis_url,
            SHOP_REDIS_PREFIX=redis_prefix,
        )
    )
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    try:
        async with httpx.AsyncClient(transport=transport, base_url="http://shop.test") as client:
            answers = [await client.get("/flash/products") for _ in range(2)]
    finally:
        await app.state.shop.engine.dispose()
        await app.state.shop.fleet.aclose()
    assert [503, 503] == [a.status_code for a in answers]
    assert UNAVAILABLE == answers[1].json()["detail"]
    client_ = redis.Redis.from_url(redis_url)
    try:
        # The failed load gave its lease back: the next reader loads at once, not after 10 s.
        assert [] == client_.keys(redis_prefix + "*lease*")
    finally:
        client_.close()


@contextmanager
def job_workers(count: int, env: dict[str, str], logs: Path) -> Iterator[list[Path]]:
    """Run ``count`` ``shop worker`` processes with ``env``; yield their log files."""
    environment = {k: v for k, v in os.environ.items() if not k.startswith("SHOP_")}
    environment.update(env)
    paths = [logs / f"worker-{i}.log" for i in range(count)]
    processes = []
    try:
        for path in paths:
            with path.open("wb") as out:
                processes.append(
                    subprocess.Popen(
                        [sys.executable, "-m", "shop", "worker"],
                        env=environment,
                        stdout=out,
                        stderr=subprocess.STDOUT,
                    )
                )
        yield paths
    finally:
        for process in processes:
            process.terminate()
        for process in processes:
            try:
                process.wait(20)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


def feed(salt: str, rows: int) -> bytes:
    lines = b"".join(
        b"%s-%d,Widget %d,3.00,EUR,%d\n" % (salt.encode(), i, i, i) for i in range(rows)
    )
    return b"sku,title,price,currency,stock\n" + lines


async def wait_for_jobs(url: str, ids: list[int], deadline: float) -> dict[int, tuple[str, int]]:
    """Poll the database until every job in ``ids`` finished; return (state, attempts) by id."""
    engine = make_engine(url, pool_size=1)
    try:
        while True:
            async with engine.connect() as conn:
                rows = (
                    await conn.execute(
                        select(jobs.c.id, jobs.c.state, jobs.c.attempts).where(jobs.c.id.in_(ids))
                    )
                ).all()
            found = {row.id: (row.state, row.attempts) for row in rows}
            if len(found) == len(ids) and all(
                s in {"succeeded", "failed"} for s, _ in found.values()
            ):
                return found
            assert time.monotonic() < deadline, found
            await asyncio.sleep(0.2)
    finally:
        await engine.dispose()


def started_jobs(logs: list[Path]) -> list[tuple[int, str, str, int]]:
    """Every "job N (kind) started by W, attempt A" line in the workers' logs."""
    return [
        (int(match[1]), match[2], match[3], int(match[4]))
        for log in logs
        for match in STARTED.finditer(log.read_text())
    ]


STARTED = re.compile(r"job (\d+) \((\w+)\) started by (\S+), attempt (\d+)")


@pytest.mark.slow
async def test_a_fleet_with_two_job_workers_runs_each_job_and_applies_each_webhook_once(  # noqa: PLR0917 - fixtures
    pg_url, redis_url, redis_prefix, tmp_path, raw_http, shop_server
):
    """shop serve --workers 4 (no in-process worker) and two shop worker processes: every feed
    ingest runs once, every webhook is accepted and applied once (the replay guard is shared
    through Redis), and both job workers take part."""
    engine = make_engine(pg_url, pool_size=1)
    try:
        partner = await create_partner(engine, f"fleet-{secrets.token_hex(4)}", "f@example.com")
    finally:
        await engine.dispose()
    env = {
        "DATABASE_URL": pg_url,
        "REDIS_URL": redis_url,
        "SHOP_REDIS_PREFIX": redis_prefix,
        "SHOP_WORKER": "false",
        "SHOP_OUTBOX": str(tmp_path / "outbox"),
        "PROMETHEUS_MULTIPROC_DIR": str(tmp_path / "metrics"),
    }
    auth = {"Authorization": f"Bearer {partner.api_key}"}
    salt = secrets.token_hex(3).upper()
    with (
        shop_server(pg_url, tmp_path / "serve.log", "--workers", str(WORKERS), **env) as base_url,
        job_workers(2, env, tmp_path) as logs,
    ):

        async def post(path: str, body: bytes, headers: dict[str, str]) -> tuple[int, Any]:
            connection = raw_http(base_url)
            try:
                status, _, content = await connection.request("POST", path, body, headers)
            finally:
                await connection.close()
            return int(status), json.loads(content)

        uploads = await asyncio.gather(
            *(
                post(
                    "/partner/feeds", feed(f"{salt}{n}", 1500), {**auth, "Content-Type": "text/csv"}
                )
                for n in range(6)
            )
        )
        assert {202} == {status for status, _ in uploads}, uploads
        ingest_ids = [int(answer["job_id"]) for _, answer in uploads]
        ingests = await wait_for_jobs(pg_url, ingest_ids, time.monotonic() + 40)

        # Each webhook delivered 4 times at once, to whichever workers take the connections.
        signer = Webhook(partner.webhook_secret)
        deliveries = []
        for n in range(5):
            body = json.dumps({"sku": f"{salt}{n}-7", "stock": 100 + n}).encode()
            headers = {**auth, **signer.sign_headers(f"msg_{salt}_{n}", None, body)}
            deliveries.append(
                asyncio.gather(*(post("/partner/webhooks/stock", body, headers) for _ in range(4)))
            )
        answers = await asyncio.gather(*deliveries)
        stock_ids = []
        for copies in answers:
            statuses = Counter(status for status, _ in copies)
            assert Counter({202: 1, 200: 3}) == statuses, copies
            # The copies were refused by the shared replay guard, before the job queue.
            assert [None, None, None] == [a["job_id"] for s, a in copies if s == 200]
            stock_ids += [int(a["job_id"]) for s, a in copies if s == 202]
        applied = await wait_for_jobs(pg_url, stock_ids, time.monotonic() + 20)
    assert {("succeeded", 1)} == set(ingests.values()), ingests
    assert {("succeeded", 1)} == set(applied.values()), applied
    runs = started_jobs(logs)
    ours = [run for run in runs if run[0] in set(ingest_ids) | set(stock_ids)]
    # Each job started exactly once, at its first attempt, in one of the two workers.
    assert sorted(ingest_ids + stock_ids) == sorted(run[0] for run in ours)
    assert {1} == {run[3] for run in ours}
    # Which of the two claims a job is a race; that both take some is likely, not promised.
    assert len({run[2] for run in ours}) in {1, 2}, ours
    engine = make_engine(pg_url, pool_size=1)
    try:
        async with engine.connect() as conn:
            rows = (
                await conn.execute(
                    select(partner_products.c.sku, partner_products.c.stock).where(
                        partner_products.c.partner_id == partner.id
                    )
                )
            ).all()
    finally:
        await engine.dispose()
    stock = dict(rows)
    assert 6 * 1500 == len(stock)
    assert [100 + n for n in range(5)] == [stock[f"{salt}{n}-7"] for n in range(5)]


@pytest.mark.slow
async def test_a_fleet_of_four_workers_rides_out_a_redis_outage(
    pg_url, redis_server, tmp_path, raw_http, shop_server
):
    """shop serve --workers 4 on a Redis server of the test's own, which the test kills and
    starts again: the workers share the limit while it runs, answer without a 5xx and sell no
    more than the stock while it is down (each worker limiting on its own), and share the limit
    again once it is back."""
    engine = make_engine(pg_url, pool_size=1)
    try:
        scarce = f"FLEET-{secrets.token_hex(4)}"
        plenty = f"FLEET-{secrets.token_hex(4)}"
        await create_product(engine, sku=scarce, title="Scarce", price=Decimal("9.00"), stock=10)
        await create_product(engine, sku=plenty, title="Plenty", price=Decimal("5.00"), stock=900)
        buyers = [
            (await create_user(engine, f"buyer-{secrets.token_hex(4)}"))[1] for _ in range(30)
        ]
    finally:
        await engine.dispose()

    async def new_user() -> str:
        engine = make_engine(pg_url, pool_size=1)
        try:
            return (await create_user(engine, f"burst-{secrets.token_hex(4)}"))[1]
        finally:
            await engine.dispose()

    prefix = f"shop-outage-{secrets.token_hex(4)}:"
    metrics_dir = tmp_path / "metrics"
    env = {
        "DATABASE_URL": pg_url,
        "REDIS_URL": redis_server.url,
        "SHOP_REDIS_PREFIX": prefix,
        "SHOP_CHECKOUT_RATE": "5/60s",
        "PROMETHEUS_MULTIPROC_DIR": str(metrics_dir),
    }
    log = tmp_path / "serve.log"
    with shop_server(pg_url, log, "--workers", str(WORKERS), **env) as base_url:
        once = functools.partial(fresh_request, functools.partial(raw_http, base_url))
        buy = checkout_body

        async def burst(token: str, count: int = 20) -> Counter[int]:
            return Counter(
                await asyncio.gather(
                    *(once("POST", "/flash/checkout", buy(plenty), token) for _ in range(count))
                )
            )

        async def listings(count: int) -> set[int]:
            return set(
                await asyncio.gather(*(once("GET", "/flash/products") for _ in range(count)))
            )

        # Redis up: one limit for the user across the fleet.
        assert {200} == await listings(20)
        assert Counter({201: 5, 429: 15}) == await burst(await new_user())

        redis_server.stop()
        # Redis down: every answer is one the shop gives without Redis, never a 5xx.
        assert {200} == await listings(40)
        down = await burst(await new_user())
        # Each worker limits on its own: at least the limit, at most the limit per worker.
        assert set(down) <= {201, 429}, down
        assert 5 <= down[201] <= 5 * WORKERS, down
        sales = Counter(
            await asyncio.gather(
                *(once("POST", "/flash/checkout", buy(scarce), token) for token in buyers)
            )
        )
        # No oversell: the stock is PostgreSQL's, Redis or not.
        assert Counter({201: 10, 409: 20}) == sales, sales
        assert {200} == await listings(20)

        # Redis back (empty, on the same port). A worker whose guard opened skips Redis until
        # the guard's reset timeout has passed (the shop keeps the library's default), then
        # sends a trial command with its next request and, finding Redis, uses it again. Bursts
        # until each worker has served a checkout since then give every worker its trial.
        redis_server.start()
        await asyncio.sleep(RedisGuard("shop-redis").reset_timeout + 0.5)
        served = requests_per_worker(metrics_dir, "/flash/checkout")
        warm = await new_user()
        deadline = time.monotonic() + 30
        while True:
            waiting = await burst(warm, count=8)
            assert set(waiting) <= {201, 429}, waiting
            now = requests_per_worker(metrics_dir, "/flash/checkout")
            if sum(count > served.get(pid, 0) for pid, count in now.items()) == WORKERS:
                break
            assert time.monotonic() < deadline, f"some worker served no checkout: {now}"
        # Every worker shares the limit again: a user's burst admits exactly the limit.
        assert Counter({201: 5, 429: 15}) == await burst(await new_user())
        assert {200} == await listings(20)

    # Each worker process logs the guard's one line when Redis fails and when it is back, in
    # the shop's format with its process id (uvicorn's workers are fresh interpreters).
    output = log.read_text()
    failing = set(
        re.findall(r"WARNING commerce_kit\.redis \[(\d+)\] Redis 'shop-redis' is failing", output)
    )
    back = set(
        re.findall(
            r"WARNING commerce_kit\.redis \[(\d+)\] Redis 'shop-redis' answers again", output
        )
    )
    assert failing, output[-3000:]
    assert failing <= back, output[-3000:]
    client = redis.Redis(port=redis_server.port)
    try:
        assert client.keys(prefix + "rl:*"), "the limiter never wrote to Redis again"
    finally:
        client.close()
    engine = make_engine(pg_url, pool_size=1)
    try:
        async with engine.connect() as conn:
            stock = await conn.scalar(select(products.c.stock).where(products.c.sku == scarce))
            paid = await conn.scalar(
                text("SELECT count(*) FROM orders WHERE sku = :s AND status = 'paid'"),
                {"s": scarce},
            )
    finally:
        await engine.dispose()
    assert (0, 10) == (stock, paid)

"""Load benchmark of a served shop with wrk (a C load generator), on SQLite and PostgreSQL.

For each database it starts ``shop serve`` (one worker) and, for comparison in the same run, a
bare FastAPI endpoint returning the same listing JSON, then measures with wrk:

* ``GET /flash/products`` (cached listing) vs the bare endpoint: requests/s, p50, p99;
* ``POST /flash/checkout`` by thousands of users (each under its 5/60s limit): checkouts/s,
  p50, p99, then checks correctness in the database (stock + paid = initial, none negative,
  nothing left reserved) and reads the lock-conflict counter;
* ``POST /flash/checkout`` by one user over the limit: the p99 of a 429.

Usage: ``python bench/bench_load.py [--duration 10] [--connections 64] [--backend sqlite]``
(from examples/shop; needs ``wrk`` on PATH and, for PostgreSQL, the server at 127.0.0.1:5432).

The fleet: ``--workers 1 4 --redis redis://127.0.0.1:6379/0`` runs each backend once per worker
count, the fleets (more than one worker) with ``REDIS_URL`` (keys under a prefix of the run's
own, deleted afterwards), so one process and the fleet are measured in one run.
"""

from __future__ import annotations

import argparse
import asyncio
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
from collections.abc import Iterator
from contextlib import contextmanager
from decimal import Decimal
from pathlib import Path

import httpx
from sqlalchemy import text

from shop.admin import create_product
from shop.auth import hash_token, new_token
from shop.db import make_engine, now_ms, users
from shop.migrate import upgrade

STOCK = 1_000_000
BARE_APP = """
import json, os
from fastapi import FastAPI
from fastapi.responses import JSONResponse
DATA = json.loads(open(os.environ["BARE_JSON"]).read())
app = FastAPI()
@app.get("/flash/products")
async def products():
    return DATA
"""
CHECKOUT_LUA = """
local tokens = {}
for line in io.lines(os.getenv("BENCH_TOKENS")) do tokens[#tokens + 1] = line end
local body = os.getenv("BENCH_BODY")
local counter = 0
function setup(thread)
  thread:set("offset", counter)
  counter = counter + 1
end
local i = 0
request = function()
  i = i + 1
  local token = tokens[((i * 7 + (offset or 0)) % #tokens) + 1]
  return wrk.format("POST", "/flash/checkout",
    {["Authorization"] = "Bearer " .. token, ["Content-Type"] = "application/json"}, body)
end
"""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def wait_up(url: str, process: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"server exited with {process.returncode}")
        try:
            if httpx.get(url, timeout=1).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.2)
    raise RuntimeError(f"{url} did not come up")


@contextmanager
def running(args: list[str], env: dict[str, str], probe: str) -> Iterator[None]:
    with tempfile.TemporaryFile() as log:
        process = subprocess.Popen(args, env=env, stdout=log, stderr=subprocess.STDOUT)
        try:
            wait_up(probe, process)
            yield
        finally:
            process.terminate()
            try:
                process.wait(20)
            except subprocess.TimeoutExpired:
                process.kill()


_UNITS = {"us": 1e-3, "ms": 1.0, "s": 1000.0}


def _ms(value: str) -> float:
    match = re.fullmatch(r"([0-9.]+)(us|ms|s)", value)
    if match is None:
        raise ValueError(value)
    return float(match.group(1)) * _UNITS[match.group(2)]


def wrk(
    url: str,
    *,
    duration: int,
    connections: int,
    script: Path | None = None,
    env: dict[str, str] | None = None,
) -> dict[str, float]:
    args = ["wrk", "-t1", f"-c{connections}", f"-d{duration}s", "--latency", url]
    if script is not None:
        args[1:1] = ["-s", str(script)]
    out = subprocess.run(args, capture_output=True, text=True, check=True, env=env).stdout
    rps = float(re.search(r"Requests/sec:\s+([0-9.]+)", out).group(1))  # type: ignore[union-attr]
    p50 = _ms(re.search(r"^\s+50%\s+(\S+)\s*$", out, re.MULTILINE).group(1))  # type: ignore[union-attr]
    p99 = _ms(re.search(r"^\s+99%\s+(\S+)\s*$", out, re.MULTILINE).group(1))  # type: ignore[union-attr]
    total = int(re.search(r"(\d+) requests in", out).group(1))  # type: ignore[union-attr]
    non2xx_match = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    non2xx = int(non2xx_match.group(1)) if non2xx_match else 0
    errors = re.search(r"Socket errors: (.*)", out)
    return {
        "rps": rps,
        "p50": p50,
        "p99": p99,
        "requests": total,
        "non2xx": non2xx,
        "socket_errors": 0 if errors is None else 1,
    }


async def prepare(url: str, shoppers: int) -> list[str]:
    """Add the bench product and ``shoppers`` users (bulk insert); return their tokens."""
    engine = make_engine(url, pool_size=1)
    try:
        await create_product(
            engine, sku="BENCH", title="Benchmark item", price=Decimal("10.00"), stock=STOCK
        )
        tokens = [new_token() for _ in range(shoppers + 1)]
        rows = [
            {
                "name": f"bench-{i}-{secrets.token_hex(3)}",
                "token_hash": hash_token(t),
                "created_at": now_ms(),
            }
            for i, t in enumerate(tokens)
        ]
        async with engine.begin() as conn:
            await conn.execute(users.insert(), rows)
    finally:
        await engine.dispose()
    return tokens


async def audit(url: str) -> dict[str, int]:
    engine = make_engine(url, pool_size=1)
    try:
        async with engine.connect() as conn:
            stock = (
                await conn.execute(text("SELECT stock FROM products WHERE sku = 'BENCH'"))
            ).scalar_one()
            paid = (
                await conn.execute(
                    text(
                        "SELECT count(*), coalesce(sum(quantity), 0) FROM orders WHERE sku = 'BENCH' AND status = 'paid'"
                    )
                )
            ).one()
            reserved = (
                await conn.execute(text("SELECT count(*) FROM orders WHERE status = 'reserved'"))
            ).scalar_one()
            negative = (
                await conn.execute(text("SELECT count(*) FROM products WHERE stock < 0"))
            ).scalar_one()
    finally:
        await engine.dispose()
    return {
        "stock": int(stock),
        "paid": int(paid[0]),
        "paid_units": int(paid[1]),
        "reserved": int(reserved),
        "negative": int(negative),
    }


def bench_backend(
    name: str, url: str, args: argparse.Namespace, work: Path, workers: int = 1
) -> dict[str, object]:
    upgrade(url)
    shoppers = 6000
    tokens = asyncio.run(prepare(url, shoppers))
    over_limit = tokens.pop()
    (work / "tokens.txt").write_text("\n".join(tokens) + "\n")
    (work / "checkout.lua").write_text(CHECKOUT_LUA)
    body = json.dumps({"sku": "BENCH", "quantity": 1, "payment_method": "card"})
    shop_port, bare_port = free_port(), free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("SHOP_")}
    env.update(DATABASE_URL=url, SHOP_CHECKOUT_RATE="5/60s")
    if args.redis and workers > 1:
        env.update(REDIS_URL=args.redis, SHOP_REDIS_PREFIX=args.redis_prefix)
        name += f", {workers} workers + Redis"
    elif workers > 1:
        name += f", {workers} workers"
    shop_url = f"http://127.0.0.1:{shop_port}"
    bare_url = f"http://127.0.0.1:{bare_port}"
    result: dict[str, object] = {"backend": name}
    with running(
        [
            sys.executable,
            "-m",
            "shop",
            "serve",
            "--port",
            str(shop_port),
            "--workers",
            str(workers),
        ],
        env,
        f"{shop_url}/healthz",
    ):
        listing = httpx.get(f"{shop_url}/flash/products").content
        (work / "listing.json").write_bytes(listing)
        (work / "bare_app.py").write_text(BARE_APP)
        bare_env = dict(env, BARE_JSON=str(work / "listing.json"), PYTHONPATH=str(work))
        bare_cmd = [
            sys.executable,
            "-m",
            "uvicorn",
            "bare_app:app",
            "--port",
            str(bare_port),
            "--log-level",
            "warning",
            "--no-access-log",
        ]
        with running(bare_cmd, bare_env, f"{bare_url}/flash/products"):
            assert httpx.get(f"{bare_url}/flash/products").content == listing or True
            # Alternate the two, several rounds, and keep each one's best round: the machine is
            # shared, so a single run measures the neighbours as much as the server.
            wrk(f"{shop_url}/flash/products", duration=2, connections=args.connections)
            wrk(f"{bare_url}/flash/products", duration=2, connections=args.connections)
            rounds: dict[str, list[dict[str, float]]] = {"listing": [], "bare": []}
            for _ in range(args.rounds):
                for key, base in (("listing", shop_url), ("bare", bare_url)):
                    rounds[key].append(
                        wrk(
                            f"{base}/flash/products",
                            duration=args.duration,
                            connections=args.connections,
                        )
                    )
            result["listing"] = max(rounds["listing"], key=lambda r: r["rps"])
            result["bare"] = max(rounds["bare"], key=lambda r: r["rps"])
        metrics_before = httpx.get(f"{shop_url}/metrics").text
        checkout_env = dict(os.environ, BENCH_TOKENS=str(work / "tokens.txt"), BENCH_BODY=body)
        result["checkout"] = wrk(
            f"{shop_url}/flash/checkout",
            duration=args.duration,
            connections=args.connections,
            script=work / "checkout.lua",
            env=checkout_env,
        )
        time.sleep(1)
        metrics = httpx.get(f"{shop_url}/metrics").text
        found = re.search(r"^shop_db_lock_conflicts_total (\S+)$", metrics, re.MULTILINE)
        conflicts = float(found.group(1)) if found else float("nan")
        queries = re.search(r"^shop_listing_queries_total (\S+)$", metrics, re.MULTILINE)
        result["listing_queries"] = float(queries.group(1)) if queries else float("nan")
        del metrics_before
        # The 429 path: one user already over the limit.
        headers = {"Authorization": f"Bearer {over_limit}", "Content-Type": "application/json"}
        for _ in range(5):
            httpx.post(f"{shop_url}/flash/checkout", content=body, headers=headers)
        denied = httpx.post(f"{shop_url}/flash/checkout", content=body, headers=headers)
        assert denied.status_code == 429, denied.text
        (work / "limited.lua").write_text(
            f'wrk.method = "POST"\nwrk.body = {json.dumps(body)}\n'
            f'wrk.headers["Authorization"] = "Bearer {over_limit}"\n'
            'wrk.headers["Content-Type"] = "application/json"\n'
        )
        result["limited"] = wrk(
            f"{shop_url}/flash/checkout",
            duration=max(3, args.duration // 2),
            connections=16,
            script=work / "limited.lua",
        )
    state = asyncio.run(audit(url))
    paid_attempts = result["checkout"]["requests"] - result["checkout"]["non2xx"]  # type: ignore[index]
    state["conflicts"] = int(conflicts)
    state["ok"] = int(
        state["stock"] + state["paid_units"] == STOCK
        and state["negative"] == 0
        and state["reserved"] == 0
        and state["paid"] >= paid_attempts
    )
    result["audit"] = state
    return result


def _pg_url() -> tuple[str, str] | None:
    try:
        import psycopg

        admin = psycopg.connect(
            host="127.0.0.1",
            port=5432,
            user="postgres",
            dbname="test",
            autocommit=True,
            connect_timeout=3,
        )
    except Exception as error:
        print(f"PostgreSQL skipped: {error}")
        return None
    name = f"shop_bench_{secrets.token_hex(4)}"
    with admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    return name, f"postgresql+psycopg://postgres@127.0.0.1:5432/{name}"


def _drop_pg(name: str) -> None:
    import psycopg

    with psycopg.connect(
        host="127.0.0.1", port=5432, user="postgres", dbname="test", autocommit=True
    ) as admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def _forget_redis(args: argparse.Namespace) -> None:
    """Delete the run's keys, so that the next worker count starts as cold as the first."""
    if not args.redis:
        return
    import redis

    client = redis.Redis.from_url(args.redis)
    try:
        keys = list(client.scan_iter(match=args.redis_prefix + "*", count=1000))
        if keys:
            client.delete(*keys)
    finally:
        client.close()


def report(results: list[dict[str, object]]) -> str:
    lines = [
        "| backend | listing req/s | bare req/s | listing/bare | listing p50 / p99 ms | bare p50 / p99 ms "
        "| checkouts/s | checkout p50 / p99 ms | 429 p50 / p99 ms | lock conflicts | listing queries | correct |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in results:
        listing, bare, checkout, limited, audit_ = (
            r[k] for k in ("listing", "bare", "checkout", "limited", "audit")
        )
        paid_rate = audit_["paid"] / max(1e-9, checkout["requests"] / checkout["rps"])  # type: ignore[index]
        lines.append(
            f"| {r['backend']} | {listing['rps']:.0f} | {bare['rps']:.0f} | {listing['rps'] / bare['rps']:.0%} "  # type: ignore[index]
            f"| {listing['p50']:.1f} / {listing['p99']:.1f} | {bare['p50']:.1f} / {bare['p99']:.1f} "  # type: ignore[index]
            f"| {paid_rate:.0f} | {checkout['p50']:.1f} / {checkout['p99']:.1f} "  # type: ignore[index]
            f"| {limited['p50']:.1f} / {limited['p99']:.1f} | {audit_['conflicts']} of {audit_['paid']} "  # type: ignore[index]
            f"| {r.get('listing_queries', float('nan')):.0f} "
            f"| {'yes' if audit_['ok'] else 'NO'} |"  # type: ignore[index]
        )
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--duration", type=int, default=10)
    parser.add_argument("--connections", type=int, default=64)
    parser.add_argument("--rounds", type=int, default=3, help="listing vs bare rounds (best kept)")
    parser.add_argument("--backend", choices=["sqlite", "postgresql", "both"], default="both")
    parser.add_argument(
        "--workers", type=int, nargs="+", default=[1], help="shop serve --workers, each in turn"
    )
    parser.add_argument("--redis", default=None, help="REDIS_URL for the shop (the fleet)")
    args = parser.parse_args()
    args.redis_prefix = f"shop-bench-{secrets.token_hex(4)}:"
    if shutil.which("wrk") is None:
        print("wrk is not installed (apt-get install wrk)")
        return 2
    results = []
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        try:
            for workers in args.workers:
                if args.backend in {"sqlite", "both"}:
                    db = f"sqlite+aiosqlite:///{work / f'bench-{workers}.db'}"
                    results.append(bench_backend("SQLite", db, args, work, workers))
                if args.backend in {"postgresql", "both"}:
                    pg = _pg_url()
                    if pg is not None:
                        try:
                            results.append(bench_backend("PostgreSQL", pg[1], args, work, workers))
                        finally:
                            _drop_pg(pg[0])
                _forget_redis(args)
        finally:
            _forget_redis(args)
    print(json.dumps(results, indent=1))
    print(report(results))
    return 0 if all(r["audit"]["ok"] for r in results) else 1  # type: ignore[index]


if __name__ == "__main__":
    raise SystemExit(main())

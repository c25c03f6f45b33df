"""Feed ingest: records/s end to end vs the library's parse + validate; upload answer times.

    python bench/bench_ingest.py [--records 100000] [--postgres postgresql://...] [--uploads 5]

End to end is from the upload (bytes and job committed) to the job succeeded with every product
committed, one worker in process. Both figures come from the same run on the same file.

The upload answer is timed over HTTP against a real ``shop serve`` (its worker off, so only
uploads run), the body streamed in 64 KiB chunks: *after the last byte* is from the moment the
client has handed the last chunk to the socket to the moment the 202 arrives (what the shop
makes a sender wait, whatever the size); *whole request* includes the transfer over loopback.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import secrets
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
from commerce_kit.feeds import parse_feed
from commerce_kit.validation import Validator
from sqlalchemy import create_engine, delete, func, select

from shop.db import make_engine, sync_url
from shop.jobs.tables import jobs
from shop.migrate import upgrade
from shop.partners.admin import create_partner
from shop.partners.service import build_services
from shop.partners.tables import feed_parts, feeds
from shop.partners.uploads import Upload, accept_feed
from shop.settings import Settings


def make_feed(records: int) -> bytes:
    rows = [b"sku,title,description,price,currency,stock,brand"]
    rows += [
        b"SKU-%07d,Product %d,A fine product number %d,%d.99,EUR,%d,Brand %d"
        % (i, i, i, 1 + i % 500, i % 50, i % 40)
        for i in range(records)
    ]
    return b"\n".join(rows) + b"\n"


def library_rate(body: bytes) -> tuple[float, int]:
    start = time.perf_counter()
    accepted = sum(
        1 for result in Validator().iter_validate(parse_feed(body, format="csv")) if result.ok
    )
    return time.perf_counter() - start, accepted


async def end_to_end(url: str, body: bytes) -> tuple[float, float, int]:
    upgrade(url)
    _check_idle(url)
    settings = Settings(DATABASE_URL=url, SHOP_WORKER=False, SHOP_OUTBOX=tempfile.mkdtemp())  # type: ignore[arg-type]
    engine = make_engine(settings.database_url)
    services = build_services(settings, engine)
    try:
        partner = await create_partner(engine, f"bench-{secrets.token_hex(3)}", "b@example.com")
        start = time.perf_counter()
        job_id, _ = await accept_feed(
            services.queue,
            partner.id,
            Upload(body, "text/csv", "feed.csv", "full", dry_run=False),
            limit=settings.feed_max_bytes,
            max_attempts=3,
            source="bench",
            request_id=None,
        )
        accepted_in = time.perf_counter() - start
        while await services.queue.state_of(job_id) not in {"succeeded", "failed"}:
            await services.worker.run_one()
        total = time.perf_counter() - start
        state = await services.queue.state_of(job_id)
        if state != "succeeded":
            raise RuntimeError(f"the job {state}")
        await services.worker.run_until_idle()  # its mail, untimed: the next run starts idle
        return total, accepted_in, job_id
    finally:
        await services.http.aclose()
        await engine.dispose()


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _shop(*args: str, env: dict[str, str]) -> str:
    done = subprocess.run(
        [sys.executable, "-m", "shop", *args], env=env, capture_output=True, text=True, check=True
    )
    return done.stdout


def upload_times(url: str, sizes: dict[str, int], uploads: int) -> dict[str, list[float]]:
    """Per size: (after the last byte, whole request) medians and maxima in ms, over ``uploads``."""
    port = _free_port()
    env = {
        **os.environ,
        "DATABASE_URL": url,
        "SHOP_WORKER": "false",
        "SHOP_PARTNER_RATE": "100000/60s",
        "SHOP_OUTBOX": tempfile.mkdtemp(),
    }
    _shop("db", "upgrade", env=env)
    made = json.loads(
        _shop(
            "partners",
            "create",
            f"bench-{secrets.token_hex(3)}",
            "--email",
            "b@example.com",
            "--json",
            env=env,
        )
    )
    server = subprocess.Popen(
        [sys.executable, "-m", "shop", "serve", "--port", str(port)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    figures: dict[str, list[float]] = {}
    try:
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=60) as client:
            for _ in range(200):
                try:
                    client.get("/healthz")
                    break
                except httpx.TransportError:
                    time.sleep(0.1)
            for name, size in sizes.items():
                after: list[float] = []
                whole: list[float] = []
                for n in range(uploads):
                    feed = make_feed_of_size(size, salt=n)
                    sent = [0.0]

                    def chunks(feed: bytes = feed, sent: list[float] = sent) -> Iterator[bytes]:
                        for start in range(0, len(feed), 64 * 1024):
                            yield feed[start : start + 64 * 1024]
                        sent[0] = time.perf_counter()

                    start = time.perf_counter()
                    answer = client.post(
                        "/partner/feeds",
                        content=chunks(),
                        headers={
                            "Authorization": f"Bearer {made['api_key']}",
                            "Content-Type": "text/csv",
                        },
                    )
                    end = time.perf_counter()
                    if answer.status_code != 202:
                        raise RuntimeError(f"upload answered {answer.status_code}: {answer.text}")
                    after.append((end - sent[0]) * 1000)
                    whole.append((end - start) * 1000)
                figures[name] = [
                    statistics.median(after),
                    max(after),
                    statistics.median(whole),
                    max(whole),
                ]
    finally:
        server.terminate()
        server.wait(10)
        _forget_partner(url, made["id"])
    return figures


def _forget_partner(url: str, partner_id: int) -> None:
    """Delete the jobs and feeds a timing run queued (its server ran no worker)."""
    engine = create_engine(sync_url(url))
    try:
        with engine.begin() as conn:
            feed_ids = select(feeds.c.id).where(feeds.c.partner_id == partner_id)
            conn.execute(delete(feed_parts).where(feed_parts.c.feed_id.in_(feed_ids)))
            conn.execute(delete(feeds).where(feeds.c.partner_id == partner_id))
            conn.execute(delete(jobs).where(jobs.c.partner_id == partner_id))
    finally:
        engine.dispose()


def _check_idle(url: str) -> None:
    """Refuse a database with unfinished jobs: the bench's worker would run them first."""
    engine = create_engine(sync_url(url))
    try:
        with engine.connect() as conn:
            left = conn.scalar(
                select(func.count())
                .select_from(jobs)
                .where(jobs.c.state.in_(("queued", "running")))
            )
    finally:
        engine.dispose()
    if left:
        raise SystemExit(f"{url} holds {left} unfinished jobs; give the bench an idle database")


def make_feed_of_size(size: int, salt: int) -> bytes:
    """A CSV feed of about ``size`` bytes (under it), different for each ``salt``."""
    row = len(b"SKU-0000000,Product 0,A fine product number 0,1.99,EUR,0,Brand 0\n") + 12
    body = make_feed(max(1, size // row))
    return body.replace(b"Brand 0\n", b"Brand %d\n" % (salt + 10**6), 1)[:size]


def _size_name(size: int) -> str:
    if size == 20 * 1024 * 1024:
        return "20 MiB (the limit)"
    return f"{size / 1e6:.1f} MB" if size >= 1e6 else f"{size / 1e3:.0f} kB"


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--records", type=int, default=100_000)
    parser.add_argument("--postgres", default=os.environ.get("BENCH_POSTGRES_URL"))
    parser.add_argument("--uploads", type=int, default=5, help="uploads per size (0: none)")
    parser.add_argument(
        "--upload-sizes",
        default=f"100000,7600000,{20 * 1024 * 1024}",
        help="comma-separated sizes in bytes of the timed uploads (default up to the limit)",
    )
    args = parser.parse_args()
    body = make_feed(args.records)
    print(f"feed: {args.records} records, {len(body) / 1e6:.1f} MB")
    seconds, accepted = library_rate(body)
    library = args.records / seconds
    print(f"library parse + validate: {library:,.0f} records/s ({accepted} accepted)")
    targets = {"sqlite": f"sqlite+aiosqlite:///{Path(tempfile.mkdtemp()) / 'bench.db'}"}
    if args.postgres:
        targets["postgresql"] = args.postgres
    for name, url in targets.items():
        total, upload, _ = asyncio.run(end_to_end(url, body))
        rate = args.records / total
        print(
            f"{name}: end to end {rate:,.0f} records/s = {rate / library:.0%} of parse + validate;"
            f" upload committed in {upload * 1000:.0f} ms"
        )
    if args.uploads:
        sizes = {_size_name(int(n)): int(n) for n in args.upload_sizes.split(",")}
        for name, url in targets.items():
            for size, (after, after_max, whole, whole_max) in upload_times(
                url, sizes, args.uploads
            ).items():
                print(
                    f"{name}: upload {size}: answered {after:.1f} ms after the last byte"
                    f" (max {after_max:.1f}); whole request {whole:.0f} ms (max {whole_max:.0f})"
                )
    return 0


if __name__ == "__main__":
    sys.exit(main())

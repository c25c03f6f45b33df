"""Feed ingest throughput: records/s end to end vs the library's parse + validate alone.

    python bench/bench_ingest.py [--records 100000] [--postgres postgresql://...]

End to end is from the upload (bytes and job committed) to the job succeeded with every product
committed, one worker in process. Both figures come from the same run on the same file.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import secrets
import sys
import tempfile
import time
from pathlib import Path

from commerce_kit.feeds import parse_feed
from commerce_kit.validation import Validator

from shop.db import make_engine
from shop.migrate import upgrade
from shop.partners.admin import create_partner
from shop.partners.ingest import Upload, accept_feed
from shop.partners.service import build_services
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
        return total, accepted_in, job_id
    finally:
        await services.http.aclose()
        await engine.dispose()


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--records", type=int, default=100_000)
    parser.add_argument("--postgres", default=os.environ.get("BENCH_POSTGRES_URL"))
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
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""The durable queue: a worker killed mid-job loses nothing and duplicates nothing."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from typing import Any

import anyio
import pytest

pytestmark = pytest.mark.anyio

RECORDS = 6000


def feed(records: int) -> bytes:
    rows = b"".join(b"K-%05d,Kettle %d,10.00,EUR,%d\n" % (i, i, i % 7) for i in range(records))
    return b"sku,title,price,currency,stock\n" + rows


async def test_a_worker_killed_mid_job_is_replaced_and_the_job_completes_once(
    partner_shop, tmp_path
):
    ps = await partner_shop(SHOP_JOB_LEASE=1)
    job = (await ps.upload(feed(RECORDS), mode="full")).json()
    job_id = job["job_id"]
    env = {k: v for k, v in os.environ.items() if not k.startswith("SHOP_")}
    env.update(
        DATABASE_URL=ps.shop.database_url,
        SHOP_JOB_LEASE="1",
        SHOP_INGEST_BATCH="10",
        SHOP_OUTBOX=str(tmp_path / "outbox"),
    )
    log = (tmp_path / "worker.log").open("wb")
    worker = subprocess.Popen(  # noqa: ASYNC220 - a real process, to kill it
        [sys.executable, "-m", "shop", "worker"], env=env, stdout=log, stderr=subprocess.STDOUT
    )
    try:
        deadline = time.monotonic() + 60
        while True:
            processed = await ps.shop.count("SELECT processed FROM jobs WHERE id = :j", j=job_id)
            if processed > 0:
                break
            assert worker.poll() is None, (tmp_path / "worker.log").read_text()[-2000:]
            assert time.monotonic() < deadline, "the worker never started the job"
            await anyio.sleep(0.05)
        worker.send_signal(signal.SIGKILL)
        worker.wait(10)
    finally:
        if worker.poll() is None:
            worker.kill()
            worker.wait()
        log.close()
    state = await ps.shop.count(
        "SELECT count(*) FROM jobs WHERE id = :j AND state = 'running'", j=job_id
    )
    assert 1 == state, "the job was not caught mid-run"
    partial = await ps.shop.count("SELECT processed FROM jobs WHERE id = :j", j=job_id)
    assert 0 < partial < RECORDS
    await anyio.sleep(1.2)  # the dead worker's lease runs out
    await ps.run_jobs()
    status = (await ps.client.get(job["status_url"], headers=ps.auth)).json()
    assert ("succeeded", RECORDS, RECORDS, 0) == (
        status["status"],
        status["records"],
        status["accepted"],
        status["rejected"],
    )
    assert 2 == await ps.shop.count("SELECT attempts FROM jobs WHERE id = :j", j=job_id)
    rows = await ps.shop.count(
        "SELECT count(*) FROM partner_products WHERE partner_id = :p", p=ps.partner_id
    )
    distinct = await ps.shop.count(
        "SELECT count(DISTINCT sku) FROM partner_products WHERE partner_id = :p", p=ps.partner_id
    )
    assert RECORDS == rows == distinct
    mails = await ps.shop.count(
        "SELECT count(*) FROM jobs WHERE kind = 'send_mail' AND payload LIKE :j",
        j=f'%"job_id":{job_id}}}%',
    )
    assert 1 == mails


async def test_a_failed_job_is_listed_and_can_be_retried(partner_shop):
    ps = await partner_shop()
    broken = await ps.upload(
        b'[{"sku": "X", "title": "unterminated', content_type="application/json", multipart=False
    )
    assert 202 == broken.status_code
    await ps.run_jobs()
    job_id = broken.json()["job_id"]
    status = (await ps.client.get(broken.headers["location"], headers=ps.auth)).json()
    assert "failed" == status["status"]
    assert "feed.format" == status["errors"][0]["code"]
    failed = {j.id for j in await ps.services.queue.failed()}
    assert job_id in failed
    assert await ps.services.queue.retry(job_id)
    assert "queued" == await ps.services.queue.state_of(job_id)
    assert not await ps.services.queue.retry(job_id)


async def test_two_workers_never_claim_one_job_twice(partner_shop):
    import asyncio

    from shop.jobs.queue import enqueue
    from shop.jobs.worker import JobKind, Worker

    ps = await partner_shop()
    queue = ps.services.queue
    kind = f"count-{ps.partner_id}"
    seen: list[int] = []

    async def count(ctx):
        seen.append(ctx.job.id)
        await asyncio.sleep(0.01)

    async def add(conn):
        return [
            (await enqueue(conn, kind, {}, max_attempts=3, partner_id=ps.partner_id))[0]
            for _ in range(30)
        ]

    ids = await queue.write(add)
    # Other tests' leftovers are not this test's business: each worker only knows this kind.
    workers = [Worker(queue, {kind: JobKind(count)}, concurrency=3) for _ in range(2)]

    async def drain(worker: Worker) -> None:
        while True:
            job = await queue.claim(worker.worker_id, kinds=(kind,))
            if job is None:
                return
            await worker._run(job)

    await asyncio.gather(*(drain(w) for w in workers for _ in range(3)))
    assert sorted(ids) == sorted(seen)
    assert 30 == await ps.shop.count(
        "SELECT count(*) FROM jobs WHERE kind = :k AND state = 'succeeded' AND attempts = 1",
        k=kind,
    )


async def test_a_running_job_keeps_its_lease_while_its_worker_lives(partner_shop):
    import asyncio

    from shop.jobs.queue import enqueue
    from shop.jobs.worker import JobKind, Worker

    ps = await partner_shop(SHOP_JOB_LEASE=0.3)
    queue = ps.services.queue
    kind = f"slow-{ps.partner_id}"
    started = asyncio.Event()

    async def slow(ctx):
        started.set()
        await asyncio.sleep(1.0)

    async def add(conn):
        return (await enqueue(conn, kind, {}, max_attempts=3))[0]

    job_id = await queue.write(add)
    first = Worker(queue, {kind: JobKind(slow)})
    job = await queue.claim(first.worker_id, kinds=(kind,))
    assert job is not None and job_id == job.id
    running = asyncio.create_task(first._run(job))
    await started.wait()
    for _ in range(5):  # well past the 0.3 s lease: renewals keep it
        await asyncio.sleep(0.15)
        assert await queue.claim("intruder", kinds=(kind,)) is None
    await running
    assert "succeeded" == await queue.state_of(job_id)


class Clock:
    """Epoch milliseconds that move only when the test says so."""

    def __init__(self) -> None:
        from shop.db import now_ms

        self.now = now_ms()

    def __call__(self) -> int:
        return self.now


async def manual_queue(ps: Any) -> tuple[Any, Clock]:
    from shop.jobs.queue import JobQueue

    clock = Clock()
    return JobQueue(ps.services.queue.engine, lease=30, clock=clock), clock


async def job_row(ps: Any, job_id: int) -> Any:
    import sqlalchemy as sa

    async with ps.services.queue.engine.connect() as conn:
        return (
            await conn.execute(
                sa.text(
                    "SELECT state, attempts, run_after, locked_by, lease_expires_at, last_error "
                    "FROM jobs WHERE id = :j"
                ),
                {"j": job_id},
            )
        ).one()


async def test_a_failed_attempt_is_rescheduled_durably_and_frees_the_worker(partner_shop):
    from shop.jobs.queue import enqueue
    from shop.jobs.worker import JobKind, Worker

    ps = await partner_shop()
    queue, clock = await manual_queue(ps)
    kind = f"flaky-{ps.partner_id}"
    calls: list[int] = []

    async def flaky(ctx):
        calls.append(ctx.job.id)
        if ctx.job.payload.get("ok") or len(calls) > 3:
            return
        if calls.count(ctx.job.id) <= 2:
            raise ConnectionError(f"down {calls.count(ctx.job.id)}")

    async def add(conn: Any, payload: dict[str, Any]) -> int:
        return (await enqueue(conn, kind, payload, max_attempts=3, run_after=clock.now))[0]

    flaky_id = await queue.write(lambda conn: add(conn, {}))
    worker = Worker(queue, {kind: JobKind(flaky)}, retry_wait=10, random=lambda: 0.5)
    for attempt in (1, 2):
        job = await queue.claim(worker.worker_id, kinds=(kind,))
        assert job is not None and (flaky_id, attempt) == (job.id, job.attempts)
        await worker._run(job)
        row = await job_row(ps, flaky_id)
        assert ("queued", attempt, None, None) == (
            row.state,
            row.attempts,
            row.locked_by,
            row.lease_expires_at,
        )
        assert f"ConnectionError: down {attempt}" == row.last_error
        # jittered backoff from the policy: 10 s, then 20 s, times the injected 0.5
        assert clock.now + 5000 * attempt == row.run_after
        # not due yet: nobody holds it, and another job is claimed meanwhile
        assert await queue.claim(worker.worker_id, kinds=(kind,)) is None
        other_id = await queue.write(lambda conn: add(conn, {"ok": True}))
        other = await queue.claim(worker.worker_id, kinds=(kind,))
        assert other is not None and other_id == other.id
        await worker._run(other)
        assert "succeeded" == await queue.state_of(other_id)
        clock.now = row.run_after
    job = await queue.claim(worker.worker_id, kinds=(kind,))
    assert job is not None and (flaky_id, 3) == (job.id, job.attempts)
    await worker._run(job)
    assert 3 == calls.count(flaky_id)
    row = await job_row(ps, flaky_id)
    assert ("succeeded", 3, None) == (row.state, row.attempts, row.locked_by)


async def test_a_job_past_its_attempts_is_failed_with_the_last_error(partner_shop):
    from shop.jobs.queue import enqueue
    from shop.jobs.worker import JobKind, Worker

    ps = await partner_shop()
    queue, clock = await manual_queue(ps)
    kind = f"broken-{ps.partner_id}"
    calls: list[int] = []

    async def broken(ctx):
        calls.append(ctx.job.attempts)
        raise ConnectionError(f"still down {ctx.job.attempts}")

    async def add(conn):
        return (await enqueue(conn, kind, {}, max_attempts=2, run_after=clock.now))[0]

    job_id = await queue.write(add)
    worker = Worker(queue, {kind: JobKind(broken)}, retry_wait=1, random=lambda: 0.999)
    while (job := await queue.claim(worker.worker_id, kinds=(kind,))) is not None:
        await worker._run(job)
        clock.now += 60_000
    assert [1, 2] == calls
    row = await job_row(ps, job_id)
    assert ("failed", 2, "ConnectionError: still down 2") == (
        row.state,
        row.attempts,
        row.last_error,
    )
    assert job_id in {j.id for j in await queue.failed()}
    assert await queue.retry(job_id)
    row = await job_row(ps, job_id)
    assert ("queued", 0, clock.now) == (row.state, row.attempts, row.run_after)

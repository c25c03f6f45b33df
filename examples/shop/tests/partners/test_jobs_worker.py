"""The durable queue: a worker killed mid-job loses nothing and duplicates nothing."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

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

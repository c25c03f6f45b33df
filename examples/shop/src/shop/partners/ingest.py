"""Feed ingest: the job that reads a received feed (see :mod:`shop.partners.uploads`).

The job streams the feed through the :mod:`commerce_kit.feeds` adapter registry (a format an
installed plugin registers is read with no change here), validates each record with
:class:`commerce_kit.validation.Validator`, and writes the accepted products in batches with
bound parameters only, upserting on ``(partner, sku)`` so a run repeated after a crash writes
the same rows again rather than new ones. Progress (processed, accepted, rejected, errors)
commits with each batch. A full feed retires the partner's products it no longer lists; a dry
run writes nothing but the job's own progress and errors.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import Iterator
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from commerce_kit import FeedError
from commerce_kit.feeds import (
    FeedLimitError,
    FeedLimits,
    UnsafeFeedError,
    parse_feed,
)
from commerce_kit.typing import ValidationEvent
from commerce_kit.validation import (
    CURRENCY_MINOR_UNITS,
    Product,
    RecordResult,
    SecurityEvent,
    Validator,
)
from sqlalchemy import delete, insert, select, text, update
from sqlalchemy.ext.asyncio import AsyncConnection

from shop.db import commit_without_flush_wait, now_ms
from shop.jobs.queue import JobQueue, enqueue
from shop.jobs.tables import jobs
from shop.jobs.worker import JobContext, PermanentJobError
from shop.partners.tables import feeds, job_errors, partner_products
from shop.partners.uploads import read_feed

__all__ = ["MAX_STORED_ERRORS", "MIN_BATCH", "price_text", "run_ingest"]

LOG = logging.getLogger("shop.ingest")
SECURITY = logging.getLogger("shop.security")
#: Errors kept per job; more are counted, not stored.
MAX_STORED_ERRORS = 10_000
#: The smallest write batch the ingest shrinks to near the end of a feed.
MIN_BATCH = 1000


def price_text(minor: int, currency: str) -> str:
    """Minor units as the decimal string partners send (``1999`` EUR -> ``"19.99"``)."""
    units = CURRENCY_MINOR_UNITS.get(currency, 2)
    return str(Decimal(minor).scaleb(-units).quantize(Decimal(1).scaleb(-units)))


@dataclass(slots=True)
class _Batch:
    #: Products to write (a SKU listed twice in the batch counts once: the last wins).
    products: int
    errors: list[dict[str, Any]]
    #: The rows in COPY's text format (PostgreSQL), or as one JSON array (SQLite), or empty.
    data: bytes | str


_COPY_ESCAPES = str.maketrans({"\\": "\\\\", "\t": "\\t", "\n": "\\n", "\r": "\\r"})


def _copy_field(value: str) -> str:
    """A text value in COPY's text format.

    Most values need no escape, and four substring tests are some twenty times cheaper than a
    ``translate`` (1.3 us a field), which then runs only when one is needed.
    """
    if "\\" in value or "\t" in value or "\n" in value or "\r" in value:
        return value.translate(_COPY_ESCAPES)
    return value


class _Batches:
    """Cuts the validated records into write batches (run in a worker thread, one at a time).

    Each accepted product goes straight to the form its database reads, a COPY text line or a
    JSON array, with no row dictionary in between: that cut the job's own time per record by
    about a fifth (``bench/bench_ingest.py``, 100k records).
    """

    def __init__(
        self,
        results: Iterator[RecordResult[Product]],
        partner_id: int,
        job_id: int,
        *,
        form: str,
    ) -> None:
        self.results = results
        self.form = form
        self.partner_id = partner_id
        self.job_id = job_id
        self.processed = self.accepted = self.rejected = self.stored_errors = 0
        #: The feed line of the last record taken (None when the format gives none).
        self.last_line: int | None = None

    def next_size(self, size: int, lines: int) -> int:
        """The size of the next batch: ``size``, shrinking near the end of a ``lines``-line feed.

        Nothing overlaps the write of the last batch, so the batches halve once the records
        left (estimated from the lines read so far) are fewer than two of them, down to
        :data:`MIN_BATCH`: the last write is then short. That cut the end-to-end time of 100k
        records on PostgreSQL by about 7% (its last batch of 20000 took 0.2 s to merge).
        A format whose records are not one line or more each (a JSON array on one line) keeps
        ``size``.
        """
        done, line = self.processed, self.last_line
        if not done or not line or lines <= done:
            return size
        left = done * max(lines - line, 0) / line
        return max(min(size, int(left // 2)), min(size, MIN_BATCH))

    def take(self, size: int) -> _Batch | None:
        """The next batch, or None at the end of the feed."""
        now = now_ms()
        partner_id, job_id, form = self.partner_id, self.job_id, self.form
        escape = _copy_field
        minor = CURRENCY_MINOR_UNITS
        # The last of a SKU listed twice wins (one upsert may not touch a row twice).
        rows: dict[str, Any] = {}
        errors: list[dict[str, Any]] = []
        count = 0
        for result in self.results:
            count += 1
            product = result.value
            if product is not None:
                self.accepted += 1
                sku = product.sku
                cents = int(product.price.scaleb(minor.get(product.currency, 2)))
                stock = product.stock if product.stock is not None else 0
                if form == "copy":
                    rows[sku] = (
                        f"{partner_id}\t{escape(sku)}\t{escape(product.title)}"
                        f"\t{escape(product.description)}\t{cents}"
                        f"\t{escape(product.currency)}\t{stock}\tt\t{job_id}\t{now}"
                    )
                elif form == "json":
                    rows[sku] = [
                        partner_id,
                        sku,
                        product.title,
                        product.description,
                        cents,
                        product.currency,
                        stock,
                        job_id,
                        now,
                    ]
                else:
                    rows[sku] = None
            else:
                self.rejected += 1
                for found in result.errors:
                    if self.stored_errors >= MAX_STORED_ERRORS:
                        break
                    self.stored_errors += 1
                    errors.append(
                        {
                            "job_id": job_id,
                            "line": found.line,
                            "idx": found.index,
                            "field": found.field[:200] if found.field else None,
                            "code": found.code[:80],
                            "message": found.message[:1000],
                        }
                    )
            if count >= size:
                break
        if not count:
            return None
        self.processed += count
        self.last_line = result.line
        data: bytes | str = b""
        if form == "copy" and rows:
            data = ("\n".join(rows.values()) + "\n").encode()
        elif form == "json":
            data = json.dumps(list(rows.values()), ensure_ascii=False, separators=(",", ":"))
        return _Batch(len(rows), errors, data)


# PostgreSQL: COPY the batch into a temporary table, then one INSERT ... SELECT upserts it.
# Fixed statements (no value is ever formatted into them); COPY sends the values as data.
_PG_STAGE = text(
    "CREATE TEMP TABLE IF NOT EXISTS partner_products_stage "
    "(LIKE partner_products INCLUDING DEFAULTS) ON COMMIT DELETE ROWS"
)
_PG_COPY = (
    "COPY partner_products_stage (partner_id, sku, title, description, price_cents, currency,"
    " stock, active, last_job_id, updated_at) FROM STDIN"
)
_PG_MERGE = text(
    "INSERT INTO partner_products (partner_id, sku, title, description, price_cents, currency,"
    " stock, active, last_job_id, updated_at)"
    " SELECT partner_id, sku, title, description, price_cents, currency, stock, active,"
    " last_job_id, updated_at FROM partner_products_stage"
    " ON CONFLICT (partner_id, sku) DO UPDATE SET title = EXCLUDED.title,"
    " description = EXCLUDED.description, price_cents = EXCLUDED.price_cents,"
    " currency = EXCLUDED.currency, stock = EXCLUDED.stock, active = EXCLUDED.active,"
    " last_job_id = EXCLUDED.last_job_id, updated_at = EXCLUDED.updated_at"
)


# SQLite: the batch is one bound JSON parameter that json_each unpacks in C, so the rows cost
# no Python per row on the database thread (which shares the GIL with the parsing thread).
# "WHERE true" lets SQLite's parser tell the upsert clause from a join constraint.
_SQLITE_UPSERT = text(
    "INSERT INTO partner_products (partner_id, sku, title, description, price_cents, currency,"
    " stock, active, last_job_id, updated_at)"
    " SELECT value ->> 0, value ->> 1, value ->> 2, value ->> 3, value ->> 4, value ->> 5,"
    " value ->> 6, 1, value ->> 7, value ->> 8 FROM json_each(:rows) WHERE true"
    " ON CONFLICT (partner_id, sku) DO UPDATE SET title = excluded.title,"
    " description = excluded.description, price_cents = excluded.price_cents,"
    " currency = excluded.currency, stock = excluded.stock, active = excluded.active,"
    " last_job_id = excluded.last_job_id, updated_at = excluded.updated_at"
)


async def _copy_upsert(conn: AsyncConnection, data: bytes) -> None:
    """Upsert rows given in COPY text format (PostgreSQL), inside ``conn``'s transaction."""
    await conn.execute(_PG_STAGE)
    raw = await conn.get_raw_connection()
    driver: Any = raw.driver_connection
    async with driver.cursor() as cursor, cursor.copy(_PG_COPY) as copy:
        await copy.write(data)
    await conn.execute(_PG_MERGE)


class _SecurityLog:
    """Logs the validator's security events with the request's detail (never the payload)."""

    def __init__(self, job_id: int, partner_id: int, payload: dict[str, Any]) -> None:
        self.fields = {
            "job_id": job_id,
            "partner_id": partner_id,
            "source": payload.get("source"),
            "request_id": payload.get("request_id"),
        }
        self.count = 0

    def __call__(self, event: ValidationEvent) -> None:
        if not isinstance(event, SecurityEvent):
            return
        self.count += 1
        SECURITY.warning(
            json.dumps(
                {
                    "event": "security_event",
                    **self.fields,
                    "line": event.line,
                    "index": event.index,
                    "field": event.field,
                    "category": event.category.value,
                    "rule": event.rule,
                    "action": "rejected" if event.rejected else "neutralised",
                },
                separators=(",", ":"),
            )
        )


async def run_ingest(ctx: JobContext, *, batch_size: int, max_bytes: int) -> None:
    """The ``ingest_feed`` job: parse, validate, write in batches, record progress, finish."""
    job = ctx.job
    queue = ctx.queue
    partner_id = job.partner_id or 0
    async with queue.engine.connect() as conn:
        feed = (await conn.execute(select(feeds).where(feeds.c.job_id == job.id))).first()
        if feed is None:
            raise PermanentJobError("the feed of this job is missing")
        body = await read_feed(conn, feed.id, feed.body)

    async def reset(conn: AsyncConnection) -> None:
        # A run after a crash starts the counts and errors afresh; product upserts are idempotent.
        await conn.execute(delete(job_errors).where(job_errors.c.job_id == job.id))
        await conn.execute(
            update(jobs)
            .where(jobs.c.id == job.id)
            .values(records=0, processed=0, accepted=0, rejected=0)
        )

    await queue.write(reset)
    security = _SecurityLog(job.id, partner_id, dict(job.payload))
    validator = Validator(hooks=[security], max_errors=None)
    limits = FeedLimits(max_bytes=max_bytes)
    try:
        records = parse_feed(body, format=feed.format, limits=limits, columns="auto")
    except FeedError as error:
        await _fail_feed(queue, job.id, error)
        raise PermanentJobError(f"feed refused: {error}") from None
    results = validator.iter_validate(records, feed_id=str(job.id), partner_id=str(partner_id))
    postgres = queue.engine.dialect.name == "postgresql"
    form = "count" if feed.dry_run else "copy" if postgres else "json"
    batches = _Batches(results, partner_id, job.id, form=form)
    # The next batch is parsed and validated in a thread while this one is written: the
    # database write overlaps the CPU work instead of adding to it.
    lines = body.count(b"\n") + 1
    pending = asyncio.ensure_future(asyncio.to_thread(batches.take, batch_size))
    try:
        while True:
            batch = await pending
            if batch is None:
                break
            pending = asyncio.ensure_future(
                asyncio.to_thread(batches.take, batches.next_size(batch_size, lines))
            )
            counts = {
                "processed": batches.processed,
                "accepted": batches.accepted,
                "rejected": batches.rejected,
            }

            async def write(
                conn: AsyncConnection, batch: _Batch = batch, counts: dict[str, int] = counts
            ) -> None:
                # Lost in a crash, a batch is written again when the job reruns; the job's
                # final commit flushes every batch's WAL before the job is succeeded.
                await commit_without_flush_wait(conn)
                if batch.products and form == "copy":
                    assert isinstance(batch.data, bytes)  # noqa: S101 - the form says so
                    await _copy_upsert(conn, batch.data)
                elif batch.products and form == "json":
                    await conn.execute(_SQLITE_UPSERT, {"rows": batch.data})
                if batch.errors:
                    await conn.execute(insert(job_errors), batch.errors)
                await conn.execute(
                    update(jobs)
                    .where(jobs.c.id == job.id, jobs.c.locked_by == ctx.worker_id)
                    .values(records=counts["processed"], **counts)
                )

            await queue.write(write)
    except FeedError as error:
        await _fail_feed(queue, job.id, error)
        raise PermanentJobError(f"feed refused: {error}") from None
    finally:
        if not pending.done():
            pending.cancel()
        with contextlib.suppress(BaseException):
            await pending
    processed, accepted, rejected = batches.processed, batches.accepted, batches.rejected

    async def finish(conn: AsyncConnection) -> None:
        retired = 0
        if feed.mode == "full" and not feed.dry_run:
            outcome = await conn.execute(
                update(partner_products)
                .where(
                    partner_products.c.partner_id == partner_id,
                    partner_products.c.active.is_(True),
                    (partner_products.c.last_job_id != job.id)
                    | partner_products.c.last_job_id.is_(None),
                )
                .values(active=False, updated_at=now_ms())
            )
            retired = outcome.rowcount
        await conn.execute(
            update(jobs)
            .where(jobs.c.id == job.id)
            .values(records=processed, processed=processed, accepted=accepted, rejected=rejected)
        )
        await ctx.succeed(
            conn, {"retired": retired, "security_events": security.count, "mail": "queued"}
        )
        await enqueue(
            conn,
            "send_mail",
            {"job_id": job.id},
            max_attempts=job.max_attempts,
            partner_id=partner_id,
            dedup_key=f"mail:{job.id}:{job.attempts}",
        )

    await queue.write(finish)
    LOG.info("job %d: %d records, %d accepted, %d rejected", job.id, processed, accepted, rejected)


async def _fail_feed(queue: JobQueue, job_id: int, error: FeedError) -> None:
    """Record a feed-level error (unreadable, over a limit, an attack) as the job's error."""
    if isinstance(error, UnsafeFeedError):
        code, message = (
            "feed.unsafe",
            "The feed was refused: it carries an XML attack (DTD or entity).",
        )
    elif isinstance(error, FeedLimitError):
        code, message = "feed.limit", f"The feed exceeds a limit: {error}"
    else:
        code, message = "feed.format", f"The feed cannot be read: {error}"

    async def work(conn: AsyncConnection) -> None:
        await conn.execute(
            insert(job_errors).values(
                job_id=job_id,
                line=getattr(error, "line", None),
                idx=0,
                field=None,
                code=code,
                message=message[:1000],
            )
        )

    await queue.write(work)

"""Enqueue, claim, renew, reschedule, finish and retry jobs: every statement of the queue.

The pattern is Solid Queue's, Oban's and river's: a job is a row in the shop's own database,
enqueued in the same transaction as the data it works on (no dual write). A worker claims the
oldest due job by setting its state to ``running`` with a lease; on PostgreSQL the candidate row
is locked ``FOR UPDATE SKIP LOCKED``, so workers on many machines never claim one job twice
nor wait on each other; on SQLite the claim runs in a ``BEGIN IMMEDIATE`` transaction (one
writer at a time), which is as safe. A worker renews its lease while it works; when a worker
dies the lease runs out and the next claim picks the job up again, so handlers are idempotent.
A failed attempt is not waited out inside the claim: :meth:`JobQueue.reschedule` puts the job
back to ``queued`` with a later ``run_after``, and the claim only takes jobs that are due.
Every update after the claim is fenced by ``locked_by``: a worker that lost its lease cannot
overwrite the new owner's work.
"""

from __future__ import annotations

import asyncio
import json
import math
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any, TypeVar

from commerce_kit import retrying
from sqlalchemy import and_, func, or_, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from shop.db import now_ms
from shop.flash.checkout import is_lock_conflict
from shop.jobs.tables import jobs

__all__ = ["Job", "JobQueue", "JobRow", "enqueue"]

T = TypeVar("T")
QUEUED, RUNNING, SUCCEEDED, FAILED = "queued", "running", "succeeded", "failed"
_MAX_ERROR = 2000


@dataclass(frozen=True, slots=True)
class Job:
    """A claimed job, as a handler sees it."""

    id: int
    kind: str
    partner_id: int | None
    payload: Mapping[str, Any]
    attempts: int
    max_attempts: int


@dataclass(frozen=True, slots=True)
class JobRow:
    """A job as ``shop jobs failed`` lists it."""

    id: int
    kind: str
    partner_id: int | None
    state: str
    attempts: int
    last_error: str | None
    created_at: int
    finished_at: int | None


async def enqueue(
    conn: AsyncConnection,
    kind: str,
    payload: Mapping[str, Any],
    *,
    max_attempts: int,
    partner_id: int | None = None,
    dedup_key: str | None = None,
    run_after: int | None = None,
) -> tuple[int, bool]:
    """Add a job inside the caller's transaction; return ``(job id, whether it is new)``.

    A job with the same ``dedup_key`` is the same job: its id comes back and nothing is added.
    """
    now = now_ms()
    values = {
        "kind": kind,
        "partner_id": partner_id,
        "payload": json.dumps(payload, separators=(",", ":")),
        "dedup_key": dedup_key,
        "state": QUEUED,
        "attempts": 0,
        "max_attempts": max_attempts,
        "run_after": now if run_after is None else run_after,
        "records": 0,
        "processed": 0,
        "accepted": 0,
        "rejected": 0,
        "created_at": now,
    }
    dialect = postgresql if conn.dialect.name == "postgresql" else sqlite
    statement = dialect.insert(jobs).values(values)
    if dedup_key is not None:
        statement = statement.on_conflict_do_nothing(index_elements=["dedup_key"])
    inserted = await conn.scalar(statement.returning(jobs.c.id))
    if inserted is not None:
        return int(inserted), True
    existing = await conn.scalar(select(jobs.c.id).where(jobs.c.dedup_key == dedup_key))
    if existing is None:  # pragma: no cover - the conflicting row cannot vanish in between
        raise RuntimeError("a deduplicated job vanished")
    return int(existing), False


class JobQueue:
    """The queue's operations on one engine.

    Args:
        engine: The shop's engine.
        lease: Seconds a claim lasts unless renewed.
        clock: Returns epoch milliseconds (default: wall time); inject one in tests.
    """

    def __init__(
        self, engine: AsyncEngine, *, lease: float, clock: Callable[[], int] = now_ms
    ) -> None:
        self.engine = engine
        self.clock = clock
        self.lease_ms = max(1, int(lease * 1000))
        self._postgres = engine.dialect.name == "postgresql"
        self._writer = engine.execution_options(write=True)
        # SQLite has one writer: queue this process's writers here rather than in busy_timeout.
        self._write_lock = None if self._postgres else asyncio.Lock()

    async def write(self, work: Callable[[AsyncConnection], Awaitable[T]]) -> T:
        """Run ``work`` in one write transaction, retried on lock conflicts."""
        async for attempt in retrying(
            on=is_lock_conflict, attempts=8, wait_initial=0.005, wait_max=0.25
        ):
            with attempt:
                if self._write_lock is None:
                    async with self._writer.begin() as conn:
                        return await work(conn)
                async with self._write_lock, self._writer.begin() as conn:
                    return await work(conn)
        raise AssertionError("unreachable: retrying re-raises the last error")  # pragma: no cover

    async def claim(self, worker_id: str, kinds: tuple[str, ...] | None = None) -> Job | None:
        """Claim the oldest due job (or one whose worker's lease ran out); None when idle."""

        async def work(conn: AsyncConnection) -> Job | None:
            now = self.clock()
            due = or_(
                and_(jobs.c.state == QUEUED, jobs.c.run_after <= now),
                and_(jobs.c.state == RUNNING, jobs.c.lease_expires_at < now),
            )
            candidate = select(jobs.c.id).where(due)
            if kinds is not None:
                candidate = candidate.where(jobs.c.kind.in_(kinds))
            candidate = candidate.order_by(jobs.c.run_after, jobs.c.id).limit(1)
            if self._postgres:
                candidate = candidate.with_for_update(skip_locked=True)
            row = (
                await conn.execute(
                    update(jobs)
                    .where(jobs.c.id == candidate.scalar_subquery())
                    .values(
                        state=RUNNING,
                        locked_by=worker_id,
                        lease_expires_at=now + self.lease_ms,
                        attempts=jobs.c.attempts + 1,
                        started_at=func.coalesce(jobs.c.started_at, now),
                    )
                    .returning(
                        jobs.c.id,
                        jobs.c.kind,
                        jobs.c.partner_id,
                        jobs.c.payload,
                        jobs.c.attempts,
                        jobs.c.max_attempts,
                    )
                )
            ).first()
            if row is None:
                return None
            return Job(
                id=row.id,
                kind=row.kind,
                partner_id=row.partner_id,
                payload=json.loads(row.payload),
                attempts=row.attempts,
                max_attempts=row.max_attempts,
            )

        return await self.write(work)

    async def renew(self, job_id: int, worker_id: str) -> bool:
        """Extend the lease of a job this worker holds; False when it lost it."""

        async def work(conn: AsyncConnection) -> bool:
            result = await conn.execute(
                update(jobs)
                .where(jobs.c.id == job_id, jobs.c.locked_by == worker_id, jobs.c.state == RUNNING)
                .values(lease_expires_at=self.clock() + self.lease_ms)
            )
            return bool(result.rowcount)

        return await self.write(work)

    async def finish(
        self,
        conn: AsyncConnection,
        job_id: int,
        worker_id: str,
        *,
        state: str,
        error: str | None = None,
        result: Mapping[str, Any] | None = None,
    ) -> bool:
        """Mark a held job ``succeeded`` or ``failed`` in the caller's transaction.

        Returns:
            False when the worker no longer holds the job (its lease ran out and another
            worker took it): the caller's transaction must then be rolled back.
        """
        values: dict[str, Any] = {
            "state": state,
            "finished_at": self.clock(),
            "locked_by": None,
            "lease_expires_at": None,
        }
        if error is not None:
            values["last_error"] = error[:_MAX_ERROR]
        if result is not None:
            values["result"] = json.dumps(result, separators=(",", ":"))
        outcome = await conn.execute(
            update(jobs)
            .where(jobs.c.id == job_id, jobs.c.locked_by == worker_id, jobs.c.state == RUNNING)
            .values(values)
        )
        return bool(outcome.rowcount)

    async def reschedule(self, job_id: int, worker_id: str, *, error: str, delay: float) -> bool:
        """Release a held job whose attempt failed: ``queued`` again, due ``delay`` seconds on.

        The attempt stays counted (the claim counted it) and ``error`` is kept as the job's last
        error. No worker holds the job while it waits, so the wait costs nothing.

        Returns:
            False when the worker no longer holds the job.
        """

        async def work(conn: AsyncConnection) -> bool:
            result = await conn.execute(
                update(jobs)
                .where(jobs.c.id == job_id, jobs.c.locked_by == worker_id, jobs.c.state == RUNNING)
                .values(
                    state=QUEUED,
                    run_after=self.clock() + max(0, math.ceil(delay * 1000)),
                    last_error=error[:_MAX_ERROR],
                    locked_by=None,
                    lease_expires_at=None,
                )
            )
            return bool(result.rowcount)

        return await self.write(work)

    async def failed(self, limit: int = 100) -> list[JobRow]:
        """The dead letter: failed jobs, newest first."""
        async with self.engine.connect() as conn:
            rows = await conn.execute(
                select(jobs)
                .where(jobs.c.state == FAILED)
                .order_by(jobs.c.finished_at.desc(), jobs.c.id.desc())
                .limit(limit)
            )
            return [
                JobRow(
                    id=row.id,
                    kind=row.kind,
                    partner_id=row.partner_id,
                    state=row.state,
                    attempts=row.attempts,
                    last_error=row.last_error,
                    created_at=row.created_at,
                    finished_at=row.finished_at,
                )
                for row in rows
            ]

    async def retry(self, job_id: int) -> bool:
        """Queue a failed job again, with fresh attempts; False when it is not failed."""

        async def work(conn: AsyncConnection) -> bool:
            result = await conn.execute(
                update(jobs)
                .where(jobs.c.id == job_id, jobs.c.state == FAILED)
                .values(
                    state=QUEUED,
                    attempts=0,
                    run_after=self.clock(),
                    finished_at=None,
                    locked_by=None,
                    lease_expires_at=None,
                )
            )
            return bool(result.rowcount)

        return await self.write(work)

    async def state_of(self, job_id: int) -> str | None:
        """The job's state, or None when there is no such job."""
        async with self.engine.connect() as conn:
            value = await conn.scalar(select(jobs.c.state).where(jobs.c.id == job_id))
        return None if value is None else str(value)

"""The worker: claims jobs, runs their handler once per claim, keeps the lease while it runs.

A handler is an ``async`` function of a :class:`JobContext`. It may finish the job itself inside
its last write transaction (:meth:`JobContext.succeed`), so the job's outcome commits with its
data; otherwise the worker marks it succeeded when the handler returns. A failed attempt is
rescheduled durably: the job goes back to ``queued`` with its error and a ``run_after`` one
backoff later (the :class:`commerce_kit.RetryPolicy` settings: exponential, jittered, honouring a
``retry_after`` hint such as a receiver's ``Retry-After``), so no worker holds it while it waits
and a restart loses nothing. Once the job's attempts are spent it is parked as ``failed`` with
the reason (the dead letter; ``shop jobs retry ID`` queues it again). :class:`PermanentJobError`
fails the job at once.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import os
import random
import secrets
import socket
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from commerce_kit import RetryPolicy
from commerce_kit.resilience import Jitter
from sqlalchemy import and_, or_, select
from sqlalchemy.ext.asyncio import AsyncConnection

from shop.jobs.queue import FAILED, QUEUED, RUNNING, SUCCEEDED, Job, JobQueue
from shop.jobs.tables import jobs

__all__ = [
    "Handler",
    "JobContext",
    "JobKind",
    "LeaseLostError",
    "PermanentJobError",
    "Worker",
    "new_worker_id",
    "retry_delay",
]

LOG = logging.getLogger("shop.jobs")


class PermanentJobError(Exception):
    """The job cannot succeed however often it is tried (a malformed feed, say)."""


class LeaseLostError(Exception):
    """This worker's lease ran out and another worker owns the job now."""


def new_worker_id() -> str:
    """A worker id naming the host and process, unique per worker."""
    return f"{socket.gethostname()[:30]}:{os.getpid()}:{secrets.token_hex(3)}"


@dataclass(slots=True)
class JobContext:
    """What a handler gets: its job, the queue, and a way to finish in its own transaction."""

    job: Job
    worker_id: str
    queue: JobQueue
    completed: bool = False
    #: Set by handlers: what :meth:`succeed` stores when the worker finishes the job.
    result: dict[str, Any] = field(default_factory=dict)

    async def succeed(self, conn: AsyncConnection, result: Mapping[str, Any] | None = None) -> None:
        """Mark the job succeeded inside ``conn``'s transaction.

        Raises:
            LeaseLostError: Another worker holds the job now; roll the transaction back.
        """
        if result is not None:
            self.result.update(result)
        done = await self.queue.finish(
            conn, self.job.id, self.worker_id, state=SUCCEEDED, result=self.result
        )
        if not done:
            raise LeaseLostError(f"job {self.job.id}: lease lost")
        self.completed = True


Handler = Callable[[JobContext], Awaitable[None]]
#: Called in the transaction that marks a job failed: ``(conn, job, reason)``.
FailureHook = Callable[[AsyncConnection, Job, str], Awaitable[None]]


@dataclass(frozen=True, slots=True)
class JobKind:
    """A kind of job: its handler and what to do when it is finally failed."""

    run: Handler
    on_failed: FailureHook | None = None


def _retryable(error: Exception) -> bool:
    return not isinstance(error, (PermanentJobError, LeaseLostError))


def retry_delay(policy: RetryPolicy, attempt: int, error: Exception) -> float | None:
    """The seconds to wait after failed attempt ``attempt`` (1-based), by ``policy``'s rules.

    An error's hint (``policy.hint``, by default a ``retry_after`` attribute) is the wait as it
    is; otherwise the wait is ``min(wait_max, wait_initial * wait_exp_base ** (attempt - 1))``
    randomised by ``policy.jitter`` (decorrelated jitter, which needs the previous wait, is drawn
    as full jitter here).

    Returns:
        The wait in seconds, or None when the hint asks for longer than ``policy.max_hint``
        (the library's retry gives up then too).
    """
    hint = policy.hint(error) if policy.hint is not None else None
    if isinstance(hint, (int, float)) and not isinstance(hint, bool) and not math.isnan(hint):
        limit = policy.wait_max if policy.max_hint is None else policy.max_hint
        return None if hint > limit else max(0.0, float(hint))
    try:
        cap = policy.wait_initial * policy.wait_exp_base ** (max(1, attempt) - 1)
    except OverflowError:
        cap = policy.wait_max
    cap = min(cap, policy.wait_max)
    if policy.jitter is Jitter.NONE:
        return cap
    if policy.jitter is Jitter.EQUAL:
        return min(cap, cap / 2 + cap / 2 * policy.random())
    return cap * policy.random()


class Worker:
    """Runs jobs from the queue, ``concurrency`` at a time.

    Args:
        queue: The queue.
        kinds: The handlers by job kind.
        concurrency: Jobs run at once by this worker.
        retry_wait: The first backoff wait between attempts, in seconds.
        poll: Seconds between looks at an idle queue.
        worker_id: This worker's id (default: host, pid and a random part).
        max_hint: The longest ``Retry-After`` honoured, in seconds; a longer one fails the job.
        random: Returns floats in ``[0, 1)`` for the backoff jitter; inject one in tests.
    """

    def __init__(
        self,
        queue: JobQueue,
        kinds: Mapping[str, JobKind],
        *,
        concurrency: int = 1,
        retry_wait: float = 1.0,
        poll: float = 0.2,
        worker_id: str | None = None,
        max_hint: float = 86_400.0,
        random: Callable[[], float] = random.random,
    ) -> None:
        if concurrency < 1:
            raise ValueError(f"concurrency must be 1 or more, got {concurrency}")
        self.queue = queue
        self.kinds = dict(kinds)
        self.concurrency = concurrency
        self.retry_wait = retry_wait
        self.poll = poll
        self.worker_id = worker_id or new_worker_id()
        #: The backoff between attempts; its ``attempts`` is unused (each job has its own).
        self.policy = RetryPolicy(
            on=_retryable,
            wait_initial=retry_wait,
            wait_max=max(retry_wait * 30, retry_wait),
            max_hint=max_hint,
            random=random,
        )
        self._wake = asyncio.Event()

    def wake(self) -> None:
        """Tell idle loops a job was just enqueued in this process."""
        self._wake.set()

    async def _anything_due(self) -> bool:
        # A read first, so an idle worker does not take SQLite's write lock five times a second.
        now = self.queue.clock()
        async with self.queue.engine.connect() as conn:
            found = await conn.scalar(
                select(jobs.c.id)
                .where(
                    or_(
                        and_(jobs.c.state == QUEUED, jobs.c.run_after <= now),
                        and_(jobs.c.state == RUNNING, jobs.c.lease_expires_at < now),
                    )
                )
                .limit(1)
            )
        return found is not None

    async def run_one(self) -> bool:
        """Claim and run one job; return False when none was due."""
        if not await self._anything_due():
            return False
        job = await self.queue.claim(self.worker_id)
        if job is None:
            return False
        await self._run(job)
        return True

    async def run_until_idle(self, *, limit: int = 10_000) -> int:
        """Run due jobs until none is left (tests, ``shop jobs run``); return how many ran."""
        ran = 0
        while ran < limit and await self.run_one():
            ran += 1
        return ran

    async def run(self, stop: asyncio.Event) -> None:
        """Run jobs until ``stop`` is set."""
        await asyncio.gather(*(self._loop(stop) for _ in range(self.concurrency)))

    async def _loop(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            try:
                busy = await self.run_one()
            except Exception:  # the loop must outlive a database outage
                LOG.exception("worker %s: claiming a job failed", self.worker_id)
                busy = False
            if busy:
                continue
            self._wake.clear()
            waiters = [asyncio.ensure_future(stop.wait()), asyncio.ensure_future(self._wake.wait())]
            await asyncio.wait(waiters, timeout=self.poll, return_when=asyncio.FIRST_COMPLETED)
            for waiter in waiters:
                waiter.cancel()

    async def _heartbeat(self, job: Job) -> None:
        interval = self.queue.lease_ms / 3000
        while True:
            await asyncio.sleep(interval)
            try:
                if not await self.queue.renew(job.id, self.worker_id):
                    LOG.warning("job %d: lease lost by %s", job.id, self.worker_id)
                    return
            except Exception:  # a missed renewal is retried at the next beat
                LOG.warning("job %d: lease renewal failed", job.id, exc_info=True)

    async def _run(self, job: Job) -> None:
        kind = self.kinds.get(job.kind)
        if kind is None:
            await self._fail(job, None, f"no handler for job kind {job.kind!r}")
            return
        if job.attempts > job.max_attempts:
            await self._fail(job, kind, "its worker stopped during each of its attempts")
            return
        LOG.info(
            "job %d (%s) started by %s, attempt %d", job.id, job.kind, self.worker_id, job.attempts
        )
        beat = asyncio.create_task(self._heartbeat(job))
        try:
            await self._attempt(job, kind)
        except LeaseLostError:
            LOG.warning("job %d: another worker owns it now; this run is dropped", job.id)
        except Exception as error:  # noqa: BLE001 - every failure is rescheduled or parked
            await self._failed_attempt(job, kind, error)
        finally:
            beat.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await beat

    async def _failed_attempt(self, job: Job, kind: JobKind, error: Exception) -> None:
        reason = _reason(error)
        LOG.warning("job %d attempt %d failed: %s", job.id, job.attempts, reason)
        if not _retryable(error) or job.attempts >= job.max_attempts:
            await self._fail(job, kind, reason)
            return
        delay = retry_delay(self.policy, job.attempts, error)
        if delay is None:
            await self._fail(job, kind, f"{reason} (asked to wait longer than the limit)")
            return
        if await self.queue.reschedule(job.id, self.worker_id, error=reason, delay=delay):
            LOG.info("job %d: attempt %d again in %.3f s", job.id, job.attempts + 1, delay)
        else:
            LOG.warning("job %d: another worker owns it now; this run is dropped", job.id)

    async def _attempt(self, job: Job, kind: JobKind) -> None:
        context = JobContext(job=job, worker_id=self.worker_id, queue=self.queue)
        await kind.run(context)
        if not context.completed:
            await self.queue.write(context.succeed)
        LOG.info("job %d (%s) succeeded", job.id, job.kind)

    async def _fail(self, job: Job, kind: JobKind | None, reason: str) -> None:
        LOG.error("job %d (%s) failed: %s", job.id, job.kind, reason)

        async def work(conn: AsyncConnection) -> None:
            if not await self.queue.finish(
                conn, job.id, self.worker_id, state=FAILED, error=reason
            ):
                raise LeaseLostError(f"job {job.id}: lease lost")
            if kind is not None and kind.on_failed is not None:
                await kind.on_failed(conn, job, reason)

        with contextlib.suppress(LeaseLostError):
            await self.queue.write(work)


def _reason(error: BaseException) -> str:
    text = str(error).strip()
    return f"{type(error).__name__}: {text}" if text else type(error).__name__

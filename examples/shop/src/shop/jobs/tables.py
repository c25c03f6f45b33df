"""The jobs table: the durable queue lives in the shop's own database.

A job is ``queued`` until ``run_after``; a worker claims it (``running``) with a lease that it
renews while it works; a job whose lease expired is claimed again (its worker died). It ends
``succeeded`` or, once its attempts are spent, ``failed`` (the dead letter). ``dedup_key`` makes
enqueueing idempotent: the same key is the same job.
"""

from __future__ import annotations

from sqlalchemy import BigInteger, Column, Index, Integer, String, Table, Text

from shop.db import metadata

__all__ = ["jobs"]

jobs = Table(
    "jobs",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("kind", String(40), nullable=False),
    Column("partner_id", Integer, nullable=True),
    # JSON text: the handler's arguments (never a secret).
    Column("payload", Text, nullable=False),
    Column("dedup_key", String(200), nullable=True, unique=True),
    # queued -> running -> succeeded | failed (running -> queued on a retry)
    Column("state", String(12), nullable=False),
    Column("attempts", Integer, nullable=False, default=0),
    Column("max_attempts", Integer, nullable=False),
    Column("run_after", BigInteger, nullable=False),
    Column("locked_by", String(64), nullable=True),
    Column("lease_expires_at", BigInteger, nullable=True),
    Column("last_error", Text, nullable=True),
    # Progress of a feed ingest (other kinds leave them at 0).
    Column("records", Integer, nullable=False, default=0),
    Column("processed", Integer, nullable=False, default=0),
    Column("accepted", Integer, nullable=False, default=0),
    Column("rejected", Integer, nullable=False, default=0),
    # JSON text: what the job found out (mail outcome, callback status...).
    Column("result", Text, nullable=True),
    Column("created_at", BigInteger, nullable=False),
    Column("started_at", BigInteger, nullable=True),
    Column("finished_at", BigInteger, nullable=True),
    Index("ix_jobs_state_run_after", "state", "run_after"),
)

"""The audit trail of partner authentication: one row and one log line per attempt.

The log line (logger ``shop.audit``, JSON) is written at once; rows are buffered in memory and
inserted in batches by a background task every 0.5 s (and on shutdown), so an attempt costs the
request no database write and a flood of bad keys cannot queue up writers. The price: a process
killed outright loses the rows of its last half second (their log lines are out), and past
100,000 buffered rows (a flood while the database is away) rows are counted as dropped, not
kept; ``/metrics`` shows both counts (``shop_audit_rows``). Neither ever holds a secret: the key
is named by its public prefix only.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from dataclasses import asdict, dataclass
from typing import Any

from sqlalchemy import insert, select
from sqlalchemy.ext.asyncio import AsyncEngine

from shop.db import now_ms
from shop.partners.tables import audit_log

__all__ = ["AuditEntry", "AuditLog", "tail"]

LOG = logging.getLogger("shop.audit")
_MAX_PENDING = 100_000


@dataclass(frozen=True, slots=True)
class AuditEntry:
    """One authentication attempt."""

    at: int
    source: str
    key_prefix: str | None
    partner_id: int | None
    method: str
    route: str
    outcome: str
    request_id: str | None


class AuditLog:
    """Records attempts; :meth:`flush` writes the buffered rows."""

    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine.execution_options(write=True)
        self._pending: list[dict[str, Any]] = []
        self.dropped = 0

    @property
    def pending(self) -> int:
        """Rows buffered and not yet written."""
        return len(self._pending)

    def counts(self) -> dict[str, float]:
        """``pending`` and ``dropped`` rows, for ``/metrics``."""
        return {"pending": float(self.pending), "dropped": float(self.dropped)}

    def record(self, entry: AuditEntry) -> None:
        """Log ``entry`` now and buffer its row."""
        row = asdict(entry)
        level = logging.INFO if entry.outcome == "ok" else logging.WARNING
        LOG.log(level, json.dumps({"event": "partner_auth", **row}, separators=(",", ":")))
        if len(self._pending) >= _MAX_PENDING:
            self.dropped += 1
            return
        self._pending.append(row)

    async def flush(self) -> int:
        """Insert the buffered rows in one statement; return how many."""
        rows, self._pending = self._pending, []
        if not rows:
            return 0
        try:
            async with self._engine.begin() as conn:
                await conn.execute(insert(audit_log), rows)
        except Exception:
            self._pending[:0] = rows  # keep them for the next flush
            raise
        return len(rows)

    async def run(self, stop: asyncio.Event, interval: float = 0.5) -> None:
        """Flush every ``interval`` seconds until ``stop``, then once more."""
        while not stop.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), interval)
            try:
                await self.flush()
            except Exception:  # the trail waits for the database to come back
                LOG.exception("writing the audit log failed; retrying")


async def tail(engine: AsyncEngine, limit: int = 20) -> list[AuditEntry]:
    """The latest ``limit`` attempts, oldest first."""
    async with engine.connect() as conn:
        rows = (
            await conn.execute(select(audit_log).order_by(audit_log.c.id.desc()).limit(limit))
        ).all()
    return [
        AuditEntry(
            at=row.at,
            source=row.source,
            key_prefix=row.key_prefix,
            partner_id=row.partner_id,
            method=row.method,
            route=row.route,
            outcome=row.outcome,
            request_id=row.request_id,
        )
        for row in reversed(rows)
    ]


def entry_now(**fields: Any) -> AuditEntry:
    """An entry stamped now."""
    return AuditEntry(at=now_ms(), **fields)

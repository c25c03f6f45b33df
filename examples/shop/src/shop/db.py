"""The shop's tables (SQLAlchemy Core) and its async engine.

Money is stored in minor units (cents) as integers, so SQLite and PostgreSQL agree exactly.
Times are epoch milliseconds, so the reservation sweep compares plain integers on both.
"""

from __future__ import annotations

import time
from typing import Any

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    Column,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    UniqueConstraint,
    event,
    text,
)
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine
from sqlalchemy.pool import ConnectionPoolEntry

__all__ = [
    "commit_without_flush_wait",
    "make_engine",
    "metadata",
    "now_ms",
    "orders",
    "products",
    "sync_url",
    "users",
]

metadata = MetaData(
    naming_convention={
        "ix": "ix_%(table_name)s_%(column_0_name)s",
        "uq": "uq_%(table_name)s_%(column_0_name)s",
        "ck": "ck_%(table_name)s_%(constraint_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s",
        "pk": "pk_%(table_name)s",
    }
)

users = Table(
    "users",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("name", String(100), nullable=False, unique=True),
    # sha256 of the token: the token itself is never stored.
    Column("token_hash", String(64), nullable=False, unique=True),
    Column("created_at", BigInteger, nullable=False),
)

products = Table(
    "products",
    metadata,
    Column("sku", String(64), primary_key=True),
    Column("title", String(200), nullable=False),
    Column("price_cents", BigInteger, nullable=False),
    Column("currency", String(3), nullable=False),
    Column("stock", Integer, nullable=False),
    CheckConstraint("stock >= 0", name="stock_not_negative"),
    CheckConstraint("price_cents > 0", name="price_positive"),
)

orders = Table(
    "orders",
    metadata,
    Column("id", String(40), primary_key=True),
    Column("user_id", Integer, ForeignKey("users.id"), nullable=False),
    Column("sku", String(64), ForeignKey("products.sku"), nullable=False),
    Column("quantity", Integer, nullable=False),
    Column("amount_cents", BigInteger, nullable=False),
    Column("currency", String(3), nullable=False),
    Column("payment_method", String(64), nullable=False),
    # reserved -> paid | failed | expired
    Column("status", String(16), nullable=False),
    Column("failure_code", String(40), nullable=True),
    Column("payment_id", String(100), nullable=True),
    Column("idempotency_key", String(255), nullable=True),
    # sha256 of the request body, so a reused key with a different body is refused.
    Column("request_hash", String(64), nullable=False),
    Column("created_at", BigInteger, nullable=False),
    Column("expires_at", BigInteger, nullable=False),
    UniqueConstraint("user_id", "idempotency_key", name="uq_orders_user_key"),
    CheckConstraint("quantity > 0", name="quantity_positive"),
    Index("ix_orders_status_expires", "status", "expires_at"),
)


def now_ms() -> int:
    """Return wall-clock time in epoch milliseconds (stored times are wall time)."""
    return time.time_ns() // 1_000_000


async def commit_without_flush_wait(conn: AsyncConnection) -> None:
    """Let ``conn``'s transaction commit without waiting for its WAL flush (PostgreSQL only).

    For a write that is safe to lose in a crash because a later synchronous commit depends on
    it: that commit flushes the WAL of every transaction before it, so once it returns, this
    one is durable too. SQLite (WAL mode, ``synchronous=NORMAL``) does not wait anyway.
    """
    if conn.dialect.name == "postgresql":
        await conn.execute(text("SET LOCAL synchronous_commit = off"))


def sync_url(url: str) -> str:
    """Return the synchronous-driver URL for ``url`` (used by Alembic)."""
    if url.startswith("sqlite+aiosqlite://"):
        return "sqlite://" + url.removeprefix("sqlite+aiosqlite://")
    return url


def _sqlite_pragmas(dbapi_connection: Any, _record: ConnectionPoolEntry) -> None:
    cursor = dbapi_connection.cursor()
    # WAL lets readers run beside the writer; NORMAL sync is durable across app crashes in WAL.
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA busy_timeout=5000")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.close()
    # Transactions are begun by the "begin" hook below, not implicitly by the driver.
    dbapi_connection.isolation_level = None


def _sqlite_begin(conn: Connection) -> None:
    # IMMEDIATE takes the write lock at BEGIN, so a transaction never fails half-way when it
    # upgrades from reading to writing; a busy writer waits up to busy_timeout instead.
    mode = "IMMEDIATE" if conn.get_execution_options().get("write") else "DEFERRED"
    conn.exec_driver_sql(f"BEGIN {mode}")


def make_engine(url: str, *, pool_size: int = 10) -> AsyncEngine:
    """Create the async engine for ``url`` (already normalised by the settings).

    On SQLite the engine sets WAL mode, a busy timeout and foreign keys on every connection;
    connections opened with ``execution_options(write=True)`` begin ``IMMEDIATE`` transactions.
    """
    if url.startswith("sqlite"):
        engine = create_async_engine(url, pool_size=pool_size, max_overflow=0)
        event.listen(engine.sync_engine, "connect", _sqlite_pragmas)
        event.listen(engine.sync_engine, "begin", _sqlite_begin)
        return engine
    # A fixed pool, no overflow: overflow connections are closed when given back, and under
    # load that means a new PostgreSQL backend process per request. Waiters queue instead.
    return create_async_engine(url, pool_size=2 * pool_size, max_overflow=0)

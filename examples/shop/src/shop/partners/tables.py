"""The partner integration's tables.

Partners, their keys, the audit log, their products, uploaded feeds and the errors a feed job
found.
"""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    Column,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Table,
    Text,
    UniqueConstraint,
)

from shop.db import metadata

__all__ = [
    "audit_log",
    "feed_parts",
    "feeds",
    "job_errors",
    "partner_keys",
    "partner_products",
    "partners",
]

partners = Table(
    "partners",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("name", String(100), nullable=False, unique=True),
    Column("email", String(254), nullable=False),
    Column("callback_url", String(2000), nullable=True),
    # The Standard Webhooks secret (whsec_...): kept, since the shop signs and verifies with it.
    Column("webhook_secret", String(100), nullable=False),
    Column("created_at", BigInteger, nullable=False),
    Column("revoked_at", BigInteger, nullable=True),
)

partner_keys = Table(
    "partner_keys",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("partner_id", Integer, ForeignKey("partners.id"), nullable=False),
    # The public part of ck_live_<prefix>_<secret>, for lookup; the key itself is never stored.
    Column("prefix", String(16), nullable=False, unique=True),
    Column("key_hash", String(64), nullable=False),
    Column("created_at", BigInteger, nullable=False),
    # Set on rotation: the old key works until then (the grace period).
    Column("expires_at", BigInteger, nullable=True),
    Column("revoked_at", BigInteger, nullable=True),
)

audit_log = Table(
    "audit_log",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("at", BigInteger, nullable=False),
    Column("source", String(64), nullable=False),
    Column("key_prefix", String(16), nullable=True),
    Column("partner_id", Integer, nullable=True),
    Column("method", String(10), nullable=False),
    Column("route", String(200), nullable=False),
    # ok | missing | malformed | unknown | revoked | expired | rate_limited
    Column("outcome", String(20), nullable=False),
    Column("request_id", String(64), nullable=True),
    Index("ix_audit_log_at", "at"),
)

partner_products = Table(
    "partner_products",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("partner_id", Integer, ForeignKey("partners.id"), nullable=False),
    Column("sku", String(64), nullable=False),
    Column("title", String(200), nullable=False),
    Column("description", Text, nullable=False, default=""),
    Column("price_cents", BigInteger, nullable=False),
    Column("currency", String(3), nullable=False),
    Column("stock", Integer, nullable=False),
    Column("active", Boolean, nullable=False, default=True),
    # The ingest job that last listed the product: a full feed retires the others.
    Column("last_job_id", Integer, nullable=True),
    Column("updated_at", BigInteger, nullable=False),
    UniqueConstraint("partner_id", "sku", name="uq_partner_products_partner_sku"),
    CheckConstraint("stock >= 0", name="stock_not_negative"),
)

feeds = Table(
    "feeds",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("partner_id", Integer, ForeignKey("partners.id"), nullable=False),
    Column("job_id", Integer, nullable=True),
    Column("checksum", String(64), nullable=False),
    Column("mode", String(8), nullable=False),
    Column("dry_run", Boolean, nullable=False),
    Column("format", String(40), nullable=False),
    Column("content_type", String(200), nullable=True),
    Column("filename", String(255), nullable=True),
    Column("size", Integer, nullable=False),
    # Feeds received before parts existed keep their bytes here; newer ones are in feed_parts.
    Column("body", LargeBinary, nullable=True),
    Column("created_at", BigInteger, nullable=False),
    Index("ix_feeds_job_id", "job_id"),
)

# A feed's bytes, committed part by part as the upload arrives (see shop.partners.uploads). A
# feed row whose job_id is still null is an upload in progress (or abandoned: swept later).
feed_parts = Table(
    "feed_parts",
    metadata,
    Column("feed_id", Integer, ForeignKey("feeds.id"), primary_key=True),
    Column("seq", Integer, primary_key=True),
    Column("data", LargeBinary, nullable=False),
)

job_errors = Table(
    "job_errors",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("job_id", Integer, nullable=False),
    Column("line", Integer, nullable=True),
    Column("idx", Integer, nullable=False),
    Column("field", String(200), nullable=True),
    Column("code", String(80), nullable=False),
    Column("message", Text, nullable=False),
    Index("ix_job_errors_job_id", "job_id", "id"),
)

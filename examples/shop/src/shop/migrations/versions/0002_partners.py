"""Partner integration: partners, keys, audit log, partner products, feeds, jobs.

Revision ID: 0002
Revises: 0001
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "partners",
        sa.Column("id", sa.Integer, autoincrement=True, nullable=False),
        sa.Column("name", sa.String(100), nullable=False),
        sa.Column("email", sa.String(254), nullable=False),
        sa.Column("callback_url", sa.String(2000), nullable=True),
        sa.Column("webhook_secret", sa.String(100), nullable=False),
        sa.Column("created_at", sa.BigInteger, nullable=False),
        sa.Column("revoked_at", sa.BigInteger, nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_partners"),
        sa.UniqueConstraint("name", name="uq_partners_name"),
    )
    op.create_table(
        "partner_keys",
        sa.Column("id", sa.Integer, autoincrement=True, nullable=False),
        sa.Column("partner_id", sa.Integer, nullable=False),
        sa.Column("prefix", sa.String(16), nullable=False),
        sa.Column("key_hash", sa.String(64), nullable=False),
        sa.Column("created_at", sa.BigInteger, nullable=False),
        sa.Column("expires_at", sa.BigInteger, nullable=True),
        sa.Column("revoked_at", sa.BigInteger, nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_partner_keys"),
        sa.UniqueConstraint("prefix", name="uq_partner_keys_prefix"),
        sa.ForeignKeyConstraint(["partner_id"], ["partners.id"], name="fk_partner_keys_partner_id"),
    )
    op.create_table(
        "audit_log",
        sa.Column("id", sa.Integer, autoincrement=True, nullable=False),
        sa.Column("at", sa.BigInteger, nullable=False),
        sa.Column("source", sa.String(64), nullable=False),
        sa.Column("key_prefix", sa.String(16), nullable=True),
        sa.Column("partner_id", sa.Integer, nullable=True),
        sa.Column("method", sa.String(10), nullable=False),
        sa.Column("route", sa.String(200), nullable=False),
        sa.Column("outcome", sa.String(20), nullable=False),
        sa.Column("request_id", sa.String(64), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_audit_log"),
    )
    op.create_index("ix_audit_log_at", "audit_log", ["at"])
    op.create_table(
        "partner_products",
        sa.Column("id", sa.Integer, autoincrement=True, nullable=False),
        sa.Column("partner_id", sa.Integer, nullable=False),
        sa.Column("sku", sa.String(64), nullable=False),
        sa.Column("title", sa.String(200), nullable=False),
        sa.Column("description", sa.Text, nullable=False),
        sa.Column("price_cents", sa.BigInteger, nullable=False),
        sa.Column("currency", sa.String(3), nullable=False),
        sa.Column("stock", sa.Integer, nullable=False),
        sa.Column("active", sa.Boolean, nullable=False),
        sa.Column("last_job_id", sa.Integer, nullable=True),
        sa.Column("updated_at", sa.BigInteger, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_partner_products"),
        sa.UniqueConstraint("partner_id", "sku", name="uq_partner_products_partner_sku"),
        sa.CheckConstraint("stock >= 0", name="ck_partner_products_stock_not_negative"),
        sa.ForeignKeyConstraint(
            ["partner_id"], ["partners.id"], name="fk_partner_products_partner_id"
        ),
    )
    op.create_table(
        "feeds",
        sa.Column("id", sa.Integer, autoincrement=True, nullable=False),
        sa.Column("partner_id", sa.Integer, nullable=False),
        sa.Column("job_id", sa.Integer, nullable=True),
        sa.Column("checksum", sa.String(64), nullable=False),
        sa.Column("mode", sa.String(8), nullable=False),
        sa.Column("dry_run", sa.Boolean, nullable=False),
        sa.Column("format", sa.String(40), nullable=False),
        sa.Column("content_type", sa.String(200), nullable=True),
        sa.Column("filename", sa.String(255), nullable=True),
        sa.Column("size", sa.Integer, nullable=False),
        sa.Column("body", sa.LargeBinary, nullable=False),
        sa.Column("created_at", sa.BigInteger, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_feeds"),
        sa.ForeignKeyConstraint(["partner_id"], ["partners.id"], name="fk_feeds_partner_id"),
    )
    if op.get_bind().dialect.name == "postgresql":
        # Feeds are stored as sent and read once: compressing them would slow every upload
        # (pglz on megabytes) for space the shop does not need.
        op.execute("ALTER TABLE feeds ALTER COLUMN body SET STORAGE EXTERNAL")
    op.create_table(
        "job_errors",
        sa.Column("id", sa.Integer, autoincrement=True, nullable=False),
        sa.Column("job_id", sa.Integer, nullable=False),
        sa.Column("line", sa.Integer, nullable=True),
        sa.Column("idx", sa.Integer, nullable=False),
        sa.Column("field", sa.String(200), nullable=True),
        sa.Column("code", sa.String(80), nullable=False),
        sa.Column("message", sa.Text, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_job_errors"),
    )
    op.create_index("ix_job_errors_job_id", "job_errors", ["job_id", "id"])
    op.create_table(
        "jobs",
        sa.Column("id", sa.Integer, autoincrement=True, nullable=False),
        sa.Column("kind", sa.String(40), nullable=False),
        sa.Column("partner_id", sa.Integer, nullable=True),
        sa.Column("payload", sa.Text, nullable=False),
        sa.Column("dedup_key", sa.String(200), nullable=True),
        sa.Column("state", sa.String(12), nullable=False),
        sa.Column("attempts", sa.Integer, nullable=False),
        sa.Column("max_attempts", sa.Integer, nullable=False),
        sa.Column("run_after", sa.BigInteger, nullable=False),
        sa.Column("locked_by", sa.String(64), nullable=True),
        sa.Column("lease_expires_at", sa.BigInteger, nullable=True),
        sa.Column("last_error", sa.Text, nullable=True),
        sa.Column("records", sa.Integer, nullable=False),
        sa.Column("processed", sa.Integer, nullable=False),
        sa.Column("accepted", sa.Integer, nullable=False),
        sa.Column("rejected", sa.Integer, nullable=False),
        sa.Column("result", sa.Text, nullable=True),
        sa.Column("created_at", sa.BigInteger, nullable=False),
        sa.Column("started_at", sa.BigInteger, nullable=True),
        sa.Column("finished_at", sa.BigInteger, nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_jobs"),
        sa.UniqueConstraint("dedup_key", name="uq_jobs_dedup_key"),
    )
    op.create_index("ix_jobs_state_run_after", "jobs", ["state", "run_after"])


def downgrade() -> None:
    for table in (
        "jobs",
        "job_errors",
        "feeds",
        "partner_products",
        "audit_log",
        "partner_keys",
        "partners",
    ):
        op.drop_table(table)

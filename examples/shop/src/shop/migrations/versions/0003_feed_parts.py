"""Feeds are received in parts: each part is committed as it arrives.

Revision ID: 0003
Revises: 0002
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "feed_parts",
        sa.Column("feed_id", sa.Integer, nullable=False),
        sa.Column("seq", sa.Integer, nullable=False),
        sa.Column("data", sa.LargeBinary, nullable=False),
        sa.PrimaryKeyConstraint("feed_id", "seq", name="pk_feed_parts"),
        sa.ForeignKeyConstraint(["feed_id"], ["feeds.id"], name="fk_feed_parts_feed_id"),
    )
    if op.get_bind().dialect.name == "postgresql":
        # As for feeds.body: stored as sent and read once, so not compressed on the way in.
        op.execute("ALTER TABLE feed_parts ALTER COLUMN data SET STORAGE EXTERNAL")
    # A feed received in parts has no body of its own (feeds from before keep theirs).
    with op.batch_alter_table("feeds") as batch:
        batch.alter_column("body", existing_type=sa.LargeBinary, nullable=True)
    # The worker finds a job's feed, and the sweep finds unfinished uploads, by job_id.
    op.create_index("ix_feeds_job_id", "feeds", ["job_id"])


def downgrade() -> None:
    op.drop_index("ix_feeds_job_id", "feeds")
    op.drop_table("feed_parts")

"""Flash sale: users, products, orders.

Revision ID: 0001
Revises:
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "users",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("name", sa.String(100), nullable=False),
        sa.Column("token_hash", sa.String(64), nullable=False),
        sa.Column("created_at", sa.BigInteger, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_users"),
        sa.UniqueConstraint("name", name="uq_users_name"),
        sa.UniqueConstraint("token_hash", name="uq_users_token_hash"),
    )
    op.create_table(
        "products",
        sa.Column("sku", sa.String(64), nullable=False),
        sa.Column("title", sa.String(200), nullable=False),
        sa.Column("price_cents", sa.BigInteger, nullable=False),
        sa.Column("currency", sa.String(3), nullable=False),
        sa.Column("stock", sa.Integer, nullable=False),
        sa.PrimaryKeyConstraint("sku", name="pk_products"),
        sa.CheckConstraint("stock >= 0", name="ck_products_stock_not_negative"),
        sa.CheckConstraint("price_cents > 0", name="ck_products_price_positive"),
    )
    op.create_table(
        "orders",
        sa.Column("id", sa.String(40), nullable=False),
        sa.Column("user_id", sa.Integer, nullable=False),
        sa.Column("sku", sa.String(64), nullable=False),
        sa.Column("quantity", sa.Integer, nullable=False),
        sa.Column("amount_cents", sa.BigInteger, nullable=False),
        sa.Column("currency", sa.String(3), nullable=False),
        sa.Column("payment_method", sa.String(64), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("failure_code", sa.String(40), nullable=True),
        sa.Column("payment_id", sa.String(100), nullable=True),
        sa.Column("idempotency_key", sa.String(255), nullable=True),
        sa.Column("request_hash", sa.String(64), nullable=False),
        sa.Column("created_at", sa.BigInteger, nullable=False),
        sa.Column("expires_at", sa.BigInteger, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_orders"),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], name="fk_orders_user_id"),
        sa.ForeignKeyConstraint(["sku"], ["products.sku"], name="fk_orders_sku"),
        sa.UniqueConstraint("user_id", "idempotency_key", name="uq_orders_user_key"),
        sa.CheckConstraint("quantity > 0", name="ck_orders_quantity_positive"),
    )
    op.create_index("ix_orders_status_expires", "orders", ["status", "expires_at"])


def downgrade() -> None:
    op.drop_index("ix_orders_status_expires", table_name="orders")
    op.drop_table("orders")
    op.drop_table("products")
    op.drop_table("users")

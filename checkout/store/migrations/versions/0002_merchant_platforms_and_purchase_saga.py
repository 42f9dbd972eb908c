"""merchant platforms and purchase saga

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-25
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # New NOT NULL columns carry server defaults so databases created by 0001 upgrade in place.
    op.create_table(
        "platform_events",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("merchant_id", sa.String(length=64), nullable=False),
        sa.Column("event_id", sa.String(length=255), nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("payload", sa.JSON(), nullable=False),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("processed_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["merchant_id"],
            ["merchants.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("merchant_id", "event_id", name="uq_platform_events_delivery"),
    )
    op.create_table(
        "purchases",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("session_id", sa.String(length=64), nullable=False),
        sa.Column("merchant_id", sa.String(length=64), nullable=False),
        sa.Column("payment_id", sa.String(length=64), nullable=False),
        sa.Column("token_id", sa.String(length=64), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("sale", sa.JSON(), nullable=False),
        sa.Column("platform_order_id", sa.String(length=255), nullable=True),
        sa.Column("platform_order_name", sa.String(), nullable=True),
        sa.Column("recorded", sa.String(length=32), nullable=True),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("last_error", sa.String(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["merchant_id"],
            ["merchants.id"],
        ),
        sa.ForeignKeyConstraint(
            ["payment_id"],
            ["payments.id"],
        ),
        sa.ForeignKeyConstraint(
            ["session_id"],
            ["checkout_sessions.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("session_id"),
    )
    with op.batch_alter_table("purchases", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_purchases_merchant_id"), ["merchant_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_purchases_state"), ["state"], unique=False)

    with op.batch_alter_table("merchants", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("commission_category_bps", sa.JSON(), server_default="{}", nullable=False)
        )
        batch_op.add_column(sa.Column("commission_minimum", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("platform_shop_id", sa.String(length=255), nullable=True))
        batch_op.add_column(sa.Column("api_base_url", sa.String(), nullable=True))
        batch_op.add_column(sa.Column("credentials", sa.LargeBinary(), nullable=True))
        batch_op.add_column(
            sa.Column("status", sa.String(length=16), server_default="active", nullable=False)
        )
        batch_op.add_column(sa.Column("status_reason", sa.String(), nullable=True))
        batch_op.add_column(sa.Column("catalog_watermark", sa.String(), nullable=True))
        batch_op.add_column(sa.Column("last_synced_at", sa.DateTime(timezone=True), nullable=True))

    with op.batch_alter_table("orders", schema=None) as batch_op:
        batch_op.add_column(sa.Column("platform_order_id", sa.String(length=255), nullable=True))
        batch_op.add_column(sa.Column("platform_order_name", sa.String(), nullable=True))
        batch_op.create_index(
            batch_op.f("ix_orders_platform_order_id"), ["platform_order_id"], unique=False
        )

    with op.batch_alter_table("products", schema=None) as batch_op:
        batch_op.add_column(sa.Column("platform_product_id", sa.String(length=255), nullable=True))
        batch_op.add_column(
            sa.Column("active", sa.Boolean(), server_default=sa.true(), nullable=False)
        )
        batch_op.create_unique_constraint(
            "uq_products_platform_id", ["merchant_id", "platform_product_id"]
        )

    with op.batch_alter_table("variants", schema=None) as batch_op:
        batch_op.add_column(sa.Column("platform_variant_id", sa.String(length=255), nullable=True))
        batch_op.add_column(
            sa.Column("active", sa.Boolean(), server_default=sa.true(), nullable=False)
        )


def downgrade() -> None:
    with op.batch_alter_table("variants", schema=None) as batch_op:
        batch_op.drop_column("active")
        batch_op.drop_column("platform_variant_id")

    with op.batch_alter_table("products", schema=None) as batch_op:
        batch_op.drop_constraint("uq_products_platform_id", type_="unique")
        batch_op.drop_column("active")
        batch_op.drop_column("platform_product_id")

    with op.batch_alter_table("orders", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_orders_platform_order_id"))
        batch_op.drop_column("platform_order_name")
        batch_op.drop_column("platform_order_id")

    with op.batch_alter_table("merchants", schema=None) as batch_op:
        batch_op.drop_column("last_synced_at")
        batch_op.drop_column("catalog_watermark")
        batch_op.drop_column("status_reason")
        batch_op.drop_column("status")
        batch_op.drop_column("credentials")
        batch_op.drop_column("api_base_url")
        batch_op.drop_column("platform_shop_id")
        batch_op.drop_column("commission_minimum")
        batch_op.drop_column("commission_category_bps")

    with op.batch_alter_table("purchases", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_purchases_state"))
        batch_op.drop_index(batch_op.f("ix_purchases_merchant_id"))

    op.drop_table("purchases")
    op.drop_table("platform_events")

"""Sessions record the protocol that created them (ACP or UCP); UCP's merchant data: discount
codes, the buyers' address book, and what a UCP order carries beyond ours (events, adjustments).

Revision ID: 0006
Revises: 0005
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column(
        "checkout_sessions",
        sa.Column("protocol", sa.String(length=8), server_default="acp", nullable=False),
    )
    op.add_column(
        "checkout_sessions",
        sa.Column("discount_codes", sa.JSON(), server_default="[]", nullable=False),
    )
    op.add_column("checkout_sessions", sa.Column("protocol_state", sa.JSON(), nullable=True))
    op.create_table(
        "discount_codes",
        sa.Column(
            "merchant_id", sa.String(length=64), sa.ForeignKey("merchants.id"), nullable=False
        ),
        sa.Column("code", sa.String(length=64), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("value", sa.Integer(), nullable=False),
        sa.Column("title", sa.String(), nullable=False),
        sa.PrimaryKeyConstraint("merchant_id", "code"),
        sa.CheckConstraint("value >= 0", name="ck_discount_codes_value_nonnegative"),
    )
    op.create_table(
        "buyer_addresses",
        sa.Column("id", sa.String(length=64), primary_key=True),
        sa.Column(
            "merchant_id", sa.String(length=64), sa.ForeignKey("merchants.id"), nullable=False
        ),
        sa.Column("email", sa.String(length=320), nullable=False),
        sa.Column("address", sa.JSON(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_buyer_addresses_buyer", "buyer_addresses", ["merchant_id", "email"])
    op.create_table(
        "order_protocol_state",
        sa.Column("order_id", sa.String(length=64), sa.ForeignKey("orders.id"), primary_key=True),
        sa.Column("state", sa.JSON(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("order_protocol_state")
    op.drop_index("ix_buyer_addresses_buyer", table_name="buyer_addresses")
    op.drop_table("buyer_addresses")
    op.drop_table("discount_codes")
    with op.batch_alter_table("checkout_sessions") as batch:
        batch.drop_column("protocol_state")
        batch.drop_column("discount_codes")
        batch.drop_column("protocol")

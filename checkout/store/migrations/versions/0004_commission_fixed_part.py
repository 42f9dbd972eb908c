"""Commission terms carry a fixed part per order (minor units) besides the rate.

Revision ID: 0004
Revises: 0003
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column(
        "merchants",
        sa.Column("commission_fixed", sa.Integer(), server_default="0", nullable=False),
    )
    op.add_column(
        "commission_terms", sa.Column("fixed", sa.Integer(), server_default="0", nullable=False)
    )


def downgrade() -> None:
    with op.batch_alter_table("commission_terms") as batch:
        batch.drop_column("fixed")
    with op.batch_alter_table("merchants") as batch:
        batch.drop_column("commission_fixed")

"""Record the ACP API-Version a checkout session's agent speaks.

Order webhooks for the session's order go out in that version's shape. Sessions created before
this revision were all created in 2026-04-17, the only version served until then.

Revision ID: 0007
Revises: 0006
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("checkout_sessions") as batch:
        batch.add_column(
            sa.Column(
                "api_version",
                sa.String(length=10),
                nullable=False,
                server_default="2026-04-17",
            )
        )


def downgrade() -> None:
    with op.batch_alter_table("checkout_sessions") as batch:
        batch.drop_column("api_version")

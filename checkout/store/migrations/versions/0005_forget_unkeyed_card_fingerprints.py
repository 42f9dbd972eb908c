"""Forget delegate_payment keys fingerprinted before fingerprints were keyed.

Their fingerprint was a plain SHA-256 over a body holding a card number, expiry and CVC, which
can be brute-forced; the replay they allow is not worth keeping that for up to a day.

Revision ID: 0005
Revises: 0003
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.execute(
        sa.text("DELETE FROM idempotency_records WHERE path = :path").bindparams(
            path="/agentic_commerce/delegate_payment"
        )
    )


def downgrade() -> None:
    pass  # what was forgotten stays forgotten

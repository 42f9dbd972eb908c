"""Delegated payment tokens (the sandbox vault) and payment records."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import update
from sqlmodel import Session, col, select

from checkout.domain.allowance import Allowance, TokenState
from checkout.domain.purchase import PaymentStatus
from checkout.store.rows import PaymentRow, PaymentTokenRow
from datastore import get_row, insert_rows, save_rows


def token_state(row: PaymentTokenRow) -> TokenState:
    return TokenState(
        allowance=Allowance(
            max_amount=row.max_amount,
            currency=row.currency,
            checkout_session_id=row.checkout_session_id,
            merchant_id=row.merchant_id,
            expires_at=row.expires_at,
        ),
        used=row.used_at is not None,
    )


class PaymentTokens:
    def __init__(self, db: Session) -> None:
        self.db = db

    def add(self, token: PaymentTokenRow) -> None:
        insert_rows(self.db, [token])

    def get(self, token_id: str) -> PaymentTokenRow | None:
        return get_row(self.db, PaymentTokenRow, token_id)

    def consume(self, token_id: str, now: datetime) -> bool:
        """Mark a token used exactly once; False when another request spent it first."""
        result = self.db.execute(
            update(PaymentTokenRow)
            .where(col(PaymentTokenRow.id) == token_id, col(PaymentTokenRow.used_at).is_(None))
            .values(used_at=now)
        )
        return bool(result.rowcount == 1)  # type: ignore[attr-defined]

    def release(self, token_id: str) -> None:
        """Make a spent token usable again: its payment was voided before anything was charged."""
        self.db.execute(
            update(PaymentTokenRow).where(col(PaymentTokenRow.id) == token_id).values(used_at=None)
        )


class Payments:
    def __init__(self, db: Session) -> None:
        self.db = db

    def add(self, payment: PaymentRow) -> None:
        """A new payment, written now."""
        insert_rows(self.db, [payment])

    def save(self, payment: PaymentRow) -> None:
        """A payment read in this transaction and changed since, written now."""
        save_rows(self.db, [payment])

    def get(self, payment_id: str) -> PaymentRow | None:
        return get_row(self.db, PaymentRow, payment_id)

    def awaiting_authentication(self, session_id: str) -> PaymentRow | None:
        """The session's payment left waiting for the buyer's 3-D Secure, if any."""
        return self.db.exec(
            select(PaymentRow).where(
                col(PaymentRow.session_id) == session_id,
                col(PaymentRow.status) == PaymentStatus.REQUIRES_ACTION.value,
            )
        ).first()

    def to_release(self, session_id: str | None = None) -> list[str]:
        """Ids of holds whose release the provider has not confirmed (of one session, if given)."""
        statement = select(PaymentRow.id).where(
            col(PaymentRow.status) == PaymentStatus.VOID_PENDING.value
        )
        if session_id is not None:
            statement = statement.where(col(PaymentRow.session_id) == session_id)
        return list(self.db.exec(statement).all())

    def with_provider_id(self, provider_payment_id: str) -> PaymentRow | None:
        return self.db.exec(
            select(PaymentRow).where(col(PaymentRow.provider_payment_id) == provider_payment_id)
        ).first()

    def with_charge(self, charge_id: str) -> PaymentRow | None:
        return self.db.exec(
            select(PaymentRow).where(col(PaymentRow.charge_id) == charge_id)
        ).first()

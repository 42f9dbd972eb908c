"""Delegated payment tokens (the sandbox vault) and payment records."""

from __future__ import annotations

from datetime import datetime
from functools import cache

from sqlalchemy import bindparam, update
from sqlalchemy.orm.attributes import set_committed_value
from sqlmodel import Session, col, select

from checkout.domain.allowance import Allowance, TokenState
from checkout.domain.purchase import PaymentStatus
from checkout.store.rows import PaymentRow, PaymentTokenRow
from datastore import PreparedStatement, get_row, held_row, insert_rows, save_rows


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
        if _spend_token().change(self.db, {"id": token_id, "now": now}) != 1:
            return False
        self._used_at(token_id, now)
        return True

    def release(self, token_id: str) -> None:
        """Make a spent token usable again: its payment was voided before anything was charged."""
        _unspend_token().change(self.db, {"id": token_id})
        self._used_at(token_id, None)

    def _used_at(self, token_id: str, when: datetime | None) -> None:
        # What the UPDATE just wrote, on the session's copy of the token if it holds one.
        held = held_row(self.db, PaymentTokenRow, token_id)
        if held is not None:
            set_committed_value(held, "used_at", when)


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


# Spending a token is a conditional UPDATE of every purchase: built once.
@cache
def _spend_token() -> PreparedStatement:
    tokens = PaymentTokenRow.__table__  # type: ignore[attr-defined]
    return PreparedStatement(
        update(tokens)
        .where(tokens.c.id == bindparam("id"), tokens.c.used_at.is_(None))
        .values(used_at=bindparam("now"))
    )


@cache
def _unspend_token() -> PreparedStatement:
    tokens = PaymentTokenRow.__table__  # type: ignore[attr-defined]
    return PreparedStatement(
        update(tokens).where(tokens.c.id == bindparam("id")).values(used_at=None)
    )

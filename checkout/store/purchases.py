"""Purchases, one per checkout session: found, locked, and claimed for recovery across workers."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime

from sqlalchemy import update
from sqlmodel import Session, col, select

from checkout.domain.purchase import PurchaseState
from checkout.store.rows import MerchantRow, PaymentRow, PurchaseRow
from datastore import find_row, get_row, save_rows


class Purchases:
    def __init__(self, db: Session) -> None:
        self.db = db

    def save(self, purchase: PurchaseRow) -> None:
        """A purchase, new or read in this transaction and changed since, written now."""
        save_rows(self.db, [purchase])

    def of_session(self, session_id: str) -> PurchaseRow | None:
        """The session's purchase in any state (an unwound one is started over on its row)."""
        return find_row(self.db, PurchaseRow, "session_id", session_id)

    def under_way(self, session_id: str) -> PurchaseRow | None:
        """The session's live or finished purchase: anything but unwound."""
        return self.db.exec(
            select(PurchaseRow).where(
                col(PurchaseRow.session_id) == session_id,
                col(PurchaseRow.state) != PurchaseState.UNWOUND.value,
            )
        ).first()

    def locked(self, purchase_id: str) -> PurchaseRow:
        """The purchase as it is now, locked until the transaction ends."""
        purchase = get_row(self.db, PurchaseRow, purchase_id, for_update=True)
        if purchase is None:
            raise LookupError(f"purchase {purchase_id} does not exist")
        return purchase

    def paid_by(self, provider_payment_id: str) -> tuple[PurchaseRow, MerchantRow] | None:
        """The purchase (and its merchant) whose payment the provider knows by this id."""
        found = self.db.exec(
            select(PurchaseRow, MerchantRow)
            .join(PaymentRow, col(PaymentRow.id) == col(PurchaseRow.payment_id))
            .join(MerchantRow, col(MerchantRow.id) == col(PurchaseRow.merchant_id))
            .where(col(PaymentRow.provider_payment_id) == provider_payment_id)
        ).first()
        return (found[0], found[1]) if found else None

    def left_since(
        self, states: Iterable[PurchaseState], cutoff: datetime
    ) -> Sequence[tuple[PurchaseRow, MerchantRow]]:
        """Purchases in `states` nobody touched since `cutoff`, locked; ones another worker
        has locked are skipped."""
        return self.db.exec(
            select(PurchaseRow, MerchantRow)
            .join(MerchantRow, col(MerchantRow.id) == col(PurchaseRow.merchant_id))
            .where(
                col(PurchaseRow.state).in_([state.value for state in states]),
                col(PurchaseRow.updated_at) <= cutoff,
            )
            .with_for_update(skip_locked=True, of=PurchaseRow)
        ).all()

    def claim(self, purchase: PurchaseRow, now: datetime) -> bool:
        """Touch the purchase if nobody did since it was read; True when this caller has it."""
        taken = self.db.execute(
            update(PurchaseRow)
            .where(
                col(PurchaseRow.id) == purchase.id,
                col(PurchaseRow.updated_at) == purchase.updated_at,
            )
            .values(updated_at=now)
        )
        return bool(taken.rowcount == 1)  # type: ignore[attr-defined]

"""Refunds of orders: one row per refund asked for, pending until the provider confirms it."""

from __future__ import annotations

from collections.abc import Sequence

from sqlmodel import Session, col, select

from checkout.store.rows import RefundRow
from datastore import get_row


class Refunds:
    def __init__(self, db: Session) -> None:
        self.db = db

    def add(self, refund: RefundRow) -> None:
        self.db.add(refund)
        self.db.flush()

    def get(self, refund_id: str) -> RefundRow | None:
        return get_row(self.db, RefundRow, refund_id)

    def by_provider_id(self, provider_refund_id: str) -> RefundRow | None:
        return self.db.exec(
            select(RefundRow).where(col(RefundRow.provider_refund_id) == provider_refund_id)
        ).first()

    def of_order(self, order_id: str) -> Sequence[RefundRow]:
        return self.db.exec(
            select(RefundRow)
            .where(col(RefundRow.order_id) == order_id)
            .order_by(col(RefundRow.created_at), col(RefundRow.id))
        ).all()

    def pending(self) -> Sequence[RefundRow]:
        return self.db.exec(select(RefundRow).where(col(RefundRow.status) == "pending")).all()

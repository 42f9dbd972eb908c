"""Buyers' saved shipping addresses at a merchant, keyed by the buyer's email."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlmodel import Session, col, delete, select

from checkout.store.ids import new_id
from checkout.store.rows import BuyerAddressRow


class AddressBook:
    def __init__(self, db: Session) -> None:
        self.db = db

    def of(self, merchant_id: str, email: str) -> Sequence[BuyerAddressRow]:
        return self.db.exec(
            select(BuyerAddressRow)
            .where(
                col(BuyerAddressRow.merchant_id) == merchant_id,
                col(BuyerAddressRow.email) == email.lower(),
            )
            .order_by(col(BuyerAddressRow.created_at), col(BuyerAddressRow.id))
        ).all()

    def remember(
        self, merchant_id: str, email: str, address: dict[str, Any], now: datetime
    ) -> BuyerAddressRow:
        """The saved address with the same content, or a new one saved under a new id."""
        wanted = {k: v for k, v in address.items() if k != "id" and v}
        for row in self.of(merchant_id, email):
            if {k: v for k, v in row.address.items() if v} == wanted:
                return row
        row = BuyerAddressRow(
            id=new_id("addr"),
            merchant_id=merchant_id,
            email=email.lower(),
            address=wanted,
            created_at=now,
        )
        self.db.add(row)
        self.db.flush()
        return row

    def replace(self, merchant_id: str, rows: Sequence[BuyerAddressRow]) -> None:
        self.db.execute(
            delete(BuyerAddressRow).where(col(BuyerAddressRow.merchant_id) == merchant_id)
        )
        self.db.add_all(rows)
        self.db.flush()

"""A merchant's discount codes: loading, and finding the ones a session names."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from sqlmodel import Session, col, delete, select

from checkout.domain.discounts import DiscountCode, DiscountKind
from checkout.store.rows import DiscountCodeRow


class DiscountCodes:
    def __init__(self, db: Session) -> None:
        self.db = db

    def find(self, merchant_id: str, codes: Sequence[str]) -> tuple[DiscountCode, ...]:
        """The merchant's codes among `codes`, in the order given; unknown codes are left out."""
        if not codes:
            return ()
        rows = {
            row.code.upper(): row
            for row in self.db.exec(
                select(DiscountCodeRow).where(
                    col(DiscountCodeRow.merchant_id) == merchant_id,
                    col(DiscountCodeRow.code).in_([c.upper() for c in codes]),
                )
            )
        }
        found = []
        for code in dict.fromkeys(c.upper() for c in codes):
            row = rows.get(code)
            if row is not None:
                found.append(DiscountCode(row.code, DiscountKind(row.kind), row.value, row.title))
        return tuple(found)

    def replace(self, merchant_id: str, codes: Iterable[DiscountCode]) -> None:
        self.db.execute(
            delete(DiscountCodeRow).where(col(DiscountCodeRow.merchant_id) == merchant_id)
        )
        self.db.add_all(
            DiscountCodeRow(
                merchant_id=merchant_id,
                code=code.code.upper(),
                kind=code.kind.value,
                value=code.value,
                title=code.title,
            )
            for code in codes
        )
        self.db.flush()

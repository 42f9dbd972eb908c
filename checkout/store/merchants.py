"""Merchants as the operator manages them: onboarding, listing, and who owns a payment account."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import func
from sqlmodel import Session, col, select

from checkout.store.commission_terms import CommissionBook
from checkout.store.rows import MerchantRow, ProductRow
from datastore import get_row


class Merchants:
    def __init__(self, db: Session) -> None:
        self.db = db

    def get(self, merchant_id: str, *, for_update: bool = False) -> MerchantRow | None:
        return get_row(self.db, MerchantRow, merchant_id, for_update=for_update)

    def add(self, merchant: MerchantRow, now: datetime) -> None:
        """A new merchant, with its first commission terms in force from `now`."""
        self.db.add(merchant)
        self.db.flush()
        CommissionBook(self.db).start(merchant, now)

    def on_platform_shop(self, platform: str, shop_id: str) -> str | None:
        """The id of the merchant already onboarded from this shop, if any."""
        return self.db.exec(
            select(MerchantRow.id).where(
                col(MerchantRow.platform) == platform,
                col(MerchantRow.platform_shop_id) == shop_id,
            )
        ).first()

    def with_payment_account(self, account_id: str) -> MerchantRow | None:
        return self.db.exec(
            select(MerchantRow).where(col(MerchantRow.payment_account_id) == account_id)
        ).first()

    def all(self) -> Sequence[MerchantRow]:
        """Every merchant, oldest first."""
        return self.db.exec(select(MerchantRow).order_by(col(MerchantRow.created_at))).all()

    def names(self) -> dict[str, str]:
        return {m.id: m.name for m in self.db.exec(select(MerchantRow))}

    def active_products(self, merchant_id: str | None = None) -> dict[str, int]:
        """Active products per merchant (of one merchant, when given)."""
        statement = select(ProductRow.merchant_id, func.count()).where(
            col(ProductRow.active).is_(True)
        )
        if merchant_id is not None:
            statement = statement.where(col(ProductRow.merchant_id) == merchant_id)
        rows = self.db.exec(statement.group_by(col(ProductRow.merchant_id))).all()
        return {merchant: count for merchant, count in rows}

"""Merchants' commission terms: the current version on the merchant, every version kept."""

from __future__ import annotations

from datetime import datetime

from sqlmodel import Session, col, select

from checkout.domain.commission import CommissionTerms
from checkout.store.rows import CommissionTermsRow, MerchantRow


def current_terms(merchant: MerchantRow) -> CommissionTerms:
    return CommissionTerms(
        rate_bps=merchant.commission_bps,
        category_bps=dict(merchant.commission_category_bps),
        minimum=merchant.commission_minimum,
        version=merchant.commission_version,
        fixed=merchant.commission_fixed,
    )


class CommissionBook:
    def __init__(self, db: Session) -> None:
        self.db = db

    def start(self, merchant: MerchantRow, now: datetime) -> None:
        """Version 1, written with a new merchant."""
        self._write(merchant.id, current_terms(merchant), now)

    def change(
        self, merchant: MerchantRow, terms: CommissionTerms, now: datetime
    ) -> CommissionTerms:
        """A new version for orders from now on; orders already sold keep theirs."""
        version = merchant.commission_version + 1
        merchant.commission_bps = terms.rate_bps
        merchant.commission_category_bps = dict(terms.category_bps)
        merchant.commission_minimum = terms.minimum
        merchant.commission_fixed = terms.fixed
        merchant.commission_version = version
        self.db.add(merchant)
        stored = CommissionTerms(
            terms.rate_bps, dict(terms.category_bps), terms.minimum, version, terms.fixed
        )
        self._write(merchant.id, stored, now)
        return stored

    def history(self, merchant_id: str) -> list[tuple[CommissionTerms, datetime]]:
        rows = self.db.exec(
            select(CommissionTermsRow)
            .where(col(CommissionTermsRow.merchant_id) == merchant_id)
            .order_by(col(CommissionTermsRow.version))
        ).all()
        return [
            (
                CommissionTerms(r.rate_bps, dict(r.category_bps), r.minimum, r.version, r.fixed),
                r.effective_at,
            )
            for r in rows
        ]

    def _write(self, merchant_id: str, terms: CommissionTerms, now: datetime) -> None:
        self.db.add(
            CommissionTermsRow(
                merchant_id=merchant_id,
                version=terms.version,
                rate_bps=terms.rate_bps,
                category_bps=dict(terms.category_bps),
                minimum=terms.minimum,
                fixed=terms.fixed,
                effective_at=now,
            )
        )
        self.db.flush()

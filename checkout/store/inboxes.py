"""The webhook inboxes: Stripe's events and the merchant platforms' deliveries, each kept once."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from checkout.store.rows import PlatformEventRow, StripeEventRow


class StripeEvents:
    def __init__(self, db: Session) -> None:
        self.db = db

    def receive(
        self,
        event_id: str,
        *,
        type: str,
        account: str | None,
        payload: dict[str, Any],
        created: datetime,
        now: datetime,
    ) -> bool:
        """Keep the event; False when it was already processed or is being kept right now."""
        existing = self.db.get(StripeEventRow, event_id)
        if existing is not None:
            return existing.processed_at is None
        self.db.add(
            StripeEventRow(
                id=event_id,
                type=type,
                account=account,
                payload=payload,
                created=created,
                received_at=now,
            )
        )
        try:
            self.db.flush()
        except IntegrityError:  # the same event arriving twice at once: the other one has it
            return False
        return True

    def unprocessed(self) -> Sequence[StripeEventRow]:
        """Events not applied yet (they arrived before what they refer to), oldest first."""
        return self.db.exec(
            select(StripeEventRow)
            .where(col(StripeEventRow.processed_at).is_(None))
            .order_by(col(StripeEventRow.created))
        ).all()

    def processed(self, event_id: str, outcome: str, now: datetime) -> None:
        row = self.db.get(StripeEventRow, event_id)
        if row is not None and row.processed_at is None:
            row.processed_at, row.outcome = now, outcome[:200]
            self.db.add(row)


class PlatformEvents:
    def __init__(self, db: Session) -> None:
        self.db = db

    def receive(
        self, merchant_id: str, event_id: str, *, kind: str, payload: dict[str, Any], now: datetime
    ) -> bool:
        """Keep the delivery; False when it was already processed (a redelivery)."""
        existing = self._get(merchant_id, event_id)
        if existing is not None:
            return existing.processed_at is None
        self.db.add(
            PlatformEventRow(
                merchant_id=merchant_id,
                event_id=event_id,
                kind=kind,
                payload=payload,
                received_at=now,
            )
        )
        try:
            self.db.flush()
        except IntegrityError:  # the same delivery arriving twice at once: the other one has it
            return False
        return True

    def processed(self, merchant_id: str, event_id: str, now: datetime) -> None:
        row = self._get(merchant_id, event_id)
        assert row is not None, "only a kept delivery is processed"
        row.processed_at = now
        self.db.add(row)

    def _get(self, merchant_id: str, event_id: str) -> PlatformEventRow | None:
        return self.db.exec(
            select(PlatformEventRow).where(
                col(PlatformEventRow.merchant_id) == merchant_id,
                col(PlatformEventRow.event_id) == event_id,
            )
        ).first()

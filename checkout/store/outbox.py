"""The outbox: order events written with the business change, delivered later with retries."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import or_, update
from sqlmodel import Session, col, select

from checkout.store.ids import new_id
from checkout.store.rows import OutboxEventRow
from datastore import insert_rows

UCP_EVENT_PREFIX = "ucp."


class Outbox:
    def __init__(self, db: Session) -> None:
        self.db = db

    def enqueue(
        self, event_type: str, order_id: str, payload: str, now: datetime
    ) -> OutboxEventRow:
        event = OutboxEventRow(
            id=new_id("evt"),
            event_type=event_type,
            order_id=order_id,
            payload=payload,
            next_attempt_at=now,
            created_at=now,
        )
        insert_rows(self.db, [event])
        return event

    def claim_due(
        self, now: datetime, *, limit: int, lease: timedelta, ucp: bool = False
    ) -> list[OutboxEventRow]:
        """Take due events for this worker; a claim is a lease, so a crashed worker's events return.
        UCP's events (`ucp.*`) have their own sender; ACP's sender never sees them."""
        kind = col(OutboxEventRow.event_type)
        due = self.db.exec(
            select(OutboxEventRow)
            .where(
                kind.like(f"{UCP_EVENT_PREFIX}%") if ucp else kind.not_like(f"{UCP_EVENT_PREFIX}%"),
                col(OutboxEventRow.delivered_at).is_(None),
                col(OutboxEventRow.failed_at).is_(None),
                col(OutboxEventRow.next_attempt_at) <= now,
                or_(
                    col(OutboxEventRow.locked_until).is_(None),
                    col(OutboxEventRow.locked_until) < now,
                ),
            )
            .order_by(col(OutboxEventRow.created_at))
            .limit(limit)
            # PostgreSQL: rows another worker is claiming right now are skipped, not waited for
            # (SQLite has one writer at a time and no such clause).
            .with_for_update(skip_locked=True)
        ).all()
        claimed = []
        for event in due:
            result = self.db.execute(
                update(OutboxEventRow)
                .where(
                    col(OutboxEventRow.id) == event.id,
                    or_(
                        col(OutboxEventRow.locked_until).is_(None),
                        col(OutboxEventRow.locked_until) < now,
                    ),
                )
                .values(locked_until=now + lease)
            )
            if result.rowcount == 1:  # type: ignore[attr-defined]
                claimed.append(event)
        return claimed

    def delivered(self, event_id: str, now: datetime, attempts: int) -> None:
        self.db.execute(
            update(OutboxEventRow)
            .where(col(OutboxEventRow.id) == event_id)
            .values(delivered_at=now, attempts=attempts, locked_until=None, last_error=None)
        )

    def retry_later(
        self,
        event_id: str,
        *,
        attempts: int,
        next_attempt_at: datetime,
        error: str,
        give_up: bool,
        now: datetime,
    ) -> None:
        self.db.execute(
            update(OutboxEventRow)
            .where(col(OutboxEventRow.id) == event_id)
            .values(
                attempts=attempts,
                next_attempt_at=next_attempt_at,
                last_error=error[:500],
                locked_until=None,
                failed_at=now if give_up else None,
            )
        )

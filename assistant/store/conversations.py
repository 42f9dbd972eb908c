"""Repository of conversations: turns (with replay), messages, state versions, purchases, events.

Methods are synchronous, each one transaction; async callers run them in a worker thread.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, update
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from assistant.store.db import Database
from assistant.store.ids import new_id
from assistant.store.rows import (
    ConversationRow,
    MessageRow,
    OrderEventRow,
    PurchaseRow,
    StateRow,
    TurnRow,
)

OPEN_PURCHASE = ("open", "ready", "authentication_required")


@dataclass(frozen=True, slots=True)
class TurnClaim:
    """What to do with an incoming message: run it (`new`, `resume`) or answer without running."""

    kind: str  # new | resume | replay | conflict | in_flight | missing
    turn_id: str
    response: dict[str, Any] | None = None
    # For a turn to run (new, resume): the newest state and the purchases, read in the same
    # transaction as the claim.
    version: int = 0
    state: dict[str, Any] | None = None
    purchases: list[PurchaseRow] | None = None


class StaleState(Exception):
    """Another turn changed the conversation first; the caller answers 409 and the client retries."""


def _latest_state(db: Session, conversation_id: str) -> tuple[int, dict[str, Any]]:
    row = db.exec(
        select(StateRow)
        .where(col(StateRow.conversation_id) == conversation_id)
        .order_by(col(StateRow.version).desc())
        .limit(1)
    ).first()
    return (row.version, dict(row.state)) if row else (0, {})


def _purchases(db: Session, conversation_id: str) -> list[PurchaseRow]:
    return list(
        db.exec(
            select(PurchaseRow)
            .where(col(PurchaseRow.conversation_id) == conversation_id)
            .order_by(col(PurchaseRow.created_at))
        ).all()
    )


def _next_seq(db: Session, conversation_id: str) -> int:
    last = db.exec(
        select(func.max(MessageRow.seq)).where(col(MessageRow.conversation_id) == conversation_id)
    ).one()
    return int(last or 0) + 1


class ConversationStore:
    def __init__(self, database: Database) -> None:
        self.database = database

    def create(self, mode: str, now: datetime, *, token_hash: str | None = None) -> ConversationRow:
        row = ConversationRow(
            id=new_id("conv"), mode=mode, token_hash=token_hash, created_at=now, updated_at=now
        )
        with self.database.write() as db:
            db.add(row)
            db.add(StateRow(conversation_id=row.id, version=0, state={}, created_at=now))
        return row

    def get(self, conversation_id: str) -> ConversationRow | None:
        with self.database.read() as db:
            return db.get(ConversationRow, conversation_id)

    def state(self, conversation_id: str) -> tuple[int, dict[str, Any]]:
        with self.database.read() as db:
            return _latest_state(db, conversation_id)

    def messages(self, conversation_id: str, *, last: int | None = None) -> Sequence[MessageRow]:
        """The conversation's messages in order; only the `last` ones when given."""
        statement = select(MessageRow).where(col(MessageRow.conversation_id) == conversation_id)
        with self.database.read() as db:
            if last is None:
                return db.exec(statement.order_by(col(MessageRow.seq))).all()
            newest = db.exec(statement.order_by(col(MessageRow.seq).desc()).limit(last)).all()
        return list(reversed(newest))

    def claim_turn(
        self,
        conversation_id: str,
        client_key: str,
        request_hash: str,
        now: datetime,
        *,
        lease: timedelta = timedelta(seconds=60),
    ) -> TurnClaim:
        try:
            with self.database.write() as db:
                # The conversation's existence is checked in the same transaction: one round
                # trip to the database per claim instead of two.
                if db.get(ConversationRow, conversation_id) is None:
                    return TurnClaim("missing", "")
                existing = db.exec(
                    select(TurnRow).where(
                        col(TurnRow.conversation_id) == conversation_id,
                        col(TurnRow.client_key) == client_key,
                    )
                ).first()
                if existing is None:
                    turn = TurnRow(
                        id=new_id("turn"),
                        conversation_id=conversation_id,
                        client_key=client_key,
                        request_hash=request_hash,
                        status="processing",
                        created_at=now,
                    )
                    db.add(turn)
                    return self._to_run("new", turn.id, db, conversation_id)
                if existing.request_hash != request_hash:
                    return TurnClaim("conflict", existing.id)
                if existing.status == "done":
                    return TurnClaim("replay", existing.id, existing.response)
                started = existing.created_at
                if started.tzinfo is None:
                    started = started.replace(tzinfo=now.tzinfo)
                if existing.status == "processing" and now - started < lease:
                    return TurnClaim("in_flight", existing.id)
                # A crashed or failed attempt: run again under the same turn id, so every
                # idempotency key sent to checkout is the same as the first time.
                existing.status, existing.created_at = "processing", now
                db.add(existing)
                return self._to_run("resume", existing.id, db, conversation_id)
        except IntegrityError:
            return TurnClaim("in_flight", "")

    @staticmethod
    def _to_run(kind: str, turn_id: str, db: Session, conversation_id: str) -> TurnClaim:
        version, state = _latest_state(db, conversation_id)
        return TurnClaim(kind, turn_id, None, version, state, _purchases(db, conversation_id))

    def fail_turn(self, turn_id: str) -> None:
        with self.database.write() as db:
            turn = db.get(TurnRow, turn_id)
            if turn is not None:
                turn.status = "failed"
                db.add(turn)

    def finish_turn(
        self,
        conversation_id: str,
        turn_id: str,
        *,
        user_text: str,
        response: dict[str, Any],
        state: dict[str, Any],
        expected_version: int,
        now: datetime,
    ) -> None:
        """Write the shopper's message, the reply, the new state version and the stored answer."""
        try:
            with self.database.write() as db:
                seq = _next_seq(db, conversation_id)
                reply = response["reply"]
                db.add(
                    MessageRow(
                        id=new_id("msg"),
                        conversation_id=conversation_id,
                        seq=seq,
                        role="user",
                        text=user_text,
                        parts=[],
                        turn_id=turn_id,
                        created_at=now,
                    )
                )
                db.add(
                    MessageRow(
                        id=response["message_id"],
                        conversation_id=conversation_id,
                        seq=seq + 1,
                        role="assistant",
                        text=reply["text"],
                        parts=reply["parts"],
                        turn_id=turn_id,
                        created_at=now,
                    )
                )
                db.add(
                    StateRow(
                        conversation_id=conversation_id,
                        version=expected_version + 1,
                        turn_id=turn_id,
                        state=state,
                        created_at=now,
                    )
                )
                # Plain UPDATEs: loading the two rows first would cost two more queries.
                db.exec(
                    update(TurnRow)
                    .where(col(TurnRow.id) == turn_id)
                    .values(status="done", response=response, completed_at=now)
                )
                db.exec(
                    update(ConversationRow)
                    .where(col(ConversationRow.id) == conversation_id)
                    .values(updated_at=now)
                )
        except IntegrityError as exc:
            raise StaleState(conversation_id) from exc

    def add_event_message(
        self, conversation_id: str, text: str, parts: list[dict[str, Any]], now: datetime
    ) -> None:
        for _attempt in range(3):
            try:
                with self.database.write() as db:
                    db.add(
                        MessageRow(
                            id=new_id("msg"),
                            conversation_id=conversation_id,
                            seq=_next_seq(db, conversation_id),
                            role="event",
                            text=text,
                            parts=parts,
                            created_at=now,
                        )
                    )
                return
            except IntegrityError:
                continue

    # Purchases: one row per checkout session, mirrored from checkout's answers.

    def save_purchase(self, purchase: PurchaseRow) -> None:
        with self.database.write() as db:
            db.merge(purchase)

    def purchases(self, conversation_id: str) -> list[PurchaseRow]:
        with self.database.read() as db:
            return _purchases(db, conversation_id)

    def purchase_for_order(self, order_id: str, session_id: str | None) -> PurchaseRow | None:
        with self.database.read() as db:
            row = db.exec(select(PurchaseRow).where(col(PurchaseRow.order_id) == order_id)).first()
            if row is None and session_id:
                row = db.get(PurchaseRow, session_id)
            return row

    def record_order_event(self, event: OrderEventRow, purchase: PurchaseRow | None) -> bool:
        """Apply an order event once; False when this event (or identical content) was seen."""
        try:
            with self.database.write() as db:
                seen = (
                    db.get(OrderEventRow, event.id)
                    or db.exec(
                        select(OrderEventRow).where(
                            col(OrderEventRow.content_key) == event.content_key
                        )
                    ).first()
                )
                if seen is not None:
                    return False
                db.add(event)
                if purchase is not None:
                    db.merge(purchase)
                return True
        except IntegrityError:
            return False

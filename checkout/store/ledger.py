"""The append-only ledger: movements written once (keyed), and the sums read back from it."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime
from functools import cache

from sqlalchemy import Table, bindparam, func, insert
from sqlmodel import Session, col, select

from checkout.domain.ledger import Account, Entry, Movement, MovementKind
from checkout.store.rows import LedgerEntryRow
from datastore import PreparedStatement


class Ledger:
    def __init__(self, db: Session) -> None:
        self.db = db

    def has(self, movement_key: str) -> bool:
        return bool(_movement_written().execute(self.db, {"key": movement_key}))

    def record(
        self,
        movements: Sequence[Movement],
        *,
        key: str,
        merchant_id: str,
        order_id: str | None,
        currency: str,
        reference: str | None,
        occurred_at: datetime,
    ) -> bool:
        """Write the movements once under `key`; False when they were already written.

        The caller holds the lock of the thing the money belongs to (the order), so this check
        is the guard; the unique key is the backstop that fails the transaction on a race.
        """
        if self.has(f"{key}:{movements[0].kind.value}"):
            return False
        rows = [
            {
                "movement_key": f"{key}:{movement.kind.value}",
                "kind": movement.kind.value,
                "account": posting.account.value,
                "merchant_id": merchant_id,
                "order_id": order_id,
                "amount": posting.amount,
                "currency": currency,
                "reference": reference,
                "occurred_at": occurred_at,
            }
            for movement in movements
            for posting in movement.postings
            if movement.postings[1].amount != 0
        ]
        if rows:
            # One executemany on the table: entries are never read back as objects in the
            # transaction that writes them, and building a row object each cost more than its
            # INSERT (a purchase writes eight).
            _entries_insert().execute_many(self.db, rows)
        return True

    def entries(
        self,
        merchant_id: str,
        *,
        start: datetime | None = None,
        end: datetime | None = None,
        after_id: int = 0,
        limit: int | None = None,
    ) -> Sequence[LedgerEntryRow]:
        statement = select(LedgerEntryRow).where(
            col(LedgerEntryRow.merchant_id) == merchant_id, col(LedgerEntryRow.id) > after_id
        )
        if start is not None:
            statement = statement.where(col(LedgerEntryRow.occurred_at) >= start)
        if end is not None:
            statement = statement.where(col(LedgerEntryRow.occurred_at) < end)
        statement = statement.order_by(col(LedgerEntryRow.id))
        if limit is not None:
            statement = statement.limit(limit)
        return self.db.exec(statement).all()

    def movement(self, movement_key: str) -> Sequence[LedgerEntryRow]:
        return self.db.exec(
            select(LedgerEntryRow).where(col(LedgerEntryRow.movement_key) == movement_key)
        ).all()

    def of_order(self, order_id: str) -> Sequence[LedgerEntryRow]:
        return self.db.exec(
            select(LedgerEntryRow)
            .where(col(LedgerEntryRow.order_id) == order_id)
            .order_by(col(LedgerEntryRow.id))
        ).all()

    def disputes_of(self, order_id: str) -> Sequence[LedgerEntryRow]:
        """The buyer's side of an order's dispute movements, oldest first."""
        return self.db.exec(
            select(LedgerEntryRow)
            .where(
                col(LedgerEntryRow.order_id) == order_id,
                col(LedgerEntryRow.account) == Account.BUYER.value,
                col(LedgerEntryRow.kind).in_(
                    [MovementKind.DISPUTE.value, MovementKind.DISPUTE_REVERSAL.value]
                ),
            )
            .order_by(col(LedgerEntryRow.id))
        ).all()

    def balances(self) -> dict[str, int]:
        """Each account's balance over the whole ledger (every merchant, every currency)."""
        rows = self.db.exec(
            select(LedgerEntryRow.account, func.sum(LedgerEntryRow.amount)).group_by(
                col(LedgerEntryRow.account)
            )
        ).all()
        return {account: int(total or 0) for account, total in rows}

    def platform_postings(
        self, *, start: datetime | None, end: datetime | None
    ) -> list[tuple[str, str, date, MovementKind, int]]:
        """(merchant, currency, day, kind, amount): the platform's legs summed per day and kind."""
        statement = select(LedgerEntryRow).where(
            col(LedgerEntryRow.account) == Account.PLATFORM.value
        )
        if start is not None:
            statement = statement.where(col(LedgerEntryRow.occurred_at) >= start)
        if end is not None:
            statement = statement.where(col(LedgerEntryRow.occurred_at) < end)
        sums: dict[tuple[str, str, date, str], int] = {}
        for row in self.db.exec(statement):
            key = (row.merchant_id, row.currency, row.occurred_at.date(), row.kind)
            sums[key] = sums.get(key, 0) + row.amount
        return [(m, c, d, MovementKind(k), v) for (m, c, d, k), v in sorted(sums.items())]


def as_entries(rows: Sequence[LedgerEntryRow]) -> list[Entry]:
    return [Entry(MovementKind(r.kind), Account(r.account), r.amount, r.order_id) for r in rows]


# A purchase checks and writes its movements once per step: built once, run on the driver.
def _table() -> Table:
    return LedgerEntryRow.__table__  # type: ignore[attr-defined,no-any-return]


@cache
def _movement_written() -> PreparedStatement:
    table = _table()
    return PreparedStatement(
        select(table.c.id).where(table.c.movement_key == bindparam("key")).limit(1)
    )


@cache
def _entries_insert() -> PreparedStatement:
    keys = ["movement_key", "kind", "account", "merchant_id", "order_id", "amount", "currency",
            "reference", "occurred_at"]  # fmt: skip
    return PreparedStatement(insert(_table()), column_keys=keys)

"""Orders and their lines."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import func
from sqlmodel import Session, col, select

from checkout.store.rows import OrderLineRow, OrderProtocolStateRow, OrderRow
from datastore import find_row, get_row, insert_rows, save_rows


class Orders:
    def __init__(self, db: Session) -> None:
        self.db = db

    def add(self, order: OrderRow, lines: Sequence[OrderLineRow]) -> None:
        insert_rows(self.db, [order])
        insert_rows(self.db, lines)

    def get(self, order_id: str, *, for_update: bool = False) -> OrderRow | None:
        """With `for_update`, the row is locked and read afresh even if this session holds it."""
        statement = select(OrderRow).where(col(OrderRow.id) == order_id)
        if for_update:
            statement = statement.with_for_update().execution_options(populate_existing=True)
        return self.db.exec(statement).first()

    def for_session(self, session_id: str) -> OrderRow | None:
        return find_row(self.db, OrderRow, "checkout_session_id", session_id)

    def paid_by(self, payment_id: str) -> OrderRow | None:
        """The order a payment paid for, locked until the transaction ends."""
        return self.db.exec(
            select(OrderRow).where(col(OrderRow.payment_id) == payment_id).with_for_update()
        ).first()

    def of_merchant(
        self,
        merchant_id: str,
        *,
        status: str | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
        limit: int,
        offset: int,
    ) -> tuple[int, Sequence[OrderRow]]:
        """One page of a merchant's orders, newest first, and how many match in all."""
        where = [col(OrderRow.merchant_id) == merchant_id]
        if status is not None:
            where.append(col(OrderRow.status) == status)
        if since is not None:
            where.append(col(OrderRow.created_at) >= since)
        if until is not None:
            where.append(col(OrderRow.created_at) < until)
        count = self.db.exec(select(func.count()).select_from(OrderRow).where(*where)).one()
        rows = self.db.exec(
            select(OrderRow)
            .where(*where)
            .order_by(col(OrderRow.created_at).desc(), col(OrderRow.id).desc())
            .offset(offset)
            .limit(limit)
        ).all()
        return int(count), rows

    def protocol_state(
        self, order_id: str, *, for_update: bool = False
    ) -> OrderProtocolStateRow | None:
        """What a protocol keeps on an order that the core does not model (UCP's logs)."""
        return get_row(self.db, OrderProtocolStateRow, order_id, for_update=for_update)

    def keep_protocol_state(self, order_id: str, state: dict[str, Any], now: datetime) -> None:
        row = self.protocol_state(order_id)
        if row is None:
            row = OrderProtocolStateRow(order_id=order_id, state=state, updated_at=now)
        else:
            row.state, row.updated_at = state, now
        self.db.add(row)
        self.db.flush()

    def lines(self, order_id: str) -> Sequence[OrderLineRow]:
        return self.db.exec(
            select(OrderLineRow)
            .where(col(OrderLineRow.order_id) == order_id)
            .order_by(col(OrderLineRow.position))
        ).all()

    def save(self, order: OrderRow) -> None:
        """An order read in this transaction and changed since, written now."""
        save_rows(self.db, [order])


def order_for_platform(
    db: Session, merchant_id: str, platform_order_id: str | None, reference: str | None
) -> OrderRow | None:
    """Our order for a platform order id, or for the checkout session the platform echoes back."""
    if platform_order_id:
        found = db.exec(
            select(OrderRow).where(
                col(OrderRow.merchant_id) == merchant_id,
                col(OrderRow.platform_order_id) == platform_order_id,
            )
        ).first()
        if found is not None:
            return found
    if reference:
        return db.exec(
            select(OrderRow).where(
                col(OrderRow.merchant_id) == merchant_id,
                col(OrderRow.checkout_session_id) == reference,
            )
        ).first()
    return None

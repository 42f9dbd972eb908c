"""An order as the agent sees it, and queuing it as an `order_create`/`order_update` webhook event."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from sqlmodel import Session

from checkout.protocol import render
from checkout.store.catalog import Catalog
from checkout.store.orders import Orders
from checkout.store.outbox import Outbox
from checkout.store.refunds import Refunds
from checkout.store.rows import OrderRow


def order_document(db: Session, order: OrderRow) -> dict[str, Any]:
    merchant = Catalog(db).merchant(order.merchant_id)
    assert merchant is not None, "orders reference merchants by foreign key"
    return render.order(order, Orders(db).lines(order.id), merchant, Refunds(db).of_order(order.id))


def queue_order_event(db: Session, event_type: str, order: OrderRow, now: datetime) -> None:
    """Snapshot the full Order into the outbox, in the transaction that changed it (no deltas)."""
    payload = {"type": event_type, "data": order_document(db, order)}
    Outbox(db).enqueue(event_type, order.id, json.dumps(payload, separators=(",", ":")), now)

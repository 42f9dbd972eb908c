"""Recording a shipment on an order and telling the agent with an `order_update` event."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlmodel import Session

from checkout.domain.errors import InvalidRequest, NotFound
from checkout.flows.order_events import queue_order_event
from checkout.protocol import render
from checkout.store.ids import new_id
from checkout.store.orders import Orders
from checkout.store.rows import OrderRow


def ship_order(
    db: Session,
    order_id: str,
    *,
    carrier: str,
    tracking_number: str,
    tracking_url: str | None,
    now: datetime,
) -> OrderRow:
    """Mark every unshipped unit as shipped in one fulfillment and queue `order_update`."""
    orders = Orders(db)
    order = orders.get(order_id, for_update=True)
    if order is None:
        raise NotFound(f"Order '{order_id}' does not exist.", code="order_not_found")
    if order.status in ("shipped", "canceled", "completed"):
        raise InvalidRequest(
            f"This order is {order.status} and cannot be shipped.", code=f"order_{order.status}"
        )
    lines = orders.lines(order.id)
    fulfillment: dict[str, Any] = {
        "id": new_id("ful"),
        "type": "shipping",
        "status": "shipped",
        "line_items": [{"id": line.id, "quantity": line.quantity} for line in lines],
        "carrier": carrier,
        "tracking_number": tracking_number,
        "events": [{"id": new_id("fev"), "type": "shipped", "occurred_at": render.iso(now)}],
    }
    if tracking_url:
        fulfillment["tracking_url"] = tracking_url
    if order.destination:
        fulfillment["destination"] = order.destination
    order.fulfillments = [*order.fulfillments, fulfillment]
    order.status = "shipped"
    order.updated_at = now
    orders.save(order)
    queue_order_event(db, "order_update", order, now)
    return order


def cancel_order(db: Session, order_id: str, *, now: datetime) -> OrderRow:
    """The merchant canceled the order on its platform: record it and queue `order_update`.

    The money goes back separately (flows.refund_order), after this commits, because the
    provider is never called inside a transaction.
    """
    orders = Orders(db)
    order = orders.get(order_id, for_update=True)
    if order is None:
        raise NotFound(f"Order '{order_id}' does not exist.", code="order_not_found")
    if order.status == "canceled":
        return order
    order.status = "canceled"
    order.updated_at = now
    orders.save(order)
    queue_order_event(db, "order_update", order, now)
    return order

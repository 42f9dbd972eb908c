"""Orders after the purchase: where they are, in the shopper's words."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from assistant.acp import errors
from assistant.money import format_money
from assistant.shopping.replies import order_part
from assistant.shopping.turn import Turn
from assistant.store.rows import PurchaseRow

if TYPE_CHECKING:
    from assistant.shopping.purchase import PurchaseDesk


async def report_orders(desk: PurchaseDesk, turn: Turn) -> list[dict[str, Any]]:
    """Where each order of this conversation is, asked of checkout (GET /orders/{id})."""
    placed = [p for p in await desk.all_purchases(turn) if p.order_id]
    if not placed:
        turn.reply.say("You haven't placed an order in this conversation yet.")
        return []
    orders = []
    for row in placed:
        assert row.order_id is not None
        try:
            order = await desk.checkout.order(row.order_id)
        except errors.CheckoutProblem:
            order = row.order or {"status": row.order_status}
        else:
            row.order, row.order_status = order, order.get("status")
            row.updated_at = turn.now
            await desk.store_purchase(turn, row)
        orders.append(order_summary(row, order))
        turn.reply.say(status_sentence(row, order))
    turn.reply.add(order_part(orders))
    return orders


def order_summary(row: PurchaseRow, order: dict[str, Any]) -> dict[str, Any]:
    return {
        "order_id": row.order_id,
        "order_number": row.order_number,
        "checkout_session_id": row.checkout_session_id,
        "merchant": {"id": row.merchant_id, "name": row.merchant_name},
        "status": order.get("status") or row.order_status,
        "total": {
            "amount": row.total,
            "currency": row.currency,
            "display": format_money(row.total or 0, row.currency),
        },
        "fulfillments": order.get("fulfillments", []),
        "estimated_delivery": order.get("estimated_delivery"),
        "permalink_url": row.permalink_url,
    }


def status_sentence(row: PurchaseRow, order: dict[str, Any]) -> str:
    status = str(order.get("status") or row.order_status or "confirmed")
    text = f"Order {row.order_number} from {row.merchant_name} is {status.replace('_', ' ')}"
    shipments = order.get("fulfillments") or []
    if shipments:
        last = shipments[-1]
        carrier = last.get("carrier") or "the carrier"
        tracking = last.get("tracking_number")
        text += f": it went out with {carrier}" + (f", tracking {tracking}" if tracking else "")
    eta = order.get("estimated_delivery") or {}
    if eta.get("earliest") and eta.get("latest"):
        text += f"; expected {eta['earliest'][:10]} to {eta['latest'][:10]}"
    return text + "."

"""Receiving an order event from checkout: verify, apply once, tell the conversation.

Checkout sends the full Order on every event and no event id in the body; its `Request-Id`
header carries the outbox event id. The inbox key is that id when present, and the content
key (type, order, hash of the Order) always, so a redelivery or an identical snapshot is a no-op.
"""

from __future__ import annotations

import hashlib
import json
import logging
from datetime import datetime
from typing import Any

from assistant.money import format_money
from assistant.shopping.replies import order_part
from assistant.store.conversations import ConversationStore
from assistant.store.rows import OrderEventRow

log = logging.getLogger("assistant.webhooks")


class MalformedEvent(Exception):
    pass


def event_sentence(event_type: str, order: dict[str, Any], merchant: str) -> str:
    number = order.get("order_number") or order.get("id")
    status = str(order.get("status") or "")
    total = next((t["amount"] for t in order.get("totals", []) if t.get("type") == "total"), None)
    if event_type == "order_create":
        amount = f" ({format_money(int(total))})" if total is not None else ""
        return f"Checkout confirmed order {number} from {merchant}{amount}."
    if status == "shipped" or order.get("fulfillments"):
        last = (order.get("fulfillments") or [{}])[-1]
        carrier = last.get("carrier")
        tracking = last.get("tracking_number")
        how = f" with {carrier}" if carrier else ""
        track = f", tracking {tracking}" if tracking else ""
        return f"Good news: order {number} from {merchant} has shipped{how}{track}."
    if status in ("refunded", "canceled"):
        return f"Order {number} from {merchant} was {status}."
    return f"Order {number} from {merchant} is now {status.replace('_', ' ')}."


def receive_order_event(
    store: ConversationStore, raw: bytes, request_id: str | None, now: datetime
) -> bool:
    """Apply the event; False when it was a duplicate. Raises MalformedEvent on a bad body."""
    try:
        body = json.loads(raw)
        event_type = str(body["type"])
        order = dict(body["data"])
        order_id = str(order["id"])
    except (ValueError, KeyError, TypeError) as exc:
        raise MalformedEvent(str(exc)) from exc
    digest = hashlib.sha256(json.dumps(order, sort_keys=True).encode()).hexdigest()[:40]
    content_key = f"{event_type}:{order_id}:{order.get('status')}:{digest}"
    purchase = store.purchase_for_order(order_id, order.get("checkout_session_id"))
    if purchase is not None:
        purchase.order_id = order_id
        purchase.order_number = order.get("order_number") or purchase.order_number
        purchase.order_status = order.get("status") or purchase.order_status
        purchase.permalink_url = order.get("permalink_url") or purchase.permalink_url
        purchase.order = order
        purchase.status = "completed"
        purchase.updated_at = now
    event = OrderEventRow(
        id=(request_id or content_key)[:255],
        content_key=content_key[:255],
        order_id=order_id,
        event_type=event_type,
        order_status=order.get("status"),
        conversation_id=purchase.conversation_id if purchase else None,
        received_at=now,
    )
    if not store.record_order_event(event, purchase):
        log.info("webhook.duplicate order=%s type=%s", order_id, event_type)
        return False
    log.info(
        "webhook.applied order=%s type=%s status=%s", order_id, event_type, order.get("status")
    )
    if purchase is not None:
        text = event_sentence(event_type, order, purchase.merchant_name)
        summary = {
            "order_id": order_id,
            "order_number": order.get("order_number"),
            "merchant": {"id": purchase.merchant_id, "name": purchase.merchant_name},
            "status": order.get("status"),
            "fulfillments": order.get("fulfillments", []),
        }
        store.add_event_message(purchase.conversation_id, text, [order_part([summary])], now)
    return True

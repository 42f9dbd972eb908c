"""An order as the agent sees it, and queuing it as an `order_create`/`order_update` webhook event."""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any

from sqlmodel import Session

from checkout.domain.ledger import MovementKind
from checkout.protocol import CURRENT_VERSION, dialects, render
from checkout.store.catalog import Catalog
from checkout.store.ledger import Ledger
from checkout.store.orders import Orders
from checkout.store.outbox import UCP_EVENT_PREFIX, Outbox
from checkout.store.refunds import Refunds
from checkout.store.rows import CheckoutSessionRow, MerchantRow, OrderLineRow, OrderRow
from checkout.store.sessions import CheckoutSessions


def order_document(db: Session, order: OrderRow) -> dict[str, Any]:
    merchant = Catalog(db).merchant(order.merchant_id)
    assert merchant is not None, "orders reference merchants by foreign key"
    return render.order(
        order,
        Orders(db).lines(order.id),
        merchant,
        Refunds(db).of_order(order.id),
        dispute_adjustments(db, order),
    )


def dispute_adjustments(db: Session, order: OrderRow) -> list[dict[str, Any]]:
    """Disputes as the agent sees them: pending while the money is with the buyer, failed once
    the merchant won it back (read from the ledger, which records both)."""
    moves = Ledger(db).disputes_of(order.id)
    won = {m.reference for m in moves if m.kind == MovementKind.DISPUTE_REVERSAL.value}
    return [
        {
            "id": m.reference,
            "type": "dispute",
            "occurred_at": render.iso(m.occurred_at),
            "status": "failed" if m.reference in won else "pending",
            "amount": m.amount,
            "currency": m.currency,
            "description": "Disputed with the card issuer",
        }
        for m in moves
        if m.kind == MovementKind.DISPUTE.value
    ]


def queue_order_event(db: Session, event_type: str, order: OrderRow, now: datetime) -> None:
    """Snapshot the full Order into the outbox, in the transaction that changed it (no deltas),
    in the shape of the protocol and version the session's agent speaks."""
    session = CheckoutSessions(db).get_any(order.checkout_session_id)
    _queue(db, event_type, order, session, lambda: order_document(db, order), now)


def queue_order_created(
    db: Session,
    order: OrderRow,
    lines: Sequence[OrderLineRow],
    session: CheckoutSessionRow,
    merchant: MerchantRow,
    now: datetime,
) -> None:
    """`order_create` for an order written in this transaction. Its session, merchant and lines
    are in hand and a new order has no refunds or disputes yet, so nothing is read back."""
    _queue(
        db,
        "order_create",
        order,
        session,
        lambda: render.order(order, lines, merchant),
        now,
    )


def _queue(
    db: Session,
    event_type: str,
    order: OrderRow,
    session: CheckoutSessionRow | None,
    document: Callable[[], dict[str, Any]],
    now: datetime,
) -> None:
    if session is not None and session.protocol == "ucp":
        # A UCP agent hears in UCP's events, rendered and sent by checkout.ucp.webhooks.
        name = {"order_create": "order_placed"}.get(event_type) or (
            "order_shipped" if order.status == "shipped" else "order_updated"
        )
        Outbox(db).enqueue(f"{UCP_EVENT_PREFIX}{name}", order.id, "{}", now)
        return
    version = session.api_version if session is not None else CURRENT_VERSION
    payload = dialects.order_event(version, event_type, document())
    Outbox(db).enqueue(event_type, order.id, json.dumps(payload, separators=(",", ":")), now)

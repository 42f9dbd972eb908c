"""The steps of a purchase after the hold, each one short transaction: placed, finished, unwound.

note_placed      the merchant's platform accepted the order: remember it before capturing, so a
                 crash between the two is finished by capturing, never by placing again
(the provider captures between the steps, with no row locked)
finish_purchase  the capture is in: write our order, its commission and the ledger, complete
                 the session, queue `order_create`
unwind_purchase  no order: give back stock and token, say why; the hold is released after
                 (`void_pending` until the provider confirms)
"""

from __future__ import annotations

import logging
import secrets
from datetime import datetime
from typing import Any, cast

from sqlmodel import Session

from checkout.domain import ledger
from checkout.domain.checkout import Problem, Status
from checkout.domain.errors import CheckoutError
from checkout.domain.purchase import PaymentStatus, PurchaseState, payment_moves, purchase_moves
from checkout.flows.order_events import queue_order_created
from checkout.flows.purchase.sale import Sale
from checkout.flows.purchase.steps import CompleteOutcome
from checkout.flows.session_state import load_session, notice_dict
from checkout.payments.provider import Capture
from checkout.store.catalog import Catalog
from checkout.store.ids import new_id
from checkout.store.ledger import Ledger
from checkout.store.orders import Orders
from checkout.store.payments import Payments, PaymentTokens
from checkout.store.purchases import Purchases
from checkout.store.rows import CheckoutSessionRow, OrderLineRow, OrderRow, PaymentRow, PurchaseRow
from checkout.store.sessions import CheckoutSessions
from merchant_adapters import PlacedOrder

log = logging.getLogger("checkout.flows")


def _session_and_payment(
    db: Session, purchase: PurchaseRow
) -> tuple[CheckoutSessionRow, PaymentRow]:
    session = CheckoutSessions(db).get_any(purchase.session_id, for_update=True)
    payment = Payments(db).get(purchase.payment_id)
    assert session is not None and payment is not None, "purchases reference both by key"
    return session, payment


def note_placed(
    db: Session, purchase: PurchaseRow, placed: PlacedOrder | None, now: datetime
) -> None:
    purchase.state = purchase_moves(purchase.state, PurchaseState.PLACED)
    purchase.updated_at = now
    if placed is not None:
        purchase.platform_order_id = placed.platform_order_id
        purchase.platform_order_name = placed.platform_order_name
        purchase.recorded = placed.recorded
    Purchases(db).save(purchase)


def placed_order(purchase: PurchaseRow) -> PlacedOrder | None:
    """The platform order a purchase in state `placed` recorded, if it has one."""
    if purchase.platform_order_id is None:
        return None
    return PlacedOrder(
        platform_order_id=purchase.platform_order_id,
        platform_order_name=purchase.platform_order_name,
        recorded=cast(Any, purchase.recorded or "native_order"),
    )


def finish_purchase(
    db: Session, purchase: PurchaseRow, *, capture: Capture, base_url: str, now: datetime
) -> CompleteOutcome:
    """Last step, one transaction: our order, the ledger, the session completed, order_create."""
    session, payment = _session_and_payment(db, purchase)
    payment.status = payment_moves(payment.status, PaymentStatus.SUCCEEDED)
    payment.updated_at = now
    payment.charge_id = capture.charge_id
    payment.transfer_id = capture.transfer_id
    payment.application_fee_id = capture.application_fee_id
    Payments(db).save(payment)
    order, lines = _record_order(db, purchase, base_url, now)
    Ledger(db).record(
        ledger.sale(
            charged=payment.amount,
            commission=order.commission_amount,
            processing_fee=capture.processing_fee,
        ),
        key=f"sale:{order.id}",
        merchant_id=order.merchant_id,
        order_id=order.id,
        currency=order.currency,
        reference=payment.provider_payment_id,
        occurred_at=now,
    )
    purchase.state = purchase_moves(purchase.state, PurchaseState.COMPLETED)
    purchase.updated_at = now
    Purchases(db).save(purchase)
    session.status, session.updated_at = Status.COMPLETED.value, now
    session.notices = []
    CheckoutSessions(db).save(session)
    state = load_session(db, session.id, agent_id=session.agent_id, now=now)
    queue_order_created(db, order, lines, session, state.merchant, now)
    log.info(
        "checkout.order_placed session=%s order=%s merchant=%s amount=%d commission=%d "
        "platform_order=%s",
        session.id,
        order.id,
        session.merchant_id,
        payment.amount,
        order.commission_amount,
        purchase.platform_order_id,
    )
    return CompleteOutcome(state)


def unwind_purchase(
    db: Session,
    purchase: PurchaseRow,
    *,
    problem: Problem,
    refusal: CheckoutError,
    now: datetime,
) -> CompleteOutcome:
    """Compensation, one transaction: give back our stock and the token; the hold is released next."""
    session, payment = _session_and_payment(db, purchase)
    payment.status = payment_moves(payment.status, PaymentStatus.VOID_PENDING)
    payment.updated_at = now
    Payments(db).save(payment)
    Catalog(db).release(Sale.of(purchase).quantities())
    # Nothing was charged, so the agent may try again with the same token once the cart is fixed.
    PaymentTokens(db).release(purchase.token_id)
    purchase.state = purchase_moves(purchase.state, PurchaseState.UNWOUND)
    purchase.updated_at = now
    purchase.last_error = refusal.message[:500]
    Purchases(db).save(purchase)
    session.status, session.updated_at = Status.NOT_READY_FOR_PAYMENT.value, now
    session.notices = [notice_dict(problem)]
    CheckoutSessions(db).save(session)
    log.info("checkout.purchase_unwound session=%s reason=%s", session.id, refusal.code)
    return CompleteOutcome(
        load_session(db, session.id, agent_id=session.agent_id, now=now), refusal
    )


def hold_released(db: Session, payment_id: str, now: datetime) -> None:
    payment = Payments(db).get(payment_id)
    if payment is not None and payment.status == PaymentStatus.VOID_PENDING:
        payment.status = payment_moves(payment.status, PaymentStatus.CANCELED)
        payment.updated_at = now
        Payments(db).save(payment)


def _record_order(
    db: Session, purchase: PurchaseRow, base_url: str, now: datetime
) -> tuple[OrderRow, list[OrderLineRow]]:
    sale = Sale.of(purchase)
    order_id = new_id("ord")
    order = OrderRow(
        id=order_id,
        checkout_session_id=purchase.session_id,
        merchant_id=purchase.merchant_id,
        payment_id=purchase.payment_id,
        order_number=f"AC-{secrets.token_hex(4).upper()}",
        permalink_url=f"{base_url}/orders/{order_id}",
        status="confirmed",
        currency=sale.currency,
        items_amount=sale.items_amount,
        fulfillment_amount=sale.fulfillment_amount,
        tax_amount=sale.tax_amount,
        total_amount=sale.total_amount,
        commission_amount=sale.commission.amount,
        commission_version=sale.commission.version,
        destination=sale.address,
        email=sale.email,
        estimated_earliest=_parse_time(sale.estimated_earliest),
        estimated_latest=_parse_time(sale.estimated_latest),
        platform_order_id=purchase.platform_order_id,
        platform_order_name=purchase.platform_order_name,
        fulfillments=[],
        created_at=now,
        updated_at=now,
    )
    lines = [
        OrderLineRow(
            id=new_id("oli"),
            order_id=order_id,
            position=position,
            variant_id=line.variant_id,
            product_id=line.product_id,
            title=line.title,
            quantity=line.quantity,
            unit_amount=line.unit_amount,
            subtotal=line.subtotal,
            image_url=line.image_url,
            url=line.url,
        )
        for position, line in enumerate(sale.lines)
    ]
    Orders(db).add(order, lines)
    return order, lines


def _parse_time(value: str | None) -> datetime | None:
    return datetime.fromisoformat(value.replace("Z", "+00:00")) if value else None

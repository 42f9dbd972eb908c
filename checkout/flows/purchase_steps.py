"""The steps of completing a checkout, each one transaction: begin, then finish or unwind.

  begin_purchase   lock the session; refuse unless open, payable and priced as last shown;
                   check the token's allowance; authorise (a hold); reserve our stock with
                   conditional updates; spend the token; record the purchase as `authorized`.
  (the merchant order is placed on the platform between the steps, outside any transaction)
  finish_purchase  capture, write our order, complete the session, queue `order_create`.
  unwind_purchase  void the hold, give back stock and token, say why on the session.

A refusal that changed state (a decline, a challenge, stock gone, a price change) is returned
rather than raised, so the caller commits the change together with the refusal it answers with.
Which step runs when is decided by flows.complete_checkout (live) and flows.recover_purchases.
"""

from __future__ import annotations

import logging
import secrets
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlmodel import Session, col, select

from checkout.domain.allowance import TOKEN_PARAM, check_spend
from checkout.domain.checkout import Problem, Status, price_problems
from checkout.errors import (
    AuthenticationRequired,
    CheckoutError,
    InvalidRequest,
    NotReadyForPayment,
    OutOfStock,
    PaymentDeclined,
    PaymentTokenRejected,
    PriceChanged,
    SessionNotOpen,
)
from checkout.flows.order_events import queue_order_event
from checkout.flows.session_state import SessionState, load_session, notice_dict, require_open
from checkout.payments.provider import (
    AuthorizationStatus,
    AuthorizeRequest,
    Card,
    CardOutcome,
    PaymentProvider,
)
from checkout.protocol import render
from checkout.protocol.requests import CheckoutSessionCompleteRequest
from checkout.store.catalog import Catalog
from checkout.store.ids import new_id
from checkout.store.orders import Orders
from checkout.store.payments import Payments, PaymentTokens, token_state
from checkout.store.rows import (
    CheckoutSessionRow,
    OrderLineRow,
    OrderRow,
    PaymentRow,
    PaymentTokenRow,
    PurchaseRow,
)
from checkout.store.sessions import CheckoutSessions
from merchant_adapters import PlacedOrder

log = logging.getLogger("checkout.flows")
HANDLER_ID = "card_tokenized"
# 3-D Secure outcomes that let the payment go ahead; every other outcome declines.
SECURE_OUTCOMES = frozenset({"authenticated", "attempt_acknowledged", "informational"})


@dataclass(frozen=True, slots=True)
class Resumed:
    """A purchase already under way for this session and token (begun by an earlier request)."""

    purchase: PurchaseRow


@dataclass(slots=True)
class CompleteOutcome:
    state: SessionState
    refusal: CheckoutError | None = None


def _token(db: Session, request: CheckoutSessionCompleteRequest, agent_id: str) -> PaymentTokenRow:
    payment = request.payment_data
    if payment.instrument is None:
        raise InvalidRequest(
            "Only delegated card payments are accepted (payment_data.instrument).",
            param="$.payment_data.instrument",
            code="unsupported",
        )
    if payment.handler_id != HANDLER_ID:
        raise InvalidRequest(
            f"Unknown payment handler '{payment.handler_id}'; use '{HANDLER_ID}'.",
            param="$.payment_data.handler_id",
            code="invalid",
        )
    token = PaymentTokens(db).get(payment.instrument.credential.token)
    if token is None or token.agent_id != agent_id:
        raise PaymentTokenRejected(
            "This payment token does not exist.", param=TOKEN_PARAM, code="payment_token_not_found"
        )
    return token


def _purchase_paid_with(
    db: Session, session_id: str, request: CheckoutSessionCompleteRequest
) -> PurchaseRow | None:
    """The session's live or finished purchase, when this request pays with the same token."""
    instrument = request.payment_data.instrument
    if instrument is None:
        return None
    purchase = db.exec(
        select(PurchaseRow).where(
            col(PurchaseRow.session_id) == session_id, col(PurchaseRow.state) != "unwound"
        )
    ).first()
    if purchase is None or purchase.token_id != instrument.credential.token:
        return None
    return purchase


def _remember(state: SessionState, db: Session, problem: Problem, now: datetime) -> None:
    state.row.notices = [notice_dict(problem)]
    state.row.updated_at = now
    CheckoutSessions(db).save(state.row)


def begin_purchase(
    db: Session,
    session_id: str,
    request: CheckoutSessionCompleteRequest,
    *,
    agent_id: str,
    provider: PaymentProvider,
    now: datetime,
) -> CompleteOutcome | PurchaseRow | Resumed:
    """Step 1, one transaction: check, authorise, reserve our stock, spend the token.

    Returns the purchase to carry on with, or the outcome when the session cannot be paid
    (a decline, a 3-D Secure challenge, stock gone, a price change) with that state saved.
    """
    state = load_session(db, session_id, agent_id=agent_id, now=now, for_update=True)
    if state.status in (Status.COMPLETED, Status.COMPLETE_IN_PROGRESS):
        same = _purchase_paid_with(db, session_id, request)
        if same is not None:
            # The same payment again: a retry after a lost answer, a concurrent duplicate, or
            # after recovery finished it. Report or carry on that purchase; never start another.
            return CompleteOutcome(state) if same.state == "completed" else Resumed(same)
        if state.status is Status.COMPLETE_IN_PROGRESS:
            raise SessionNotOpen(
                "This checkout session is being paid for with another token.",
                code="checkout_session_complete_in_progress",
            )
    require_open(state, "completed")
    row = state.row
    if request.buyer is not None:
        row.buyer = request.buyer.model_dump(mode="json", exclude_none=True)

    changed = price_problems(state.lines)
    if changed:
        for line in CheckoutSessions(db).lines(row.id):
            line.unit_amount = next(s.offer.unit_amount for s in state.lines if s.id == line.id)
            db.add(line)
        _remember(state, db, changed[0], now)
        return CompleteOutcome(
            load_session(db, session_id, agent_id=agent_id, now=now),
            PriceChanged(
                "Prices changed since the session was last shown; "
                "review the new total and complete again.",
                param=changed[0].param,
            ),
        )
    blocking = state.quote.blocking
    if blocking and blocking[0].code in ("out_of_stock", "quantity_exceeded"):
        raise OutOfStock(blocking[0].content, param=blocking[0].param, code=blocking[0].code)
    if blocking:
        raise NotReadyForPayment(
            f"The session is not ready for payment: {blocking[0].content}", param=blocking[0].param
        )

    token = _token(db, request, agent_id)
    amount, currency = state.quote.totals.total, row.currency
    check_spend(
        token_state(token),
        session_id=row.id,
        merchant_id=row.merchant_id,
        amount=amount,
        currency=currency,
        now=now,
    )

    result = request.authentication_result
    if state.status is Status.AUTHENTICATION_REQUIRED and result is None:
        raise AuthenticationRequired(
            "This checkout session requires issuer authentication. The request must include "
            "'authentication_result' as provided by the issuer authentication flow.",
            param="$.authentication_result",
        )
    card = Card(
        brand=token.card_brand,
        last4=token.card_last4,
        funding=token.funding,
        outcome=CardOutcome(token.card_outcome),
    )
    authenticated = result is not None and result.outcome in SECURE_OUTCOMES
    payments = Payments(db)

    if result is not None and not authenticated and card.outcome is CardOutcome.REQUIRES_3DS:
        return _decline(
            db,
            state,
            token,
            amount,
            provider.name,
            now,
            "authentication_failed",
            "Card authentication was not completed "
            f"({result.outcome}). Try again or use a different card.",
        )

    authorization = provider.authorize(
        AuthorizeRequest(
            idempotency_key=f"{row.id}:authorize:{token.id}",
            amount=amount,
            currency=currency,
            merchant_id=row.merchant_id,
            card=card,
            authenticated=authenticated,
            description=f"Checkout session {row.id}",
        )
    )

    if authorization.status is AuthorizationStatus.REQUIRES_ACTION:
        if "3ds" not in row.interventions:
            return _decline(
                db,
                state,
                token,
                amount,
                provider.name,
                now,
                "authentication_required",
                "This card needs 3-D Secure authentication, which this agent "
                "did not declare it supports. Use a different card.",
            )
        PaymentTokens(db).hold(token.id, row.id)
        row.status = Status.AUTHENTICATION_REQUIRED.value
        row.authentication_metadata = render.authentication_metadata(state.merchant, card.brand)
        row.notices = []
        row.updated_at = now
        CheckoutSessions(db).save(row)
        return CompleteOutcome(
            load_session(db, session_id, agent_id=agent_id, now=now),
            AuthenticationRequired(
                "The card issuer requires 3-D Secure authentication. "
                "Authenticate with the session's authentication_metadata "
                "and complete again with 'authentication_result'.",
                param="$.authentication_result",
            ),
        )
    if authorization.status is AuthorizationStatus.DECLINED:
        return _decline(
            db,
            state,
            token,
            amount,
            provider.name,
            now,
            authorization.decline_code or "card_declined",
            authorization.message or "Your card was declined.",
            payment_id=authorization.payment_id,
        )

    payment = PaymentRow(
        id=authorization.payment_id,
        session_id=row.id,
        token_id=token.id,
        provider=provider.name,
        amount=amount,
        currency=currency,
        status="requires_capture",
        created_at=now,
        updated_at=now,
    )
    payments.add(payment)

    short = Catalog(db).reserve({line.offer.variant_id: line.quantity for line in state.lines})
    if short:
        provider.void(payment.id)
        payment.status, payment.updated_at = "canceled", now
        payments.add(payment)
        names = [line.offer.name for line in state.lines if line.offer.variant_id in short]
        index = next(i for i, line in enumerate(state.lines) if line.offer.variant_id in short)
        problem = Problem(
            "error",
            "out_of_stock",
            f"'{names[0]}' sold out before payment completed; the payment hold was released.",
            f"$.line_items[{index}]",
            "requires_buyer_input",
        )
        _remember(state, db, problem, now)
        return CompleteOutcome(
            load_session(db, session_id, agent_id=agent_id, now=now),
            OutOfStock(problem.content, param=problem.param),
        )

    if not PaymentTokens(db).consume(token.id, now):
        raise PaymentTokenRejected(
            "This payment token has already been used.",
            param=TOKEN_PARAM,
            code="payment_token_used",
        )
    purchase = PurchaseRow(
        id=new_id("pur"),
        session_id=row.id,
        merchant_id=row.merchant_id,
        payment_id=payment.id,
        token_id=token.id,
        state="authorized",
        sale=sale_document(db, state),
        created_at=now,
        updated_at=now,
    )
    db.add(purchase)
    row.status = Status.COMPLETE_IN_PROGRESS.value
    row.notices = []
    row.authentication_metadata = None
    row.updated_at = now
    CheckoutSessions(db).save(row)
    return purchase


def _decline(
    db: Session,
    state: SessionState,
    token: PaymentTokenRow,
    amount: int,
    provider: str,
    now: datetime,
    code: str,
    text: str,
    payment_id: str | None = None,
) -> CompleteOutcome:
    """A declined card spends its token; the session stays payable with a payment_declined message."""
    log.info("checkout.payment_declined session=%s reason=%s", state.row.id, code)
    PaymentTokens(db).consume(token.id, now)
    Payments(db).add(
        PaymentRow(
            id=payment_id or new_id("pi_sbx"),
            session_id=state.row.id,
            token_id=token.id,
            provider=provider,
            amount=amount,
            currency=state.row.currency,
            status="declined",
            decline_code=code,
            created_at=now,
            updated_at=now,
        )
    )
    if state.row.status == Status.AUTHENTICATION_REQUIRED.value:
        state.row.status = Status.READY_FOR_PAYMENT.value
        state.row.authentication_metadata = None
    problem = Problem(
        "error",
        "payment_declined",
        f"{text} Nothing was charged.",
        "$.payment_data",
        "requires_buyer_input",
    )
    _remember(state, db, problem, now)
    return CompleteOutcome(
        load_session(db, state.row.id, agent_id=state.row.agent_id, now=now),
        PaymentDeclined(problem.content, param="$.payment_data", code="payment_declined"),
    )


def sale_document(db: Session, state: SessionState) -> dict[str, Any]:
    """The sale as charged, kept on the purchase: what the platform order and our order record."""
    row, quote = state.row, state.quote
    refs = Catalog(db).platform_refs(line.offer.variant_id for line in state.lines)
    shipping = [
        o
        for o in quote.options
        if o.type == "shipping" and any(s.option_id == o.id for s in quote.selections)
    ]
    details = row.fulfillment_details or {}
    return {
        "reference": row.id,
        "currency": row.currency,
        "lines": [
            {
                "variant_id": lt.line.offer.variant_id,
                "product_id": lt.line.offer.product_id,
                "platform_product_id": refs.get(lt.line.offer.variant_id, (None, None))[0],
                "platform_variant_id": refs.get(lt.line.offer.variant_id, (None, None))[1],
                "title": lt.line.offer.name,
                "quantity": lt.line.quantity,
                "unit_amount": lt.line.offer.unit_amount,
                "subtotal": lt.subtotal,
                "image_url": lt.line.offer.images[0] if lt.line.offer.images else None,
                "url": lt.line.offer.url,
            }
            for lt in quote.lines
        ],
        "items_amount": quote.totals.subtotal,
        "fulfillment_amount": quote.totals.fulfillment or 0,
        "tax_amount": quote.totals.tax,
        "total_amount": quote.totals.total,
        "address": details.get("address"),
        "email": (row.buyer or {}).get("email") or details.get("email"),
        "buyer_name": (row.buyer or {}).get("full_name")
        or " ".join(
            n
            for n in ((row.buyer or {}).get("first_name"), (row.buyer or {}).get("last_name"))
            if n
        )
        or details.get("name"),
        "shipping_title": shipping[0].title if shipping else None,
        "estimated_earliest": render.iso(shipping[0].earliest)
        if shipping and shipping[0].earliest
        else None,
        "estimated_latest": render.iso(shipping[0].latest)
        if shipping and shipping[0].latest
        else None,
    }


def _session_and_payment(
    db: Session, purchase: PurchaseRow
) -> tuple[CheckoutSessionRow, PaymentRow]:
    session = CheckoutSessions(db).get_any(purchase.session_id, for_update=True)
    payment = db.get(PaymentRow, purchase.payment_id)
    assert session is not None and payment is not None, "purchases reference both by key"
    return session, payment


def finish_purchase(
    db: Session,
    purchase: PurchaseRow,
    *,
    placed: PlacedOrder | None,
    provider: PaymentProvider,
    base_url: str,
    now: datetime,
) -> CompleteOutcome:
    """Last step, one transaction: capture, write our order, complete the session, queue order_create."""
    session, payment = _session_and_payment(db, purchase)
    provider.capture(payment.id, payment.amount)
    payment.status, payment.updated_at = "succeeded", now
    Payments(db).add(payment)
    order = _record_order(db, purchase, placed, base_url, now)
    purchase.state, purchase.updated_at = "completed", now
    if placed is not None:
        purchase.platform_order_id = placed.platform_order_id
        purchase.platform_order_name = placed.platform_order_name
        purchase.recorded = placed.recorded
    db.add(purchase)
    session.status, session.updated_at = Status.COMPLETED.value, now
    session.notices = []
    CheckoutSessions(db).save(session)
    queue_order_event(db, "order_create", order, now)
    log.info(
        "checkout.order_placed session=%s order=%s merchant=%s amount=%d platform_order=%s",
        session.id,
        order.id,
        session.merchant_id,
        payment.amount,
        placed.platform_order_id if placed else None,
    )
    return CompleteOutcome(load_session(db, session.id, agent_id=session.agent_id, now=now))


def unwind_purchase(
    db: Session,
    purchase: PurchaseRow,
    *,
    problem: Problem,
    refusal: CheckoutError,
    provider: PaymentProvider,
    now: datetime,
) -> CompleteOutcome:
    """Compensation, one transaction: release the hold, give back our stock and the token."""
    session, payment = _session_and_payment(db, purchase)
    provider.void(payment.id)
    payment.status, payment.updated_at = "canceled", now
    Payments(db).add(payment)
    Catalog(db).release({line["variant_id"]: line["quantity"] for line in purchase.sale["lines"]})
    # Nothing was charged, so the agent may try again with the same token once the cart is fixed.
    PaymentTokens(db).release(purchase.token_id)
    purchase.state, purchase.updated_at = "unwound", now
    purchase.last_error = refusal.message[:500]
    db.add(purchase)
    session.status, session.updated_at = Status.NOT_READY_FOR_PAYMENT.value, now
    session.notices = [notice_dict(problem)]
    CheckoutSessions(db).save(session)
    log.info("checkout.purchase_unwound session=%s reason=%s", session.id, refusal.code)
    return CompleteOutcome(
        load_session(db, session.id, agent_id=session.agent_id, now=now), refusal
    )


def _record_order(
    db: Session, purchase: PurchaseRow, placed: PlacedOrder | None, base_url: str, now: datetime
) -> OrderRow:
    sale = purchase.sale
    order_id = new_id("ord")
    order = OrderRow(
        id=order_id,
        checkout_session_id=purchase.session_id,
        merchant_id=purchase.merchant_id,
        payment_id=purchase.payment_id,
        order_number=f"AC-{secrets.token_hex(4).upper()}",
        permalink_url=f"{base_url}/orders/{order_id}",
        status="confirmed",
        currency=sale["currency"],
        items_amount=sale["items_amount"],
        fulfillment_amount=sale["fulfillment_amount"],
        tax_amount=sale["tax_amount"],
        total_amount=sale["total_amount"],
        destination=sale["address"],
        email=sale["email"],
        estimated_earliest=_parse_time(sale["estimated_earliest"]),
        estimated_latest=_parse_time(sale["estimated_latest"]),
        platform_order_id=placed.platform_order_id if placed else None,
        platform_order_name=placed.platform_order_name if placed else None,
        fulfillments=[],
        created_at=now,
        updated_at=now,
    )
    lines = [
        OrderLineRow(
            id=new_id("oli"),
            order_id=order_id,
            position=position,
            variant_id=line["variant_id"],
            product_id=line["product_id"],
            title=line["title"],
            quantity=line["quantity"],
            unit_amount=line["unit_amount"],
            subtotal=line["subtotal"],
            image_url=line["image_url"],
            url=line["url"],
        )
        for position, line in enumerate(sale["lines"])
    ]
    Orders(db).add(order, lines)
    return order


def _parse_time(value: str | None) -> datetime | None:
    return datetime.fromisoformat(value.replace("Z", "+00:00")) if value else None

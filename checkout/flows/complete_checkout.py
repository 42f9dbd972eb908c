"""Completing a checkout: check the token against the session, authorise, reserve stock, place the order.

The steps run in the caller's transaction, in this order:
  1. lock the session; refuse unless open, payable and priced as last shown;
  2. check the delegated token's allowance against the session total;
  3. authorise the payment (a hold); a decline or a 3-D Secure challenge is recorded and
     returned as a refusal, with the session left payable;
  4. reserve stock with conditional updates; if a concurrent buyer took it, void the hold;
  5. spend the token, capture, write the order and its `order_create` event to the outbox.
A refusal that changed state (a decline, a challenge, stock gone, a price change) is returned
rather than raised, so the caller commits the change together with the refusal it answers with.
"""

from __future__ import annotations

import logging
import secrets
from dataclasses import dataclass
from datetime import datetime

from sqlmodel import Session

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
from checkout.store.rows import OrderLineRow, OrderRow, PaymentRow, PaymentTokenRow
from checkout.store.sessions import CheckoutSessions

log = logging.getLogger("checkout.flows")
HANDLER_ID = "card_tokenized"
# 3-D Secure outcomes that let the payment go ahead; every other outcome declines.
SECURE_OUTCOMES = frozenset({"authenticated", "attempt_acknowledged", "informational"})


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


def _remember(state: SessionState, db: Session, problem: Problem, now: datetime) -> None:
    state.row.notices = [notice_dict(problem)]
    state.row.updated_at = now
    CheckoutSessions(db).save(state.row)


def complete_checkout(
    db: Session,
    session_id: str,
    request: CheckoutSessionCompleteRequest,
    *,
    agent_id: str,
    provider: PaymentProvider,
    base_url: str,
    now: datetime,
) -> CompleteOutcome:
    state = load_session(db, session_id, agent_id=agent_id, now=now, for_update=True)
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
    provider.capture(payment.id, amount)
    payment.status, payment.updated_at = "succeeded", now
    payments.add(payment)

    order = _place_order(db, state, payment.id, base_url, now)
    row.status = Status.COMPLETED.value
    row.notices = []
    row.authentication_metadata = None
    row.updated_at = now
    CheckoutSessions(db).save(row)
    completed = load_session(db, session_id, agent_id=agent_id, now=now)
    queue_order_event(db, "order_create", order, now)
    log.info(
        "checkout.order_placed session=%s order=%s merchant=%s amount=%d currency=%s",
        row.id,
        order.id,
        row.merchant_id,
        amount,
        currency,
    )
    return CompleteOutcome(completed)


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


def _place_order(
    db: Session, state: SessionState, payment_id: str, base_url: str, now: datetime
) -> OrderRow:
    row, quote = state.row, state.quote
    order_id = new_id("ord")
    shipping = [
        o
        for o in quote.options
        if o.type == "shipping" and any(s.option_id == o.id for s in quote.selections)
    ]
    order = OrderRow(
        id=order_id,
        checkout_session_id=row.id,
        merchant_id=row.merchant_id,
        payment_id=payment_id,
        order_number=f"AC-{secrets.token_hex(4).upper()}",
        permalink_url=f"{base_url}/orders/{order_id}",
        status="confirmed",
        currency=row.currency,
        items_amount=quote.totals.subtotal,
        fulfillment_amount=quote.totals.fulfillment or 0,
        tax_amount=quote.totals.tax,
        total_amount=quote.totals.total,
        destination=(row.fulfillment_details or {}).get("address"),
        email=(row.buyer or {}).get("email") or (row.fulfillment_details or {}).get("email"),
        estimated_earliest=shipping[0].earliest if shipping else None,
        estimated_latest=shipping[0].latest if shipping else None,
        fulfillments=[],
        created_at=now,
        updated_at=now,
    )
    lines = [
        OrderLineRow(
            id=new_id("oli"),
            order_id=order_id,
            position=position,
            variant_id=lt.line.offer.variant_id,
            product_id=lt.line.offer.product_id,
            title=lt.line.offer.name,
            quantity=lt.line.quantity,
            unit_amount=lt.line.offer.unit_amount,
            subtotal=lt.subtotal,
            image_url=lt.line.offer.images[0] if lt.line.offer.images else None,
            url=lt.line.offer.url,
        )
        for position, lt in enumerate(quote.lines)
    ]
    Orders(db).add(order, lines)
    return order

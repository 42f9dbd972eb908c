"""The steps of completing a checkout up to the authorisation, each one short transaction.

  begin_purchase        lock the session; refuse unless open, payable and priced as last shown;
                        check the token's allowance; reserve our stock with conditional updates;
                        spend the token; record the purchase as `authorizing` with its payment.
  (the provider is asked for the hold between the steps, with no row locked)
  record_authorization  authorised: carry on. Declined or challenged by 3-D Secure: give back the
                        stock, say why on the session, and answer with that state.

A refusal that changed state (a decline, a challenge, stock gone, a price change) is returned
rather than raised, so the caller commits the change together with the refusal it answers with.
What follows the hold (the merchant order, capture or release) is flows.purchase.settlement's;
which step runs when is decided by flows.purchase.saga's carry_on, for a live request
(flows.purchase.complete) and for recovery (flows.purchase.recovery) alike.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlmodel import Session

from checkout.domain.allowance import TOKEN_PARAM, check_spend
from checkout.domain.checkout import Problem, Status, price_problems
from checkout.domain.errors import (
    AuthenticationRequired,
    CheckoutError,
    InvalidRequest,
    NotReadyForPayment,
    OutOfStock,
    PaymentDeclined,
    PaymentProcessingFailed,
    PaymentTokenRejected,
    PriceChanged,
    SessionNotOpen,
)
from checkout.domain.purchase import PaymentStatus, PurchaseState, payment_moves, purchase_moves
from checkout.flows.purchase.sale import Sale, sale_of
from checkout.flows.session_state import (
    SessionState,
    accept_current_prices,
    load_session,
    notice_dict,
    require_open,
)
from checkout.payments.provider import (
    Acquirer,
    Authorization,
    AuthorizationStatus,
    AuthorizeRequest,
    Card,
    CardOutcome,
    PaymentProvider,
    ThreeDSecureResult,
)
from checkout.protocol import render
from checkout.protocol.requests import CheckoutSessionCompleteRequest
from checkout.store.catalog import Catalog
from checkout.store.ids import new_id
from checkout.store.payments import Payments, PaymentTokens, token_state
from checkout.store.purchases import Purchases
from checkout.store.rows import (
    CheckoutSessionRow,
    PaymentRow,
    PaymentTokenRow,
    PurchaseRow,
)
from checkout.store.sessions import CheckoutSessions

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
    purchase = Purchases(db).under_way(session_id)
    if purchase is None or purchase.token_id != instrument.credential.token:
        return None
    return purchase


def _remember(row: CheckoutSessionRow, db: Session, problem: Problem, now: datetime) -> None:
    row.notices = [notice_dict(problem)]
    row.updated_at = now
    CheckoutSessions(db).save(row)


def begin_purchase(
    db: Session,
    session_id: str,
    request: CheckoutSessionCompleteRequest,
    *,
    agent_id: str,
    provider: PaymentProvider,
    now: datetime,
) -> CompleteOutcome | PurchaseRow | Resumed:
    """Step 1, one transaction: check, reserve our stock, spend the token, record the purchase.

    Returns the purchase to authorise, or the outcome when the session cannot be paid (a price
    change, stock gone, a failed 3-D Secure result) with that state saved. Each guard below
    either lets the purchase go on, returns such an outcome, or raises a refusal that changed
    nothing; they run in this order because each relies on the ones before it.
    """
    state = load_session(db, session_id, agent_id=agent_id, now=now, for_update=True)
    already = _already_paying(db, state, request)
    if already is not None:
        return already
    require_open(state, "completed")
    if request.buyer is not None:
        state.row.buyer = request.buyer.model_dump(mode="json", exclude_none=True)
    refused = _prices_as_shown(db, state, now)
    if refused is not None:
        return refused
    _ready_for_payment(state)
    token = _spendable_token(db, state, request, agent_id, now)
    authenticated = _authentication_passed(db, state, request, token, provider, now)
    if isinstance(authenticated, CompleteOutcome):
        return authenticated
    refused = _stock_reserved(db, state, now)
    if refused is not None:
        return refused
    if not PaymentTokens(db).consume(token.id, now):
        raise PaymentTokenRejected(
            "This payment token has already been used.",
            param=TOKEN_PARAM,
            code="payment_token_used",
        )
    return _record_purchase(db, state, request, token, provider, authenticated, now)


def _already_paying(
    db: Session, state: SessionState, request: CheckoutSessionCompleteRequest
) -> CompleteOutcome | Resumed | None:
    """A session already paid, or being paid: the same payment again is reported or resumed."""
    if state.status not in (Status.COMPLETED, Status.COMPLETE_IN_PROGRESS):
        return None
    same = _purchase_paid_with(db, state.row.id, request)
    if same is not None:
        # The same payment again: a retry after a lost answer, a concurrent duplicate, or
        # after recovery finished it. Report or carry on that purchase; never start another.
        return CompleteOutcome(state) if same.state == PurchaseState.COMPLETED else Resumed(same)
    if state.status is Status.COMPLETE_IN_PROGRESS:
        raise SessionNotOpen(
            "This checkout session is being paid for with another token.",
            code="checkout_session_complete_in_progress",
        )
    return None  # completed with another token: require_open refuses it


def _prices_as_shown(db: Session, state: SessionState, now: datetime) -> CompleteOutcome | None:
    """Prices that moved since the agent last saw the session are taken and shown again."""
    changed = price_problems(state.lines)
    if not changed:
        return None
    accept_current_prices(db, state)
    _remember(state.row, db, changed[0], now)
    return CompleteOutcome(
        load_session(db, state.row.id, agent_id=state.row.agent_id, now=now),
        PriceChanged(
            "Prices changed since the session was last shown; "
            "review the new total and complete again.",
            param=changed[0].param,
        ),
    )


def _ready_for_payment(state: SessionState) -> None:
    """Refuse a session whose quote still has a blocking problem (stock, address, ...)."""
    blocking = state.quote.blocking
    if blocking and blocking[0].code in ("out_of_stock", "quantity_exceeded"):
        raise OutOfStock(blocking[0].content, param=blocking[0].param, code=blocking[0].code)
    if blocking:
        raise NotReadyForPayment(
            f"The session is not ready for payment: {blocking[0].content}", param=blocking[0].param
        )


def _spendable_token(
    db: Session,
    state: SessionState,
    request: CheckoutSessionCompleteRequest,
    agent_id: str,
    now: datetime,
) -> PaymentTokenRow:
    """The agent's token, when its allowance covers this session's total."""
    token = _token(db, request, agent_id)
    check_spend(
        token_state(token),
        session_id=state.row.id,
        merchant_id=state.row.merchant_id,
        amount=state.quote.totals.total,
        currency=state.row.currency,
        now=now,
    )
    return token


def _authentication_passed(
    db: Session,
    state: SessionState,
    request: CheckoutSessionCompleteRequest,
    token: PaymentTokenRow,
    provider: PaymentProvider,
    now: datetime,
) -> bool | CompleteOutcome:
    """Whether the buyer passed 3-D Secure; a failed authentication is a declined attempt."""
    result = request.authentication_result
    challenged = state.status is Status.AUTHENTICATION_REQUIRED
    if challenged and result is None:
        raise AuthenticationRequired(
            "This checkout session requires issuer authentication. The request must include "
            "'authentication_result' as provided by the issuer authentication flow.",
            param="$.authentication_result",
        )
    authenticated = result is not None and result.outcome in SECURE_OUTCOMES
    if (
        result is not None
        and not authenticated
        and (challenged or token.card_outcome == CardOutcome.REQUIRES_3DS.value)
    ):
        pending = _pending_challenge(db, state.row.id)
        if pending is not None:
            pending.status = payment_moves(pending.status, PaymentStatus.VOID_PENDING)
            pending.updated_at = now
            Payments(db).save(pending)
        return _decline(
            db,
            state,
            token,
            state.quote.totals.total,
            provider.name,
            now,
            "authentication_failed",
            "Card authentication was not completed "
            f"({result.outcome}). Try again or use a different card.",
        )
    return authenticated


def _stock_reserved(db: Session, state: SessionState, now: datetime) -> CompleteOutcome | None:
    """Reserve our stock with conditional updates; a line sold out meanwhile refuses the rest."""
    short = Catalog(db).reserve({line.offer.variant_id: line.quantity for line in state.lines})
    if not short:
        return None
    names = [line.offer.name for line in state.lines if line.offer.variant_id in short]
    index = next(i for i, line in enumerate(state.lines) if line.offer.variant_id in short)
    problem = Problem(
        "error",
        "out_of_stock",
        f"'{names[0]}' sold out before payment completed; nothing was charged.",
        f"$.line_items[{index}]",
        "requires_buyer_input",
    )
    _remember(state.row, db, problem, now)
    return CompleteOutcome(
        load_session(db, state.row.id, agent_id=state.row.agent_id, now=now),
        OutOfStock(problem.content, param=problem.param),
    )


def _record_purchase(
    db: Session,
    state: SessionState,
    request: CheckoutSessionCompleteRequest,
    token: PaymentTokenRow,
    provider: PaymentProvider,
    authenticated: bool,
    now: datetime,
) -> PurchaseRow:
    """The purchase `authorizing` with its payment, and the session complete_in_progress."""
    row = state.row
    result = request.authentication_result
    sale = sale_of(db, state).model_copy(
        update={
            "authenticated": authenticated,
            "three_d_secure": _three_d_secure(result) if authenticated else None,
        }
    )
    pending = _pending_challenge(db, row.id) if authenticated else None
    payment = PaymentRow(
        id=new_id("pay"),
        session_id=row.id,
        token_id=token.id,
        provider=provider.name,
        amount=state.quote.totals.total,
        currency=row.currency,
        status=PaymentStatus.AUTHORIZING.value,
        # The PaymentIntent left waiting for 3-D Secure is continued, not replaced.
        provider_payment_id=pending.provider_payment_id if pending else None,
        application_fee=sale.commission.amount,
        connected_account=state.merchant.payment_account_id,
        created_at=now,
        updated_at=now,
    )
    Payments(db).add(payment)
    if pending is not None:
        pending.status = payment_moves(pending.status, PaymentStatus.SUPERSEDED)
        pending.updated_at = now
        Payments(db).save(pending)
    purchase = Purchases(db).of_session(row.id)
    fields: dict[str, Any] = {
        "merchant_id": row.merchant_id,
        "payment_id": payment.id,
        "token_id": token.id,
        "state": PurchaseState.AUTHORIZING.value,
        "sale": sale.document(),
        "platform_order_id": None,
        "platform_order_name": None,
        "recorded": None,
        "attempts": 0,
        "last_error": None,
        "updated_at": now,
    }
    if purchase is None:
        purchase = PurchaseRow(id=new_id("pur"), session_id=row.id, created_at=now, **fields)
    else:  # an earlier attempt that was unwound starts over on the same row
        purchase_moves(purchase.state, PurchaseState.AUTHORIZING)
        for name, value in fields.items():
            setattr(purchase, name, value)
    Purchases(db).save(purchase)
    row.status = Status.COMPLETE_IN_PROGRESS.value
    row.notices = []
    row.authentication_metadata = None
    row.updated_at = now
    CheckoutSessions(db).save(row)
    return purchase


def _three_d_secure(result: Any) -> dict[str, str] | None:
    """The agent's 3DS proof as a provider takes it; None when the details are incomplete."""
    details = dict(result.outcome_details or {})
    cryptogram, transaction = details.get("three_ds_cryptogram"), details.get("transaction_id")
    if not cryptogram or not transaction:
        return None
    proof = {
        "cryptogram": str(cryptogram),
        "transaction_id": str(transaction),
        "version": str(details.get("version") or "2.2.0"),
    }
    if details.get("electronic_commerce_indicator"):
        proof["electronic_commerce_indicator"] = str(details["electronic_commerce_indicator"])
    return proof


def _pending_challenge(db: Session, session_id: str) -> PaymentRow | None:
    return Payments(db).awaiting_authentication(session_id)


def authorize_request(db: Session, purchase: PurchaseRow) -> AuthorizeRequest:
    """What to ask the provider for this purchase; the same every time it is asked."""
    payment = Payments(db).get(purchase.payment_id)
    token = PaymentTokens(db).get(purchase.token_id)
    assert payment is not None and token is not None, "purchases reference both by key"
    sale = Sale.of(purchase)
    return AuthorizeRequest(
        idempotency_key=f"{purchase.session_id}:authorize:{payment.id}",
        amount=payment.amount,
        currency=payment.currency,
        merchant_id=purchase.merchant_id,
        connected_account=payment.connected_account,
        application_fee=payment.application_fee,
        token_id=token.id,
        card=Card(
            brand=token.card_brand,
            last4=token.card_last4,
            funding=token.funding,
            outcome=CardOutcome(token.card_outcome),
        ),
        authenticated=sale.authenticated,
        three_d_secure=ThreeDSecureResult(
            cryptogram=proof["cryptogram"],
            electronic_commerce_indicator=proof.get("electronic_commerce_indicator"),
            transaction_id=proof["transaction_id"],
            version=proof["version"],
        )
        if (proof := sale.three_d_secure)
        else None,
        pending_payment_id=payment.provider_payment_id,
        description=f"Checkout session {purchase.session_id}",
        metadata={"checkout_session_id": purchase.session_id, "payment_id": payment.id},
    )


def record_authorization(
    db: Session,
    purchase: PurchaseRow,
    authorization: Authorization,
    *,
    now: datetime,
    acquirer: Acquirer | None = None,
) -> CompleteOutcome | PurchaseRow:
    """Step 2, one transaction: the provider's answer. Authorised: the purchase carries on.

    Declined, or challenged for 3-D Secure: the stock goes back and the session says why. A
    challenge the agent cannot take (it did not declare 3ds) is a decline, and the waiting
    payment is released.
    """
    session = CheckoutSessions(db).get_any(purchase.session_id, for_update=True)
    payment = Payments(db).get(purchase.payment_id)
    token = PaymentTokens(db).get(purchase.token_id)
    assert session is not None and payment is not None and token is not None
    payment.provider_payment_id = authorization.payment_id or payment.provider_payment_id
    payment.updated_at = now
    if authorization.status is AuthorizationStatus.AUTHORIZED:
        payment.status = payment_moves(payment.status, PaymentStatus.REQUIRES_CAPTURE)
        Payments(db).save(payment)
        purchase.state = purchase_moves(purchase.state, PurchaseState.AUTHORIZED)
        purchase.updated_at = now
        Purchases(db).save(purchase)
        return purchase

    Catalog(db).release(Sale.of(purchase).quantities())
    purchase.state = purchase_moves(purchase.state, PurchaseState.UNWOUND)
    purchase.updated_at = now
    Purchases(db).save(purchase)
    if (
        authorization.status is AuthorizationStatus.REQUIRES_ACTION
        and "3ds" in session.interventions
        and acquirer is not None
    ):
        payment.status = payment_moves(payment.status, PaymentStatus.REQUIRES_ACTION)
        Payments(db).save(payment)
        # Nothing is charged yet: the token waits for this session's authenticated retry.
        PaymentTokens(db).release(token.id)
        session.status = Status.AUTHENTICATION_REQUIRED.value
        merchant = Catalog(db).merchant(session.merchant_id)
        assert merchant is not None, "sessions reference merchants by foreign key"
        session.authentication_metadata = render.authentication_metadata(
            merchant, token.card_brand, acquirer.bin, acquirer.merchant_id
        )
        session.notices = []
        session.updated_at = now
        CheckoutSessions(db).save(session)
        return CompleteOutcome(
            load_session(db, session.id, agent_id=session.agent_id, now=now),
            AuthenticationRequired(
                "The card issuer requires 3-D Secure authentication. "
                "Authenticate with the session's authentication_metadata "
                "and complete again with 'authentication_result'.",
                param="$.authentication_result",
            ),
        )
    session.status = Status.READY_FOR_PAYMENT.value
    session.updated_at = now
    if authorization.status is AuthorizationStatus.FAILED:
        # Nothing reached the card: the token is the buyer's to use again once we are fixed.
        payment.status = payment_moves(payment.status, PaymentStatus.FAILED)
        payment.decline_code = "processing_error"
        Payments(db).save(payment)
        PaymentTokens(db).release(token.id)
        session.authentication_metadata = None
        CheckoutSessions(db).save(session)
        return CompleteOutcome(
            load_session(db, session.id, agent_id=session.agent_id, now=now),
            PaymentProcessingFailed(
                "The payment could not be processed because of an error on the platform's "
                "side; nothing was charged. The payment token can be used again.",
                param="$.payment_data",
            ),
        )
    if authorization.status is AuthorizationStatus.REQUIRES_ACTION:
        payment.status = payment_moves(payment.status, PaymentStatus.VOID_PENDING)
        code, text = (
            "authentication_required",
            "This card needs 3-D Secure authentication, which this agent did not declare it "
            "supports (or this platform cannot hand to agents). Use a different card.",
        )
    else:
        payment.status = payment_moves(payment.status, PaymentStatus.DECLINED)
        code = authorization.decline_code or "card_declined"
        text = authorization.message or "Your card was declined."
    payment.decline_code = code
    Payments(db).save(payment)
    return _decline_notice(db, session, code, text, now)


def _decline(
    db: Session,
    state: SessionState,
    token: PaymentTokenRow,
    amount: int,
    provider: str,
    now: datetime,
    code: str,
    text: str,
) -> CompleteOutcome:
    """A declined attempt spends its token; the session stays payable with a payment_declined message."""
    PaymentTokens(db).consume(token.id, now)
    Payments(db).add(
        PaymentRow(
            id=new_id("pay"),
            session_id=state.row.id,
            token_id=token.id,
            provider=provider,
            amount=amount,
            currency=state.row.currency,
            status=PaymentStatus.DECLINED.value,
            decline_code=code,
            created_at=now,
            updated_at=now,
        )
    )
    if state.row.status == Status.AUTHENTICATION_REQUIRED.value:
        state.row.status = Status.READY_FOR_PAYMENT.value
    return _decline_notice(db, state.row, code, text, now)


def _decline_notice(
    db: Session, row: CheckoutSessionRow, code: str, text: str, now: datetime
) -> CompleteOutcome:
    log.info("checkout.payment_declined session=%s reason=%s", row.id, code)
    row.authentication_metadata = None
    problem = Problem(
        "error",
        "payment_declined",
        f"{text} Nothing was charged.",
        "$.payment_data",
        "requires_buyer_input",
    )
    _remember(row, db, problem, now)
    return CompleteOutcome(
        load_session(db, row.id, agent_id=row.agent_id, now=now),
        PaymentDeclined(problem.content, param="$.payment_data", code="payment_declined"),
    )

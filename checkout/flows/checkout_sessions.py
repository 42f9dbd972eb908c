"""Creating, updating and canceling checkout sessions (completing one is flows.purchase)."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlmodel import Session

from checkout.domain.checkout import (
    FINAL_STATUSES,
    MAX_QUANTITY_PER_LINE,
    Offer,
    Status,
    price_problems,
    status_of,
)
from checkout.domain.errors import CancelNotAllowed, InvalidRequest, UnknownItem
from checkout.flows.session_state import (
    SessionState,
    accept_current_prices,
    load_session,
    quote_session,
    require_open,
    requoted,
)
from checkout.protocol import CURRENT_VERSION
from checkout.protocol.requests import (
    CancelSessionRequest,
    CheckoutSessionCreateRequest,
    CheckoutSessionUpdateRequest,
    Item,
)
from checkout.store.catalog import Catalog
from checkout.store.ids import new_id
from checkout.store.rows import CheckoutLineRow, CheckoutSessionRow, IntentTraceRow, MerchantRow
from checkout.store.sessions import CheckoutSessions, protocol_of

SELLER_INTERVENTIONS = ("3ds",)
INTENT_REASON_CODES = frozenset(
    {
        "price_sensitivity",
        "shipping_cost",
        "shipping_speed",
        "product_fit",
        "trust_security",
        "returns_policy",
        "payment_options",
        "comparison",
        "timing_deferred",
        "other",
    }
)


def _line_rows(
    db: Session, session_id: str, items: list[Item], *, merchant_id: str | None, currency: str
) -> tuple[MerchantRow, list[CheckoutLineRow], dict[str, Offer]]:
    """Lines for the requested items, one per distinct item (repeated ids add up their quantities),
    and the merchant selling them."""
    offers, merchants = Catalog(db).offers_and_merchants(item.id for item in items)
    quantities: dict[str, int] = {}
    for index, item in enumerate(items):
        offer = offers.get(item.id)
        if offer is None:
            raise UnknownItem(
                f"The item ID '{item.id}' does not exist.", param=f"$.line_items[{index}].id"
            )
        if merchant_id is None:
            merchant_id = offer.merchant_id
        elif offer.merchant_id != merchant_id:
            raise InvalidRequest(
                "A checkout session holds items of one merchant; "
                f"'{item.id}' is sold by another. Create one session per merchant.",
                param=f"$.line_items[{index}].id",
                code="multiple_merchants",
            )
        if offer.currency != currency:
            raise InvalidRequest(
                f"This merchant sells in {offer.currency}, not {currency}.",
                param="$.currency",
                code="unsupported_currency",
            )
        quantities[item.id] = quantities.get(item.id, 0) + item.quantity
    for index, (_variant_id, quantity) in enumerate(quantities.items()):
        if quantity > MAX_QUANTITY_PER_LINE:
            raise InvalidRequest(
                f"At most {MAX_QUANTITY_PER_LINE} of one item per session.",
                param=f"$.line_items[{index}].quantity",
                code="invalid",
            )
    assert merchant_id is not None
    merchant = merchants[merchant_id]
    rows = [
        CheckoutLineRow(
            id=new_id("li"),
            session_id=session_id,
            position=position,
            variant_id=variant_id,
            quantity=quantity,
            unit_amount=offers[variant_id].unit_amount,
        )
        for position, (variant_id, quantity) in enumerate(quantities.items())
    ]
    return merchant, rows, offers


def _dump(model: Any) -> dict[str, Any] | None:
    return None if model is None else model.model_dump(mode="json", exclude_none=True)


def create_session(
    db: Session,
    request: CheckoutSessionCreateRequest,
    *,
    agent_id: str,
    ttl: timedelta,
    now: datetime,
    api_version: str = CURRENT_VERSION,
) -> SessionState:
    session_id = new_id("cs")
    currency = request.currency.lower()
    merchant, line_rows, offers = _line_rows(
        db, session_id, request.line_items, merchant_id=None, currency=currency
    )
    interventions = request.capabilities.interventions
    supported = set(interventions.supported) if interventions else set()
    row = CheckoutSessionRow(
        id=session_id,
        agent_id=agent_id,
        protocol=protocol_of(agent_id),
        merchant_id=merchant.id,
        status=Status.NOT_READY_FOR_PAYMENT.value,
        currency=currency,
        locale=request.locale,
        timezone=request.timezone,
        buyer=_dump(request.buyer),
        fulfillment_details=_dump(request.fulfillment_details),
        selections=[],
        interventions=[name for name in SELLER_INTERVENTIONS if name in supported],
        # Given rather than defaulted: SQLModel asks a default factory for its signature on
        # every row it builds.
        notices=[],
        discount_codes=[],
        order_notes=request.order_notes,
        metadata_=request.metadata,
        api_version=api_version,
        created_at=now,
        updated_at=now,
        expires_at=now + ttl,
    )
    CheckoutSessions(db).add(row, line_rows)
    lines, quote = quote_session(db, row, line_rows, merchant, now, offers)
    return SessionState(row, merchant, lines, quote, status_of(Status(row.status), quote))


def update_session(
    db: Session,
    session_id: str,
    request: CheckoutSessionUpdateRequest,
    *,
    agent_id: str,
    now: datetime,
) -> SessionState:
    state = load_session(db, session_id, agent_id=agent_id, now=now, for_update=True)
    require_open(state, "updated")
    row, sessions = state.row, CheckoutSessions(db)
    sent = request.model_fields_set
    if "line_items" in sent:
        if request.line_items is None:
            raise InvalidRequest("line_items cannot be cleared.", param="$.line_items")
        _, lines, _ = _line_rows(
            db, row.id, request.line_items, merchant_id=row.merchant_id, currency=row.currency
        )
        sessions.replace_lines(row.id, lines)
    if "buyer" in sent:
        row.buyer = _dump(request.buyer)
    if "fulfillment_details" in sent:
        row.fulfillment_details = _dump(request.fulfillment_details)
    if "selected_fulfillment_options" in sent:
        row.selections = [
            s.model_dump(mode="json") for s in request.selected_fulfillment_options or []
        ]
    if "order_notes" in sent:
        row.order_notes = request.order_notes
    # The buyer has now been shown the current state: earlier notices are answered, and a 3-D
    # Secure attempt in progress starts over with the changed session.
    changes = price_problems(state.lines)
    row.notices = []
    if row.status == Status.AUTHENTICATION_REQUIRED.value:
        row.status = Status.NOT_READY_FOR_PAYMENT.value
        row.authentication_metadata = None
    row.updated_at = now
    sessions.save(row)
    if "line_items" in sent:
        updated = load_session(db, session_id, agent_id=agent_id, now=now, for_update=True)
    else:
        updated = requoted(db, state, now)  # only the row changed, and it is the one in hand
    if changes and "line_items" not in sent:
        # Show the price change on this response, then accept the current prices as shown.
        accept_current_prices(db, updated)
    return updated


def get_session(db: Session, session_id: str, *, agent_id: str, now: datetime) -> SessionState:
    return load_session(db, session_id, agent_id=agent_id, now=now)


def cancel_session(
    db: Session,
    session_id: str,
    request: CancelSessionRequest | None,
    *,
    agent_id: str,
    now: datetime,
) -> SessionState:
    state = load_session(db, session_id, agent_id=agent_id, now=now, for_update=True)
    if state.status is Status.COMPLETE_IN_PROGRESS:
        require_open(state, "canceled")
    if state.status in FINAL_STATUSES:
        raise CancelNotAllowed(
            f"This checkout session is {state.status.value} and cannot be canceled.",
            code=f"checkout_session_{state.status.value}",
        )
    trace = request.intent_trace if request else None
    if trace is not None:
        metadata = trace.metadata or {}
        for key, value in metadata.items():
            if isinstance(value, dict | list):
                raise InvalidRequest(
                    "Intent trace metadata values must be strings, numbers or booleans.",
                    param=f"$.intent_trace.metadata.{key}",
                    code="invalid_type",
                )
        CheckoutSessions(db).record_intent_trace(
            IntentTraceRow(
                session_id=session_id,
                reason_code=trace.reason_code
                if trace.reason_code in INTENT_REASON_CODES
                else "other",
                trace_summary=trace.trace_summary,
                metadata_=metadata or None,
                created_at=now,
            )
        )
    state.row.status = Status.CANCELED.value
    state.row.updated_at = now
    CheckoutSessions(db).save(state.row)
    state.status = Status.CANCELED
    return state

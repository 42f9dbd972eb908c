"""UCP checkouts on the core: a UCP checkout is a checkout session made and changed by the same
flows as ACP's; this adds what UCP shows that ACP does not model (fulfillment destinations with
their ids, the buyer's saved addresses, discount codes, consent) and pays with a UCP instrument."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlmodel import Session

from checkout.domain.checkout import FINAL_STATUSES, Status
from checkout.domain.errors import InvalidRequest, OutOfStock, PaymentTokenRejected, UnknownItem
from checkout.flows import checkout_sessions as sessions
from checkout.flows.delegate_payment import delegate_payment
from checkout.flows.purchase.complete import complete_checkout
from checkout.flows.purchase.saga import Completion, Respond
from checkout.flows.purchase.steps import HANDLER_ID, CompleteOutcome
from checkout.flows.session_state import SessionState, load_session, require_open, requoted
from checkout.payments.provider import PaymentProvider
from checkout.protocol import ucp_requests as ucp
from checkout.protocol.requests import (
    Capabilities,
    CheckoutSessionCompleteRequest,
    CheckoutSessionCreateRequest,
    CheckoutSessionUpdateRequest,
    Credential,
    DelegateAllowance,
    DelegatePaymentRequest,
    Instrument,
    Item,
    PaymentData,
    PaymentMethodCard,
)
from checkout.store.address_book import AddressBook
from checkout.store.catalog import Catalog
from checkout.store.ids import new_id
from checkout.store.payments import PaymentTokens
from checkout.store.platform_items import PlatformItems
from checkout.store.sessions import CheckoutSessions

FULFILLMENT_NEEDED = "Fulfillment address and option must be selected."
# The tokenization handler's sandbox tokens, like Stripe's test tokens: each stands for a test
# card of the sandbox provider (the conformance data's payment instruments use these).
TEST_TOKENS = {"success_token": "4242424242424242", "fail_token": "4000000000000002"}
TOKENIZING_HANDLERS = frozenset({"mock_payment_handler"})


def _items(db: Session, merchant_id: str, lines: list[ucp.LineItemRequest]) -> list[Item]:
    """Our variants for the merchant's item ids, refused when unknown or short of stock."""
    variant_of = PlatformItems(db).variant_ids(merchant_id, (line.item.id for line in lines))
    quantities: dict[str, int] = {}
    for index, line in enumerate(lines):
        variant_id = variant_of.get(line.item.id)
        if variant_id is None:
            raise UnknownItem(
                f"Product '{line.item.id}' not found.", param=f"$.line_items[{index}].item.id"
            )
        quantities[variant_id] = quantities.get(variant_id, 0) + line.quantity
    offers = Catalog(db).offers(quantities)
    for variant_id, quantity in quantities.items():
        offer = offers[variant_id]
        if offer.available_quantity < quantity:
            raise OutOfStock(
                f"Insufficient stock for '{offer.name}': {max(offer.available_quantity, 0)} "
                f"available, {quantity} requested.",
                param="$.line_items",
            )
    return [Item(id=variant_id, quantity=quantity) for variant_id, quantity in quantities.items()]


def _core_address(destination: dict[str, Any], buyer: dict[str, Any] | None) -> dict[str, Any]:
    buyer = buyer or {}
    name = destination.get("full_name") or " ".join(
        part
        for part in (
            destination.get("first_name") or buyer.get("first_name"),
            destination.get("last_name") or buyer.get("last_name"),
        )
        if part
    )
    return {
        "name": name or buyer.get("full_name") or "",
        "line_one": destination.get("street_address") or "",
        "line_two": destination.get("extended_address"),
        "city": destination.get("address_locality") or "",
        "state": destination.get("address_region") or "",
        "country": (destination.get("address_country") or "").upper(),
        "postal_code": destination.get("postal_code") or "",
    }


def _apply_fulfillment(db: Session, row: Any, method: ucp.MethodRequest, now: datetime) -> None:
    if method.type != "shipping":
        raise InvalidRequest(
            "This shop ships orders; pickup is not offered.",
            param="$.fulfillment.methods[0].type",
            code="unsupported",
        )
    state = dict(row.protocol_state or {})
    chosen = dict(state.get("fulfillment") or {})
    email = (row.buyer or {}).get("email")
    book = AddressBook(db)
    if method.destinations:
        destinations = []
        for destination in method.destinations:
            data = destination.model_dump(exclude_none=True)
            if not destination.id:
                # A new address gets an id; a known buyer's is saved for their next checkout,
                # or matched to the saved one with the same content.
                data["id"] = (
                    book.remember(row.merchant_id, email, data, now).id if email else new_id("dest")
                )
            destinations.append(data)
        chosen["destinations"] = destinations
    elif not chosen.get("destinations") and email:
        saved = book.of(row.merchant_id, email)
        if saved:
            chosen["destinations"] = [{"id": a.id, **a.address} for a in saved]
    ids = [d["id"] for d in chosen.get("destinations", [])]
    if method.selected_destination_id is not None:
        if method.selected_destination_id not in ids:
            raise InvalidRequest(
                f"'{method.selected_destination_id}' is not one of this checkout's destinations.",
                param="$.fulfillment.methods[0].selected_destination_id",
            )
        chosen["selected_destination_id"] = method.selected_destination_id
    elif chosen.get("selected_destination_id") not in ids:
        chosen.pop("selected_destination_id", None)
    for group in method.groups or ():
        if group.selected_option_id is not None:
            chosen["selected_option_id"] = group.selected_option_id
    state["fulfillment"] = chosen
    row.protocol_state = state


def _sync_core(row: Any) -> None:
    """The core's address and shipping choice from the selected destination and option."""
    chosen = (row.protocol_state or {}).get("fulfillment") or {}
    selected = chosen.get("selected_destination_id")
    destination = next((d for d in chosen.get("destinations", []) if d["id"] == selected), None)
    row.fulfillment_details = (
        {"address": _core_address(destination, row.buyer)} if destination else None
    )
    option = chosen.get("selected_option_id")
    row.selections = (
        [{"type": "shipping", "option_id": option, "item_ids": []}]
        if destination and option
        else []
    )


def _apply(
    db: Session,
    row: Any,
    *,
    buyer: ucp.BuyerRequest | None,
    fulfillment: ucp.FulfillmentRequest | None,
    discounts: ucp.DiscountsRequest | None,
    payment: ucp.PaymentRequest | None,
    now: datetime,
) -> None:
    state = dict(row.protocol_state or {})
    if buyer is not None:
        row.buyer = buyer.model_dump(exclude_none=True, exclude={"consent"})
        if buyer.consent is not None:
            state["consent"] = buyer.consent.model_dump(exclude_none=True)
    if payment is not None:
        state["payment"] = {
            "instruments": payment.instruments or [],
            "selected_instrument_id": payment.selected_instrument_id,
        }
    row.protocol_state = state
    if discounts is not None:
        row.discount_codes = list(dict.fromkeys(c.strip() for c in discounts.codes if c.strip()))
    if fulfillment is not None and fulfillment.methods:
        _apply_fulfillment(db, row, fulfillment.methods[0], now)
    _sync_core(row)
    row.updated_at = now
    CheckoutSessions(db).save(row)


def _settled(db: Session, state: SessionState, now: datetime) -> SessionState:
    """The session as shown; a chosen option the destination no longer offers is let go."""
    chosen = (state.row.protocol_state or {}).get("fulfillment") or {}
    option = chosen.get("selected_option_id")
    if option and state.row.selections and option not in {o.id for o in state.quote.options}:
        state.row.protocol_state = {
            **(state.row.protocol_state or {}),
            "fulfillment": {k: v for k, v in chosen.items() if k != "selected_option_id"},
        }
        state.row.selections = []
        CheckoutSessions(db).save(state.row)
        state = requoted(db, state, now)
    return state


def create_checkout(
    db: Session,
    request: ucp.CheckoutCreateRequest,
    *,
    agent_id: str,
    profile: str | None,
    version: str,
    merchant_id: str,
    ttl: timedelta,
    now: datetime,
) -> SessionState:
    core = CheckoutSessionCreateRequest(
        line_items=_items(db, merchant_id, request.line_items),
        currency=request.currency,
        capabilities=Capabilities(),
    )
    state = sessions.create_session(db, core, agent_id=agent_id, ttl=ttl, now=now)
    state.row.protocol_state = {"profile": profile, "version": version}
    _apply(
        db,
        state.row,
        buyer=request.buyer,
        fulfillment=request.fulfillment,
        discounts=request.discounts,
        payment=request.payment,
        now=now,
    )
    # The session was made in this transaction and only its row changed since: priced again
    # as it is in hand.
    return _settled(db, requoted(db, state, now), now)


def update_checkout(
    db: Session,
    session_id: str,
    request: ucp.CheckoutUpdateRequest,
    *,
    agent_id: str,
    now: datetime,
) -> SessionState:
    state = load_session(db, session_id, agent_id=agent_id, now=now, for_update=True)
    require_open(state, "updated")
    if request.currency is not None and request.currency.lower() != state.row.currency:
        raise InvalidRequest(
            f"This checkout is in {state.row.currency.upper()}; its currency cannot change.",
            param="$.currency",
            code="unsupported_currency",
        )
    core = (
        CheckoutSessionUpdateRequest(
            line_items=_items(db, state.row.merchant_id, request.line_items)
        )
        if request.line_items is not None
        else CheckoutSessionUpdateRequest()
    )
    row = sessions.update_session(db, session_id, core, agent_id=agent_id, now=now).row
    _apply(
        db,
        row,
        buyer=request.buyer,
        fulfillment=request.fulfillment,
        discounts=request.discounts,
        payment=request.payment,
        now=now,
    )
    # Read back: the update may have changed the lines, and accepted their current prices.
    return _settled(
        db, load_session(db, session_id, agent_id=agent_id, now=now, for_update=True), now
    )


def card_number(instrument: ucp.PaymentInstrument) -> str:
    """The card an instrument pays with, through the handler that issued its credential."""
    credential = instrument.credential
    if instrument.handler_id not in TOKENIZING_HANDLERS:
        raise InvalidRequest(
            f"Payment handler '{instrument.handler_id}' cannot complete checkouts here; "
            "use 'mock_payment_handler'.",
            param="$.payment_data.handler_id",
            code="invalid_payment_handler",
        )
    if credential is None:
        raise InvalidRequest(
            "The instrument carries no credential.", param="$.payment_data.credential"
        )
    if credential.type == "card":
        if not credential.number:
            raise InvalidRequest(
                "A card credential needs its number.", param="$.payment_data.credential.number"
            )
        return credential.number
    number = TEST_TOKENS.get(credential.token or "")
    if number is None:
        raise PaymentTokenRejected(
            "This payment token does not exist.",
            param="$.payment_data.credential.token",
            code="payment_token_not_found",
        )
    return number


def vault_instrument(
    db: Session,
    session_id: str,
    instrument: ucp.PaymentInstrument,
    *,
    agent_id: str,
    idempotency_key: str,
    provider: PaymentProvider,
    now: datetime,
) -> str | None:
    """A single-use token for this checkout's total (the same allowance ACP's delegated tokens
    carry); None when the session is past paying, for the core to say why."""
    state = load_session(db, session_id, agent_id=agent_id, now=now)
    if state.status in FINAL_STATUSES:
        require_open(state, "completed")
    if state.status is Status.COMPLETE_IN_PROGRESS:
        return None
    chosen = (state.row.protocol_state or {}).get("fulfillment") or {}
    if not chosen.get("selected_destination_id") or not state.row.selections:
        raise InvalidRequest(FULFILLMENT_NEEDED, param="$.fulfillment", code="fulfillment_required")
    token_id = _own_token(db, instrument, session_id, agent_id) or _vault_card(
        db,
        state,
        card_number(instrument),
        agent_id=agent_id,
        idempotency_key=idempotency_key,
        provider=provider,
        now=now,
        metadata={"source": "ucp", "instrument_id": instrument.id[:200]},
    )
    payment = dict((state.row.protocol_state or {}).get("payment") or {})
    payment["selected_instrument_id"] = instrument.id
    payment["instruments"] = [
        instrument.model_dump(exclude_none=True, exclude={"credential"})
        | {"handler_name": instrument.handler_id}
    ]
    state.row.protocol_state = {**(state.row.protocol_state or {}), "payment": payment}
    CheckoutSessions(db).save(state.row)
    return token_id


def _own_token(
    db: Session, instrument: ucp.PaymentInstrument, session_id: str, agent_id: str
) -> str | None:
    """A token our tokenizer issued for this checkout (POST /ucp/tokenize), as it is."""
    credential = instrument.credential
    if (
        instrument.handler_id not in TOKENIZING_HANDLERS
        or credential is None
        or not (credential.token or "").startswith("vt_")
    ):
        return None
    token = PaymentTokens(db).get(credential.token or "")
    if token is None or token.agent_id != agent_id or token.checkout_session_id != session_id:
        raise PaymentTokenRejected(
            "This payment token does not exist for this checkout.",
            param="$.payment_data.credential.token",
            code="payment_token_not_found",
        )
    return token.id


def _vault_card(
    db: Session,
    state: SessionState,
    number: str,
    *,
    agent_id: str,
    idempotency_key: str,
    provider: PaymentProvider,
    now: datetime,
    metadata: dict[str, str],
) -> str:
    token = delegate_payment(
        db,
        DelegatePaymentRequest(
            payment_method=PaymentMethodCard(
                type="card",
                card_number_type="fpan",
                number=number,
                display_card_funding_type="credit",
                metadata={},
            ),
            allowance=DelegateAllowance(
                reason="one_time",
                max_amount=max(state.quote.totals.total, 1),
                currency=state.row.currency,
                checkout_session_id=state.row.id,
                merchant_id=state.row.merchant_id,
                expires_at=min(state.row.expires_at, now + timedelta(hours=1)),
            ),
            risk_signals=[],
            metadata=metadata,
        ),
        agent_id=agent_id,
        idempotency_key=idempotency_key,
        provider=provider,
        now=now,
    )
    return token.id


def tokenize(
    db: Session,
    request: ucp.TokenizeRequest,
    *,
    agent_id: str,
    provider: PaymentProvider,
    now: datetime,
) -> str:
    """The tokenizer's /tokenize: a card becomes a single-use token bound to one of this agent's
    checkouts, for up to its current total (the allowance every delegated token carries)."""
    state = load_session(db, request.binding.checkout_id, agent_id=agent_id, now=now)
    require_open(state, "paid")
    credential = request.credential
    if credential.type != "card" or not credential.number:
        raise InvalidRequest(
            "The tokenizer accepts card credentials (type card, with its number).",
            param="$.credential",
        )
    return _vault_card(
        db,
        state,
        credential.number,
        agent_id=agent_id,
        idempotency_key="",
        provider=provider,
        now=now,
        metadata={"source": "ucp_tokenize"},
    )


async def complete_with_token(
    ctx: Completion, session_id: str, token_id: str, *, agent_id: str, respond: Respond
) -> CompleteOutcome:
    request = CheckoutSessionCompleteRequest(
        payment_data=PaymentData(
            handler_id=HANDLER_ID,
            instrument=Instrument(type="card", credential=Credential(type="spt", token=token_id)),
        )
    )
    return await complete_checkout(ctx, session_id, request, agent_id=agent_id, respond=respond)

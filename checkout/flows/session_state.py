"""Loading a checkout session with its lines, catalog offers and quote: what every flow starts from."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlmodel import Session

from checkout.domain.checkout import (
    FINAL_STATUSES,
    Address,
    Line,
    Offer,
    Problem,
    Quote,
    QuoteInput,
    Selection,
    Status,
    build_quote,
    status_of,
)
from checkout.domain.errors import NotFound, SessionNotOpen
from checkout.store.catalog import Catalog, offer_of, shipping_rules
from checkout.store.discounts import DiscountCodes
from checkout.store.orders import Orders
from checkout.store.rows import CheckoutLineRow, CheckoutSessionRow, MerchantRow, OrderRow
from checkout.store.sessions import CheckoutSessions


@dataclass(slots=True)
class SessionState:
    row: CheckoutSessionRow
    merchant: MerchantRow
    lines: list[Line]
    quote: Quote
    status: Status
    order: OrderRow | None = None


def address_of(details: dict[str, Any] | None) -> Address | None:
    raw = (details or {}).get("address")
    if not raw:
        return None
    return Address(
        name=raw["name"],
        line_one=raw["line_one"],
        line_two=raw.get("line_two"),
        city=raw["city"],
        state=raw["state"],
        country=raw["country"],
        postal_code=raw["postal_code"],
    )


def contact_email(row: CheckoutSessionRow) -> str | None:
    return (row.buyer or {}).get("email") or (row.fulfillment_details or {}).get("email")


def notices_of(row: CheckoutSessionRow) -> tuple[Problem, ...]:
    return tuple(Problem(**notice) for notice in row.notices)


def notice_dict(problem: Problem) -> dict[str, Any]:
    return {
        "severity": problem.severity,
        "code": problem.code,
        "content": problem.content,
        "param": problem.param,
        "resolution": problem.resolution,
        "blocks": False,
    }


def quote_session(
    db: Session,
    row: CheckoutSessionRow,
    line_rows: list[CheckoutLineRow],
    merchant: MerchantRow,
    now: datetime,
    offers: dict[str, Offer] | None = None,
) -> tuple[list[Line], Quote]:
    """Price the session; `offers` already read in this transaction are reused, not re-read."""
    if offers is None:
        offers = Catalog(db).offers(line.variant_id for line in line_rows)
    lines = [
        Line(
            id=line.id,
            offer=offers[line.variant_id],
            quantity=line.quantity,
            unit_amount=line.unit_amount,
        )
        for line in line_rows
    ]
    return lines, quote_lines(db, row, lines, merchant, now)


def quote_lines(
    db: Session, row: CheckoutSessionRow, lines: list[Line], merchant: MerchantRow, now: datetime
) -> Quote:
    """Price lines already read, against the session row as it stands in this transaction."""
    return build_quote(
        QuoteInput(
            lines=lines,
            shipping=shipping_rules(merchant),
            currency=row.currency,
            address=address_of(row.fulfillment_details),
            contact_email=contact_email(row),
            selections=[
                Selection(s["type"], s["option_id"], tuple(s.get("item_ids", [])))
                for s in row.selections
            ],
            now=now,
            notices=(*notices_of(row), *payability_problems(merchant)),
            discount_codes=DiscountCodes(db).find(row.merchant_id, row.discount_codes),
            default_selections=row.protocol != "ucp",
        )
    )


def requoted(db: Session, state: SessionState, now: datetime) -> SessionState:
    """The state after its row changed in this transaction, not its lines: the lines in hand
    priced again, instead of reading the session, its lines and their offers back."""
    quote = quote_lines(db, state.row, state.lines, state.merchant, now)
    return SessionState(
        state.row, state.merchant, state.lines, quote, status_of(Status(state.row.status), quote)
    )


def payability_problems(merchant: MerchantRow) -> tuple[Problem, ...]:
    """A merchant whose payment account cannot take charges yet, or whose platform revoked our
    access, cannot be bought from."""
    if merchant.status == "revoked":
        return (
            Problem(
                "error",
                "invalid",
                f"{merchant.name} cannot take orders right now; nothing can be charged. "
                "Choose another shop.",
                None,
                "requires_buyer_review",
            ),
        )
    if merchant.payment_status == "payable":
        return ()
    return (
        Problem(
            "error",
            "invalid",
            f"{merchant.name} is still setting up payments and cannot take orders yet; "
            "nothing can be charged. Try again later or choose another shop.",
            None,
            "requires_buyer_review",
        ),
    )


def load_session(
    db: Session, session_id: str, *, agent_id: str, now: datetime, for_update: bool = False
) -> SessionState:
    sessions = CheckoutSessions(db)
    found = sessions.get_with_merchant(session_id, agent_id=agent_id, for_update=for_update)
    if found is None:
        raise NotFound(
            f"Checkout session '{session_id}' does not exist.", code="checkout_session_not_found"
        )
    row, merchant = found
    stored = Status(row.status)
    if stored not in FINAL_STATUSES and row.expires_at <= now:
        stored = Status.EXPIRED
        if for_update:
            row.status = stored.value
            row.updated_at = now
            sessions.save(row)
    items = sessions.lines_with_items(row.id)
    offers = {variant.id: offer_of(variant, product) for _, variant, product in items}
    lines, quote = quote_session(db, row, [line for line, _, _ in items], merchant, now, offers)
    order = Orders(db).for_session(row.id) if stored is Status.COMPLETED else None
    return SessionState(row, merchant, lines, quote, status_of(stored, quote), order)


def accept_current_prices(db: Session, state: SessionState) -> None:
    """The buyer has been shown the catalog's current prices: they become the prices shown."""
    current = {line.id: line.offer.unit_amount for line in state.lines}
    for line in CheckoutSessions(db).lines(state.row.id):
        line.unit_amount = current[line.id]
        db.add(line)
    db.flush()


def require_open(state: SessionState, action: str) -> None:
    if state.status is Status.COMPLETE_IN_PROGRESS and action != "completed":
        raise SessionNotOpen(
            f"This checkout session is being completed and cannot be {action}.",
            code="checkout_session_complete_in_progress",
        )
    if state.status in FINAL_STATUSES:
        raise SessionNotOpen(
            f"This checkout session is {state.status.value} and cannot be {action}.",
            code=f"checkout_session_{state.status.value}",
        )

"""Rendering checkout sessions and orders as UCP documents (2026-01-11 shapes; `version` says
which version the response is processed in)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from checkout.domain.checkout import Problem, ShippingRules, Status
from checkout.flows.session_state import SessionState
from checkout.store.rows import OrderRow
from checkout.ucp.discovery import payment_handlers

METHOD_ID = "shipping"
GROUP_ID = "shipping_group"
STATUS = {
    Status.NOT_READY_FOR_PAYMENT: "incomplete",
    Status.READY_FOR_PAYMENT: "ready_for_complete",
    Status.AUTHENTICATION_REQUIRED: "requires_escalation",
    Status.COMPLETE_IN_PROGRESS: "complete_in_progress",
    Status.COMPLETED: "completed",
    Status.CANCELED: "canceled",
    Status.EXPIRED: "canceled",
}
CHECKOUT_CAPABILITIES = (
    "dev.ucp.shopping.checkout",
    "dev.ucp.shopping.fulfillment",
    "dev.ucp.shopping.discount",
    "dev.ucp.shopping.buyer_consent",
)
# Links a business must show (checkout_resp.json: "Mandatory for legal compliance").
LINK_TYPES = ("privacy_policy", "terms_of_service", "refund_policy", "shipping_policy")


def iso(moment: datetime) -> str:
    return moment.isoformat().replace("+00:00", "Z")


def _total(kind: str, amount: int) -> dict[str, Any]:
    return {"type": kind, "amount": amount}


def _message(problem: Problem) -> dict[str, Any]:
    body: dict[str, Any] = {"type": problem.severity, "content": problem.content}
    if problem.code:
        body["code"] = problem.code
    if problem.param:
        body["path"] = problem.param
    if problem.severity == "error":
        body["severity"] = (
            problem.resolution
            if problem.resolution in ("requires_buyer_input", "requires_buyer_review")
            else "recoverable"
        )
    return body


def _links(state: SessionState, base_url: str) -> list[dict[str, Any]]:
    links = state.merchant.links or {}
    return [
        {"type": kind, "url": links.get(kind, f"{base_url}/ucp/policies/{kind}")}
        for kind in LINK_TYPES[:2]
    ] + [{"type": kind, "url": links[kind]} for kind in LINK_TYPES[2:] if kind in links]


def _options(state: SessionState, shipping: ShippingRules) -> list[dict[str, Any]]:
    regular = {rate.id: rate.amount for rate in shipping.rates}
    options = []
    for option in state.quote.options:
        if option.type != "shipping":
            continue
        free = option.amount == 0 and regular.get(option.id, 0) > 0
        body: dict[str, Any] = {
            "id": option.id,
            "title": f"Free {option.title}" if free else option.title,
            "totals": [_total("subtotal", option.amount), _total("total", option.amount)],
        }
        if option.description:
            body["description"] = option.description
        if option.carrier:
            body["carrier"] = option.carrier
        if option.earliest:
            body["earliest_fulfillment_time"] = iso(option.earliest)
        if option.latest:
            body["latest_fulfillment_time"] = iso(option.latest)
        options.append(body)
    return options


def _fulfillment(state: SessionState, shipping: ShippingRules) -> dict[str, Any]:
    chosen = (state.row.protocol_state or {}).get("fulfillment") or {}
    line_ids = [lt.line.id for lt in state.quote.lines if not lt.line.offer.digital]
    method: dict[str, Any] = {"id": METHOD_ID, "type": "shipping", "line_item_ids": line_ids}
    if chosen.get("destinations"):
        method["destinations"] = chosen["destinations"]
    selected = chosen.get("selected_destination_id")
    if selected:
        method["selected_destination_id"] = selected
        group: dict[str, Any] = {
            "id": GROUP_ID,
            "line_item_ids": line_ids,
            "options": _options(state, shipping),
        }
        chosen_option = next(
            (s.option_id for s in state.quote.selections if s.type == "shipping"), None
        )
        if chosen_option:
            group["selected_option_id"] = chosen_option
        method["groups"] = [group]
    return {"methods": [method]}


def checkout(
    state: SessionState,
    *,
    version: str,
    item_ids: dict[str, str],
    shipping: ShippingRules,
    base_url: str,
    order: OrderRow | None = None,
) -> dict[str, Any]:
    row, quote = state.row, state.quote
    extra = row.protocol_state or {}
    line_items = []
    for lt in quote.lines:
        offer = lt.line.offer
        item: dict[str, Any] = {
            "id": item_ids.get(offer.variant_id, offer.variant_id),
            "title": offer.name,
            "price": offer.unit_amount,
        }
        if offer.images:
            item["image_url"] = offer.images[0]
        line_items.append(
            {
                "id": lt.line.id,
                "item": item,
                "quantity": lt.line.quantity,
                "totals": [_total("subtotal", lt.base), _total("total", lt.base)],
            }
        )
    totals = quote.totals
    summary = [_total("subtotal", totals.subtotal)]
    if totals.discount:
        summary.append(_total("discount", totals.discount))
    if totals.fulfillment is not None:
        summary.append(_total("fulfillment", totals.fulfillment))
    if totals.tax:
        summary.append(_total("tax", totals.tax))
    summary.append(_total("total", totals.total))
    payment = extra.get("payment") or {}
    body: dict[str, Any] = {
        "ucp": {
            "version": version,
            "capabilities": [{"name": name, "version": version} for name in CHECKOUT_CAPABILITIES],
        },
        "id": row.id,
        "status": STATUS[state.status],
        "currency": row.currency.upper(),
        "line_items": line_items,
        "totals": summary,
        "messages": [
            _message(p) for p in quote.problems if state.status not in (Status.COMPLETED,)
        ],
        "links": _links(state, base_url),
        "expires_at": iso(row.expires_at),
        "payment": {
            "handlers": payment_handlers(base_url, version),
            "instruments": payment.get("instruments") or [],
        },
        "fulfillment": _fulfillment(state, shipping),
        "discounts": {
            "codes": list(row.discount_codes),
            "applied": [
                {"code": d.code, "title": d.title, "amount": d.amount}
                for d in quote.discounts
                if d.amount > 0
            ],
        },
    }
    if payment.get("selected_instrument_id"):
        body["payment"]["selected_instrument_id"] = payment["selected_instrument_id"]
    if row.buyer or extra.get("consent"):
        buyer = dict(row.buyer or {})
        if extra.get("consent"):
            buyer["consent"] = extra["consent"]
        body["buyer"] = buyer
    if order is not None:
        body["order"] = {"id": order.id, "permalink_url": order.permalink_url}
    return body


def order_document(
    state: SessionState,
    order: OrderRow,
    *,
    version: str,
    item_ids: dict[str, str],
    shipping: ShippingRules,
    extra: dict[str, Any],
) -> dict[str, Any]:
    """The UCP Order: what was bought, what the buyer was promised, what happened since (the
    core's shipments, then events the platform recorded)."""
    shipped_lines = [{"id": lt.line.id, "quantity": lt.line.quantity} for lt in state.quote.lines]
    events = [
        {
            "id": shipment["id"],
            "occurred_at": (shipment.get("events") or [{}])[0].get("occurred_at")
            or iso(order.updated_at),
            "type": "shipped",
            # A shipment takes every unit not yet shipped (flows.fulfill_order).
            "line_items": shipped_lines,
            **{
                k: shipment[k]
                for k in ("tracking_number", "tracking_url", "carrier")
                if shipment.get(k)
            },
        }
        for shipment in order.fulfillments
        if shipment.get("status") == "shipped"
    ] + list(extra.get("events", []))
    fulfilled: dict[str, int] = {}
    for event in events:
        if event.get("type") in ("shipped", "delivered", "fulfilled"):
            for ref in event.get("line_items", []):
                fulfilled[ref["id"]] = fulfilled.get(ref["id"], 0) + int(ref.get("quantity", 0))
    line_items = []
    for lt in state.quote.lines:
        offer, line = lt.line.offer, lt.line
        done = min(fulfilled.get(line.id, 0), line.quantity)
        line_items.append(
            {
                "id": line.id,
                "item": {
                    "id": item_ids.get(offer.variant_id, offer.variant_id),
                    "title": offer.name,
                    "price": line.unit_amount,
                },
                "quantity": {"total": line.quantity, "fulfilled": done},
                "totals": [_total("subtotal", lt.base), _total("total", lt.base)],
                "status": "fulfilled"
                if done >= line.quantity
                else ("partial" if done else "processing"),
            }
        )
    chosen = (state.row.protocol_state or {}).get("fulfillment") or {}
    destination = next(
        (
            d
            for d in chosen.get("destinations", [])
            if d["id"] == chosen.get("selected_destination_id")
        ),
        None,
    )
    expectations = []
    if destination is not None:
        option = next(
            (o for o in _options(state, shipping) if o["id"] == chosen.get("selected_option_id")),
            None,
        )
        expectation: dict[str, Any] = {
            "id": f"exp_{order.id}",
            "line_items": [
                {"id": lt.line.id, "quantity": lt.line.quantity} for lt in state.quote.lines
            ],
            "method_type": "shipping",
            "destination": {k: v for k, v in destination.items() if k != "id"},
        }
        if option is not None:
            expectation["description"] = option["title"]
        expectations.append(expectation)
    totals = [_total("subtotal", order.items_amount)]
    discount = order.items_amount + order.fulfillment_amount + order.tax_amount - order.total_amount
    if discount:
        totals.append(_total("discount", discount))
    totals += [
        _total("fulfillment", order.fulfillment_amount),
        _total("tax", order.tax_amount),
        _total("total", order.total_amount),
    ]
    return {
        "ucp": {
            "version": version,
            "capabilities": [{"name": "dev.ucp.shopping.order", "version": version}],
        },
        "id": order.id,
        "checkout_id": order.checkout_session_id,
        "permalink_url": order.permalink_url,
        "line_items": line_items,
        "fulfillment": {"expectations": expectations, "events": events},
        "adjustments": extra.get("adjustments", []),
        "totals": totals,
    }

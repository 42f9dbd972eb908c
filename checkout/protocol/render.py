"""Rendering domain state as ACP 2026-04-17 JSON: sessions, orders, errors, the payment handler."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import orjson

from checkout.domain.checkout import LOW_STOCK, FulfillmentOption, Problem, Status
from checkout.domain.errors import CheckoutError, UnsupportedApiVersion
from checkout.protocol import CURRENT_VERSION
from checkout.store.rows import MerchantRow, OrderLineRow, OrderRow, RefundRow

ACP_LINK_TYPES = (
    "terms_of_use",
    "privacy_policy",
    "return_policy",
    "shipping_policy",
    "contact_us",
    "about_us",
    "faq",
    "support",
)
DIRECTORY_SERVERS = {"visa": "visa", "mastercard": "mastercard", "amex": "american_express"}


@dataclass(frozen=True, slots=True)
class Presentation:
    """What rendering needs besides the state: where the service lives and who takes payments."""

    base_url: str
    psp: str
    livemode: bool = False  # a live PSP key: real money moves


def to_json(body: Any) -> bytes:
    """Serialise a response body; integers beyond 64 bits (echoed metadata) fall back to json."""
    try:
        return orjson.dumps(body)
    except TypeError:
        return json.dumps(body, separators=(",", ":"), ensure_ascii=False).encode()


def iso(moment: datetime) -> str:
    return moment.isoformat().replace("+00:00", "Z")


def payment_handler(merchant: MerchantRow, view: Presentation) -> dict[str, Any]:
    """The card handler as this platform's PSP takes it. With Stripe the agent pays with a
    Shared Payment Token minted through Stripe for the merchant's Stripe account, so there is
    no delegate_payment of ours to call (our vault refuses cards under Stripe)."""
    config: dict[str, Any] = {
        # The merchant id an agent names in its delegate_payment allowance (the sandbox), or
        # the merchant's Stripe account its token is scoped to (Stripe).
        "merchant_id": merchant.id,
        "psp": view.psp,
        "accepted_brands": ["visa", "mastercard", "amex", "discover"],
        "accepted_funding_types": ["credit", "debit", "prepaid"],
        "supports_3ds": True,
        "environment": "sandbox",
        "delegate_payment_url": f"{view.base_url}/agentic_commerce/delegate_payment",
    }
    if view.psp != "sandbox":
        config["merchant_id"] = merchant.payment_account_id
        config["environment"] = "live" if view.livemode else "test"
        del config["delegate_payment_url"]
    return {
        "id": "card_tokenized",
        "name": "dev.acp.tokenized.card",
        "display_name": "Card",
        "version": "2026-01-22",
        "spec": "https://acp.dev/handlers/tokenized.card",
        "requires_delegate_payment": view.psp == "sandbox",
        "requires_pci_compliance": False,
        "psp": view.psp,
        "config_schema": "https://acp.dev/schemas/handlers/tokenized.card/config.json",
        "instrument_schemas": ["https://acp.dev/schemas/handlers/tokenized.card/instrument.json"],
        "config": config,
    }


def message(problem: Problem) -> dict[str, Any]:
    body: dict[str, Any] = {"type": problem.severity}
    if problem.severity != "info" and problem.code:
        body["code"] = problem.code
    body["content_type"] = "plain"
    body["content"] = problem.content
    if problem.param:
        body["param"] = problem.param
    if problem.resolution:
        body["resolution"] = problem.resolution
    return body


def total(kind: str, text: str, amount: int) -> dict[str, Any]:
    return {"type": kind, "display_text": text, "amount": amount}


def fulfillment_option(option: FulfillmentOption) -> dict[str, Any]:
    body: dict[str, Any] = {"type": option.type, "id": option.id, "title": option.title}
    if option.description:
        body["description"] = option.description
    if option.carrier:
        body["carrier"] = option.carrier
    if option.earliest and option.latest:
        body["earliest_delivery_time"] = iso(option.earliest)
        body["latest_delivery_time"] = iso(option.latest)
    body["totals"] = [total("total", option.title, option.amount)]
    return body


def availability(available: int, wanted: int) -> str:
    if available <= 0:
        return "out_of_stock"
    return "low_stock" if available <= LOW_STOCK or available < wanted else "in_stock"


def authentication_metadata(
    merchant: MerchantRow, brand: str, acquirer_bin: str, acquirer_merchant_id: str | None
) -> dict[str, Any]:
    """What an agent's 3DS server needs, from the provider's acquirer (never made up here)."""
    return {
        "acquirer_details": {
            "acquirer_bin": acquirer_bin,
            "acquirer_country": merchant.country,
            "acquirer_merchant_id": (acquirer_merchant_id or merchant.id)[:35],
            "merchant_name": merchant.name[:40],
        },
        "directory_server": DIRECTORY_SERVERS.get(brand, "visa"),
        "flow_preference": {"type": "challenge", "challenge": {"type": "preferred"}},
    }


def session(state: Any, view: Presentation) -> dict[str, Any]:
    """The full authoritative CheckoutSession (plus `order` once completed)."""
    row, quote, merchant = state.row, state.quote, state.merchant
    line_items = []
    for lt in quote.lines:
        line, offer = lt.line, lt.line.offer
        item: dict[str, Any] = {
            "id": line.id,
            "item": {"id": offer.variant_id},
            "quantity": line.quantity,
            "name": offer.name,
            "description": offer.description,
            "unit_amount": offer.unit_amount,
            "product_id": offer.product_id,
            "variant_id": offer.variant_id,
            "availability_status": availability(offer.available_quantity, line.quantity),
            "available_quantity": max(offer.available_quantity, 0),
            "marketplace_seller_details": {"name": merchant.name},
            "totals": [
                total("items_base_amount", "Base Amount", lt.base),
                total("subtotal", "Subtotal", lt.subtotal),
                total("tax", "Tax", lt.tax),
                total("total", "Total", lt.total),
            ],
        }
        if offer.images:
            item["images"] = list(offer.images)
        if offer.sku:
            item["sku"] = offer.sku
        if offer.category:
            item["category"] = offer.category
        if offer.options:
            item["variant_options"] = [{"name": n, "value": v} for n, v in offer.options]
        line_items.append(item)
    totals = [
        total("items_base_amount", "Item(s) total", quote.totals.items_base),
        total("subtotal", "Subtotal", quote.totals.subtotal),
    ]
    if quote.totals.fulfillment is not None:
        totals.append(total("fulfillment", "Fulfillment", quote.totals.fulfillment))
    totals += [total("tax", "Tax", quote.totals.tax), total("total", "Total", quote.totals.total)]
    body: dict[str, Any] = {
        "id": row.id,
        "protocol": {"version": CURRENT_VERSION},
        "capabilities": {
            "payment": {"handlers": [payment_handler(merchant, view)]},
            "interventions": {
                "supported": list(row.interventions),
                "required": [],
                "enforcement": "conditional",
            },
        },
        "status": state.status.value,
        "currency": row.currency,
        "line_items": line_items,
        "fulfillment_options": [fulfillment_option(o) for o in quote.options],
        "selected_fulfillment_options": [
            {"type": s.type, "option_id": s.option_id, "item_ids": list(s.item_ids)}
            for s in quote.selections
        ],
        "totals": totals,
        "messages": [message(p) for p in quote.problems],
        "links": [
            {"type": kind, "url": merchant.links[kind]}
            for kind in ACP_LINK_TYPES
            if kind in merchant.links
        ],
        "created_at": iso(row.created_at),
        "updated_at": iso(row.updated_at),
        "expires_at": iso(row.expires_at),
    }
    if row.buyer:
        body["buyer"] = row.buyer
    if row.fulfillment_details:
        body["fulfillment_details"] = row.fulfillment_details
    if row.locale:
        body["locale"] = row.locale
    if row.timezone:
        body["timezone"] = row.timezone
    if row.metadata_:
        body["metadata"] = row.metadata_
    if state.status is Status.AUTHENTICATION_REQUIRED and row.authentication_metadata:
        body["authentication_metadata"] = row.authentication_metadata
    if state.order is not None:
        body["order"] = order_reference(state.order)
    return body


def order_reference(order: OrderRow) -> dict[str, Any]:
    return {
        "id": order.id,
        "checkout_session_id": order.checkout_session_id,
        "permalink_url": order.permalink_url,
        "order_number": order.order_number,
        "status": order.status,
    }


def line_status(current: int, fulfilled: int) -> str:
    if current == 0:
        return "removed"
    if fulfilled >= current:
        return "fulfilled"
    return "partial" if fulfilled > 0 else "processing"


ADJUSTMENT_STATUS = {"pending": "pending", "succeeded": "completed", "failed": "failed"}


def order(
    order: OrderRow,
    lines: Sequence[OrderLineRow],
    merchant: MerchantRow,
    refunds: Sequence[RefundRow] = (),
    disputes: Sequence[dict[str, Any]] = (),
) -> dict[str, Any]:
    """The full ACP Order, as sent in order_create/order_update webhooks and GET /orders/{id}."""
    shipped: dict[str, int] = {}
    for fulfillment in order.fulfillments:
        for ref in fulfillment.get("line_items", []):
            shipped[ref["id"]] = shipped.get(ref["id"], 0) + int(ref["quantity"])
    body: dict[str, Any] = {
        "type": "order",
        "id": order.id,
        "checkout_session_id": order.checkout_session_id,
        "permalink_url": order.permalink_url,
        "order_number": order.order_number,
        "status": order.status,
        "line_items": [],
        "fulfillments": order.fulfillments,
        "adjustments": [
            {
                "id": refund.id,
                "type": "refund",
                "occurred_at": iso(refund.created_at),
                "status": ADJUSTMENT_STATUS[refund.status],
                "amount": refund.amount,
                "currency": refund.currency,
                "description": "Full refund"
                if refund.amount == order.total_amount
                else "Partial refund",
                **({"reason": refund.reason} if refund.reason else {}),
            }
            for refund in refunds
        ]
        + list(disputes),
        "totals": [
            total("subtotal", "Subtotal", order.items_amount),
            total("fulfillment", "Shipping", order.fulfillment_amount),
            total("tax", "Tax", order.tax_amount),
            total("total", "Total", order.total_amount),
            *(
                [total("amount_refunded", "Refunded", order.amount_refunded)]
                if order.amount_refunded
                else []
            ),
        ],
        "confirmation": {
            "confirmation_number": order.order_number,
            "confirmation_email_sent": False,
        },
    }
    for line in lines:
        fulfilled = min(shipped.get(line.id, 0), line.quantity)
        item: dict[str, Any] = {
            "id": line.id,
            "title": line.title,
            "product_id": line.product_id,
            "quantity": {
                "ordered": line.quantity,
                "current": line.quantity,
                "fulfilled": fulfilled,
            },
            "unit_price": line.unit_amount,
            "subtotal": line.subtotal,
            "status": line_status(line.quantity, fulfilled),
        }
        if line.image_url:
            item["image_url"] = line.image_url
        if line.url:
            item["url"] = line.url
        body["line_items"].append(item)
    if order.estimated_earliest and order.estimated_latest:
        body["estimated_delivery"] = {
            "earliest": iso(order.estimated_earliest),
            "latest": iso(order.estimated_latest),
        }
    if merchant.support_email:
        body["support"] = {"email": merchant.support_email}
    return body


def error(exc: CheckoutError) -> dict[str, Any]:
    body: dict[str, Any] = {"type": exc.type, "code": exc.code, "message": exc.message}
    if exc.param:
        body["param"] = exc.param
    if isinstance(exc, UnsupportedApiVersion):
        body["supported_versions"] = exc.supported
    return body

"""The assistant's answer as it forms: text, structured parts, suggested replies.

A `ReplyBuilder` may carry a queue; the SSE endpoint reads it to stream `delta` and `part`
events while the turn is still running.
"""

from __future__ import annotations

import asyncio
from typing import Any

from assistant.catalog.index import Match
from assistant.catalog.products import Product, Variant
from assistant.catalog.reasons import LOW_STOCK
from assistant.money import format_money
from assistant.shopping.state import CartLine

StreamEvent = tuple[str, Any]


class ReplyBuilder:
    def __init__(self, queue: asyncio.Queue[StreamEvent] | None = None) -> None:
        self.sentences: list[str] = []
        self.parts: list[dict[str, Any]] = []
        self.suggestions: list[str] = []
        self.queue = queue

    def say(self, text: str) -> None:
        if not text:
            return
        self.sentences.append(text)
        if self.queue is not None:
            chunk = text if len(self.sentences) == 1 else "\n\n" + text
            self.queue.put_nowait(("delta", chunk))

    def add(self, part: dict[str, Any]) -> None:
        self.parts.append(part)
        if self.queue is not None:
            self.queue.put_nowait(("part", part))

    def suggest(self, *replies: str) -> None:
        for reply in replies:
            if reply not in self.suggestions:
                self.suggestions.append(reply)

    @property
    def text(self) -> str:
        return "\n\n".join(self.sentences)

    def build(self) -> dict[str, Any]:
        parts = list(self.parts)
        if self.suggestions:
            parts.append({"type": "suggested_replies", "replies": self.suggestions[:4]})
        return {"role": "assistant", "text": self.text, "parts": parts}


def money(amount: int, currency: str = "usd") -> dict[str, Any]:
    return {"amount": amount, "currency": currency, "display": format_money(amount, currency)}


def availability(variant: Variant) -> dict[str, Any]:
    if not variant.in_stock:
        status = "out_of_stock"
    elif variant.available_quantity <= LOW_STOCK:
        status = "low_stock"
    else:
        status = "in_stock"
    return {"status": status, "available_quantity": variant.available_quantity}


def product_card(
    product: Product, variant: Variant, *, position: int, reasons: tuple[str, ...] = ()
) -> dict[str, Any]:
    options: dict[str, list[str]] = {}
    for candidate in product.variants:
        for name, value in candidate.options:
            if value not in options.setdefault(name, []):
                options[name].append(value)
    card: dict[str, Any] = {
        "position": position,
        "product_id": product.id,
        "variant_id": variant.id,
        "title": product.title,
        "variant_title": variant.title if variant.options else "",
        "price": money(variant.price, variant.currency),
        "merchant": {"id": product.merchant_id, "name": product.merchant_name},
        "image": product.image,
        "url": product.url,
        "rating": product.rating,
        "review_count": product.review_count,
        "availability": availability(variant),
        "options": {name: values for name, values in options.items() if len(values) > 1},
        "reasons": list(reasons),
    }
    if variant.list_price and variant.list_price > variant.price:
        card["list_price"] = money(variant.list_price, variant.currency)
    return card


def product_cards(matches: list[Match], *, start: int = 1) -> dict[str, Any]:
    return {
        "type": "product_cards",
        "cards": [
            product_card(m.product, m.variant, position=start + i, reasons=m.reasons)
            for i, m in enumerate(matches)
        ],
    }


def cart_part(cart: list[CartLine]) -> dict[str, Any]:
    currency = cart[0].currency if cart else "usd"
    return {
        "type": "cart",
        "lines": [
            {
                "variant_id": line.variant_id,
                "title": line.label,
                "merchant": {"id": line.merchant_id, "name": line.merchant_name},
                "quantity": line.quantity,
                "unit_price": money(line.unit_amount, line.currency),
            }
            for line in cart
        ],
        "items_total": money(sum(line.unit_amount * line.quantity for line in cart), currency),
        "note": "Catalog prices; checkout gives the final total with shipping and tax.",
    }


def total_of(session: dict[str, Any], kind: str = "total") -> int:
    return int(next((t["amount"] for t in session.get("totals", []) if t["type"] == kind), 0))


def selected_option(session: dict[str, Any]) -> str | None:
    chosen = session.get("selected_fulfillment_options") or []
    return chosen[0]["option_id"] if chosen else None


def checkout_part(sessions: list[tuple[str, dict[str, Any]]]) -> dict[str, Any]:
    """Checkout's own state for each session (merchant name, session), never recomputed here."""
    rendered = []
    for merchant_name, session in sessions:
        currency = session.get("currency", "usd")
        chosen = selected_option(session)
        rendered.append(
            {
                "checkout_session_id": session["id"],
                "merchant": {"name": merchant_name},
                "status": session.get("status"),
                "line_items": [
                    {
                        "title": item.get("name"),
                        "variant_id": item.get("variant_id"),
                        "quantity": item.get("quantity"),
                        "unit_price": money(int(item.get("unit_amount", 0)), currency),
                        "total": money(total_of(item), currency),
                        "availability": item.get("availability_status"),
                    }
                    for item in session.get("line_items", [])
                ],
                "shipping_options": [
                    {
                        "id": option["id"],
                        "title": option.get("title"),
                        "carrier": option.get("carrier"),
                        "price": money(total_of(option), currency),
                        "delivery": option.get("description"),
                        "selected": option["id"] == chosen,
                    }
                    for option in session.get("fulfillment_options", [])
                ],
                "totals": [
                    {**t, "display": format_money(int(t["amount"]), currency)}
                    for t in session.get("totals", [])
                ],
                "messages": [
                    {k: m[k] for k in ("type", "code", "content") if k in m}
                    for m in session.get("messages", [])
                ],
            }
        )
    currency = sessions[0][1].get("currency", "usd") if sessions else "usd"
    return {
        "type": "checkout",
        "sessions": rendered,
        "grand_total": money(sum(total_of(s) for _, s in sessions), currency),
        "ready_for_payment": all(s.get("status") == "ready_for_payment" for _, s in sessions),
    }


def order_part(orders: list[dict[str, Any]]) -> dict[str, Any]:
    return {"type": "order", "orders": orders}

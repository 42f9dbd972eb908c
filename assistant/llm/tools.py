"""The tools the model may call, each one of the shopping operations the offline agent uses.

`pay` and `complete_authentication` are guarded in code: they refuse unless the shopper's own
latest message confirms (or reports the bank approval) after checkout's totals were shown.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from typing import Any

from assistant.catalog.index import ProductIndex
from assistant.catalog.query import SearchQuery
from assistant.dialogue.addresses import form_address
from assistant.money import format_money, to_minor
from assistant.shopping import browse
from assistant.shopping.purchase import PurchaseDesk
from assistant.shopping.replies import ReplyBuilder
from assistant.shopping.turn import Turn

log = logging.getLogger("assistant.llm")


def _function(name: str, description: str, properties: dict[str, Any], required: list[str]):  # type: ignore[no-untyped-def]
    return {
        "type": "function",
        "function": {
            "name": name,
            "description": description,
            "parameters": {
                "type": "object",
                "properties": properties,
                "required": required,
                "additionalProperties": False,
            },
        },
    }


TOOLS: list[dict[str, Any]] = [
    _function(
        "search_products",
        "Search the platform catalog. Prices are in dollars. Returns numbered results.",
        {
            "query": {"type": "string", "description": "Product words, e.g. 'ceramic mug'."},
            "max_price": {"type": "number"},
            "min_price": {"type": "number"},
            "colour": {"type": "string"},
            "size": {"type": "string"},
            "material": {"type": "string"},
            "in_stock_only": {"type": "boolean"},
        },
        ["query"],
    ),
    _function(
        "show_product",
        "Full details of a product shown in the last results, by its 1-based position.",
        {"position": {"type": "integer"}},
        ["position"],
    ),
    _function(
        "add_to_cart",
        "Put a variant (by variant_id from the results) in the cart.",
        {"variant_id": {"type": "string"}, "quantity": {"type": "integer", "minimum": 1}},
        ["variant_id", "quantity"],
    ),
    _function(
        "remove_from_cart",
        "Take a variant out of the cart.",
        {"variant_id": {"type": "string"}},
        ["variant_id"],
    ),
    _function(
        "create_checkout",
        "Open checkout for the cart (one session per shop) and return checkout's totals.",
        {},
        [],
    ),
    _function(
        "update_checkout",
        "Set the shipping address, email or shipping speed, and return the new totals.",
        {
            "shipping_address": {
                "type": "object",
                "properties": {
                    "name": {"type": "string"},
                    "line_one": {"type": "string"},
                    "line_two": {"type": "string"},
                    "city": {"type": "string"},
                    "state": {"type": "string"},
                    "postal_code": {"type": "string"},
                    "country": {"type": "string"},
                },
                "required": ["name", "line_one", "city", "state", "postal_code"],
            },
            "email": {"type": "string"},
            "shipping": {"type": "string", "enum": ["standard", "express"]},
        },
        [],
    ),
    _function(
        "pay",
        "Pay for the open checkout with the card the shopper typed. Only after the shopper "
        "confirmed the totals in their latest message.",
        {},
        [],
    ),
    _function(
        "complete_authentication",
        "Finish a 3-D Secure payment after the shopper said they approved it in their bank app.",
        {},
        [],
    ),
    _function("order_status", "The status of the orders placed in this conversation.", {}, []),
    _function("cancel_checkout", "Cancel the open checkout and empty the cart.", {}, []),
]


class ToolBox:
    """Runs one tool call against the turn; the operations' sentences become the tool's notes."""

    def __init__(self, index: Callable[[], ProductIndex], desk: PurchaseDesk) -> None:
        self.index = index
        self.desk = desk

    async def call(self, turn: Turn, name: str, arguments: str) -> str:
        try:
            args = json.loads(arguments or "{}")
        except ValueError:
            return json.dumps({"error": "arguments are not valid JSON"})
        main, scratch = turn.reply, ReplyBuilder()
        turn.reply = scratch
        try:
            handler = getattr(self, f"_{name}", None)
            if handler is None:
                result: dict[str, Any] = {"error": f"unknown tool {name}"}
            else:
                result = await handler(turn, args)
        except (TypeError, ValueError, AttributeError) as exc:
            # A model can send arguments of the wrong shape ({"position": {}}); it hears so
            # and may try again, instead of the turn failing.
            log.warning("llm.tool_bad_arguments name=%s error=%r", name, exc)
            result = {"error": f"bad arguments for {name}: {type(exc).__name__}"}
        finally:
            turn.reply = main
        for part in scratch.parts:
            main.add(part)
        if scratch.sentences:
            result["notes"] = scratch.sentences
        return json.dumps(result)

    async def _search_products(self, turn: Turn, args: dict[str, Any]) -> dict[str, Any]:
        def cents(key: str) -> int | None:
            value = args.get(key)
            return None if value is None else to_minor(str(value))

        query = SearchQuery(
            text=str(args.get("query", "")),
            max_price=cents("max_price"),
            min_price=cents("min_price"),
            colour=(args.get("colour") or None),
            size=(args.get("size") or None),
            material=(args.get("material") or None),
            in_stock_only=bool(args.get("in_stock_only")),
        )
        matches = browse.search(turn, self.index(), query)
        return {
            "results": [
                {
                    "position": i + 1,
                    "product_id": m.product.id,
                    "variant_id": m.variant.id,
                    "title": m.product.title,
                    "variant": m.variant.title,
                    "price": format_money(m.variant.price, m.variant.currency),
                    "merchant": m.product.merchant_name,
                    "rating": m.product.rating,
                    "in_stock": m.variant.in_stock,
                    "reasons": list(m.reasons),
                }
                for i, m in enumerate(matches)
            ]
        }

    async def _show_product(self, turn: Turn, args: dict[str, Any]) -> dict[str, Any]:
        position = int(args.get("position", 0)) - 1
        if not 0 <= position < len(turn.state.shown):
            return {"error": "no such position in the last results"}
        found = browse.detail(turn, self.index(), [position])
        if not found:
            return {"error": "the product is no longer in the catalog"}
        product, _ = found[0]
        return {
            "product_id": product.id,
            "title": product.title,
            "description": product.description,
            "variants": [
                {
                    "variant_id": v.id,
                    "title": v.title,
                    "price": format_money(v.price, v.currency),
                    "available_quantity": v.available_quantity,
                }
                for v in product.variants
            ],
        }

    async def _add_to_cart(self, turn: Turn, args: dict[str, Any]) -> dict[str, Any]:
        hit = self.index().variant(str(args.get("variant_id")))
        if hit is None:
            return {"error": "unknown variant_id; use one from search results"}
        product, variant = hit
        quantity = max(int(args.get("quantity") or 1), 1)
        if variant.available_quantity < quantity:
            return {"error": f"only {variant.available_quantity} in stock"}
        line = browse.add_to_cart(turn, product, variant, quantity)
        return {"cart": [c.model_dump() for c in turn.state.cart], "added": line.label}

    async def _remove_from_cart(self, turn: Turn, args: dict[str, Any]) -> dict[str, Any]:
        removed = browse.remove_from_cart(turn, {str(args.get("variant_id"))})
        return {"removed": [line.label for line in removed]}

    async def _checkout_state(self, turn: Turn, sessions: list[Any]) -> dict[str, Any]:
        ready = self.desk.present(turn, sessions)
        return {
            "ready_for_payment": ready,
            "sessions": [
                {
                    "merchant": row.merchant_name,
                    "status": session.get("status"),
                    "totals": session.get("totals"),
                    "messages": [m.get("content") for m in session.get("messages", [])],
                }
                for row, session in sessions
            ],
            "card_on_file": self.desk.vault.get(turn.conversation_id) is not None,
        }

    async def _create_checkout(self, turn: Turn, args: dict[str, Any]) -> dict[str, Any]:
        if not turn.state.cart:
            return {"error": "the cart is empty"}
        return await self._checkout_state(turn, await self.desk.sync(turn))

    async def _update_checkout(self, turn: Turn, args: dict[str, Any]) -> dict[str, Any]:
        if args.get("shipping_address"):
            turn.state.shipping_address = form_address(args["shipping_address"])
        if args.get("email"):
            turn.state.email = str(args["email"])
        if args.get("shipping"):
            turn.state.shipping_choice = str(args["shipping"])
        return await self._checkout_state(turn, await self.desk.refresh(turn))

    async def _pay(self, turn: Turn, args: dict[str, Any]) -> dict[str, Any]:
        if not (turn.confirmed and turn.totals_confirmable):
            return {
                "refused": "confirmation_required",
                "message": "Show the shopper checkout's totals and wait for them to confirm "
                "in a new message before paying.",
            }
        if self.desk.vault.get(turn.conversation_id) is None and turn.card is None:
            return {"refused": "card_required", "message": "Ask the shopper to type a card."}
        orders = await self.desk.pay(turn)
        return {"orders": orders}

    async def _complete_authentication(self, turn: Turn, args: dict[str, Any]) -> dict[str, Any]:
        if not turn.bank_approved:
            return {"refused": "approval_required", "message": "Wait for the shopper to approve."}
        return {"orders": await self.desk.approve(turn, approved=True)}

    async def _order_status(self, turn: Turn, args: dict[str, Any]) -> dict[str, Any]:
        return {"orders": await self.desk.order_status(turn)}

    async def _cancel_checkout(self, turn: Turn, args: dict[str, Any]) -> dict[str, Any]:
        await self.desk.cancel(turn)
        return {"canceled": True}

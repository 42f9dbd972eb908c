"""The mutation root fields orderCreate and orderCancel: stock claimed all or nothing, webhooks queued."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Sequence
from datetime import datetime
from decimal import InvalidOperation
from typing import Any

from sqlalchemy import Connection, Engine, Row, or_, select, update

from merchant_adapters.sandbox.shopify.nodes import minor_units, order_node, order_payload
from merchant_adapters.sandbox.shopify.outbox import WebhookOutbox
from merchant_adapters.sandbox.shopify.parser import GraphQLError
from merchant_adapters.sandbox.shopify.tables import (
    LINE_ITEM,
    ORDER,
    format_time,
    make_id,
    numeric_id,
    orders,
    shops,
    variants,
)
from merchant_adapters.sandbox.transactions import write_transaction


def _user_error(field: Sequence[str], message: str, code: str) -> dict[str, Any]:
    return {"field": list(field), "message": message, "code": code}


class _ClaimFailed(Exception):
    def __init__(self, lines: list[int]) -> None:
        super().__init__(lines)
        self.lines = lines


class MutationResolvers:
    """Each method answers one mutation field with its payload; user errors are values, not raised."""

    def __init__(
        self, engine: Engine, clock: Callable[[], datetime], outbox: WebhookOutbox
    ) -> None:
        self._engine = engine
        self._clock = clock
        self._outbox = outbox

    def resolve_order_create(self, shop: Row[Any], args: dict[str, Any]) -> dict[str, Any]:
        order = args.get("order")
        if not isinstance(order, dict):
            raise GraphQLError(
                "Variable $order of type OrderCreateOrderInput! was provided invalid value",
                "INVALID_VARIABLE",
            )
        behaviour = (args.get("options") or {}).get("inventoryBehaviour") or "BYPASS"
        currency = str(order.get("currency") or shop.currency).upper()
        items = order.get("lineItems") or []
        errors: list[dict[str, Any]] = []
        if not items or len(items) > 250:
            errors.append(
                _user_error(["order", "lineItems"], "Line items must number 1 to 250", "INVALID")
            )
        variant_ids = [numeric_id(item.get("variantId"), "ProductVariant") for item in items]
        with self._engine.connect() as conn:
            known = {
                row.id: row
                for row in conn.execute(
                    select(variants).where(
                        variants.c.id.in_([i for i in variant_ids if i]),
                        variants.c.shop_domain == shop.domain,
                    )
                )
            }
        lines = []
        for index, (item, variant_id) in enumerate(zip(items, variant_ids, strict=True)):
            field = ["order", "lineItems", str(index)]
            variant = known.get(variant_id or 0)
            quantity = item.get("quantity")
            if variant is None:
                errors.append(
                    _user_error([*field, "variantId"], "Variant does not exist", "INVALID")
                )
                continue
            if not isinstance(quantity, int) or quantity < 1:
                errors.append(
                    _user_error([*field, "quantity"], "Quantity must be at least 1", "INVALID")
                )
                continue
            amount = ((item.get("priceSet") or {}).get("shopMoney") or {}).get("amount")
            try:
                price = variant.price if amount is None else minor_units(amount, currency)
            except (InvalidOperation, ValueError):
                errors.append(
                    _user_error([*field, "priceSet"], f"Invalid amount {amount!r}", "INVALID")
                )
                continue
            lines.append(
                {
                    "variant_id": variant.id,
                    "product_id": variant.product_id,
                    "sku": variant.sku,
                    "title": variant.title,
                    "quantity": quantity,
                    "price": price,
                }
            )
        try:
            shipping_lines = [
                {
                    "title": line.get("title") or "Shipping",
                    "code": line.get("code"),
                    "price": minor_units(line["priceSet"]["shopMoney"]["amount"], currency),
                }
                for line in order.get("shippingLines") or []
            ]
            tax_lines = order.get("taxLines") or []
            tax = sum(
                minor_units(line["priceSet"]["shopMoney"]["amount"], currency) for line in tax_lines
            )
        except (KeyError, TypeError, InvalidOperation, ValueError):
            errors.append(
                _user_error(["order"], "Shipping or tax lines need a priceSet", "INVALID")
            )
            shipping_lines, tax_lines, tax = [], [], 0
        if any(line.get("rate") is None for line in tax_lines):
            errors.append(
                _user_error(
                    ["order", "taxLines"], "Tax line rate is missing", "TAX_LINE_RATE_MISSING"
                )
            )
        if errors:
            return {"__typename": "OrderCreatePayload", "order": None, "userErrors": errors}
        now = format_time(self._clock())
        subtotal = sum(line["price"] * line["quantity"] for line in lines)
        shipping = sum(line["price"] for line in shipping_lines)
        tags = [str(tag).strip() for tag in order.get("tags") or []]
        try:
            with write_transaction(self._engine) as conn:
                self._claim_stock(conn, lines, behaviour)
                conn.execute(
                    update(shops)
                    .where(shops.c.domain == shop.domain)
                    .values(next_order=shops.c.next_order + 1)
                )
                sequence = (
                    conn.execute(
                        select(shops.c.next_order).where(shops.c.domain == shop.domain)
                    ).scalar_one()
                    - 1
                )
                order_id = make_id(shop.number, ORDER, sequence)
                for index, line in enumerate(lines):
                    line["id"] = make_id(shop.number, LINE_ITEM, sequence * 1000 + index)
                conn.execute(
                    orders.insert().values(
                        id=order_id,
                        shop_domain=shop.domain,
                        number=1000 + sequence,
                        email=order.get("email"),
                        tags=", ".join(tags),
                        source_name=order.get("sourceName"),
                        source_identifier=order.get("sourceIdentifier"),
                        currency=currency,
                        subtotal=subtotal,
                        shipping=shipping,
                        tax=tax,
                        total=subtotal + shipping + tax,
                        financial_status=str(order.get("financialStatus") or "PENDING"),
                        inventory_claimed=behaviour != "BYPASS",
                        lines=lines,
                        shipping_address=order.get("shippingAddress"),
                        shipping_lines=shipping_lines,
                        fulfillments=[],
                        created_at=now,
                        updated_at=now,
                    )
                )
                row = conn.execute(select(orders).where(orders.c.id == order_id)).one()
        except _ClaimFailed as failed:
            return {
                "__typename": "OrderCreatePayload",
                "order": None,
                "userErrors": [
                    _user_error(
                        ["order", "lineItems", str(i), "quantity"],
                        "Unable to claim inventory: not enough stock",
                        "INVENTORY_CLAIM_FAILED",
                    )
                    for i in failed.lines
                ],
            }
        return {"__typename": "OrderCreatePayload", "order": order_node(row), "userErrors": []}

    @staticmethod
    def _claim_stock(conn: Connection, lines: list[dict[str, Any]], behaviour: str) -> None:
        """All lines or none: one conditional UPDATE per line in the caller's transaction."""
        if behaviour == "BYPASS":
            return
        failed = []
        for index, line in enumerate(lines):
            claim = (
                update(variants)
                .where(variants.c.id == line["variant_id"])
                .values(available=variants.c.available - line["quantity"])
            )
            if behaviour == "DECREMENT_OBEYING_POLICY":
                claim = claim.where(
                    or_(
                        variants.c.available >= line["quantity"],
                        variants.c.inventory_policy == "CONTINUE",
                        variants.c.tracked.is_(False),
                    )
                )
            if conn.execute(claim).rowcount == 0:
                failed.append(index)
        if failed:
            raise _ClaimFailed(failed)  # leaving the transaction by an exception rolls it back

    def resolve_order_cancel(self, shop: Row[Any], args: dict[str, Any]) -> dict[str, Any]:
        if args.get("reason") is None or args.get("restock") is None:
            raise GraphQLError(
                "Field 'orderCancel' is missing required arguments: reason, restock",
                "missingRequiredArguments",
            )
        order_id = numeric_id(args.get("orderId"), "Order")
        payload: dict[str, Any] = {
            "__typename": "OrderCancelPayload",
            "job": None,
            "orderCancelUserErrors": [],
            "userErrors": [],
        }
        now = format_time(self._clock())
        with write_transaction(self._engine) as conn:
            row = conn.execute(
                select(orders).where(orders.c.id == order_id, orders.c.shop_domain == shop.domain)
            ).first()
            if row is None:
                payload["orderCancelUserErrors"] = [
                    _user_error(["orderId"], "Order does not exist", "NOT_FOUND")
                ]
                return payload
            # The conditional UPDATE is the claim: of two concurrent cancels only one restocks.
            claimed = conn.execute(
                update(orders)
                .where(orders.c.id == row.id, orders.c.cancelled_at.is_(None))
                .values(cancelled_at=now, updated_at=now, cancel_reason=str(args["reason"]).lower())
            ).rowcount
            if not claimed:
                payload["orderCancelUserErrors"] = [
                    _user_error(["orderId"], "Order has already been canceled", "INVALID")
                ]
                return payload
            if args["restock"] and row.inventory_claimed:
                for line in row.lines:
                    conn.execute(
                        update(variants)
                        .where(variants.c.id == line["variant_id"])
                        .values(available=variants.c.available + line["quantity"])
                    )
            self._outbox.queue(
                conn,
                shop,
                "orders/cancelled",
                order_payload(conn.execute(select(orders).where(orders.c.id == row.id)).one()),
            )
        payload["job"] = {
            "__typename": "Job",
            "id": f"gid://shopify/Job/{uuid.uuid4()}",
            "done": True,
        }
        return payload

"""Orders on the Etsy sandbox's non-Etsy /x-sandbox/ route (Etsy itself has no order API)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Literal

from merchant_adapters import (
    ExternalSale,
    PlacedOrder,
    PlatformNotFound,
    PlatformOutOfStock,
    PlatformUnavailable,
    VariantRef,
)
from merchant_adapters.etsy.catalog import find_product
from merchant_adapters.etsy.inventory import EtsyInventory
from merchant_adapters.etsy.transport import EtsyTransport, Json, results

SANDBOX_ORDER_STATES: dict[str, Literal["open", "fulfilled", "canceled"]] = {
    "paid": "open",
    "shipped": "fulfilled",
    "canceled": "canceled",
}


def sandbox_placed(order: Mapping[str, Any]) -> PlacedOrder:
    if "order_id" not in order:
        raise PlatformUnavailable("The Etsy sandbox answered without an order_id")
    return PlacedOrder(
        platform_order_id=str(order["order_id"]),
        platform_order_name=order.get("name"),
        recorded="sandbox_extension",
        state=SANDBOX_ORDER_STATES.get(str(order.get("status"))),
    )


class SandboxOrders:
    """One shop's orders on the sandbox extension: placed, found and canceled by reference."""

    def __init__(self, transport: EtsyTransport, inventory: EtsyInventory, shop_id: str) -> None:
        self._transport = transport
        self._inventory = inventory
        self._path = f"/x-sandbox/shops/{shop_id}/orders"

    async def place(self, sale: ExternalSale) -> PlacedOrder:
        # The extension route claims stock by the current product_id, which only a fresh read
        # knows; the route itself is idempotent on the reference and all-or-nothing.
        ids = sorted(
            {
                line.ref.platform_product_id
                for line in sale.lines
                if line.ref.platform_product_id.isdigit()
            },
            key=int,
        )
        inventories = {
            listing_id: inventory
            for listing_id, inventory, _ in await self._inventory.read_many(ids)
        }
        lines: list[Json] = []
        by_product: dict[str, VariantRef] = {}
        for line in sale.lines:
            inventory = inventories.get(line.ref.platform_product_id)
            product = find_product(inventory, line.ref.platform_variant_id) if inventory else None
            if product is None:
                raise PlatformNotFound(f"Etsy has no variant {line.ref}")
            by_product[str(product["product_id"])] = line.ref
            lines.append(
                {
                    "listing_id": int(line.ref.platform_product_id),
                    "product_id": product["product_id"],
                    "quantity": line.quantity,
                    "unit_price": line.unit_price,
                }
            )
        payload: Json = {
            "reference": sale.reference,
            "currency": sale.currency,
            "lines": lines,
            "buyer_email": sale.buyer_email,
            "buyer_name": sale.buyer_name,
            "total_amount": sale.total_amount,
        }
        response = await self._transport.send(
            "POST", self._path, json=payload, retry=True, passthrough={409}
        )
        body = self._transport.json(response, "the sandbox order")
        if not isinstance(body, dict):
            raise PlatformUnavailable("The Etsy sandbox answered the order with a non-object")
        if response.status_code == 409:
            short = [
                by_product[str(p)] for p in body.get("product_ids") or () if str(p) in by_product
            ]
            raise PlatformOutOfStock(
                f"Not enough stock on the Etsy sandbox: {body.get('error')}", refs=short
            )
        return sandbox_placed(body)

    async def find(self, reference: str) -> PlacedOrder | None:
        body = await self._transport.get(self._path, params={"reference": reference})
        found = results(body, "find order")
        return sandbox_placed(found[0]) if found else None

    async def cancel(self, order: PlacedOrder, *, restock: bool) -> None:
        path = f"{self._path}/{order.platform_order_id}/cancel"
        # Cancelling is idempotent on the sandbox (a second call restocks nothing), so retry.
        await self._transport.send("POST", path, json={"restock": restock}, retry=True)

"""Shopify's GraphQL Admin API behind MerchantAdapter: catalog, fresh stock, orderCreate, webhooks.

Everything Shopify-shaped stays in this package (GIDs, decimal-string money, query cost,
`userErrors`); checkout sees only the types and errors of `merchant_adapters`. The local emulator
of the same endpoint, for demos and tests, is `merchant_adapters.sandbox.shopify`.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Mapping, Sequence
from decimal import InvalidOperation
from typing import Any, ClassVar, Literal

import httpx

from merchant_adapters import (
    CatalogPage,
    ExternalSale,
    PlacedOrder,
    PlatformEvent,
    PlatformInvalidRequest,
    PlatformNotFound,
    ShopInfo,
    VariantRef,
    VariantStock,
)
from merchant_adapters.shopify.catalog import available, catalog_filter, iso, product_from_node
from merchant_adapters.shopify.money import minor_units
from merchant_adapters.shopify.orders import order_input, raise_order_errors, search_value
from merchant_adapters.shopify.queries import (
    CATALOG_MEDIA,
    CATALOG_PAGE_LIMIT,
    CATALOG_QUERY,
    CATALOG_VARIANTS,
    DEFAULT_API_VERSION,
    FIND_ORDER_QUERY,
    MAX_PAGE,
    ORDER_CANCEL_MUTATION,
    ORDER_CREATE_MUTATION,
    ORDER_STATE_QUERY,
    PRODUCT_VARIANTS_QUERY,
    SHOP_QUERY,
    STOCK_QUERY,
)
from merchant_adapters.shopify.transport import ShopifyTransport, log, messages, shape_error
from merchant_adapters.shopify.webhooks import parse_shopify_webhook


class ShopifyAdapter:
    """One shop's GraphQL Admin API over a caller-owned httpx.AsyncClient (which sets the timeout)."""

    platform: ClassVar[str] = "shopify"

    def __init__(
        self,
        client: httpx.AsyncClient,
        *,
        shop_domain: str,
        access_token: str,
        webhook_secret: str,
        api_version: str = DEFAULT_API_VERSION,
        base_url: str | None = None,
        max_retries: int = 3,
        max_retry_wait: float = 10.0,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        previous_webhook_secret: str | None = None,
    ) -> None:
        self._shop_domain = shop_domain
        self._transport = ShopifyTransport(
            client,
            shop_domain=shop_domain,
            endpoint=f"{base_url or f'https://{shop_domain}'}/admin/api/{api_version}/graphql.json",
            access_token=access_token,
            max_retries=max_retries,
            max_retry_wait=max_retry_wait,
            sleep=sleep,
        )
        # Shopify signs with the new secret as soon as it is rotated, while deliveries already
        # queued still carry the old signature for up to an hour: both are accepted meanwhile.
        self._webhook_secrets = [s for s in (webhook_secret, previous_webhook_secret) if s]

    # -- MerchantAdapter ------------------------------------------------------------------------

    async def shop_info(self) -> ShopInfo:
        data = await self._transport.execute("shop", SHOP_QUERY, {})
        try:
            shop = data["shop"]
            return ShopInfo(shop["myshopifyDomain"], shop["name"], shop["currencyCode"].lower())
        except (KeyError, TypeError, AttributeError) as exc:
            raise shape_error("shop", exc) from exc

    async def list_catalog(
        self, *, cursor: str | None = None, updated_since: str | None = None, page_size: int = 100
    ) -> CatalogPage:
        if page_size < 1:
            raise PlatformInvalidRequest("page_size must be at least 1")
        variables = {
            "first": min(page_size, CATALOG_PAGE_LIMIT),
            "after": cursor,
            "query": catalog_filter(updated_since),
            "sortKey": "UPDATED_AT",
            "media": CATALOG_MEDIA,
            "variants": CATALOG_VARIANTS,
        }
        data = await self._transport.execute("products", CATALOG_QUERY, variables)
        try:
            currency = data["shop"]["currencyCode"].lower()
            connection = data["products"]
            products = []
            for node in connection["nodes"]:
                variants = list(node["variants"]["nodes"])
                more = node["variants"]["pageInfo"]
                if more["hasNextPage"]:
                    variants += await self._remaining_variants(node["id"], more["endCursor"])
                products.append(product_from_node(node, variants, currency))
            page_info = connection["pageInfo"]
            next_cursor = page_info["endCursor"] if page_info["hasNextPage"] else None
        except (KeyError, TypeError, ValueError, AttributeError, InvalidOperation) as exc:
            raise shape_error("products", exc) from exc
        # An empty page keeps the caller's mark, so an idle incremental sync does not reset it.
        newest = max(products, key=lambda product: product.updated_at, default=None)
        watermark = iso(newest.updated_at) if newest else updated_since
        return CatalogPage(tuple(products), next_cursor, watermark)

    async def read_stock(self, refs: Sequence[VariantRef]) -> dict[VariantRef, VariantStock]:
        wanted: dict[str, VariantRef] = {ref.platform_variant_id: ref for ref in refs}
        ids = list(wanted)
        stock: dict[VariantRef, VariantStock] = {}
        # One request per 250 ids (Shopify's input array cap), one after another: sending the
        # batches at once would only empty the cost bucket sooner.
        for start in range(0, len(ids), MAX_PAGE):
            variables = {"ids": ids[start : start + MAX_PAGE]}
            data = await self._transport.execute("nodes", STOCK_QUERY, variables)
            try:
                currency = data["shop"]["currencyCode"].lower()
                for node in data["nodes"]:
                    ref = wanted.get(node.get("id")) if node else None
                    if ref is None:
                        continue  # deleted variant, another type, or an id we did not ask for
                    count = available(node, node["inventoryItem"])
                    stock[ref] = VariantStock(
                        ref=ref,
                        price=minor_units(node["price"], currency),
                        currency=currency,
                        available=count,
                        purchasable=bool(node["availableForSale"]) and count > 0,
                    )
            except (KeyError, TypeError, ValueError, AttributeError, InvalidOperation) as exc:
                raise shape_error("nodes", exc) from exc
        return stock

    async def place_order(self, sale: ExternalSale) -> PlacedOrder:
        # orderCreate has no @idempotent: the acp:{reference} tag is the key, so look first.
        existing = await self.find_order(sale.reference)
        if existing is not None:
            return existing
        variables = {
            "order": order_input(sale),
            "options": {
                "inventoryBehaviour": "DECREMENT_OBEYING_POLICY",
                "sendReceipt": False,
                "sendFulfillmentReceipt": False,
            },
        }
        data = await self._transport.execute(
            "orderCreate", ORDER_CREATE_MUTATION, variables, write=True
        )
        try:
            payload = data["orderCreate"]
            errors = payload["userErrors"] or []
            if errors:
                raise_order_errors(sale, errors)
            order = payload["order"]
            placed = PlacedOrder(order["id"], order.get("name"), "native_order", "open")
        except (KeyError, TypeError, AttributeError) as exc:
            raise shape_error("orderCreate", exc) from exc
        log.info(
            "shopify.order_create shop=%s reference=%s order=%s",
            self._shop_domain,
            sale.reference,
            placed.platform_order_id,
        )
        return placed

    async def find_order(self, reference: str) -> PlacedOrder | None:
        variables = {"first": 1, "query": f"tag:'{search_value('acp:' + reference)}'"}
        data = await self._transport.execute("orders", FIND_ORDER_QUERY, variables)
        try:
            nodes = data["orders"]["nodes"]
            if not nodes:
                return None
            node = nodes[0]
            state: Literal["open", "fulfilled", "canceled"] = (
                "canceled"
                if node.get("cancelledAt")
                else "fulfilled"
                if node.get("displayFulfillmentStatus") == "FULFILLED"
                else "open"
            )
            return PlacedOrder(node["id"], node.get("name"), "native_order", state)
        except (KeyError, TypeError, IndexError, AttributeError) as exc:
            raise shape_error("orders", exc) from exc

    async def cancel_order(self, order: PlacedOrder, sale: ExternalSale, *, restock: bool) -> None:
        variables = {
            "orderId": order.platform_order_id,
            "reason": "OTHER",
            "restock": restock,
            "notifyCustomer": False,
            # The money goes back through our own payment provider, not Shopify's gateway.
            "refundMethod": {"originalPaymentMethodsRefund": False},
            "staffNote": f"Canceled by agentic checkout ({sale.reference})"[:255],
        }
        data = await self._transport.execute(
            "orderCancel", ORDER_CANCEL_MUTATION, variables, write=True
        )
        try:
            errors = data["orderCancel"]["orderCancelUserErrors"] or []
        except (KeyError, TypeError) as exc:
            raise shape_error("orderCancel", exc) from exc
        if not errors:
            # The cancel runs as a Shopify job. We do not poll it: once queued it is irreversible,
            # checkout's next step (our refund) does not depend on it, and orders/cancelled
            # reports the end.
            return
        if any(error.get("code") == "NOT_FOUND" for error in errors):
            raise PlatformNotFound(f"Shopify has no order {order.platform_order_id}")
        if await self._already_canceled(order.platform_order_id):
            return  # a repeated cancel (an outbox retry) has nothing left to do
        raise PlatformInvalidRequest(f"Shopify refused orderCancel: {messages(errors)}")

    def parse_webhook(self, headers: Mapping[str, str], body: bytes) -> PlatformEvent:
        return parse_shopify_webhook(self._webhook_secrets, headers, body)

    # -- follow-up reads ------------------------------------------------------------------------

    async def _remaining_variants(self, product_id: str, cursor: str) -> list[dict[str, Any]]:
        """The variants past the first CATALOG_VARIANTS of one product, 250 at a time."""
        variants: list[dict[str, Any]] = []
        after: str | None = cursor
        while after is not None:
            variables = {"id": product_id, "first": MAX_PAGE, "after": after}
            data = await self._transport.execute(
                "product.variants", PRODUCT_VARIANTS_QUERY, variables
            )
            connection = data["product"]["variants"]
            variants += connection["nodes"]
            page_info = connection["pageInfo"]
            after = page_info["endCursor"] if page_info["hasNextPage"] else None
        return variants

    async def _already_canceled(self, order_id: str) -> bool:
        data = await self._transport.execute("nodes", ORDER_STATE_QUERY, {"ids": [order_id]})
        nodes = data.get("nodes") or [None]
        return bool(nodes[0] and nodes[0].get("cancelledAt"))

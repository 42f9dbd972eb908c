"""EtsyAdapter: MerchantAdapter over Etsy Open API v3 (listings, inventory, Standard Webhooks).

Etsy has no order-create API, so a sale is recorded as an inventory decrement. Against the local
emulator (merchant_adapters.sandbox.etsy) `sandbox_orders=True` uses its non-Etsy order route.
"""

from __future__ import annotations

import asyncio
from collections import defaultdict
from collections.abc import Awaitable, Callable, Mapping, Sequence
from datetime import UTC, datetime
from typing import ClassVar

import httpx

from merchant_adapters import (
    CatalogPage,
    ExternalSale,
    PlacedOrder,
    PlatformEvent,
    PlatformInvalidRequest,
    PlatformProduct,
    PlatformUnavailable,
    ShopInfo,
    VariantRef,
    VariantStock,
)
from merchant_adapters.etsy.catalog import CURSOR, find_product, listing_product, live_offering
from merchant_adapters.etsy.inventory import EtsyInventory
from merchant_adapters.etsy.money import minor_units
from merchant_adapters.etsy.orders import SandboxOrders
from merchant_adapters.etsy.transport import (
    ETSY_BASE_URL,
    PAGE_LIMIT,
    EtsyTransport,
    logger,
    results,
)
from merchant_adapters.etsy.webhooks import etsy_event, verify_standard_webhook, webhook_key


def _utc_now() -> datetime:
    return datetime.now(UTC)


class EtsyAdapter:
    """One Etsy shop, reached with one OAuth token through an httpx client the caller owns."""

    platform: ClassVar[str] = "etsy"

    def __init__(
        self,
        client: httpx.AsyncClient,
        *,
        api_key: str,
        shared_secret: str,
        access_token: str,
        shop_id: str,
        webhook_secret: str,
        base_url: str = ETSY_BASE_URL,
        sandbox_orders: bool = False,
        max_retries: int = 3,
        max_retry_wait: float = 10.0,
        timeout: float = 10.0,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        clock: Callable[[], datetime] = _utc_now,
    ) -> None:
        self._shop_id = str(shop_id)
        self._sandbox_orders = sandbox_orders
        self._clock = clock
        self._transport = EtsyTransport(
            client,
            api_key=api_key,
            shared_secret=shared_secret,
            access_token=access_token,
            base_url=base_url,
            max_retries=max_retries,
            max_retry_wait=max_retry_wait,
            timeout=timeout,
            sleep=sleep,
            clock=clock,
        )
        self._webhook_key = webhook_key(webhook_secret)
        self._inventory = EtsyInventory(self._transport)
        self._sandbox = SandboxOrders(self._transport, self._inventory, self._shop_id)

    async def shop_info(self) -> ShopInfo:
        body = await self._transport.get(f"/shops/{self._shop_id}")
        try:
            return ShopInfo(
                shop_id=str(body["shop_id"]),
                name=str(body["shop_name"]),
                currency=str(body["currency_code"]).lower(),
            )
        except (KeyError, TypeError) as exc:
            raise PlatformUnavailable("Etsy sent a malformed shop") from exc

    async def list_catalog(
        self, *, cursor: str | None = None, updated_since: str | None = None, page_size: int = 100
    ) -> CatalogPage:
        """One page of active listings; the cursor is "offset:{n};seen:{newest timestamp}".

        Etsy cannot filter listings by modification time, so an incremental sync still pages
        through every active listing and drops those older than `updated_since` here. The
        boundary second is kept (>=): resending one listing is harmless, missing an edit is not.
        Stock moved by Etsy's own sales may not touch last_modified_timestamp: read_stock, not
        an incremental sync, is the source of truth for stock.
        """
        match = CURSOR.match(cursor or "offset:0")
        if match is None:
            raise PlatformInvalidRequest(f"Not an Etsy catalog cursor: {cursor!r}")
        offset, seen = int(match.group(1)), int(match.group(2) or 0)
        if updated_since is not None and not updated_since.isdigit():
            raise PlatformInvalidRequest(f"Not an Etsy catalog watermark: {updated_since!r}")
        floor = int(updated_since) if updated_since else None
        params = {
            "state": "active",
            "limit": max(1, min(page_size, PAGE_LIMIT)),
            "offset": offset,
            "includes": "Images,Inventory",
        }
        body = await self._transport.get(f"/shops/{self._shop_id}/listings", params=params)
        listings = results(body, "the listings page")
        count = body.get("count")
        if not isinstance(count, int):
            raise PlatformUnavailable("Etsy answered the listings page without a count")
        newest = max(seen, floor or 0)
        products: list[PlatformProduct] = []
        for listing in listings:
            product = listing_product(listing)
            modified = int(product.updated_at.timestamp())
            newest = max(newest, modified)
            if floor is None or modified >= floor:
                products.append(product)
        end = offset + len(listings)
        more = bool(listings) and end < count
        return CatalogPage(
            products=tuple(products),
            next_cursor=f"offset:{end};seen:{newest}" if more else None,
            watermark=str(newest) if newest else updated_since,
        )

    async def read_stock(self, refs: Sequence[VariantRef]) -> dict[VariantRef, VariantStock]:
        wanted: defaultdict[str, list[VariantRef]] = defaultdict(list)
        for ref in refs:
            if ref.platform_product_id.isdigit():
                wanted[ref.platform_product_id].append(ref)
        stock: dict[VariantRef, VariantStock] = {}
        listing_ids = sorted(wanted, key=int)
        for listing_id, inventory, state in await self._inventory.read_many(listing_ids):
            for ref in wanted.get(listing_id, ()):
                product = find_product(inventory, ref.platform_variant_id)
                offering = live_offering(product) if product else None
                if offering is None:
                    continue
                price, currency = minor_units(offering["price"])
                available = max(0, int(offering.get("quantity") or 0))
                enabled = bool(offering.get("is_enabled", True))
                stock[ref] = VariantStock(
                    ref=ref,
                    price=price,
                    currency=currency,
                    available=available if enabled else 0,
                    purchasable=enabled and available > 0 and state in (None, "active"),
                )
        return stock

    async def place_order(self, sale: ExternalSale) -> PlacedOrder:
        """Record the sale: an inventory decrement on Etsy, an order on the sandbox.

        The decrement is not idempotent and leaves no trace on Etsy that find_order could see;
        checkout's saga must record that this step ran before calling it again.
        """
        if self._sandbox_orders:
            return await self._sandbox.place(sale)
        await self._inventory.move(sale.lines, sign=-1)
        logger.info(
            "etsy.order.inventory_only reference=%s lines=%d", sale.reference, len(sale.lines)
        )
        return PlacedOrder(
            platform_order_id=f"inventory:{sale.reference}",
            platform_order_name=None,
            recorded="inventory_only",
        )

    async def find_order(self, reference: str) -> PlacedOrder | None:
        """The sandbox order for `reference`; always None on Etsy, which holds no such order."""
        if not self._sandbox_orders:
            return None
        return await self._sandbox.find(reference)

    async def cancel_order(self, order: PlacedOrder, sale: ExternalSale, *, restock: bool) -> None:
        """Undo a recorded sale. On Etsy only the stock can be put back (not idempotent either)."""
        if order.recorded == "sandbox_extension":
            await self._sandbox.cancel(order, restock=restock)
        elif order.recorded == "inventory_only":
            if restock:
                await self._inventory.move(sale.lines, sign=+1)
        else:
            raise PlatformInvalidRequest(f"Not an Etsy order: {order.recorded}")

    def parse_webhook(self, headers: Mapping[str, str], body: bytes) -> PlatformEvent:
        """Verify a Standard Webhooks delivery (Etsy's, via Svix) over the raw body, then parse."""
        event_id, payload = verify_standard_webhook(self._webhook_key, self._clock, headers, body)
        return etsy_event(self._shop_id, event_id, payload)

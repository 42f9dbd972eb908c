"""EtsyAdapter: MerchantAdapter over Etsy Open API v3 (listings, inventory, Standard Webhooks).

Etsy has no order-create API, so a sale is recorded as an inventory decrement. Against the local
emulator (merchant_adapters.sandbox.etsy) `sandbox_orders=True` uses its non-Etsy order route.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import hashlib
import hmac
import json
import logging
import random
import re
from collections import defaultdict
from collections.abc import Awaitable, Callable, Container, Mapping, Sequence
from contextlib import AsyncExitStack
from datetime import UTC, datetime
from decimal import ROUND_HALF_EVEN, Decimal, InvalidOperation
from email.utils import parsedate_to_datetime
from typing import Any, ClassVar, Literal
from urllib.parse import quote

import httpx

from merchant_adapters import (
    CatalogPage,
    CredentialsRevoked,
    ExternalSale,
    InvalidRequest,
    MerchantPlatformError,
    NotFound,
    OutOfStock,
    PlacedOrder,
    PlatformEvent,
    PlatformProduct,
    PlatformUnavailable,
    PlatformVariant,
    RateLimited,
    SaleLine,
    ShopInfo,
    Tracking,
    VariantRef,
    VariantStock,
    WebhookInvalid,
)

logger = logging.getLogger(__name__)

ETSY_BASE_URL = "https://openapi.etsy.com/v3/application"
PAGE_LIMIT = 100  # Etsy's maximum `limit`, for pages and for batch listing_ids alike
WEBHOOK_TOLERANCE_SECONDS = 300
# Etsy counts the daily quota over a rolling 24 h window and does not say when a bucket frees
# up, so an exhausted day pauses the merchant for an hour rather than retrying in a loop.
DAILY_LIMIT_PAUSE_SECONDS = 3600.0

# ISO 4217 exponents that are not 2 (Etsy's Money carries no exponent, only a divisor).
_EXPONENTS: dict[str, int] = {
    **dict.fromkeys(("bif", "clp", "djf", "gnf", "isk", "jpy", "kmf", "krw"), 0),
    **dict.fromkeys(("pyg", "rwf", "ugx", "vnd", "vuv", "xaf", "xof", "xpf"), 0),
    **dict.fromkeys(("bhd", "jod", "kwd", "omr", "tnd"), 3),
}
_CURSOR = re.compile(r"^offset:(\d+)(?:;seen:(\d+))?$")
_RECEIPT = re.compile(r"/receipts/(\d+)")
_LISTING = re.compile(r"/listings/(\d+)")
# Fields of the GET inventory shape that the PUT shape does not accept (§1.3).
_PUT_PROPERTY_FIELDS = ("property_id", "property_name", "scale_id", "value_ids", "values")
_PUT_INVENTORY_FIELDS = (
    "price_on_property",
    "quantity_on_property",
    "sku_on_property",
    "readiness_state_on_property",
)

Json = dict[str, Any]


def _utc_now() -> datetime:
    return datetime.now(UTC)


def minor_units(money: Mapping[str, Any]) -> tuple[int, str]:
    """Etsy Money {amount, divisor, currency_code} as (integer minor units, lowercase currency).

    value = amount / divisor, times 10^exponent of the currency, all in Decimal; a value finer
    than one minor unit is rounded half-even.
    """
    try:
        amount = Decimal(str(money["amount"]))
        divisor = Decimal(str(money["divisor"]))
        currency = str(money["currency_code"]).lower()
        scaled = amount / divisor * (Decimal(10) ** _EXPONENTS.get(currency, 2))
        return int(scaled.to_integral_value(rounding=ROUND_HALF_EVEN)), currency
    except (KeyError, TypeError, InvalidOperation, ArithmeticError) as exc:
        raise PlatformUnavailable(f"Etsy sent a malformed Money value: {money!r}") from exc


def variant_key(product: Mapping[str, Any]) -> str:
    """A variant's id that survives inventory updates: its property values, or "default".

    Etsy issues new product_id and offering_id values on every inventory PUT (etsy/open-api
    #523, #432), and recording a sale is such a PUT, so a product_id goes stale after one sale.
    """
    parts = sorted(
        f"{value.get('property_id', value.get('property_name'))}={quote(str(value['values'][0]), safe=' ')}"
        for value in product.get("property_values") or ()
        if value.get("values")
    )
    return ";".join(parts) or "default"


def _find_product(inventory: Mapping[str, Any], variant_id: str) -> Json | None:
    # A bare product_id (what Etsy itself calls the variant) is still accepted while it is current.
    for product in inventory.get("products") or ():
        if product.get("is_deleted"):
            continue
        if variant_key(product) == variant_id or str(product.get("product_id")) == variant_id:
            return dict(product)
    return None


def _live_offering(product: Mapping[str, Any]) -> Json | None:
    live = [o for o in product.get("offerings") or () if not o.get("is_deleted")]
    enabled = [o for o in live if o.get("is_enabled", True)]
    return dict((enabled or live)[0]) if live else None


def _variant(product: Mapping[str, Any]) -> PlatformVariant | None:
    offering = _live_offering(product)
    if offering is None or not offering.get("is_enabled", True):
        return None
    price, currency = minor_units(offering["price"])
    options = tuple(
        (str(value.get("property_name") or value.get("property_id")), str(value["values"][0]))
        for value in product.get("property_values") or ()
        if value.get("values")
    )
    return PlatformVariant(
        platform_variant_id=variant_key(product),
        title=" / ".join(value for _, value in options) or "Default",
        price=price,
        currency=currency,
        available=max(0, int(offering.get("quantity") or 0)),
        sku=product.get("sku") or None,
        options=options,
    )


def _product(listing: Mapping[str, Any]) -> PlatformProduct:
    try:
        inventory = listing.get("inventory") or {}
        variants = (_variant(p) for p in inventory.get("products") or () if not p.get("is_deleted"))
        images = sorted(listing.get("images") or (), key=lambda image: image.get("rank") or 0)
        # Etsy v3 listings carry only taxonomy_id; a path (v2's field, kept by the sandbox) is
        # used when present. No tag is promoted to a category: tags are not a hierarchy.
        path = listing.get("taxonomy_path")
        category = " > ".join(path) if isinstance(path, list) and path else None
        state = listing.get("state")
        materials = [str(m) for m in listing.get("materials") or () if m]
        # Etsy v3 keeps reviews apart from listings (getReviewsByShop): no rating here. The
        # sandbox carries its seed's rating in clearly non-Etsy x_sandbox_* fields.
        rating = listing.get("x_sandbox_review_average")
        return PlatformProduct(
            platform_product_id=str(listing["listing_id"]),
            title=str(listing["title"]),
            description=str(listing.get("description") or ""),
            status="active" if state == "active" else "inactive",
            updated_at=datetime.fromtimestamp(int(listing["last_modified_timestamp"]), UTC),
            variants=tuple(v for v in variants if v is not None),
            url=listing.get("url"),
            images=tuple(str(i["url_fullxfull"]) for i in images if i.get("url_fullxfull")),
            tags=tuple(str(tag) for tag in listing.get("tags") or ()),
            category=category,
            digital=listing.get("listing_type") == "download",
            rating=float(rating) if rating is not None else None,
            review_count=int(listing.get("x_sandbox_review_count") or 0),
            material=", ".join(materials) or None,
        )
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        raise PlatformUnavailable(f"Etsy sent a malformed listing: {exc!r}") from exc


def _put_shape(inventory: Mapping[str, Any], changes: Mapping[str, int]) -> tuple[Json, list[str]]:
    """The PUT body for `inventory` with quantities moved by `changes` (variant id -> delta).

    Returns the body and the variant ids that would go below zero. Every product is kept (an
    omitted product is deleted); ids, is_deleted and scale_name are dropped; Money becomes a
    float, which is what the PUT schema takes.
    """
    products: list[Json] = []
    unmatched = set(changes)
    short: list[str] = []
    for product in inventory.get("products") or ():
        if product.get("is_deleted"):
            continue
        ids = {variant_key(product), str(product.get("product_id"))} & set(changes)
        unmatched -= ids
        delta = sum(changes[i] for i in ids)
        target = _live_offering(product) if delta else None
        if delta < 0 and target is None:
            short.extend(ids)
        offerings: list[Json] = []
        for offering in product.get("offerings") or ():
            if offering.get("is_deleted"):
                continue
            quantity = int(offering.get("quantity") or 0)
            if target is not None and offering.get("offering_id") == target.get("offering_id"):
                quantity += delta
                if quantity < 0 or (delta < 0 and not offering.get("is_enabled", True)):
                    short.extend(ids)
            offerings.append(
                {
                    "price": _float_price(offering.get("price")),
                    "quantity": quantity,
                    "is_enabled": bool(offering.get("is_enabled", True)),
                    "readiness_state_id": offering.get("readiness_state_id"),
                }
            )
        values = [
            {k: v[k] for k in _PUT_PROPERTY_FIELDS if k in v}
            for v in product.get("property_values") or ()
        ]
        products.append(
            {"sku": product.get("sku") or "", "property_values": values, "offerings": offerings}
        )
    if unmatched:
        raise NotFound(f"Etsy listing has no variant {sorted(unmatched)} any more")
    body: Json = {"products": products}
    body.update({k: inventory[k] for k in _PUT_INVENTORY_FIELDS if k in inventory})
    return body, short


def _float_price(money: Any) -> float:
    try:
        return float(Decimal(str(money["amount"])) / Decimal(str(money["divisor"])))
    except (KeyError, TypeError, InvalidOperation, ArithmeticError) as exc:
        raise PlatformUnavailable(f"Etsy sent a malformed Money value: {money!r}") from exc


def _error_text(response: httpx.Response) -> str:
    try:
        body = response.json()
    except ValueError:
        return response.text[:200]
    if isinstance(body, dict):
        return " ".join(str(body[k]) for k in ("error", "error_description") if body.get(k))
    return str(body)[:200]


def _results(body: Any, what: str) -> list[Json]:
    if not isinstance(body, dict) or not isinstance(body.get("results"), list):
        raise PlatformUnavailable(f"Etsy answered {what} without a results list")
    return [r for r in body["results"] if isinstance(r, dict)]


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
        self._client = client
        self._shop_id = str(shop_id)
        self._base_url = base_url.rstrip("/")
        self._sandbox_orders = sandbox_orders
        self._max_retries = max_retries
        self._max_retry_wait = max_retry_wait
        self._timeout = timeout
        self._sleep = sleep
        self._clock = clock
        self._random = random.Random()
        self._headers = {
            "x-api-key": f"{api_key}:{shared_secret}",
            "authorization": f"Bearer {access_token}",
            "accept": "application/json",
        }
        try:
            self._webhook_key = base64.b64decode(
                webhook_secret.removeprefix("whsec_"), validate=True
            )
        except binascii.Error as exc:
            raise ValueError("webhook_secret must be 'whsec_' followed by base64") from exc
        self._remaining_today: int | None = None
        # No compare-and-swap on Etsy inventory: at least this process never races itself.
        self._listing_locks: defaultdict[str, asyncio.Lock] = defaultdict(asyncio.Lock)

    async def shop_info(self) -> ShopInfo:
        body = await self._get(f"/shops/{self._shop_id}")
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
        match = _CURSOR.match(cursor or "offset:0")
        if match is None:
            raise InvalidRequest(f"Not an Etsy catalog cursor: {cursor!r}")
        offset, seen = int(match.group(1)), int(match.group(2) or 0)
        if updated_since is not None and not updated_since.isdigit():
            raise InvalidRequest(f"Not an Etsy catalog watermark: {updated_since!r}")
        floor = int(updated_since) if updated_since else None
        params = {
            "state": "active",
            "limit": max(1, min(page_size, PAGE_LIMIT)),
            "offset": offset,
            "includes": "Images,Inventory",
        }
        body = await self._get(f"/shops/{self._shop_id}/listings", params=params)
        listings = _results(body, "the listings page")
        count = body.get("count")
        if not isinstance(count, int):
            raise PlatformUnavailable("Etsy answered the listings page without a count")
        newest = max(seen, floor or 0)
        products: list[PlatformProduct] = []
        for listing in listings:
            product = _product(listing)
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
        for start in range(0, len(listing_ids), PAGE_LIMIT):
            batch = listing_ids[start : start + PAGE_LIMIT]
            for listing_id, inventory, state in await self._inventories(batch):
                for ref in wanted.get(listing_id, ()):
                    product = _find_product(inventory, ref.platform_variant_id)
                    offering = _live_offering(product) if product else None
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
            return await self._place_sandbox_order(sale)
        await self._move_stock(sale.lines, sign=-1)
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
        path = f"/x-sandbox/shops/{self._shop_id}/orders"
        found = _results(await self._get(path, params={"reference": reference}), "find order")
        return self._sandbox_placed(found[0]) if found else None

    async def cancel_order(self, order: PlacedOrder, sale: ExternalSale, *, restock: bool) -> None:
        """Undo a recorded sale. On Etsy only the stock can be put back (not idempotent either)."""
        if order.recorded == "sandbox_extension":
            path = f"/x-sandbox/shops/{self._shop_id}/orders/{order.platform_order_id}/cancel"
            # Cancelling is idempotent on the sandbox (a second call restocks nothing), so retry.
            await self._send("POST", path, json={"restock": restock}, retry=True)
        elif order.recorded == "inventory_only":
            if restock:
                await self._move_stock(sale.lines, sign=+1)
        else:
            raise InvalidRequest(f"Not an Etsy order: {order.recorded}")

    def parse_webhook(self, headers: Mapping[str, str], body: bytes) -> PlatformEvent:
        """Verify a Standard Webhooks delivery (Etsy's, via Svix) over the raw body, then parse."""
        header = {name.lower(): value for name, value in headers.items()}
        event_id = header.get("webhook-id", "")
        stamp = header.get("webhook-timestamp", "")
        signatures = header.get("webhook-signature", "")
        if not (event_id and stamp and signatures):
            raise WebhookInvalid("Missing webhook-id, webhook-timestamp or webhook-signature")
        if not stamp.isdigit():
            raise WebhookInvalid("webhook-timestamp is not a unix time")
        if abs(self._clock().timestamp() - int(stamp)) > WEBHOOK_TOLERANCE_SECONDS:
            raise WebhookInvalid("webhook-timestamp is more than 5 minutes away from now")
        signed = f"{event_id}.{stamp}.".encode() + body
        expected = base64.b64encode(hmac.new(self._webhook_key, signed, hashlib.sha256).digest())
        # Several space-separated "v1,<sig>" entries appear while a secret is being rotated.
        if not any(
            version == "v1" and hmac.compare_digest(sig.encode(), expected)
            for version, _, sig in (part.partition(",") for part in signatures.split())
        ):
            raise WebhookInvalid("No webhook-signature matches")
        try:
            payload = json.loads(body)
        except ValueError as exc:
            raise WebhookInvalid("Webhook body is not JSON") from exc
        if not isinstance(payload, dict):
            raise WebhookInvalid("Webhook body is not a JSON object")
        return self._event(event_id, payload)

    def _event(self, event_id: str, payload: dict[str, Any]) -> PlatformEvent:
        # One Etsy app signs for every shop that installed it: an event for another shop must
        # reach that shop's adapter, never this one.
        if payload.get("shop_id") is not None and str(payload["shop_id"]) != self._shop_id:
            raise WebhookInvalid(f"Webhook is for Etsy shop {payload['shop_id']}, not this one")
        event_type = payload.get("event_type")
        resource = str(payload.get("resource_url") or "")
        receipt = _RECEIPT.search(resource)
        reference = payload.get("x_sandbox_reference")
        common: dict[str, Any] = {
            "event_id": event_id,
            "platform_order_id": receipt.group(1) if receipt else None,
            "reference": str(reference) if reference else None,
            "raw": payload,
        }
        if event_type == "order.shipped":
            found = payload.get("x_sandbox_tracking")  # the sandbox's; Etsy sends none
            tracking = None
            if isinstance(found, dict) and found.get("tracking_number"):
                tracking = Tracking(
                    carrier=str(found.get("carrier") or ""),
                    tracking_number=str(found["tracking_number"]),
                    tracking_url=found.get("tracking_url"),
                )
            return PlatformEvent(kind="order_fulfilled", tracking=tracking, **common)
        if event_type == "order.canceled":
            return PlatformEvent(kind="order_canceled", **common)
        if event_type == "x_sandbox.listing_updated":  # the sandbox's; Etsy has no listing events
            listing = payload.get("listing_id")
            if listing is None and (found_listing := _LISTING.search(resource)):
                listing = found_listing.group(1)
            return PlatformEvent(
                kind="product_updated",
                platform_product_id=str(listing) if listing else None,
                **common,
            )
        return PlatformEvent(kind="other", **common)

    # -- inventory writes ---------------------------------------------------------------------

    async def _move_stock(self, lines: Sequence[SaleLine], *, sign: Literal[-1, 1]) -> None:
        """GET every listing's inventory, check all of it, then PUT each listing in turn."""
        changes: defaultdict[str, defaultdict[str, int]] = defaultdict(lambda: defaultdict(int))
        for line in lines:
            listing_id, variant_id = line.ref.platform_product_id, line.ref.platform_variant_id
            if not listing_id.isdigit():
                raise NotFound(f"Not an Etsy listing id: {listing_id!r}")
            changes[listing_id][variant_id] += sign * line.quantity
        listing_ids = sorted(changes, key=int)
        async with AsyncExitStack() as held:
            for listing_id in listing_ids:  # one order everywhere, so two sales cannot deadlock
                await held.enter_async_context(self._listing_locks[listing_id])
            planned: dict[str, Json] = {}
            short: list[VariantRef] = []
            for listing_id in listing_ids:
                body, missing = _put_shape(await self._inventory(listing_id), changes[listing_id])
                planned[listing_id] = body
                short += [VariantRef(listing_id, variant) for variant in dict.fromkeys(missing)]
            if short:
                raise OutOfStock("Not enough stock on Etsy", refs=short)
            done: list[str] = []
            try:
                for listing_id in listing_ids:
                    await self._put_inventory(listing_id, planned[listing_id], changes[listing_id])
                    done.append(listing_id)
            except (OutOfStock, RateLimited, CredentialsRevoked, NotFound, InvalidRequest):
                # The failing PUT was refused, so the listings already written are the only
                # trace of a sale that did not happen: put them back (best effort).
                for listing_id in done:
                    undo = {variant: -delta for variant, delta in changes[listing_id].items()}
                    try:
                        await self._put_inventory(listing_id, None, undo)
                    except MerchantPlatformError:
                        logger.warning("etsy.inventory.undo_failed listing_id=%s", listing_id)
                raise

    async def _put_inventory(
        self, listing_id: str, body: Json | None, changes: Mapping[str, int]
    ) -> None:
        """PUT a listing's full inventory, re-reading it before every attempt after the first.

        The PUT replaces the whole inventory and Etsy has no compare-and-swap, so replaying a
        body built from an old read would undo any sale Etsy made in between. A retry therefore
        re-reads and re-applies the change. Only a 429 is retried: Etsy refused that PUT before
        applying it, whereas after a timeout or a 5xx the PUT may have landed, and applying the
        decrement again would sell the stock twice.
        """
        for attempt in range(self._max_retries + 1):
            if body is None:
                body, short = _put_shape(await self._inventory(listing_id), changes)
                if short:
                    refs = [VariantRef(listing_id, variant) for variant in dict.fromkeys(short)]
                    raise OutOfStock("Not enough stock on Etsy any more", refs=refs)
            try:
                await self._send("PUT", f"/listings/{listing_id}/inventory", json=body, retry=False)
                return
            except RateLimited as limited:
                if attempt >= self._max_retries or limited.retry_after > self._max_retry_wait:
                    raise
                await self._sleep(limited.retry_after)
                body = None

    # -- sandbox extension ----------------------------------------------------------------------

    async def _place_sandbox_order(self, sale: ExternalSale) -> PlacedOrder:
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
            listing_id: inventory for listing_id, inventory, _ in await self._inventories(ids)
        }
        lines: list[Json] = []
        by_product: dict[str, VariantRef] = {}
        for line in sale.lines:
            inventory = inventories.get(line.ref.platform_product_id)
            product = _find_product(inventory, line.ref.platform_variant_id) if inventory else None
            if product is None:
                raise NotFound(f"Etsy has no variant {line.ref}")
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
        path = f"/x-sandbox/shops/{self._shop_id}/orders"
        response = await self._send("POST", path, json=payload, retry=True, passthrough={409})
        body = self._json(response, "the sandbox order")
        if not isinstance(body, dict):
            raise PlatformUnavailable("The Etsy sandbox answered the order with a non-object")
        if response.status_code == 409:
            short = [
                by_product[str(p)] for p in body.get("product_ids") or () if str(p) in by_product
            ]
            raise OutOfStock(
                f"Not enough stock on the Etsy sandbox: {body.get('error')}", refs=short
            )
        return self._sandbox_placed(body)

    def _sandbox_placed(self, order: Mapping[str, Any]) -> PlacedOrder:
        if "order_id" not in order:
            raise PlatformUnavailable("The Etsy sandbox answered without an order_id")
        return PlacedOrder(
            platform_order_id=str(order["order_id"]),
            platform_order_name=order.get("name"),
            recorded="sandbox_extension",
        )

    # -- reads ---------------------------------------------------------------------------------

    async def _inventory(self, listing_id: str) -> Json:
        body = await self._get(f"/listings/{listing_id}/inventory")
        if not isinstance(body, dict) or not isinstance(body.get("products"), list):
            raise PlatformUnavailable(f"Etsy sent a malformed inventory for listing {listing_id}")
        return body

    async def _inventories(self, listing_ids: Sequence[str]) -> list[tuple[str, Json, str | None]]:
        """(listing_id, inventory, listing state) for each listing Etsy still knows."""
        found: list[tuple[str, Json, str | None]] = []
        for start in range(0, len(listing_ids), PAGE_LIMIT):
            batch = ",".join(listing_ids[start : start + PAGE_LIMIT])
            body = await self._get("/listings/batch/inventory", params={"listing_ids": batch})
            for result in _results(body, "the inventory batch"):
                # Results are listings with an `inventory` association; bare inventories with a
                # listing_id are accepted too, as client libraries disagree on the shape.
                inventory = result.get("inventory") if "inventory" in result else result
                if "listing_id" in result and isinstance(inventory, dict):
                    found.append((str(result["listing_id"]), inventory, result.get("state")))
        return found

    # -- transport -----------------------------------------------------------------------------

    async def _get(self, path: str, *, params: Mapping[str, Any] | None = None) -> Any:
        return self._json(await self._send("GET", path, params=params, retry=True), f"GET {path}")

    def _json(self, response: httpx.Response, what: str) -> Any:
        try:
            return response.json()
        except ValueError as exc:
            raise PlatformUnavailable(f"Etsy answered {what} with a body that is not JSON") from exc

    async def _send(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, Any] | None = None,
        json: Any = None,
        retry: bool,
        passthrough: Container[int] = (),
    ) -> httpx.Response:
        """One call with Etsy's limits honoured: retries 429 always, and 5xx or transport
        errors only when `retry` (reads and idempotent writes)."""
        what = f"{method} {path}"
        for attempt in range(self._max_retries + 1):
            last = attempt >= self._max_retries
            try:
                response = await self._client.request(
                    method,
                    f"{self._base_url}{path}",
                    params=params,
                    json=json,
                    headers=self._headers,
                    timeout=self._timeout,
                )
            except httpx.TransportError as exc:  # timeouts, connect and protocol errors
                if not retry or last:
                    raise PlatformUnavailable(
                        f"Etsy {what} failed: {exc.__class__.__name__}"
                    ) from exc
                await self._sleep(self._backoff(attempt))
                continue
            self._note_limits(response)
            status = response.status_code
            if status < 400 or status in passthrough:
                return response
            if status == 429:
                wait, daily = self._rate_limit_wait(response)
                # A PUT refused with 429 was not applied; _put_inventory retries it after a re-read.
                if daily or last or method == "PUT" or wait > self._max_retry_wait:
                    raise RateLimited(f"Etsy rate limit on {what}", retry_after=wait)
                logger.info("etsy.request.rate_limited path=%s wait=%.2f", path, wait)
                await self._sleep(wait)
                continue
            if status >= 500:
                if not retry or last:
                    raise PlatformUnavailable(f"Etsy answered {status} to {what}")
                await self._sleep(self._backoff(attempt))
                continue
            text = _error_text(response)
            if status in (401, 403):
                raise CredentialsRevoked(f"Etsy refused the credentials ({status}): {text}")
            if status == 404:
                raise NotFound(f"Etsy has no such resource ({what}): {text}")
            raise InvalidRequest(f"Etsy rejected {what} ({status}): {text}")
        raise AssertionError("unreachable: the last attempt always returns or raises")

    def _note_limits(self, response: httpx.Response) -> None:
        remaining = response.headers.get("x-remaining-today")
        if remaining is not None and remaining.strip().isdigit():
            self._remaining_today = int(remaining)

    def _rate_limit_wait(self, response: httpx.Response) -> tuple[float, bool]:
        """Seconds to wait after a 429, and whether the daily quota (not QPS) is exhausted."""
        retry_after = response.headers.get("retry-after")
        if retry_after:
            try:
                return max(0.0, float(retry_after)), False
            except ValueError:
                try:
                    when = parsedate_to_datetime(retry_after)
                    return max(0.0, (when - self._clock()).total_seconds()), False
                except (TypeError, ValueError):
                    pass
        if self._remaining_today == 0:
            return DAILY_LIMIT_PAUSE_SECONDS, True
        # A per-second limit: wait for the next second, jittered so workers do not stampede.
        to_next_second = 1.0 - self._clock().microsecond / 1_000_000
        return to_next_second + self._random.uniform(0.0, 0.25), False

    def _backoff(self, attempt: int) -> float:
        return min(self._max_retry_wait, 0.5 * 2.0**attempt + self._random.uniform(0.0, 0.25))

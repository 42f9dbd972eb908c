"""Shopify's GraphQL Admin API behind MerchantAdapter: catalog, fresh stock, orderCreate, webhooks.

Everything Shopify-shaped stays here (GIDs, decimal-string money, query cost, `userErrors`); checkout
sees only the types and errors of `merchant_adapters`. The local emulator of the same endpoint,
for demos and tests, is `merchant_adapters.sandbox.shopify`.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import json
import logging
import random
from collections.abc import Awaitable, Callable, Mapping, Sequence
from datetime import datetime
from decimal import ROUND_HALF_EVEN, Decimal, InvalidOperation
from email.utils import parsedate_to_datetime
from html.parser import HTMLParser
from typing import Any, ClassVar, Literal, NoReturn

import httpx

from merchant_adapters import (
    CatalogPage,
    CredentialsRevoked,
    ExternalSale,
    InvalidRequest,
    NotFound,
    OutOfStock,
    PlacedOrder,
    PlatformEvent,
    PlatformProduct,
    PlatformUnavailable,
    PlatformVariant,
    RateLimited,
    ShippingAddress,
    ShopInfo,
    Tracking,
    VariantRef,
    VariantStock,
    WebhookInvalid,
)

log = logging.getLogger("merchant_adapters.shopify")

DEFAULT_API_VERSION = "2026-10"
SOURCE_NAME = "agentic-checkout"  # the manual gateway and sourceName our orders carry
MAX_PAGE = 250  # Shopify's cap on `first` and on every input array
MAX_QUERY_COST = 1000  # a single query whose requested cost is higher fails with MAX_COST_EXCEEDED
CATALOG_MEDIA = 5
CATALOG_VARIANTS = 25
# Requested cost of one product in CATALOG_QUERY by Shopify's rule (object 1, connection
# 2 + pageInfo + first x node): product 1, three metafields 3, featuredMedia 3, media 2 + 2 per
# image, variants 3 + 3 per variant. Nested connections multiply, so `first` is bounded by the
# cost (10 products a page), not by 250.
CATALOG_PRODUCT_COST = 12 + 2 * CATALOG_MEDIA + 3 * CATALOG_VARIANTS
CATALOG_PAGE_LIMIT = min(MAX_PAGE, (MAX_QUERY_COST - 4) // CATALOG_PRODUCT_COST)
# The interface has no "unlimited": an untracked variant, or one that keeps selling when out of
# stock (inventoryPolicy CONTINUE), is reported with a count no checkout will exhaust.
UNLIMITED = 10**6
THROTTLE_JITTER = 0.25  # seconds, so clients throttled together do not retry together
RETRY_BASE = 0.5  # seconds before the first retry of a failed read; doubles each time

# ISO 4217 exponents that are not 2; Shopify writes money as decimal strings in major units.
CURRENCY_EXPONENTS: dict[str, int] = {
    "bif": 0, "clp": 0, "djf": 0, "gnf": 0, "isk": 0, "jpy": 0, "kmf": 0, "krw": 0, "pyg": 0,
    "rwf": 0, "ugx": 0, "vnd": 0, "vuv": 0, "xaf": 0, "xof": 0, "xpf": 0,
    "bhd": 3, "iqd": 3, "jod": 3, "kwd": 3, "lyd": 3, "omr": 3, "tnd": 3,
}  # fmt: skip

SHOP_QUERY = "query Shop { shop { id name currencyCode myshopifyDomain } }"

VARIANT_FIELDS = """
fragment VariantFields on ProductVariant {
  id title sku price compareAtPrice inventoryQuantity inventoryPolicy availableForSale
  selectedOptions { name value }
  inventoryItem { tracked requiresShipping }
}"""

CATALOG_QUERY = (
    """
query Catalog($first: Int!, $after: String, $query: String, $sortKey: ProductSortKeys,
              $media: Int!, $variants: Int!) {
  shop { currencyCode }
  products(first: $first, after: $after, query: $query, sortKey: $sortKey) {
    pageInfo { hasNextPage endCursor }
    nodes {
      id title handle status productType tags descriptionHtml updatedAt onlineStoreUrl
      rating: metafield(namespace: "reviews", key: "rating") { value }
      ratingCount: metafield(namespace: "reviews", key: "rating_count") { value }
      material: metafield(namespace: "custom", key: "material") { value }
      featuredMedia { preview { image { url } } }
      media(first: $media) { nodes { ... on MediaImage { image { url } } } }
      variants(first: $variants) { pageInfo { hasNextPage endCursor } nodes { ...VariantFields } }
    }
  }
}"""
    + VARIANT_FIELDS
)

PRODUCT_VARIANTS_QUERY = (
    """
query ProductVariants($id: ID!, $first: Int!, $after: String) {
  product(id: $id) {
    variants(first: $first, after: $after) { pageInfo { hasNextPage endCursor } nodes { ...VariantFields } }
  }
}"""
    + VARIANT_FIELDS
)

STOCK_QUERY = """
query Stock($ids: [ID!]!) {
  shop { currencyCode }
  nodes(ids: $ids) {
    ... on ProductVariant {
      id price inventoryQuantity inventoryPolicy availableForSale
      inventoryItem { tracked }
      product { id }
    }
  }
}"""

ORDER_CREATE_MUTATION = """
mutation Place($order: OrderCreateOrderInput!, $options: OrderCreateOptionsInput) {
  orderCreate(order: $order, options: $options) {
    order { id name }
    userErrors { field message code }
  }
}"""

FIND_ORDER_QUERY = """
query FindOrder($first: Int!, $query: String!) {
  orders(first: $first, query: $query) { nodes { id name } }
}"""

ORDER_CANCEL_MUTATION = """
mutation Cancel($orderId: ID!, $reason: OrderCancelReason!, $restock: Boolean!,
                $notifyCustomer: Boolean, $refundMethod: OrderCancelRefundMethodInput,
                $staffNote: String) {
  orderCancel(orderId: $orderId, reason: $reason, restock: $restock,
              notifyCustomer: $notifyCustomer, refundMethod: $refundMethod, staffNote: $staffNote) {
    job { id done }
    orderCancelUserErrors { field message code }
  }
}"""

ORDER_STATE_QUERY = """
query OrderState($ids: [ID!]!) { nodes(ids: $ids) { ... on Order { id cancelledAt } } }"""


def minor_units(amount: str, currency: str) -> int:
    """A Shopify decimal string in integer minor units: Decimal, never float; half-even if finer."""
    exponent = CURRENCY_EXPONENTS.get(currency.lower(), 2)
    scaled = Decimal(amount).scaleb(exponent)
    return int(scaled.to_integral_value(rounding=ROUND_HALF_EVEN))


def decimal_amount(minor: int, currency: str) -> str:
    """Integer minor units as the decimal string Shopify expects ("28.00", "1500")."""
    return str(Decimal(minor).scaleb(-CURRENCY_EXPONENTS.get(currency.lower(), 2)))


class _TextExtractor(HTMLParser):
    # Block tags separate words ("<li>Blue</li><li>Sand</li>" is "Blue Sand", not "BlueSand").
    BLOCKS: ClassVar[frozenset[str]] = frozenset({"p", "br", "div", "li", "h1", "h2", "h3", "tr"})
    HIDDEN: ClassVar[frozenset[str]] = frozenset({"script", "style"})

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self.hidden = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in self.HIDDEN:
            self.hidden += 1
        if tag in self.BLOCKS:
            self.parts.append(" ")

    def handle_endtag(self, tag: str) -> None:
        if tag in self.HIDDEN and self.hidden:
            self.hidden -= 1

    def handle_data(self, data: str) -> None:
        if not self.hidden:
            self.parts.append(data)


def plain_text(html: str) -> str:
    """descriptionHtml as one line of text: tags dropped, entities decoded, whitespace collapsed."""
    extractor = _TextExtractor()
    extractor.feed(html)
    extractor.close()
    return " ".join("".join(extractor.parts).split())


def _retry_after(value: str | None) -> float:
    if not value:
        return 1.0
    try:
        return max(float(value), 0.0)
    except ValueError:
        pass
    try:
        return max(
            (parsedate_to_datetime(value) - datetime.now().astimezone()).total_seconds(), 0.0
        )
    except (TypeError, ValueError):
        return 1.0


def _throttle_wait(extensions: object) -> float:
    """Seconds until the bucket holds the query's cost: (requested - available) / restore rate."""
    try:
        cost = extensions["cost"]  # type: ignore[index]
        status = cost["throttleStatus"]
        missing = float(cost["requestedQueryCost"]) - float(status["currentlyAvailable"])
        return max(missing, 0.0) / float(status["restoreRate"])
    except (KeyError, TypeError, ValueError, ZeroDivisionError):
        return 1.0


class _Throttled(Exception):
    def __init__(self, message: str, wait: float) -> None:
        super().__init__(message)
        self.wait = wait


class _Unavailable(Exception):
    """5xx, timeout, connection failure or a malformed answer: another read may succeed."""


def _shape_error(operation: str, exc: Exception) -> PlatformUnavailable:
    return PlatformUnavailable(
        f"Shopify answered {operation} in an unexpected shape ({exc.__class__.__name__}: {exc})"
    )


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
        self._client = client
        self._shop_domain = shop_domain
        self._endpoint = (
            f"{base_url or f'https://{shop_domain}'}/admin/api/{api_version}/graphql.json"
        )
        self._headers = {"X-Shopify-Access-Token": access_token, "Accept": "application/json"}
        # Shopify signs with the new secret as soon as it is rotated, while deliveries already
        # queued still carry the old signature for up to an hour: both are accepted meanwhile.
        self._webhook_secrets = [s for s in (webhook_secret, previous_webhook_secret) if s]
        self._max_retries = max_retries
        self._max_retry_wait = max_retry_wait
        self._sleep = sleep

    # -- MerchantAdapter ------------------------------------------------------------------------

    async def shop_info(self) -> ShopInfo:
        data = await self._execute("shop", SHOP_QUERY, {})
        try:
            shop = data["shop"]
            return ShopInfo(shop["myshopifyDomain"], shop["name"], shop["currencyCode"].lower())
        except (KeyError, TypeError, AttributeError) as exc:
            raise _shape_error("shop", exc) from exc

    async def list_catalog(
        self, *, cursor: str | None = None, updated_since: str | None = None, page_size: int = 100
    ) -> CatalogPage:
        if page_size < 1:
            raise InvalidRequest("page_size must be at least 1")
        variables = {
            "first": min(page_size, CATALOG_PAGE_LIMIT),
            "after": cursor,
            "query": self._catalog_filter(updated_since),
            "sortKey": "UPDATED_AT",
            "media": CATALOG_MEDIA,
            "variants": CATALOG_VARIANTS,
        }
        data = await self._execute("products", CATALOG_QUERY, variables)
        try:
            currency = data["shop"]["currencyCode"].lower()
            connection = data["products"]
            products = []
            for node in connection["nodes"]:
                variants = list(node["variants"]["nodes"])
                more = node["variants"]["pageInfo"]
                if more["hasNextPage"]:
                    variants += await self._remaining_variants(node["id"], more["endCursor"])
                products.append(self._product(node, variants, currency))
            page_info = connection["pageInfo"]
            next_cursor = page_info["endCursor"] if page_info["hasNextPage"] else None
        except (KeyError, TypeError, ValueError, AttributeError, InvalidOperation) as exc:
            raise _shape_error("products", exc) from exc
        # An empty page keeps the caller's mark, so an idle incremental sync does not reset it.
        newest = max(products, key=lambda product: product.updated_at, default=None)
        watermark = _iso(newest.updated_at) if newest else updated_since
        return CatalogPage(tuple(products), next_cursor, watermark)

    async def read_stock(self, refs: Sequence[VariantRef]) -> dict[VariantRef, VariantStock]:
        wanted: dict[str, VariantRef] = {ref.platform_variant_id: ref for ref in refs}
        ids = list(wanted)
        stock: dict[VariantRef, VariantStock] = {}
        # One request per 250 ids (Shopify's input array cap), one after another: sending the
        # batches at once would only empty the cost bucket sooner.
        for start in range(0, len(ids), MAX_PAGE):
            data = await self._execute("nodes", STOCK_QUERY, {"ids": ids[start : start + MAX_PAGE]})
            try:
                currency = data["shop"]["currencyCode"].lower()
                for node in data["nodes"]:
                    ref = wanted.get(node.get("id")) if node else None
                    if ref is None:
                        continue  # deleted variant, another type, or an id we did not ask for
                    available = _available(node, node["inventoryItem"])
                    stock[ref] = VariantStock(
                        ref=ref,
                        price=minor_units(node["price"], currency),
                        currency=currency,
                        available=available,
                        purchasable=bool(node["availableForSale"]) and available > 0,
                    )
            except (KeyError, TypeError, ValueError, AttributeError, InvalidOperation) as exc:
                raise _shape_error("nodes", exc) from exc
        return stock

    async def place_order(self, sale: ExternalSale) -> PlacedOrder:
        # orderCreate has no @idempotent: the acp:{reference} tag is the key, so look first.
        existing = await self.find_order(sale.reference)
        if existing is not None:
            return existing
        variables = {
            "order": self._order_input(sale),
            "options": {
                "inventoryBehaviour": "DECREMENT_OBEYING_POLICY",
                "sendReceipt": False,
                "sendFulfillmentReceipt": False,
            },
        }
        data = await self._execute("orderCreate", ORDER_CREATE_MUTATION, variables, write=True)
        try:
            payload = data["orderCreate"]
            errors = payload["userErrors"] or []
            if errors:
                self._raise_order_errors(sale, errors)
            order = payload["order"]
            placed = PlacedOrder(order["id"], order.get("name"), "native_order")
        except (KeyError, TypeError, AttributeError) as exc:
            raise _shape_error("orderCreate", exc) from exc
        log.info(
            "shopify.order_create shop=%s reference=%s order=%s",
            self._shop_domain,
            sale.reference,
            placed.platform_order_id,
        )
        return placed

    async def find_order(self, reference: str) -> PlacedOrder | None:
        variables = {"first": 1, "query": f"tag:'{_search_value('acp:' + reference)}'"}
        data = await self._execute("orders", FIND_ORDER_QUERY, variables)
        try:
            nodes = data["orders"]["nodes"]
            if not nodes:
                return None
            return PlacedOrder(nodes[0]["id"], nodes[0].get("name"), "native_order")
        except (KeyError, TypeError, IndexError, AttributeError) as exc:
            raise _shape_error("orders", exc) from exc

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
        data = await self._execute("orderCancel", ORDER_CANCEL_MUTATION, variables, write=True)
        try:
            errors = data["orderCancel"]["orderCancelUserErrors"] or []
        except (KeyError, TypeError) as exc:
            raise _shape_error("orderCancel", exc) from exc
        if not errors:
            # The cancel runs as a Shopify job. We do not poll it: once queued it is irreversible,
            # checkout's next step (our refund) does not depend on it, and orders/cancelled
            # reports the end.
            return
        if any(error.get("code") == "NOT_FOUND" for error in errors):
            raise NotFound(f"Shopify has no order {order.platform_order_id}")
        if await self._already_canceled(order.platform_order_id):
            return  # a repeated cancel (an outbox retry) has nothing left to do
        raise InvalidRequest(f"Shopify refused orderCancel: {_messages(errors)}")

    def parse_webhook(self, headers: Mapping[str, str], body: bytes) -> PlatformEvent:
        normalised = {key.lower(): value for key, value in headers.items()}
        signature = normalised.get("x-shopify-hmac-sha256") or normalised.get("shopify-hmac-sha256")
        if not signature:
            raise WebhookInvalid("missing X-Shopify-Hmac-Sha256")
        if not any(
            hmac.compare_digest(_signature(secret, body), signature.strip().encode())
            for secret in self._webhook_secrets
        ):
            raise WebhookInvalid("X-Shopify-Hmac-Sha256 does not match the body")
        try:
            payload = json.loads(body)
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise WebhookInvalid("the webhook body is not JSON") from exc
        event_id = normalised.get("x-shopify-webhook-id")
        if not isinstance(payload, dict) or not event_id:
            raise WebhookInvalid(
                "not a Shopify webhook (no object body or no X-Shopify-Webhook-Id)"
            )
        return _event(normalised.get("x-shopify-topic", ""), event_id, payload)

    # -- requests -------------------------------------------------------------------------------

    async def _execute(
        self, operation: str, query: str, variables: Mapping[str, Any], *, write: bool = False
    ) -> dict[str, Any]:
        """`data` of one GraphQL request, with bounded retries.

        Reads are idempotent, so they are retried on throttling and on 5xx/timeouts. A write is
        retried only when throttled: Shopify refuses a throttled request before running it, so the
        outcome is known. After a 5xx or a timeout a write's outcome is unknown and the caller
        resolves it with find_order instead.
        """
        attempt = 0
        while True:
            try:
                return await self._send(operation, query, variables)
            except _Throttled as throttled:
                if attempt >= self._max_retries or throttled.wait > self._max_retry_wait:
                    # A wait longer than we may hold the caller is handed back to the caller.
                    raise RateLimited(str(throttled), retry_after=throttled.wait) from None
                delay = min(
                    throttled.wait + random.uniform(0, THROTTLE_JITTER), self._max_retry_wait
                )
                reason = str(throttled)
            except _Unavailable as unavailable:
                if write or attempt >= self._max_retries:
                    raise PlatformUnavailable(str(unavailable)) from unavailable.__cause__
                delay = min(
                    RETRY_BASE * 2**attempt * random.uniform(1.0, 1.2), self._max_retry_wait
                )
                reason = str(unavailable)
            attempt += 1
            log.warning(
                "shopify.graphql.retry shop=%s operation=%s attempt=%d wait=%.2f reason=%s",
                self._shop_domain,
                operation,
                attempt,
                delay,
                reason,
            )
            await self._sleep(delay)

    async def _send(
        self, operation: str, query: str, variables: Mapping[str, Any]
    ) -> dict[str, Any]:
        try:
            response = await self._client.post(
                self._endpoint, json={"query": query, "variables": variables}, headers=self._headers
            )
        except httpx.TimeoutException as exc:
            raise _Unavailable(f"Shopify did not answer {operation} in time") from exc
        except httpx.RequestError as exc:  # connection, protocol, decoding
            raise _Unavailable(f"could not reach Shopify for {operation} ({exc!r})") from exc
        status = response.status_code
        where = (
            f"{operation} on {self._shop_domain} (request {response.headers.get('x-request-id')})"
        )
        if status == 429:
            wait = _retry_after(response.headers.get("retry-after"))
            raise _Throttled(f"Shopify answered 429 to {where}", wait)
        if status in (401, 403):
            # 401: token revoked or app uninstalled. 403: a scope is missing or needs merchant
            # approval. Both need the merchant to authorise again, which is what checkout does on
            # CredentialsRevoked; retrying cannot help.
            raise CredentialsRevoked(
                f"Shopify refused the access token (HTTP {status}) for {where}"
            )
        if status in (402, 423):
            # Frozen for unpaid bills or locked: the token is fine and the shop comes back once
            # the merchant sorts it out, so "try later" fits better than "re-onboard".
            raise PlatformUnavailable(f"the shop is frozen or locked (HTTP {status}) for {where}")
        if status == 404:
            raise NotFound(f"Shopify has no such shop or API version: {where}")
        if status >= 500:
            raise _Unavailable(f"Shopify answered {status} to {where}")
        if status != 200:
            raise InvalidRequest(f"Shopify answered {status} to {where}: {response.text[:200]}")
        try:
            payload = response.json()
        except ValueError as exc:
            raise _Unavailable(f"Shopify answered {where} with a body that is not JSON") from exc
        if not isinstance(payload, dict):
            raise _Unavailable(f"Shopify answered {where} with JSON that is not an object")
        if payload.get("errors"):
            self._raise_graphql_errors(where, payload["errors"], payload.get("extensions"))
        data = payload.get("data")
        if not isinstance(data, dict):
            raise _Unavailable(f"Shopify answered {where} without `data`")
        return data

    def _raise_graphql_errors(self, where: str, errors: object, extensions: object) -> NoReturn:
        listed: list[Any] = errors if isinstance(errors, list) else [{"message": str(errors)}]
        codes = {
            (error.get("extensions") or {}).get("code")
            for error in listed
            if isinstance(error, dict)
        }
        text = _messages(listed)
        if "THROTTLED" in codes:
            raise _Throttled(f"Shopify throttled {where}", _throttle_wait(extensions))
        if "ACCESS_DENIED" in codes:
            raise CredentialsRevoked(f"Shopify denied access for {where}: {text}")
        if "INTERNAL_SERVER_ERROR" in codes:
            raise _Unavailable(f"Shopify failed internally on {where}: {text}")
        raise InvalidRequest(f"Shopify rejected {where}: {text}")

    # -- mapping --------------------------------------------------------------------------------

    @staticmethod
    def _catalog_filter(updated_since: str | None) -> str:
        if updated_since is None:
            return "status:active"
        try:
            since = datetime.fromisoformat(updated_since)
        except ValueError as exc:
            raise InvalidRequest(f"updated_since is not a timestamp: {updated_since!r}") from exc
        return f"status:active AND updated_at:>'{_iso(since)}'"

    async def _remaining_variants(self, product_id: str, cursor: str) -> list[dict[str, Any]]:
        """The variants past the first CATALOG_VARIANTS of one product, 250 at a time."""
        variants: list[dict[str, Any]] = []
        after: str | None = cursor
        while after is not None:
            variables = {"id": product_id, "first": MAX_PAGE, "after": after}
            data = await self._execute("product.variants", PRODUCT_VARIANTS_QUERY, variables)
            connection = data["product"]["variants"]
            variants += connection["nodes"]
            page_info = connection["pageInfo"]
            after = page_info["endCursor"] if page_info["hasNextPage"] else None
        return variants

    @staticmethod
    def _product(
        node: dict[str, Any], variant_nodes: list[dict[str, Any]], currency: str
    ) -> PlatformProduct:
        images: list[str] = []
        featured = ((node.get("featuredMedia") or {}).get("preview") or {}).get("image") or {}
        media = [(item.get("image") or {}) for item in (node.get("media") or {}).get("nodes", [])]
        for image in (featured, *media):
            if image.get("url") and image["url"] not in images:
                images.append(image["url"])
        variants = tuple(
            PlatformVariant(
                platform_variant_id=variant["id"],
                title=variant["title"],
                price=minor_units(variant["price"], currency),
                currency=currency,
                available=_available(variant, variant.get("inventoryItem") or {}),
                sku=variant.get("sku") or None,
                options=tuple((o["name"], o["value"]) for o in variant.get("selectedOptions", [])),
                list_price=(
                    minor_units(variant["compareAtPrice"], currency)
                    if variant.get("compareAtPrice")
                    else None
                ),
            )
            for variant in variant_nodes
        )
        tags = tuple(node.get("tags") or ())
        ships = [(v.get("inventoryItem") or {}).get("requiresShipping") for v in variant_nodes]
        status: Literal["active", "inactive"] = (
            "active" if node["status"] == "ACTIVE" else "inactive"
        )
        return PlatformProduct(
            platform_product_id=node["id"],
            title=node["title"],
            description=plain_text(node.get("descriptionHtml") or ""),
            status=status,
            updated_at=datetime.fromisoformat(node["updatedAt"]),
            variants=variants,
            url=node.get("onlineStoreUrl"),
            images=tuple(images),
            tags=tags,
            category=node.get("productType") or None,
            digital="digital" in {tag.lower() for tag in tags}
            or (bool(ships) and all(flag is False for flag in ships)),
            rating=_rating(node.get("rating")),
            review_count=int((node.get("ratingCount") or {}).get("value") or 0),
            material=(node.get("material") or {}).get("value") or None,
        )

    @staticmethod
    def _order_input(sale: ExternalSale) -> dict[str, Any]:
        currency = sale.currency.upper()

        def money(minor: int) -> dict[str, Any]:
            return {
                "shopMoney": {"amount": decimal_amount(minor, currency), "currencyCode": currency}
            }

        order: dict[str, Any] = {
            "lineItems": [
                {
                    "variantId": line.ref.platform_variant_id,
                    "quantity": line.quantity,
                    "priceSet": money(line.unit_price),
                }
                for line in sale.lines
            ],
            "financialStatus": "PAID",
            "transactions": [
                {
                    "kind": "SALE",
                    "status": "SUCCESS",
                    "gateway": SOURCE_NAME,
                    "amountSet": money(sale.total_amount),
                }
            ],
            "currency": currency,
            "sourceName": SOURCE_NAME,
            "sourceIdentifier": sale.reference,
            "tags": ["acp", f"acp:{sale.reference}"],
        }
        if sale.buyer_email:
            order["email"] = sale.buyer_email
        if sale.shipping_address is not None:
            order["shippingAddress"] = _mailing_address(sale.shipping_address)
        if sale.shipping_title or sale.shipping_amount:
            title = sale.shipping_title or "Shipping"
            order["shippingLines"] = [
                {"title": title, "code": title, "priceSet": money(sale.shipping_amount)}
            ]
        if sale.tax_amount:
            taxable = sum(line.unit_price * line.quantity for line in sale.lines)
            base = taxable + sale.shipping_amount
            # Shopify requires a rate on every tax line; ours is computed, so derive it.
            rate = (Decimal(sale.tax_amount) / base).quantize(Decimal("0.0001")) if base else 0
            order["taxLines"] = [
                {"title": "Sales tax", "rate": str(rate), "priceSet": money(sale.tax_amount)}
            ]
            order["taxesIncluded"] = False
        return order

    @staticmethod
    def _raise_order_errors(sale: ExternalSale, errors: list[dict[str, Any]]) -> NoReturn:
        claims = [error for error in errors if error.get("code") == "INVENTORY_CLAIM_FAILED"]
        if not claims:
            raise InvalidRequest(f"Shopify refused orderCreate: {_messages(errors)}")
        refs = []
        for error in claims:
            # The field path names the line: ["order", "lineItems", "0", "quantity"].
            field = error.get("field") or []
            if len(field) > 2 and field[1] == "lineItems" and str(field[2]).isdigit():
                index = int(field[2])
                if index < len(sale.lines) and sale.lines[index].ref not in refs:
                    refs.append(sale.lines[index].ref)
        raise OutOfStock(f"Shopify could not claim the stock: {_messages(claims)}", refs=refs)

    async def _already_canceled(self, order_id: str) -> bool:
        data = await self._execute("nodes", ORDER_STATE_QUERY, {"ids": [order_id]})
        nodes = data.get("nodes") or [None]
        return bool(nodes[0] and nodes[0].get("cancelledAt"))


def _available(variant: Mapping[str, Any], inventory_item: Mapping[str, Any]) -> int:
    if not variant.get("availableForSale", True):
        return 0
    if variant.get("inventoryPolicy") == "CONTINUE" or inventory_item.get("tracked") is False:
        return UNLIMITED
    return max(int(variant.get("inventoryQuantity") or 0), 0)


def _rating(metafield: Mapping[str, Any] | None) -> float | None:
    """The `reviews.rating` metafield (JSON {value, scale_min, scale_max}) on a 0-5 scale."""
    if not metafield or not metafield.get("value"):
        return None
    try:
        rating = json.loads(metafield["value"])
        scale = Decimal(str(rating.get("scale_max") or "5"))
        return float(round(Decimal(str(rating["value"])) * 5 / scale, 2))
    except (ValueError, KeyError, TypeError, ArithmeticError):
        return None  # a review app's malformed value is no reason to drop the product


def _mailing_address(address: ShippingAddress) -> dict[str, Any]:
    first, _, last = address.name.strip().rpartition(" ")
    mailing = {
        # Shopify needs a last name more than a first: a one-word name goes there.
        "firstName": first or None,
        "lastName": last,
        "address1": address.line_one,
        "address2": address.line_two,
        "city": address.city,
        "provinceCode": address.state,
        "countryCode": address.country.upper(),
        "zip": address.postal_code,
    }
    return {key: value for key, value in mailing.items() if value}


def _search_value(value: str) -> str:
    return value.replace("\\", "\\\\").replace("'", "\\'")


def _messages(errors: Sequence[object]) -> str:
    return "; ".join(
        str(error.get("message", error)) if isinstance(error, dict) else str(error)
        for error in errors
    )


def _iso(moment: datetime) -> str:
    return moment.isoformat().replace("+00:00", "Z")


def _signature(secret: str, body: bytes) -> bytes:
    return base64.b64encode(hmac.new(secret.encode(), body, hashlib.sha256).digest())


def _gid(kind: str, payload: Mapping[str, Any]) -> str | None:
    if payload.get("admin_graphql_api_id"):
        return str(payload["admin_graphql_api_id"])
    return f"gid://shopify/{kind}/{payload['id']}" if payload.get("id") is not None else None


def _reference(order: Mapping[str, Any]) -> str | None:
    tags = order.get("tags") or ""
    for tag in tags.split(",") if isinstance(tags, str) else tags:
        if str(tag).strip().startswith("acp:"):
            return str(tag).strip().removeprefix("acp:")
    identifier = order.get("source_identifier")
    return str(identifier) if identifier else None


def _tracking(order: Mapping[str, Any]) -> Tracking | None:
    for fulfillment in order.get("fulfillments") or []:
        number = fulfillment.get("tracking_number") or next(
            iter(fulfillment.get("tracking_numbers") or []), None
        )
        if number:
            url = fulfillment.get("tracking_url") or next(
                iter(fulfillment.get("tracking_urls") or []), None
            )
            return Tracking(fulfillment.get("tracking_company") or "", str(number), url)
    return None


def _event(topic: str, event_id: str, payload: dict[str, Any]) -> PlatformEvent:
    if topic in ("products/create", "products/update"):
        return PlatformEvent(
            event_id, "product_updated", platform_product_id=_gid("Product", payload), raw=payload
        )
    if topic == "products/delete":
        return PlatformEvent(
            event_id, "product_deleted", platform_product_id=_gid("Product", payload), raw=payload
        )
    if topic == "orders/fulfilled":
        return PlatformEvent(
            event_id,
            "order_fulfilled",
            platform_order_id=_gid("Order", payload),
            reference=_reference(payload),
            tracking=_tracking(payload),
            raw=payload,
        )
    if topic == "orders/cancelled":
        return PlatformEvent(
            event_id,
            "order_canceled",
            platform_order_id=_gid("Order", payload),
            reference=_reference(payload),
            raw=payload,
        )
    if topic == "app/uninstalled":
        return PlatformEvent(event_id, "credentials_revoked", raw=payload)
    return PlatformEvent(event_id, "other", raw=payload)

"""ShopifyAdapter against Shopify's GraphQL Admin API as respx plays it, in the API's own shapes."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import re
from collections.abc import AsyncIterator, Iterator
from typing import Any

import httpx
import pytest
import respx

from merchant_adapters import (
    CredentialsRevoked,
    ExternalSale,
    PlatformInvalidRequest,
    PlatformNotFound,
    PlatformOutOfStock,
    PlatformUnavailable,
    RateLimited,
    SaleLine,
    ShippingAddress,
    VariantRef,
    WebhookInvalid,
)
from merchant_adapters.shopify import UNLIMITED, ShopifyAdapter, minor_units

SHOP = "northwind-supply.myshopify.com"
ENDPOINT = f"https://{SHOP}/admin/api/2026-10/graphql.json"
TOKEN = "shpat_test_token"
SECRET = "shpss_test_secret"
pytestmark = pytest.mark.anyio

MUG = VariantRef("gid://shopify/Product/8765432101", "gid://shopify/ProductVariant/44556677889")
PLATE = VariantRef("gid://shopify/Product/8765432102", "gid://shopify/ProductVariant/44556677890")


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


class RecordedSleep:
    """Stands in for asyncio.sleep: backoff runs instantly and the waits can be read."""

    def __init__(self) -> None:
        self.waits: list[float] = []

    async def __call__(self, seconds: float) -> None:
        self.waits.append(seconds)


class ShopifyStub:
    """One respx route for the endpoint, answering per GraphQL operation name, in order."""

    def __init__(self, router: respx.MockRouter) -> None:
        self.answers: dict[str, list[Any]] = {}
        self.requests: list[tuple[str, dict[str, Any], httpx.Request]] = []
        router.post(ENDPOINT).mock(side_effect=self._answer)

    def on(self, operation: str, *answers: Any) -> None:
        """Answers given in turn; the last one repeats. A dict is a 200 JSON body."""
        self.answers[operation] = list(answers)

    def variables(self, operation: str) -> list[dict[str, Any]]:
        return [variables for name, variables, _ in self.requests if name == operation]

    def _answer(self, request: httpx.Request) -> httpx.Response:
        body = json.loads(request.content)
        match = re.search(r"(?:query|mutation)\s+(\w+)", body["query"])
        assert match, body["query"]
        self.requests.append((match.group(1), body["variables"], request))
        queue = self.answers[match.group(1)]
        answer = queue.pop(0) if len(queue) > 1 else queue[0]
        if isinstance(answer, Exception):
            raise answer
        return answer if isinstance(answer, httpx.Response) else httpx.Response(200, json=answer)


@pytest.fixture
def shopify() -> Iterator[ShopifyStub]:
    with respx.mock(assert_all_called=False) as router:
        yield ShopifyStub(router)


@pytest.fixture
def sleep() -> RecordedSleep:
    return RecordedSleep()


@pytest.fixture
async def adapter(sleep: RecordedSleep) -> AsyncIterator[ShopifyAdapter]:
    async with httpx.AsyncClient(timeout=5.0) as client:
        yield ShopifyAdapter(
            client, shop_domain=SHOP, access_token=TOKEN, webhook_secret=SECRET, sleep=sleep
        )


def cost(requested: int = 112, available: float = 1986, restore: float = 100.0) -> dict[str, Any]:
    return {
        "cost": {
            "requestedQueryCost": requested,
            "actualQueryCost": 14,
            "throttleStatus": {
                "maximumAvailable": 2000.0,
                "currentlyAvailable": available,
                "restoreRate": restore,
            },
        }
    }


def variant_node(
    gid: str = MUG.platform_variant_id,
    *,
    price: str = "28.00",
    compare_at: str | None = None,
    quantity: int | None = 9,
    policy: str = "DENY",
    tracked: bool = True,
    requires_shipping: bool = True,
    title: str = "Blue",
) -> dict[str, Any]:
    return {
        "id": gid,
        "title": title,
        "sku": "MUG-BLU-12",
        "price": price,
        "compareAtPrice": compare_at,
        "inventoryQuantity": quantity,
        "inventoryPolicy": policy,
        "availableForSale": True,
        "selectedOptions": [{"name": "Color", "value": title}],
        "inventoryItem": {"tracked": tracked, "requiresShipping": requires_shipping},
    }


def product_node(
    gid: str = MUG.platform_product_id,
    *,
    variants: list[dict[str, Any]] | None = None,
    updated_at: str = "2026-11-20T14:03:11Z",
    tags: list[str] | None = None,
    status: str = "ACTIVE",
) -> dict[str, Any]:
    return {
        "id": gid,
        "title": "Speckled Stoneware Mug",
        "handle": "speckled-stoneware-mug",
        "status": status,
        "productType": "Mugs",
        "tags": tags if tags is not None else ["ceramic", "handmade"],
        "descriptionHtml": (
            "<style>p{}</style><p>12 oz, dishwasher&nbsp;safe.</p><ul><li>Blue</li><li>Sand</li></ul>"
        ),
        "updatedAt": updated_at,
        "onlineStoreUrl": "https://clay-co.example/products/speckled-stoneware-mug",
        "rating": {"value": '{"value": "4.6", "scale_min": "1.0", "scale_max": "5.0"}'},
        "ratingCount": {"value": "512"},
        "material": None,
        "featuredMedia": {"preview": {"image": {"url": "https://cdn.shopify.com/mug.jpg"}}},
        "media": {
            "nodes": [
                {"image": {"url": "https://cdn.shopify.com/mug.jpg"}},
                {"image": {"url": "https://cdn.shopify.com/mug-side.jpg"}},
                {},  # a video: the MediaImage fragment selects nothing
            ]
        },
        "variants": {
            "pageInfo": {"hasNextPage": False, "endCursor": None},
            "nodes": variants if variants is not None else [variant_node()],
        },
    }


def catalog(
    nodes: list[dict[str, Any]], *, end_cursor: str | None = None, has_next: bool = False
) -> dict[str, Any]:
    return {
        "data": {
            "shop": {"currencyCode": "USD"},
            "products": {
                "pageInfo": {"hasNextPage": has_next, "endCursor": end_cursor},
                "nodes": nodes,
            },
        },
        "extensions": cost(),
    }


def no_order() -> dict[str, Any]:
    return {"data": {"orders": {"nodes": []}}, "extensions": cost(3)}


def created(order_id: str = "gid://shopify/Order/6123456789012") -> dict[str, Any]:
    order = {"id": order_id, "name": "#1042"}
    return {"data": {"orderCreate": {"order": order, "userErrors": []}}, "extensions": cost(10)}


def throttled(requested: int = 752, available: float = 602) -> dict[str, Any]:
    return {
        "errors": [{"message": "Throttled", "extensions": {"code": "THROTTLED"}}],
        "extensions": cost(requested, available),
    }


def shop_answer() -> dict[str, Any]:
    shop = {
        "id": "gid://shopify/Shop/1",
        "name": "Northwind Supply Co.",
        "currencyCode": "USD",
        "myshopifyDomain": SHOP,
    }
    return {"data": {"shop": shop}, "extensions": cost(1)}


def make_sale(reference: str = "cs_123", **overrides: Any) -> ExternalSale:
    fields: dict[str, Any] = {
        "reference": reference,
        "lines": (SaleLine(MUG, 2, 2800, "Mug"), SaleLine(PLATE, 1, 1999, "Plate")),
        "currency": "usd",
        "buyer_email": "ada@example.com",
        "buyer_name": "Ada Lovelace",
        "shipping_address": ShippingAddress(
            "Ada King Lovelace", "1234 Chat Road", "San Francisco", "CA", "US", "94131", "Apt 2"
        ),
        "shipping_title": "Standard",
        "shipping_amount": 695,
        "tax_amount": 612,
        "total_amount": 2800 * 2 + 1999 + 695 + 612,
    }
    return ExternalSale(**{**fields, **overrides})


def usd(amount: str) -> dict[str, Any]:
    return {"shopMoney": {"amount": amount, "currencyCode": "USD"}}


def signed(body: bytes, secret: str = SECRET) -> str:
    return base64.b64encode(hmac.new(secret.encode(), body, hashlib.sha256).digest()).decode()


# -- catalog ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("amount", "currency", "minor"),
    [("28.00", "usd", 2800), ("19.99", "usd", 1999), ("0.29", "usd", 29), ("1500.0", "jpy", 1500)],
)
def test_decimal_prices_become_exact_minor_units(amount: str, currency: str, minor: int) -> None:
    assert minor_units(amount, currency) == minor


async def test_a_catalog_page_maps_products_prices_stock_and_text(
    adapter: ShopifyAdapter, shopify: ShopifyStub
) -> None:
    variants = [
        variant_node(price="19.99", compare_at="24.50", quantity=-3),
        variant_node("gid://shopify/ProductVariant/2", policy="CONTINUE", quantity=0, title="Sand"),
        variant_node("gid://shopify/ProductVariant/3", tracked=False, quantity=None, title="Red"),
    ]
    shopify.on("Catalog", catalog([product_node(variants=variants)]))

    page = await adapter.list_catalog()

    (product,) = page.products
    assert product.platform_product_id == MUG.platform_product_id
    assert product.description == "12 oz, dishwasher safe. Blue Sand"
    assert product.images == (
        "https://cdn.shopify.com/mug.jpg",
        "https://cdn.shopify.com/mug-side.jpg",
    )
    assert (product.status, product.category, product.tags) == (
        "active",
        "Mugs",
        ("ceramic", "handmade"),
    )
    assert (product.rating, product.review_count, product.digital) == (4.6, 512, False)
    oversold, backorderable, untracked = product.variants
    assert (oversold.price, oversold.list_price, oversold.currency) == (1999, 2450, "usd")
    assert oversold.available == 0
    assert backorderable.available == UNLIMITED
    assert untracked.available == UNLIMITED
    assert oversold.options == (("Color", "Blue"),)
    assert page.next_cursor is None
    assert page.watermark == "2026-11-20T14:03:11Z"


async def test_a_product_tagged_digital_or_shipping_nothing_is_digital(
    adapter: ShopifyAdapter, shopify: ShopifyStub
) -> None:
    tagged = product_node(tags=["Digital"])
    unshipped = product_node(
        "gid://shopify/Product/2", variants=[variant_node(requires_shipping=False)]
    )
    shopify.on("Catalog", catalog([tagged, unshipped, product_node("gid://shopify/Product/3")]))

    page = await adapter.list_catalog()

    assert [product.digital for product in page.products] == [True, True, False]


async def test_a_full_sync_follows_page_info_across_two_pages(
    adapter: ShopifyAdapter, shopify: ShopifyStub
) -> None:
    first = product_node(updated_at="2026-11-20T14:03:11Z")
    second = product_node("gid://shopify/Product/2", updated_at="2026-11-21T09:00:00Z")
    shopify.on(
        "Catalog",
        catalog([first], end_cursor="eyJsYXN0X2lkIjo4NzY1NDMyMTAxfQ==", has_next=True),
        catalog([second]),
    )

    page_one = await adapter.list_catalog(page_size=1)
    page_two = await adapter.list_catalog(cursor=page_one.next_cursor, page_size=1)

    assert page_one.next_cursor == "eyJsYXN0X2lkIjo4NzY1NDMyMTAxfQ=="
    assert page_two.next_cursor is None
    assert page_two.watermark == "2026-11-21T09:00:00Z"
    sent = shopify.variables("Catalog")
    assert [v["after"] for v in sent] == [None, "eyJsYXN0X2lkIjo4NzY1NDMyMTAxfQ=="]
    assert {(v["first"], v["query"], v["sortKey"]) for v in sent} == {
        (1, "status:active", "UPDATED_AT")
    }


async def test_a_page_is_as_large_as_the_query_cost_limit_allows(
    adapter: ShopifyAdapter, shopify: ShopifyStub
) -> None:
    shopify.on("Catalog", catalog([]))

    await adapter.list_catalog(page_size=250)

    # 250 products with 25 variants each would cost ~24,000 points; Shopify refuses over 1,000.
    assert shopify.variables("Catalog")[0]["first"] == 10


async def test_an_incremental_sync_asks_only_for_products_updated_since_the_watermark(
    adapter: ShopifyAdapter, shopify: ShopifyStub
) -> None:
    shopify.on("Catalog", catalog([]))

    page = await adapter.list_catalog(updated_since="2026-11-20T14:03:11Z")

    query = shopify.variables("Catalog")[0]["query"]
    assert query == "status:active AND updated_at:>'2026-11-20T14:03:11Z'"
    assert page.watermark == "2026-11-20T14:03:11Z"  # nothing new: the mark stays


# -- stock -----------------------------------------------------------------------------------


async def test_read_stock_sends_one_nodes_query_per_250_variants(
    adapter: ShopifyAdapter, shopify: ShopifyStub
) -> None:
    refs = [
        VariantRef("gid://shopify/Product/1", f"gid://shopify/ProductVariant/{n}")
        for n in range(300)
    ]

    def stock_node(n: int) -> dict[str, Any] | None:
        if n % 100 == 7:
            return None  # deleted since the last sync
        return {
            "id": f"gid://shopify/ProductVariant/{n}",
            "price": "12.50",
            "inventoryQuantity": n % 3,
            "inventoryPolicy": "DENY",
            "availableForSale": n % 3 > 0,
            "inventoryItem": {"tracked": True},
            "product": {"id": "gid://shopify/Product/1"},
        }

    def nodes(ids: range) -> dict[str, Any]:
        data = {"shop": {"currencyCode": "USD"}, "nodes": [stock_node(n) for n in ids]}
        return {"data": data, "extensions": cost(751)}

    shopify.on("Stock", nodes(range(250)), nodes(range(250, 300)))

    stock = await adapter.read_stock(refs)

    assert [len(v["ids"]) for v in shopify.variables("Stock")] == [250, 50]
    assert len(stock) == 297
    assert refs[7] not in stock
    assert (stock[refs[1]].price, stock[refs[1]].available, stock[refs[1]].purchasable) == (
        1250,
        1,
        True,
    )
    assert (stock[refs[3]].available, stock[refs[3]].purchasable) == (0, False)


# -- orders ----------------------------------------------------------------------------------


async def test_place_order_records_the_sale_as_a_paid_order_tagged_with_the_reference(
    adapter: ShopifyAdapter, shopify: ShopifyStub
) -> None:
    shopify.on("FindOrder", no_order())
    shopify.on("Place", created())

    placed = await adapter.place_order(make_sale())

    assert (placed.platform_order_id, placed.platform_order_name) == (
        "gid://shopify/Order/6123456789012",
        "#1042",
    )
    assert placed.recorded == "native_order"
    assert shopify.variables("FindOrder") == [{"first": 1, "query": "tag:'acp:cs_123'"}]
    (sent,) = shopify.variables("Place")
    assert sent["options"] == {
        "inventoryBehaviour": "DECREMENT_OBEYING_POLICY",
        "sendReceipt": False,
        "sendFulfillmentReceipt": False,
    }
    order = sent["order"]
    assert order["lineItems"] == [
        {"variantId": MUG.platform_variant_id, "quantity": 2, "priceSet": usd("28.00")},
        {"variantId": PLATE.platform_variant_id, "quantity": 1, "priceSet": usd("19.99")},
    ]
    assert order["tags"] == ["acp", "acp:cs_123"]
    assert (order["sourceName"], order["sourceIdentifier"]) == ("agentic-checkout", "cs_123")
    assert (order["financialStatus"], order["currency"]) == ("PAID", "USD")
    assert order["email"] == "ada@example.com"
    assert order["transactions"] == [
        {
            "kind": "SALE",
            "status": "SUCCESS",
            "gateway": "agentic-checkout",
            "amountSet": usd("89.06"),
        }
    ]
    assert order["shippingAddress"] == {
        "firstName": "Ada King", "lastName": "Lovelace", "address1": "1234 Chat Road", "address2": "Apt 2",
        "city": "San Francisco", "provinceCode": "CA", "countryCode": "US", "zip": "94131",
    }  # fmt: skip
    assert order["shippingLines"] == [
        {"title": "Standard", "code": "Standard", "priceSet": usd("6.95")}
    ]
    # 6.12 of tax on 75.99 of goods and 6.95 of shipping
    assert order["taxLines"] == [{"title": "Sales tax", "rate": "0.0738", "priceSet": usd("6.12")}]
    headers = shopify.requests[-1][2].headers
    assert headers["X-Shopify-Access-Token"] == TOKEN


async def test_placing_the_same_reference_again_returns_the_order_without_creating_another(
    adapter: ShopifyAdapter, shopify: ShopifyStub
) -> None:
    existing = {"id": "gid://shopify/Order/6123456789012", "name": "#1042"}
    shopify.on("FindOrder", no_order(), {"data": {"orders": {"nodes": [existing]}}})
    shopify.on("Place", created())

    first = await adapter.place_order(make_sale())
    again = await adapter.place_order(make_sale())

    assert again == first
    assert len(shopify.variables("Place")) == 1


async def test_an_inventory_claim_failure_is_out_of_stock_for_the_line_it_names(
    adapter: ShopifyAdapter, shopify: ShopifyStub
) -> None:
    error = {
        "field": ["order", "lineItems", "1", "quantity"],
        "message": "Unable to claim inventory",
        "code": "INVENTORY_CLAIM_FAILED",
    }
    shopify.on("FindOrder", no_order())
    shopify.on("Place", {"data": {"orderCreate": {"order": None, "userErrors": [error]}}})

    with pytest.raises(PlatformOutOfStock) as raised:
        await adapter.place_order(make_sale())

    assert raised.value.refs == (PLATE,)


async def test_other_user_errors_are_invalid_requests(
    adapter: ShopifyAdapter, shopify: ShopifyStub
) -> None:
    error = {"field": ["order", "email"], "message": "Email is invalid", "code": "INVALID"}
    shopify.on("FindOrder", no_order())
    shopify.on("Place", {"data": {"orderCreate": {"order": None, "userErrors": [error]}}})

    with pytest.raises(PlatformInvalidRequest, match="Email is invalid"):
        await adapter.place_order(make_sale())


async def test_a_timeout_on_order_create_is_unavailable_and_not_retried(
    adapter: ShopifyAdapter, shopify: ShopifyStub, sleep: RecordedSleep
) -> None:
    shopify.on("FindOrder", no_order())
    shopify.on("Place", httpx.ReadTimeout("read timed out"))

    with pytest.raises(PlatformUnavailable) as raised:
        await adapter.place_order(make_sale())

    assert isinstance(raised.value.__cause__, httpx.ReadTimeout)
    assert len(shopify.variables("Place")) == 1
    assert sleep.waits == []


async def test_a_throttled_order_create_is_retried_because_shopify_never_ran_it(
    adapter: ShopifyAdapter, shopify: ShopifyStub
) -> None:
    shopify.on("FindOrder", no_order())
    shopify.on("Place", throttled(), created())

    placed = await adapter.place_order(make_sale())

    assert placed.platform_order_name == "#1042"
    assert len(shopify.variables("Place")) == 2


# -- limits and failures ---------------------------------------------------------------------


async def test_a_throttled_answer_waits_until_the_bucket_holds_the_query_cost(
    adapter: ShopifyAdapter, shopify: ShopifyStub, sleep: RecordedSleep
) -> None:
    shopify.on("Shop", throttled(requested=752, available=602), shop_answer())

    info = await adapter.shop_info()

    assert (info.shop_id, info.currency) == (SHOP, "usd")
    (wait,) = sleep.waits
    assert 1.5 <= wait <= 1.75  # (752 - 602) / 100 per second, plus jitter


async def test_a_429_waits_for_retry_after_then_succeeds(
    adapter: ShopifyAdapter, shopify: ShopifyStub, sleep: RecordedSleep
) -> None:
    shopify.on("Shop", httpx.Response(429, headers={"Retry-After": "2.0"}), shop_answer())

    await adapter.shop_info()

    (wait,) = sleep.waits
    assert 2.0 <= wait <= 2.25


async def test_throttling_beyond_max_retries_raises_rate_limited(
    adapter: ShopifyAdapter, shopify: ShopifyStub, sleep: RecordedSleep
) -> None:
    shopify.on("Shop", throttled(requested=752, available=602))

    with pytest.raises(RateLimited) as raised:
        await adapter.shop_info()

    assert raised.value.retry_after == pytest.approx(1.5)
    assert len(sleep.waits) == 3
    assert len(shopify.requests) == 4


async def test_a_wait_longer_than_max_retry_wait_is_handed_back_at_once(
    adapter: ShopifyAdapter, shopify: ShopifyStub, sleep: RecordedSleep
) -> None:
    shopify.on("Shop", httpx.Response(429, headers={"Retry-After": "60"}))

    with pytest.raises(RateLimited) as raised:
        await adapter.shop_info()

    assert raised.value.retry_after == 60
    assert sleep.waits == []


async def test_a_revoked_token_raises_credentials_revoked_without_retrying(
    adapter: ShopifyAdapter, shopify: ShopifyStub
) -> None:
    body = {
        "errors": "[API] Invalid API key or access token (unrecognized login or wrong password)"
    }
    shopify.on("Shop", httpx.Response(401, json=body))

    with pytest.raises(CredentialsRevoked):
        await adapter.shop_info()

    assert len(shopify.requests) == 1


@pytest.mark.parametrize(
    ("status", "error"),
    [
        (403, CredentialsRevoked),
        (402, PlatformUnavailable),
        (423, PlatformUnavailable),
        (404, PlatformNotFound),
        (400, PlatformInvalidRequest),
    ],
)
async def test_http_statuses_map_onto_the_error_taxonomy(
    adapter: ShopifyAdapter, shopify: ShopifyStub, status: int, error: type[Exception]
) -> None:
    shopify.on("Shop", httpx.Response(status, json={"errors": "Nope"}))

    with pytest.raises(error):
        await adapter.shop_info()

    assert len(shopify.requests) == 1


async def test_a_503_is_retried_then_raises_platform_unavailable(
    adapter: ShopifyAdapter, shopify: ShopifyStub, sleep: RecordedSleep
) -> None:
    shopify.on("Shop", httpx.Response(503, text="Service Unavailable"))

    with pytest.raises(PlatformUnavailable, match="503"):
        await adapter.shop_info()

    assert len(shopify.requests) == 4
    assert len(sleep.waits) == 3
    assert sleep.waits == sorted(sleep.waits)  # backing off


async def test_a_503_then_success_is_absorbed_by_a_retry(
    adapter: ShopifyAdapter, shopify: ShopifyStub
) -> None:
    shopify.on("Shop", httpx.Response(503), httpx.ConnectError("refused"), shop_answer())

    assert (await adapter.shop_info()).name == "Northwind Supply Co."


@pytest.mark.parametrize(
    ("answer", "message"),
    [
        (httpx.Response(200, text="<html>Maintenance</html>"), "not JSON"),
        (httpx.Response(200, json={"extensions": cost()}), "without `data`"),
        (httpx.Response(200, json={"data": {"shop": None}}), "unexpected shape"),
    ],
)
async def test_a_malformed_answer_raises_platform_unavailable(
    adapter: ShopifyAdapter, shopify: ShopifyStub, answer: httpx.Response, message: str
) -> None:
    shopify.on("Shop", answer)

    with pytest.raises(PlatformUnavailable, match=message):
        await adapter.shop_info()


# -- webhooks --------------------------------------------------------------------------------

FULFILLED = {
    "id": 6123456789012,
    "admin_graphql_api_id": "gid://shopify/Order/6123456789012",
    "name": "#1042",
    "tags": "acp, acp:cs_123",
    "source_identifier": "cs_123",
    "fulfillments": [
        {
            "tracking_company": "UPS",
            "tracking_number": "1Z999AA10123456784",
            "tracking_url": "https://www.ups.com/track?tracknum=1Z999AA10123456784",
        }
    ],
}


def webhook_headers(topic: str, body: bytes, **overrides: str) -> dict[str, str]:
    headers = {
        "X-Shopify-Topic": topic,
        "X-Shopify-Hmac-Sha256": signed(body),
        "X-Shopify-Shop-Domain": SHOP,
        "X-Shopify-Webhook-Id": "b54557e4-bdd9-4b37-8a5f-bf7d70bcd043",
    }
    return {**headers, **overrides}


async def test_a_signed_orders_fulfilled_webhook_carries_tracking_and_our_reference(
    adapter: ShopifyAdapter,
) -> None:
    body = json.dumps(FULFILLED).encode()

    event = adapter.parse_webhook(webhook_headers("orders/fulfilled", body), body)

    assert (event.kind, event.event_id) == (
        "order_fulfilled",
        "b54557e4-bdd9-4b37-8a5f-bf7d70bcd043",
    )
    assert (event.platform_order_id, event.reference) == (
        "gid://shopify/Order/6123456789012",
        "cs_123",
    )
    assert event.tracking is not None
    assert (event.tracking.carrier, event.tracking.tracking_number) == ("UPS", "1Z999AA10123456784")
    assert event.tracking.tracking_url == "https://www.ups.com/track?tracknum=1Z999AA10123456784"


async def test_a_products_update_webhook_with_lowercase_headers_names_the_product(
    adapter: ShopifyAdapter,
) -> None:
    body = json.dumps({"id": 9554194432293, "title": "Mug", "variants": []}).encode()
    headers = {
        key.lower(): value for key, value in webhook_headers("products/update", body).items()
    }

    event = adapter.parse_webhook(headers, body)

    assert (event.kind, event.platform_product_id) == (
        "product_updated",
        "gid://shopify/Product/9554194432293",
    )


async def test_app_uninstalled_means_the_credentials_are_revoked(adapter: ShopifyAdapter) -> None:
    body = b'{"id": 1, "domain": "northwind-supply.myshopify.com"}'

    event = adapter.parse_webhook(webhook_headers("app/uninstalled", body), body)

    assert event.kind == "credentials_revoked"


@pytest.mark.parametrize(
    "tamper",
    ["wrong signature", "missing signature", "tampered body", "not json"],
)
async def test_a_webhook_that_fails_verification_is_refused(
    adapter: ShopifyAdapter, tamper: str
) -> None:
    body = json.dumps(FULFILLED).encode()
    headers = webhook_headers("orders/fulfilled", body)
    if tamper == "wrong signature":
        headers["X-Shopify-Hmac-Sha256"] = signed(body, secret="shpss_someone_else")
    elif tamper == "missing signature":
        del headers["X-Shopify-Hmac-Sha256"]
    elif tamper == "tampered body":
        body = body.replace(b"cs_123", b"cs_999")
    else:
        body = b"not json"
        headers["X-Shopify-Hmac-Sha256"] = signed(body)

    with pytest.raises(WebhookInvalid):
        adapter.parse_webhook(headers, body)

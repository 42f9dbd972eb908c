"""The real ShopifyAdapter against the real Shopify sandbox app, on a SQLite file per test."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import Engine, create_engine

from merchant_adapters import (
    CatalogPage,
    CredentialsRevoked,
    ExternalSale,
    PlatformOutOfStock,
    PlatformProduct,
    PlatformUnavailable,
    SaleLine,
    ShippingAddress,
    VariantRef,
)
from merchant_adapters.etsy.money import minor_units as etsy_minor_units
from merchant_adapters.sandbox.shopify import ShopifySandbox, create_shopify_sandbox_app
from merchant_adapters.sandbox.shopify.nodes import decimal_string as sandbox_amount
from merchant_adapters.sandbox.shopify.nodes import minor_units as sandbox_minor_units
from merchant_adapters.shopify import ShopifyAdapter
from merchant_adapters.shopify.money import minor_units as shopify_minor_units

pytestmark = pytest.mark.anyio

SEED = json.loads(
    (Path(__file__).resolve().parents[2] / "seeds" / "northwind-supply.json").read_text()
)
SHOP = SEED["merchant"]["shop_ref"]
RECEIVER = "https://checkout.example/webhooks/shopify"


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


class RecordedSleep:
    def __init__(self) -> None:
        self.waits: list[float] = []

    async def __call__(self, seconds: float) -> None:
        self.waits.append(seconds)


@pytest.fixture
def engine(tmp_path: Path) -> Iterator[Engine]:
    engine = create_engine(
        f"sqlite:///{tmp_path / 'shopify-sandbox.db'}",
        connect_args={"check_same_thread": False, "timeout": 30},
    )
    yield engine
    engine.dispose()


@pytest.fixture
def webhooks_received() -> list[httpx.Request]:
    return []


@pytest.fixture
async def sandbox(
    engine: Engine, webhooks_received: list[httpx.Request]
) -> AsyncIterator[ShopifySandbox]:
    def receive(request: httpx.Request) -> httpx.Response:
        webhooks_received.append(request)
        return httpx.Response(200)

    async with httpx.AsyncClient(transport=httpx.MockTransport(receive)) as webhook_client:
        sandbox = ShopifySandbox(engine, webhook_client=webhook_client)
        sandbox.load_seed(SEED)
        yield sandbox


@pytest.fixture
async def client(sandbox: ShopifySandbox) -> AsyncIterator[httpx.AsyncClient]:
    app = create_shopify_sandbox_app(sandbox)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://sandbox") as client:
        yield client


@pytest.fixture
def sleep() -> RecordedSleep:
    return RecordedSleep()


def adapter_for(
    client: httpx.AsyncClient,
    sleep: RecordedSleep,
    shop: str = SHOP,
    token: str = ShopifySandbox.DEMO_ACCESS_TOKEN,
) -> ShopifyAdapter:
    return ShopifyAdapter(
        client,
        shop_domain=shop,
        access_token=token,
        webhook_secret=ShopifySandbox.DEMO_WEBHOOK_SECRET,
        base_url=f"http://sandbox/{shop}",
        sleep=sleep,
    )


@pytest.fixture
def adapter(client: httpx.AsyncClient, sleep: RecordedSleep) -> ShopifyAdapter:
    return adapter_for(client, sleep)


async def full_sync(adapter: ShopifyAdapter, page_size: int = 100) -> list[CatalogPage]:
    pages = [await adapter.list_catalog(page_size=page_size)]
    while pages[-1].next_cursor:
        pages.append(await adapter.list_catalog(cursor=pages[-1].next_cursor, page_size=page_size))
    return pages


def products_of(pages: list[CatalogPage]) -> list[PlatformProduct]:
    return [product for page in pages for product in page.products]


async def catalog_by_sku(adapter: ShopifyAdapter) -> dict[str, tuple[VariantRef, int, int]]:
    """sku -> (ref, price, available)"""
    return {
        variant.sku or "": (
            VariantRef(product.platform_product_id, variant.platform_variant_id),
            variant.price,
            variant.available,
        )
        for product in products_of(await full_sync(adapter))
        for variant in product.variants
    }


def make_sale(reference: str, *lines: tuple[VariantRef, int, int]) -> ExternalSale:
    items = sum(price * quantity for _, price, quantity in lines)
    return ExternalSale(
        reference=reference,
        lines=tuple(SaleLine(ref, quantity, price) for ref, price, quantity in lines),
        currency="usd",
        buyer_email="ada@example.com",
        buyer_name="Ada Lovelace",
        shipping_address=ShippingAddress(
            "Ada Lovelace", "1234 Chat Road", "San Francisco", "CA", "US", "94131"
        ),
        shipping_title="Standard",
        shipping_amount=695,
        tax_amount=0,
        total_amount=items + 695,
    )


async def test_a_full_catalog_sync_page_by_page_equals_the_seed(adapter: ShopifyAdapter) -> None:
    pages = await full_sync(adapter, page_size=7)

    products = products_of(pages)
    assert len(pages) == 5
    assert [p.title for p in products] == [p["title"] for p in SEED["products"]]
    synced = {
        v.sku: (v.price, v.list_price, v.available, dict(v.options))
        for p in products
        for v in p.variants
    }
    seeded = {
        v["sku"]: (v["price"], v["list_price"], v["inventory"], v["options"])
        for p in SEED["products"]
        for v in p["variants"]
    }
    assert synced == seeded
    tee = products[0]
    assert tee.platform_product_id.startswith("gid://shopify/Product/")
    assert (tee.category, tee.url) == (SEED["products"][0]["category"], SEED["products"][0]["url"])
    assert (tee.rating, tee.review_count, tee.material) == (4.6, 512, "organic cotton")
    assert tee.images == tuple(SEED["products"][0]["images"])
    assert tee.description == SEED["products"][0]["description"]


async def test_an_incremental_sync_after_a_product_update_returns_only_that_product(
    adapter: ShopifyAdapter, sandbox: ShopifySandbox
) -> None:
    pages = await full_sync(adapter)
    watermark = max(page.watermark or "" for page in pages)
    hoodie = products_of(pages)[5]

    sandbox.update_product(hoodie.platform_product_id, price=5900, title="Classic Fleece Hoodie II")
    page = await adapter.list_catalog(updated_since=watermark)

    (updated,) = page.products
    assert updated.platform_product_id == hoodie.platform_product_id
    assert updated.title == "Classic Fleece Hoodie II"
    assert {variant.price for variant in updated.variants} == {5900}
    assert page.watermark is not None and page.watermark > watermark
    assert (await adapter.list_catalog(updated_since=page.watermark)).products == ()


async def test_placing_an_order_decrements_stock_and_is_idempotent_on_the_reference(
    adapter: ShopifyAdapter, sandbox: ShopifySandbox
) -> None:
    catalog = await catalog_by_sku(adapter)
    ref, price, before = catalog["NW-TEE-ORG-OAT-S"]

    placed = await adapter.place_order(make_sale("cs_first", (ref, price, 2)))
    again = await adapter.place_order(make_sale("cs_first", (ref, price, 2)))

    assert again == placed
    assert placed.platform_order_name == "#1001"
    assert sandbox.stock(ref.platform_variant_id) == before - 2
    (order,) = sandbox.orders(SHOP)
    assert (order.gid, order.reference, order.tags) == (
        placed.platform_order_id,
        "cs_first",
        ("acp", "acp:cs_first"),
    )
    assert order.total == 2 * price + 695
    assert await adapter.find_order("cs_first") == placed
    assert await adapter.find_order("cs_unknown") is None


async def test_the_last_unit_cannot_be_sold_twice(
    adapter: ShopifyAdapter, sandbox: ShopifySandbox
) -> None:
    ref, price, available = (await catalog_by_sku(adapter))["NW-TEE-ORG-NAV-L"]
    assert available == 1

    outcomes = await asyncio.gather(
        adapter.place_order(make_sale("cs_buyer_one", (ref, price, 1))),
        adapter.place_order(make_sale("cs_buyer_two", (ref, price, 1))),
        return_exceptions=True,
    )

    assert sorted(type(outcome).__name__ for outcome in outcomes) == [
        "PlacedOrder",
        "PlatformOutOfStock",
    ]
    refused = next(outcome for outcome in outcomes if isinstance(outcome, PlatformOutOfStock))
    assert refused.refs == (ref,)
    assert sandbox.stock(ref.platform_variant_id) == 0
    assert len(sandbox.orders(SHOP)) == 1
    with pytest.raises(PlatformOutOfStock):
        await adapter.place_order(make_sale("cs_buyer_three", (ref, price, 1)))
    assert sandbox.stock(ref.platform_variant_id) == 0


async def test_an_order_whose_second_line_is_short_claims_nothing(
    adapter: ShopifyAdapter, sandbox: ShopifySandbox
) -> None:
    catalog = await catalog_by_sku(adapter)
    plenty, plenty_price, plenty_stock = catalog["NW-TEE-ORG-OAT-L"]
    short, short_price, _ = catalog["NW-TEE-ORG-NAV-L"]

    with pytest.raises(PlatformOutOfStock) as raised:
        await adapter.place_order(
            make_sale("cs_mixed", (plenty, plenty_price, 1), (short, short_price, 5))
        )

    assert raised.value.refs == (short,)
    assert sandbox.stock(plenty.platform_variant_id) == plenty_stock
    assert sandbox.orders(SHOP) == []


async def test_canceling_with_restock_puts_the_units_back_once(
    adapter: ShopifyAdapter, sandbox: ShopifySandbox
) -> None:
    ref, price, before = (await catalog_by_sku(adapter))["NW-TEE-ORG-OAT-M"]
    sale = make_sale("cs_cancel", (ref, price, 3))
    placed = await adapter.place_order(sale)

    await adapter.cancel_order(placed, sale, restock=True)
    await adapter.cancel_order(placed, sale, restock=True)  # an outbox retry

    assert sandbox.stock(ref.platform_variant_id) == before
    (order,) = sandbox.orders(SHOP)
    assert order.canceled


async def test_a_throttled_request_is_retried_and_then_succeeds(
    adapter: ShopifyAdapter, sandbox: ShopifySandbox, sleep: RecordedSleep
) -> None:
    sandbox.fail("throttle", times=1)

    page = await adapter.list_catalog()

    assert len(page.products) == 10
    (wait,) = sleep.waits
    assert 1.0 <= wait <= 1.25  # the sandbox's throttleStatus leaves a one-second shortfall


async def test_a_rate_limited_request_honours_retry_after(
    adapter: ShopifyAdapter, sandbox: ShopifySandbox, sleep: RecordedSleep
) -> None:
    sandbox.fail("rate_limit", times=2)

    info = await adapter.shop_info()

    assert info.shop_id == SHOP
    assert len(sleep.waits) == 2
    assert all(1.0 <= wait <= 1.25 for wait in sleep.waits)


async def test_an_outage_surfaces_as_platform_unavailable_after_the_retries(
    adapter: ShopifyAdapter, sandbox: ShopifySandbox, sleep: RecordedSleep
) -> None:
    sandbox.fail("outage")

    with pytest.raises(PlatformUnavailable, match="503"):
        await adapter.shop_info()

    assert len(sleep.waits) == 3
    sandbox.fail("none")
    assert (await adapter.shop_info()).shop_id == SHOP


@pytest.mark.parametrize("token", [ShopifySandbox.DEMO_ACCESS_TOKEN, "shpat_wrong"])
async def test_a_revoked_or_wrong_token_surfaces_as_credentials_revoked(
    client: httpx.AsyncClient, sandbox: ShopifySandbox, sleep: RecordedSleep, token: str
) -> None:
    sandbox.fail("revoked", times=1 if token == ShopifySandbox.DEMO_ACCESS_TOKEN else None)

    with pytest.raises(CredentialsRevoked):
        await adapter_for(client, sleep, token=token).shop_info()


async def test_fulfilling_an_order_sends_a_webhook_the_adapter_verifies(
    adapter: ShopifyAdapter, sandbox: ShopifySandbox, webhooks_received: list[httpx.Request]
) -> None:
    ref, price, _ = (await catalog_by_sku(adapter))["NW-TEE-ORG-OAT-XL"]
    placed = await adapter.place_order(make_sale("cs_ship_me", (ref, price, 1)))
    sandbox.subscribe(SHOP, RECEIVER)

    sandbox.fulfill_order(
        placed.platform_order_id, "UPS", "1Z999AA10123456784", "https://ups.example/1Z"
    )
    delivered = await sandbox.deliver_pending()

    assert delivered == 1
    (request,) = webhooks_received
    assert str(request.url) == RECEIVER
    event = adapter.parse_webhook(request.headers, request.content)
    assert (event.kind, event.platform_order_id, event.reference) == (
        "order_fulfilled",
        placed.platform_order_id,
        "cs_ship_me",
    )
    assert event.tracking is not None
    assert (
        event.tracking.carrier,
        event.tracking.tracking_number,
        event.tracking.tracking_url,
    ) == ("UPS", "1Z999AA10123456784", "https://ups.example/1Z")
    assert event.event_id == request.headers["X-Shopify-Webhook-Id"]
    assert await sandbox.deliver_pending() == 0  # delivered once


async def test_the_control_endpoints_drive_webhooks_failures_and_updates(
    adapter: ShopifyAdapter,
    client: httpx.AsyncClient,
    sandbox: ShopifySandbox,
    webhooks_received: list[httpx.Request],
) -> None:
    ref, price, _ = (await catalog_by_sku(adapter))["NW-TEE-ORG-OAT-XL"]
    await adapter.place_order(make_sale("cs_control", (ref, price, 1)))

    subscribed = await client.post(f"/_control/{SHOP}/webhooks", json={"url": RECEIVER})
    fulfilled = await client.post(
        f"/_control/{SHOP}/orders/1001/fulfill", json={"carrier": "USPS", "tracking_number": "9400"}
    )
    numeric_id = ref.platform_product_id.rsplit("/", 1)[-1]
    updated = await client.post(
        f"/_control/{SHOP}/products/{numeric_id}/update", json={"available": 0}
    )
    failing = await client.post(f"/_control/{SHOP}/fail", json={"mode": "outage"})
    listed = await client.get(f"/_control/{SHOP}/orders")  # control routes ignore failures

    assert [r.status_code for r in (subscribed, fulfilled, updated, failing, listed)] == [200] * 5
    assert [r.headers["X-Shopify-Topic"] for r in webhooks_received] == [
        "orders/fulfilled",
        "products/update",
    ]
    events = [adapter.parse_webhook(r.headers, r.content) for r in webhooks_received]
    assert events[0].tracking is not None and events[0].tracking.carrier == "USPS"
    assert (events[1].kind, events[1].platform_product_id) == (
        "product_updated",
        ref.platform_product_id,
    )
    assert listed.json()[0]["fulfilled"] is True
    missing = await client.post(
        f"/_control/{SHOP}/orders/9999/fulfill", json={"carrier": "USPS", "tracking_number": "1"}
    )
    assert missing.status_code == 404
    with pytest.raises(PlatformUnavailable):
        await adapter.find_order("cs_control")
    await client.post(f"/_control/{SHOP}/fail", json={"mode": "none"})
    assert await adapter.find_order("cs_control") is not None


async def test_orders_survive_a_restarted_sandbox_on_the_same_database(
    adapter: ShopifyAdapter, engine: Engine, sleep: RecordedSleep
) -> None:
    ref, price, _ = (await catalog_by_sku(adapter))["NW-TEE-ORG-OAT-XL"]
    placed = await adapter.place_order(make_sale("cs_durable", (ref, price, 1)))

    restarted = ShopifySandbox(engine)
    restarted.load_seed(SEED)
    transport = httpx.ASGITransport(app=create_shopify_sandbox_app(restarted))
    async with httpx.AsyncClient(transport=transport, base_url="http://sandbox") as client:
        found = await adapter_for(client, sleep).find_order("cs_durable")

    assert found == placed
    assert len(restarted.orders(SHOP)) == 1


async def test_the_same_seed_gives_the_same_ids_in_another_database(
    adapter: ShopifyAdapter, tmp_path: Path
) -> None:
    other_engine = create_engine(f"sqlite:///{tmp_path / 'other.db'}")
    other = ShopifySandbox(other_engine)
    other.load_seed(SEED)
    ids = {v.platform_variant_id for p in products_of(await full_sync(adapter)) for v in p.variants}

    assert all(other.stock(gid) is not None for gid in ids)
    other_engine.dispose()


async def test_a_synthetic_catalog_of_2000_products_pages_through_completely(
    client: httpx.AsyncClient, sandbox: ShopifySandbox, sleep: RecordedSleep
) -> None:
    sandbox.generate_synthetic("synthetic.myshopify.com", 2000, variants_per_product=2, seed=7)
    synthetic = adapter_for(client, sleep, shop="synthetic.myshopify.com")

    products = products_of(await full_sync(synthetic, page_size=250))

    assert len({p.platform_product_id for p in products}) == len(products) == 2000
    assert all(len(p.variants) == 2 for p in products)


async def test_a_product_with_more_variants_than_one_page_holds_is_read_whole(
    client: httpx.AsyncClient, sandbox: ShopifySandbox, sleep: RecordedSleep
) -> None:
    sandbox.generate_synthetic("wide.myshopify.com", 3, variants_per_product=60)

    products = products_of(await full_sync(adapter_for(client, sleep, shop="wide.myshopify.com")))

    assert [len({v.platform_variant_id for v in p.variants}) for p in products] == [60, 60, 60]


async def test_a_query_over_shopifys_cost_limit_is_refused(client: httpx.AsyncClient) -> None:
    query = "query { products(first: 250) { nodes { variants(first: 100) { nodes { id } } } } }"

    response = await client.post(
        f"/{SHOP}/admin/api/2026-10/graphql.json",
        json={"query": query},
        headers={"X-Shopify-Access-Token": ShopifySandbox.DEMO_ACCESS_TOKEN},
    )

    (error,) = response.json()["errors"]
    assert error["extensions"]["code"] == "MAX_COST_EXCEEDED"


async def test_an_unknown_field_is_an_error_not_a_silent_null(client: httpx.AsyncClient) -> None:
    response = await client.post(
        f"/{SHOP}/admin/api/2026-10/graphql.json",
        json={"query": "query { shop { name billingAddress { city } } }"},
        headers={"X-Shopify-Access-Token": ShopifySandbox.DEMO_ACCESS_TOKEN},
    )

    body: dict[str, Any] = response.json()
    assert body["errors"][0]["extensions"]["code"] == "undefinedField"
    assert body["data"] is None


@pytest.mark.parametrize(
    "currency, minor", [("usd", 2599), ("jpy", 2599), ("bhd", 2599), ("iqd", 2599)]
)
def test_the_sandbox_and_the_adapters_agree_on_every_currency_s_minor_units(
    currency: str, minor: int
) -> None:
    written = sandbox_amount(minor, currency)  # what the Shopify-style sandbox sends
    assert shopify_minor_units(written, currency) == minor
    assert sandbox_minor_units(written, currency) == minor
    divisor = 10 ** {"usd": 2, "jpy": 0, "bhd": 3, "iqd": 3}[currency]
    etsy = {"amount": minor, "divisor": divisor, "currency_code": currency.upper()}
    assert etsy_minor_units(etsy) == (minor, currency)

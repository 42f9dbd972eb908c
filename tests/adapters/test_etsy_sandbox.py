"""The real EtsyAdapter against the real Etsy sandbox app (ASGI, SQLite file): they must agree."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import Engine, create_engine

from merchant_adapters import (
    CredentialsRevoked,
    ExternalSale,
    MerchantPlatformError,
    PlatformOutOfStock,
    PlatformProduct,
    PlatformUnavailable,
    RateLimited,
    SaleLine,
    VariantRef,
)
from merchant_adapters.etsy import EtsyAdapter
from merchant_adapters.sandbox.etsy import EtsySandbox, create_etsy_sandbox_app

SEED_PATH = Path(__file__).resolve().parents[2] / "seeds" / "clay-and-kiln.json"
MOUNT = "/sandbox/etsy"
HOOKS_URL = "http://checkout.test/webhooks/etsy"


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@dataclass
class SeededShop:
    sandbox: EtsySandbox
    engine: Engine
    shop_id: int
    app: FastAPI
    seed: dict[str, Any]
    deliveries: list[httpx.Request]


async def _no_sleep(seconds: float) -> None:
    return None


@pytest.fixture
def shop(tmp_path: Path) -> Iterator[SeededShop]:
    """The Clay & Kiln seed loaded into a sandbox on its own SQLite file, webhooks captured."""
    engine = create_engine(f"sqlite:///{tmp_path / 'etsy-sandbox.db'}")
    deliveries: list[httpx.Request] = []

    def receive(request: httpx.Request) -> httpx.Response:
        deliveries.append(request)
        return httpx.Response(204)

    hooks = httpx.AsyncClient(transport=httpx.MockTransport(receive))
    sandbox = EtsySandbox(engine, webhook_client=hooks)
    seed = json.loads(SEED_PATH.read_text())
    shop_id = sandbox.load_seed(seed)
    parent = FastAPI()
    parent.mount(MOUNT, create_etsy_sandbox_app(sandbox))
    yield SeededShop(sandbox, engine, shop_id, parent, seed, deliveries)
    engine.dispose()


def make_adapter(shop: SeededShop, **overrides: Any) -> EtsyAdapter:
    client = httpx.AsyncClient(
        transport=httpx.ASGITransport(app=shop.app), base_url="http://sandbox"
    )
    options: dict[str, Any] = {
        "api_key": EtsySandbox.API_KEY,
        "shared_secret": EtsySandbox.SHARED_SECRET,
        "access_token": EtsySandbox.ACCESS_TOKEN,
        "shop_id": str(shop.shop_id),
        "webhook_secret": EtsySandbox.WEBHOOK_SECRET,
        "base_url": f"http://sandbox{MOUNT}/v3/application",
        "sandbox_orders": True,
        "sleep": _no_sleep,
    }
    return EtsyAdapter(client, **{**options, **overrides})


async def full_catalog(adapter: EtsyAdapter, page_size: int = 100) -> list[PlatformProduct]:
    found: list[PlatformProduct] = []
    cursor: str | None = None
    while True:
        page = await adapter.list_catalog(cursor=cursor, page_size=page_size)
        found += page.products
        if page.next_cursor is None:
            return found
        cursor = page.next_cursor


async def variant_by_sku(adapter: EtsyAdapter, sku: str) -> tuple[VariantRef, int]:
    """The ref and stock of the variant with this seed SKU, as the catalog sync reports it."""
    for product in await full_catalog(adapter):
        for variant in product.variants:
            if variant.sku == sku:
                return VariantRef(
                    product.platform_product_id, variant.platform_variant_id
                ), variant.available
    raise AssertionError(f"{sku} is not in the catalog")


def make_sale(*lines: tuple[VariantRef, int], reference: str = "cs_test_1") -> ExternalSale:
    return ExternalSale(
        reference=reference,
        lines=tuple(
            SaleLine(ref=ref, quantity=quantity, unit_price=3400) for ref, quantity in lines
        ),
        currency="usd",
        buyer_email="buyer@example.com",
        buyer_name="Ada Buyer",
        shipping_address=None,
        shipping_title="Standard",
        shipping_amount=595,
        tax_amount=0,
        total_amount=3400 * sum(quantity for _, quantity in lines) + 595,
    )


async def stock_of(adapter: EtsyAdapter, ref: VariantRef) -> int:
    return (await adapter.read_stock([ref]))[ref].available


@pytest.mark.anyio
async def test_a_full_catalog_sync_matches_the_seed(shop: SeededShop) -> None:
    products = await full_catalog(make_adapter(shop), page_size=10)

    in_stock = [p for p in shop.seed["products"] if sum(v["inventory"] for v in p["variants"]) > 0]
    assert len(products) == len(in_stock) == len(shop.seed["products"]) - 1
    synced = {p.title: p for p in products}
    for expected in in_stock:
        product = synced[expected["title"]]
        assert product.digital is expected["digital"]
        assert product.category == expected["category"]
        assert product.images == tuple(expected["images"])
        assert product.tags == tuple(expected["tags"])
        assert product.url == expected["url"]
        assert (product.material, product.rating, product.review_count) == (
            expected["material"],
            expected["rating"],
            expected["review_count"],
        )
        assert [
            (v.sku, v.price, v.currency, v.available, dict(v.options)) for v in product.variants
        ] == [
            (v["sku"], v["price"], "usd", v["inventory"], v["options"])
            for v in expected["variants"]
        ]
    assert [p.title for p in products if p.digital] == [
        "Wildflower Line Drawing Set (Printable Digital Download)"
    ]


@pytest.mark.anyio
async def test_a_listing_with_no_stock_is_sold_out_and_left_out_of_the_active_catalog(
    shop: SeededShop,
) -> None:
    titles = {p.title for p in await full_catalog(make_adapter(shop))}

    assert "Moon Jar Vase" not in titles
    assert shop.seed["products"][11]["title"] == "Moon Jar Vase"


@pytest.mark.anyio
async def test_loading_the_seed_again_duplicates_nothing(shop: SeededShop) -> None:
    adapter = make_adapter(shop)
    before = len(await full_catalog(adapter))

    assert shop.sandbox.load_seed(shop.seed) == shop.shop_id == 40000001
    assert len(await full_catalog(adapter)) == before


@pytest.mark.anyio
async def test_placing_an_order_claims_stock_once_however_often_it_is_retried(
    shop: SeededShop,
) -> None:
    adapter = make_adapter(shop)
    ref, stock = await variant_by_sku(adapter, "CK-MUG-SPK-OAT-12OZ")

    placed = await adapter.place_order(make_sale((ref, 2)))
    again = await adapter.place_order(make_sale((ref, 2)))

    assert placed == again
    assert placed.recorded == "sandbox_extension"
    assert placed.platform_order_name == f"SBX-{placed.platform_order_id}"
    assert await stock_of(adapter, ref) == stock - 2
    assert [o.reference for o in shop.sandbox.orders(shop.shop_id)] == ["cs_test_1"]
    assert await adapter.find_order("cs_test_1") == placed
    assert await adapter.find_order("cs_never_placed") is None


@pytest.mark.anyio
async def test_the_last_unit_cannot_be_sold_twice(shop: SeededShop) -> None:
    adapter = make_adapter(shop)
    ref, stock = await variant_by_sku(adapter, "CK-BWL-SRV-FORGRE")
    assert stock == 1

    outcomes = await asyncio.gather(
        adapter.place_order(make_sale((ref, 1), reference="cs_first")),
        adapter.place_order(make_sale((ref, 1), reference="cs_second")),
        return_exceptions=True,
    )

    assert sorted(type(o).__name__ for o in outcomes) == ["PlacedOrder", "PlatformOutOfStock"]
    refused = next(o for o in outcomes if isinstance(o, PlatformOutOfStock))
    assert refused.refs == (ref,)
    assert await stock_of(adapter, ref) == 0
    assert len(shop.sandbox.orders(shop.shop_id)) == 1


@pytest.mark.anyio
async def test_an_order_with_one_short_line_claims_nothing(shop: SeededShop) -> None:
    adapter = make_adapter(shop)
    plenty, plenty_stock = await variant_by_sku(adapter, "CK-MUG-SPK-SPEWHI-16OZ")
    scarce, scarce_stock = await variant_by_sku(adapter, "CK-MUG-SPK-OAT-16OZ")

    with pytest.raises(PlatformOutOfStock) as refused:
        await adapter.place_order(make_sale((plenty, 1), (scarce, scarce_stock + 1)))

    assert refused.value.refs == (scarce,)
    assert await stock_of(adapter, plenty) == plenty_stock
    assert await stock_of(adapter, scarce) == scarce_stock
    assert shop.sandbox.orders(shop.shop_id) == []


@pytest.mark.anyio
async def test_cancelling_an_order_restocks_it_once(shop: SeededShop) -> None:
    adapter = make_adapter(shop)
    ref, stock = await variant_by_sku(adapter, "CK-MUG-SPK-CHA-12OZ")
    sale = make_sale((ref, 3))
    placed = await adapter.place_order(sale)

    await adapter.cancel_order(placed, sale, restock=True)
    await adapter.cancel_order(placed, sale, restock=True)

    assert await stock_of(adapter, ref) == stock
    assert [o.status for o in shop.sandbox.orders(shop.shop_id)] == ["canceled"]


@pytest.mark.anyio
async def test_a_restarted_sandbox_still_knows_the_orders_it_recorded(shop: SeededShop) -> None:
    adapter = make_adapter(shop)
    ref, _ = await variant_by_sku(adapter, "CK-MUG-SPK-CHA-16OZ")
    placed = await adapter.place_order(make_sale((ref, 1)))

    restarted = EtsySandbox(shop.engine)

    assert [str(o.order_id) for o in restarted.orders(shop.shop_id)] == [placed.platform_order_id]


@pytest.mark.anyio
async def test_inventory_only_sales_go_through_the_put_even_though_etsy_renumbers_products(
    shop: SeededShop,
) -> None:
    adapter = make_adapter(shop, sandbox_orders=False)
    ref, stock = await variant_by_sku(adapter, "CK-MUG-SPK-SPEWHI-12OZ")
    listing_id = int(ref.platform_product_id)
    untouched, untouched_stock = await variant_by_sku(adapter, "CK-MUG-SPK-OAT-16OZ")
    first_sale = make_sale((ref, 2), reference="cs_one")

    placed = await adapter.place_order(first_sale)
    await adapter.place_order(make_sale((ref, 1), reference="cs_two"))

    assert placed.recorded == "inventory_only"
    assert placed.platform_order_id == "inventory:cs_one"
    assert await stock_of(adapter, ref) == stock - 3
    assert await stock_of(adapter, untouched) == untouched_stock
    assert shop.sandbox.orders(shop.shop_id) == []
    assert await adapter.find_order("cs_one") is None
    await adapter.cancel_order(placed, first_sale, restock=True)
    assert await stock_of(adapter, ref) == stock - 1
    inventory = shop.sandbox.inventory_json(listing_id)
    assert [p["sku"] for p in inventory["products"]][:2] == [
        "CK-MUG-SPK-SPEWHI-12OZ",
        "CK-MUG-SPK-SPEWHI-16OZ",
    ]


@pytest.mark.anyio
async def test_an_inventory_only_sale_beyond_the_stock_is_refused_and_writes_nothing(
    shop: SeededShop,
) -> None:
    adapter = make_adapter(shop, sandbox_orders=False)
    ref, stock = await variant_by_sku(adapter, "CK-BWL-SRV-FORGRE")
    before = shop.sandbox.inventory_json(int(ref.platform_product_id))

    with pytest.raises(PlatformOutOfStock):
        await adapter.place_order(make_sale((ref, stock + 1)))

    assert shop.sandbox.inventory_json(int(ref.platform_product_id)) == before


@pytest.mark.anyio
@pytest.mark.parametrize(
    ("mode", "error"),
    [("rate_limit", RateLimited), ("outage", PlatformUnavailable), ("revoked", CredentialsRevoked)],
)
async def test_each_failure_mode_surfaces_as_its_error(
    shop: SeededShop, mode: Any, error: type[MerchantPlatformError]
) -> None:
    adapter = make_adapter(shop)
    shop.sandbox.fail(mode)

    with pytest.raises(error):
        await adapter.shop_info()

    shop.sandbox.recover()
    assert (await adapter.shop_info()).name == "ClayAndKilnStudio"


@pytest.mark.anyio
async def test_a_single_rate_limited_call_is_retried_after_the_sandboxs_retry_after(
    shop: SeededShop,
) -> None:
    waits: list[float] = []

    async def sleep(seconds: float) -> None:
        waits.append(seconds)

    adapter = make_adapter(shop, sleep=sleep)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=shop.app)) as control:
        answer = await control.post(
            f"http://sandbox{MOUNT}/v3/application/x-sandbox/_control/fail",
            json={"mode": "rate_limit", "times": 1},
        )
    assert answer.status_code == 200

    info = await adapter.shop_info()

    assert (info.shop_id, info.name, info.currency) == (
        str(shop.shop_id),
        "ClayAndKilnStudio",
        "usd",
    )
    assert waits == [1.0]


@pytest.mark.anyio
@pytest.mark.parametrize(
    "overrides",
    [{"shared_secret": "wrong"}, {"access_token": "not-a-sandbox-token"}],
    ids=["wrong shared secret", "wrong token"],
)
async def test_wrong_credentials_are_refused(shop: SeededShop, overrides: dict[str, str]) -> None:
    with pytest.raises(CredentialsRevoked):
        await make_adapter(shop, **overrides).list_catalog()


@pytest.mark.anyio
async def test_the_put_refuses_the_get_shape_of_an_inventory(shop: SeededShop) -> None:
    adapter = make_adapter(shop)
    ref, _ = await variant_by_sku(adapter, "CK-MUG-SPK-OAT-12OZ")
    url = f"http://sandbox{MOUNT}/v3/application/listings/{ref.platform_product_id}/inventory"
    headers = {
        "x-api-key": f"{EtsySandbox.API_KEY}:{EtsySandbox.SHARED_SECRET}",
        "authorization": f"Bearer {EtsySandbox.ACCESS_TOKEN}",
    }
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=shop.app)) as raw:
        got = await raw.get(url, headers=headers)
        put = await raw.put(url, headers=headers, json=got.json())

    assert got.headers["x-limit-per-day"] == "10000"
    assert int(got.headers["x-remaining-today"]) < 10000
    assert put.status_code == 400
    assert "product_id" in put.json()["error"]


@pytest.mark.anyio
async def test_key_only_endpoints_need_no_token_but_shop_data_does(shop: SeededShop) -> None:
    base = f"http://sandbox{MOUNT}/v3/application"
    key_only = {"x-api-key": f"{EtsySandbox.API_KEY}:{EtsySandbox.SHARED_SECRET}"}
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=shop.app)) as raw:
        ping = await raw.get(f"{base}/openapi-ping", headers=key_only)
        shop_page = await raw.get(f"{base}/shops/{shop.shop_id}", headers=key_only)
        private = await raw.get(f"{base}/shops/{shop.shop_id}/listings", headers=key_only)
        keyless = await raw.get(f"{base}/openapi-ping", headers={"x-api-key": EtsySandbox.API_KEY})

    assert (ping.status_code, shop_page.status_code) == (200, 200)
    assert (private.status_code, private.json()["error"]) == (401, "invalid_token")
    assert keyless.status_code == 403
    assert keyless.json() == {"error": "Shared secret is required in x-api-key header."}


@pytest.mark.anyio
async def test_shipping_an_order_sends_a_webhook_the_adapter_accepts(shop: SeededShop) -> None:
    adapter = make_adapter(shop)
    ref, _ = await variant_by_sku(adapter, "CK-MUG-SPK-OAT-12OZ")
    placed = await adapter.place_order(make_sale((ref, 1), reference="cs_shipped"))
    shop.sandbox.subscribe(shop.shop_id, HOOKS_URL)

    delivery = await shop.sandbox.ship_order(
        int(placed.platform_order_id), "USPS", "9400100000000000000000"
    )

    assert delivery is not None and delivery.status_code == 204
    [request] = shop.deliveries
    assert str(request.url) == HOOKS_URL
    event = adapter.parse_webhook(request.headers, request.content)
    assert event.kind == "order_fulfilled"
    assert event.event_id == request.headers["webhook-id"]
    assert event.platform_order_id == placed.platform_order_id
    assert event.reference == "cs_shipped"
    assert event.tracking is not None
    assert (event.tracking.carrier, event.tracking.tracking_number) == (
        "USPS",
        "9400100000000000000000",
    )


@pytest.mark.anyio
async def test_a_seller_edit_changes_the_listing_and_announces_it(shop: SeededShop) -> None:
    adapter = make_adapter(shop)
    ref, _ = await variant_by_sku(adapter, "CK-MUG-SPK-OAT-12OZ")
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=shop.app)) as control:
        base = f"http://sandbox{MOUNT}/v3/application/x-sandbox/_control"
        await control.post(f"{base}/shops/{shop.shop_id}/webhooks", json={"url": HOOKS_URL})
        answer = await control.post(
            f"{base}/listings/{ref.platform_product_id}/update", json={"price": 3600, "quantity": 4}
        )

    assert answer.json()["webhook"]["status_code"] == 204
    [request] = shop.deliveries
    event = adapter.parse_webhook(request.headers, request.content)
    assert (event.kind, event.platform_product_id) == ("product_updated", ref.platform_product_id)
    stock = (await adapter.read_stock([ref]))[ref]
    assert (stock.price, stock.available, stock.purchasable) == (3600, 4, True)

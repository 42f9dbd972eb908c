"""EtsyAdapter against Etsy Open API v3 as respx plays it, with bodies shaped like Etsy's (§1.3)."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
import respx

from merchant_adapters import (
    CredentialsRevoked,
    ExternalSale,
    PlacedOrder,
    PlatformNotFound,
    PlatformOutOfStock,
    PlatformUnavailable,
    RateLimited,
    SaleLine,
    VariantRef,
    WebhookInvalid,
)
from merchant_adapters.etsy import EtsyAdapter

BASE = "https://openapi.etsy.com/v3/application"
SHOP_ID = "98765432"
LISTING_ID = 1234567890
WEBHOOK_KEY = b"etsy-adapter-test-webhook-key-32"
WEBHOOK_SECRET = "whsec_" + base64.b64encode(WEBHOOK_KEY).decode()
NOW = datetime(2026, 11, 24, 12, 0, 0, 250_000, tzinfo=UTC)
BLUE = VariantRef(str(LISTING_ID), "200=Blue")
GREEN = VariantRef(str(LISTING_ID), "200=Green")


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


class Waits(list[float]):
    """An injected sleep that records how long the adapter chose to wait, and returns at once."""

    async def __call__(self, seconds: float) -> None:
        self.append(seconds)


@pytest.fixture
def waits() -> Waits:
    return Waits()


@pytest.fixture
def etsy() -> Iterator[respx.MockRouter]:
    with respx.mock(base_url=BASE, assert_all_called=False) as router:
        yield router


def make_adapter(waits: Waits, **overrides: Any) -> EtsyAdapter:
    options: dict[str, Any] = {
        "api_key": "keystring123",
        "shared_secret": "secret456",
        "access_token": "456789.opaque-token",
        "shop_id": SHOP_ID,
        "webhook_secret": WEBHOOK_SECRET,
        "sleep": waits,
        "clock": lambda: NOW,
    }
    return EtsyAdapter(httpx.AsyncClient(), **{**options, **overrides})


def money(amount: int, divisor: int = 100, currency: str = "USD") -> dict[str, Any]:
    return {"amount": amount, "divisor": divisor, "currency_code": currency}


def make_product(
    product_id: int,
    *,
    sku: str,
    color: str | None = None,
    quantity: int = 5,
    price: dict[str, Any] | None = None,
    enabled: bool = True,
    deleted: bool = False,
) -> dict[str, Any]:
    values = []
    if color is not None:
        values = [
            {
                "property_id": 200,
                "property_name": "Primary color",
                "scale_id": None,
                "scale_name": None,
                "value_ids": [len(color)],
                "values": [color],
            }
        ]
    return {
        "product_id": product_id,
        "sku": sku,
        "is_deleted": deleted,
        "property_values": values,
        "offerings": [
            {
                "offering_id": product_id + 11110000,
                "quantity": quantity,
                "is_enabled": enabled,
                "is_deleted": False,
                "price": price or money(2800),
                "readiness_state_id": 303030,
            }
        ],
    }


def make_inventory(*products: dict[str, Any]) -> dict[str, Any]:
    return {
        "products": list(products),
        "price_on_property": [200],
        "quantity_on_property": [200],
        "sku_on_property": [200],
        "readiness_state_on_property": [],
    }


def mug_inventory(blue: int = 9, green: int = 5) -> dict[str, Any]:
    return make_inventory(
        make_product(11110001, sku="MUG-BLU-12", color="Blue", quantity=blue),
        make_product(11110002, sku="MUG-GRN-12", color="Green", quantity=green, price=money(3000)),
    )


def make_listing(
    listing_id: int = LISTING_ID, *, modified: int = 1763600000, **fields: Any
) -> dict[str, Any]:
    return {
        "listing_id": listing_id,
        "user_id": 456789,
        "shop_id": int(SHOP_ID),
        "title": "Speckled Stoneware Mug - Blue Glaze",
        "description": "12 oz, dishwasher safe.",
        "state": "active",
        "quantity": 14,
        "url": f"https://www.etsy.com/listing/{listing_id}/speckled-stoneware-mug",
        "listing_type": "physical",
        "has_variations": True,
        "created_timestamp": 1729000000,
        "updated_timestamp": modified,
        "last_modified_timestamp": modified,
        "tags": ["mug", "ceramic", "handmade"],
        "materials": ["stoneware"],
        "taxonomy_id": 1063,
        "price": money(2800),
        "skus": ["MUG-BLU-12", "MUG-GRN-12"],
        "images": [
            {
                "listing_image_id": 2,
                "rank": 2,
                "url_fullxfull": "https://i.etsystatic.com/il_fullxfull.2.jpg",
            },
            {
                "listing_image_id": 1,
                "rank": 1,
                "url_fullxfull": "https://i.etsystatic.com/il_fullxfull.1.jpg",
            },
        ],
        "inventory": mug_inventory(),
        **fields,
    }


def make_sale(*lines: tuple[VariantRef, int], reference: str = "cs_123") -> ExternalSale:
    return ExternalSale(
        reference=reference,
        lines=tuple(
            SaleLine(ref=ref, quantity=quantity, unit_price=2800) for ref, quantity in lines
        ),
        currency="usd",
        buyer_email=None,
        buyer_name=None,
        shipping_address=None,
        shipping_title=None,
        shipping_amount=0,
        tax_amount=0,
        total_amount=2800,
    )


def signed(
    body: bytes, *, key: bytes = WEBHOOK_KEY, message_id: str = "msg_2b", at: datetime = NOW
) -> dict[str, str]:
    stamp = str(int(at.timestamp()))
    digest = hmac.new(key, f"{message_id}.{stamp}.".encode() + body, hashlib.sha256).digest()
    return {
        "Webhook-Id": message_id,
        "Webhook-Timestamp": stamp,
        "Webhook-Signature": f"v1,{base64.b64encode(digest).decode()}",
    }


def put_body(request: httpx.Request) -> Any:
    return json.loads(request.content)


# -- requests and mapping ---------------------------------------------------------------------------


@pytest.mark.anyio
async def test_every_request_carries_keystring_and_shared_secret_and_the_bearer_token(
    etsy: respx.MockRouter, waits: Waits
) -> None:
    route = etsy.get(f"/shops/{SHOP_ID}").respond(
        json={"shop_id": int(SHOP_ID), "shop_name": "ClayAndKilnStudio", "currency_code": "USD"}
    )

    info = await make_adapter(waits).shop_info()

    assert (info.shop_id, info.name, info.currency) == (SHOP_ID, "ClayAndKilnStudio", "usd")
    request = route.calls.last.request
    assert request.headers["x-api-key"] == "keystring123:secret456"
    assert request.headers["authorization"] == "Bearer 456789.opaque-token"
    assert request.extensions["timeout"]["read"] == 10.0


@pytest.mark.anyio
async def test_a_listing_becomes_a_product_with_exact_minor_units_and_options(
    etsy: respx.MockRouter, waits: Waits
) -> None:
    inventory = make_inventory(
        make_product(
            1, sku="MUG-BLU-12", color="Blue", quantity=9, price=money(28495, divisor=1000)
        ),
        make_product(2, sku="MUG-GRN-12", color="Green", quantity=0, price=money(3000)),
        make_product(3, sku="MUG-RED-12", color="Red", enabled=False),
        make_product(4, sku="MUG-OLD-12", color="Grey", deleted=True),
    )
    listings = [
        make_listing(inventory=inventory),
        make_listing(
            2222,
            listing_type="download",
            images=[],
            inventory=make_inventory(
                make_product(5, sku="", quantity=999, price=money(4200, 1, "JPY"))
            ),
        ),
    ]
    etsy.get(f"/shops/{SHOP_ID}/listings").respond(json={"count": 2, "results": listings})

    page = await make_adapter(waits).list_catalog()

    mug, download = page.products
    assert mug.platform_product_id == str(LISTING_ID)
    assert (mug.title, mug.status, mug.digital, mug.category) == (
        "Speckled Stoneware Mug - Blue Glaze",
        "active",
        False,
        None,
    )
    assert mug.updated_at == datetime.fromtimestamp(1763600000, UTC)
    assert mug.images == (
        "https://i.etsystatic.com/il_fullxfull.1.jpg",
        "https://i.etsystatic.com/il_fullxfull.2.jpg",
    )
    assert mug.tags == ("mug", "ceramic", "handmade")
    assert (mug.material, mug.rating, mug.review_count) == ("stoneware", None, 0)
    assert [
        (v.platform_variant_id, v.title, v.sku, v.price, v.currency, v.available, v.options)
        for v in mug.variants
    ] == [
        ("200=Blue", "Blue", "MUG-BLU-12", 2850, "usd", 9, (("Primary color", "Blue"),)),
        ("200=Green", "Green", "MUG-GRN-12", 3000, "usd", 0, (("Primary color", "Green"),)),
    ]
    assert download.digital is True
    [only] = download.variants
    assert (only.platform_variant_id, only.title, only.sku, only.price, only.currency) == (
        "default",
        "Default",
        None,
        4200,
        "jpy",
    )


@pytest.mark.anyio
async def test_offset_pagination_follows_count_across_pages(
    etsy: respx.MockRouter, waits: Waits
) -> None:
    route = etsy.get(f"/shops/{SHOP_ID}/listings").mock(
        side_effect=[
            httpx.Response(200, json={"count": 5, "results": [make_listing(1), make_listing(2)]}),
            httpx.Response(
                200,
                json={
                    "count": 5,
                    "results": [make_listing(3, modified=1763700000), make_listing(4)],
                },
            ),
            httpx.Response(200, json={"count": 5, "results": [make_listing(5)]}),
        ]
    )
    adapter = make_adapter(waits)

    first = await adapter.list_catalog(page_size=2)
    second = await adapter.list_catalog(cursor=first.next_cursor, page_size=2)
    last = await adapter.list_catalog(cursor=second.next_cursor, page_size=2)

    assert [
        p.platform_product_id for p in first.products + second.products + last.products
    ] == list("12345")
    assert (first.next_cursor, second.next_cursor, last.next_cursor) == (
        "offset:2;seen:1763600000",
        "offset:4;seen:1763700000",
        None,
    )
    assert last.watermark == "1763700000"
    params = [dict(call.request.url.params) for call in route.calls]
    assert [(p["offset"], p["limit"]) for p in params] == [("0", "2"), ("2", "2"), ("4", "2")]
    assert params[0]["state"] == "active"
    assert params[0]["includes"] == "Images,Inventory"


@pytest.mark.anyio
async def test_an_incremental_sync_pages_everything_but_returns_only_listings_changed_since(
    etsy: respx.MockRouter, waits: Waits
) -> None:
    listings = [
        make_listing(1, modified=1763500000),
        make_listing(2, modified=1763600000),
        make_listing(3, modified=1763650000),
    ]
    etsy.get(f"/shops/{SHOP_ID}/listings").respond(json={"count": 3, "results": listings})

    page = await make_adapter(waits).list_catalog(updated_since="1763600000")

    assert [p.platform_product_id for p in page.products] == ["2", "3"]
    assert page.watermark == "1763650000"


@pytest.mark.anyio
async def test_read_stock_asks_for_at_most_100_listings_per_call(
    etsy: respx.MockRouter, waits: Waits
) -> None:
    def inventories(request: httpx.Request) -> httpx.Response:
        ids = request.url.params["listing_ids"].split(",")
        known = [i for i in ids if i != "1077"]  # a listing Etsy no longer has
        results = [
            {"listing_id": int(i), "state": "active", "inventory": mug_inventory()} for i in known
        ]
        return httpx.Response(200, json={"count": len(results), "results": results})

    route = etsy.get("/listings/batch/inventory").mock(side_effect=inventories)
    refs = [VariantRef(str(1000 + n), "200=Green") for n in range(150)]
    by_product_id = VariantRef("1002", "11110001")  # Etsy's own id, valid until the next PUT

    stock = await make_adapter(waits).read_stock(
        [*refs, by_product_id, VariantRef("1001", "200=Purple")]
    )

    assert [len(call.request.url.params["listing_ids"].split(",")) for call in route.calls] == [
        100,
        50,
    ]
    assert len(stock) == 150
    assert stock[by_product_id].available == 9
    assert VariantRef("1077", "200=Green") not in stock
    assert stock[refs[0]].price == 3000
    assert (stock[refs[0]].available, stock[refs[0]].purchasable, stock[refs[0]].currency) == (
        5,
        True,
        "usd",
    )


# -- inventory-only orders ----------------------------------------------------------------------------


@pytest.mark.anyio
async def test_an_inventory_only_sale_puts_the_whole_inventory_back_with_one_offering_decremented(
    etsy: respx.MockRouter, waits: Waits
) -> None:
    etsy.get(f"/listings/{LISTING_ID}/inventory").respond(json=mug_inventory(blue=9, green=5))
    put = etsy.put(f"/listings/{LISTING_ID}/inventory").respond(json=mug_inventory(blue=7, green=5))

    placed = await make_adapter(waits).place_order(make_sale((BLUE, 2)))

    assert placed == PlacedOrder(
        platform_order_id="inventory:cs_123", platform_order_name=None, recorded="inventory_only"
    )
    expected_values = {
        "property_id": 200,
        "property_name": "Primary color",
        "scale_id": None,
        "value_ids": [4],
        "values": ["Blue"],
    }
    assert put_body(put.calls.last.request) == {
        "products": [
            {
                "sku": "MUG-BLU-12",
                "property_values": [expected_values],
                "offerings": [
                    {"price": 28.0, "quantity": 7, "is_enabled": True, "readiness_state_id": 303030}
                ],
            },
            {
                "sku": "MUG-GRN-12",
                "property_values": [{**expected_values, "value_ids": [5], "values": ["Green"]}],
                "offerings": [
                    {"price": 30.0, "quantity": 5, "is_enabled": True, "readiness_state_id": 303030}
                ],
            },
        ],
        "price_on_property": [200],
        "quantity_on_property": [200],
        "sku_on_property": [200],
        "readiness_state_on_property": [],
    }
    assert isinstance(
        put_body(put.calls.last.request)["products"][0]["offerings"][0]["price"], float
    )
    assert await make_adapter(waits).find_order("cs_123") is None


@pytest.mark.anyio
async def test_a_sale_beyond_the_stock_is_refused_before_any_put(
    etsy: respx.MockRouter, waits: Waits
) -> None:
    etsy.get(f"/listings/{LISTING_ID}/inventory").respond(json=mug_inventory(blue=9, green=1))
    etsy.get("/listings/555/inventory").respond(
        json=make_inventory(make_product(9, sku="BOWL", quantity=3))
    )
    put = etsy.put(url__regex=r"/listings/\d+/inventory$").respond(json={})
    bowl = VariantRef("555", "default")

    with pytest.raises(PlatformOutOfStock) as refused:
        await make_adapter(waits).place_order(make_sale((bowl, 1), (GREEN, 2)))

    assert refused.value.refs == (GREEN,)
    assert not put.called


@pytest.mark.anyio
async def test_a_variant_that_is_gone_from_the_listing_is_not_found(
    etsy: respx.MockRouter, waits: Waits
) -> None:
    etsy.get(f"/listings/{LISTING_ID}/inventory").respond(json=mug_inventory())

    with pytest.raises(PlatformNotFound):
        await make_adapter(waits).place_order(
            make_sale((VariantRef(str(LISTING_ID), "200=Purple"), 1))
        )


@pytest.mark.anyio
async def test_a_rate_limited_put_is_retried_only_after_reading_the_inventory_again(
    etsy: respx.MockRouter, waits: Waits
) -> None:
    # Between the two reads an Etsy buyer takes 3 blue mugs: the retry must not restore them.
    get = etsy.get(f"/listings/{LISTING_ID}/inventory").mock(
        side_effect=[
            httpx.Response(200, json=mug_inventory(blue=9)),
            httpx.Response(200, json=mug_inventory(blue=6)),
        ]
    )
    put = etsy.put(f"/listings/{LISTING_ID}/inventory").mock(
        side_effect=[
            httpx.Response(429, headers={"retry-after": "2"}),
            httpx.Response(200, json={}),
        ]
    )

    await make_adapter(waits).place_order(make_sale((BLUE, 1)))

    assert get.call_count == 2
    assert [put_body(c.request)["products"][0]["offerings"][0]["quantity"] for c in put.calls] == [
        8,
        5,
    ]
    assert waits == [2.0]


@pytest.mark.anyio
async def test_when_a_later_listing_refuses_its_put_the_earlier_listing_is_put_back(
    etsy: respx.MockRouter, waits: Waits
) -> None:
    etsy.get(f"/listings/{LISTING_ID}/inventory").respond(json=mug_inventory(blue=9))
    first = etsy.put(f"/listings/{LISTING_ID}/inventory").respond(json={})
    etsy.get("/listings/1234567891/inventory").respond(json=mug_inventory(green=5))
    etsy.put("/listings/1234567891/inventory").respond(403, json={"error": "insufficient_scope"})
    other_green = VariantRef("1234567891", "200=Green")

    with pytest.raises(CredentialsRevoked):
        await make_adapter(waits).place_order(make_sale((BLUE, 2), (other_green, 1)))

    quantities = [
        put_body(c.request)["products"][0]["offerings"][0]["quantity"] for c in first.calls
    ]
    assert quantities == [7, 11]  # decremented, then the undo re-read 9 and added the 2 back


@pytest.mark.anyio
async def test_a_put_that_times_out_is_not_retried(etsy: respx.MockRouter, waits: Waits) -> None:
    etsy.get(f"/listings/{LISTING_ID}/inventory").respond(json=mug_inventory())
    put = etsy.put(f"/listings/{LISTING_ID}/inventory").mock(side_effect=httpx.ReadTimeout("slow"))

    with pytest.raises(PlatformUnavailable) as failed:
        await make_adapter(waits).place_order(make_sale((BLUE, 1)))

    assert put.call_count == 1
    assert isinstance(failed.value.__cause__, httpx.ReadTimeout)


@pytest.mark.anyio
async def test_cancelling_an_inventory_only_sale_adds_the_quantity_back(
    etsy: respx.MockRouter, waits: Waits
) -> None:
    etsy.get(f"/listings/{LISTING_ID}/inventory").respond(json=mug_inventory(blue=7))
    put = etsy.put(f"/listings/{LISTING_ID}/inventory").respond(json={})
    sale = make_sale((BLUE, 2))
    order = PlacedOrder("inventory:cs_123", None, "inventory_only")
    adapter = make_adapter(waits)

    await adapter.cancel_order(order, sale, restock=False)
    assert not put.called
    await adapter.cancel_order(order, sale, restock=True)

    assert put_body(put.calls.last.request)["products"][0]["offerings"][0]["quantity"] == 9


# -- limits and failures ------------------------------------------------------------------------------


@pytest.mark.anyio
async def test_a_429_with_retry_after_waits_that_long_then_succeeds(
    etsy: respx.MockRouter, waits: Waits
) -> None:
    etsy.get(f"/shops/{SHOP_ID}").mock(
        side_effect=[
            httpx.Response(429, headers={"retry-after": "3"}, json={"error": "Too many requests"}),
            httpx.Response(
                200, json={"shop_id": 98765432, "shop_name": "Shop", "currency_code": "EUR"}
            ),
        ]
    )

    info = await make_adapter(waits).shop_info()

    assert info.currency == "eur"
    assert waits == [3.0]


@pytest.mark.anyio
async def test_a_429_once_the_daily_quota_is_spent_is_raised_at_once(
    etsy: respx.MockRouter, waits: Waits
) -> None:
    etsy.get(f"/shops/{SHOP_ID}").respond(
        headers={"x-remaining-today": "0", "x-limit-per-day": "10000"},
        json={"shop_id": 98765432, "shop_name": "Shop", "currency_code": "USD"},
    )
    listings = etsy.get(f"/shops/{SHOP_ID}/listings").respond(429)
    adapter = make_adapter(waits)
    await adapter.shop_info()

    with pytest.raises(RateLimited) as limited:
        await adapter.list_catalog()

    assert listings.call_count == 1
    assert limited.value.retry_after >= 3600
    assert waits == []


@pytest.mark.anyio
async def test_a_rate_limit_that_outlasts_the_retries_raises_rate_limited(
    etsy: respx.MockRouter, waits: Waits
) -> None:
    route = etsy.get(f"/shops/{SHOP_ID}").respond(429, headers={"x-remaining-today": "5120"})

    with pytest.raises(RateLimited) as limited:
        await make_adapter(waits, max_retries=2).shop_info()

    assert route.call_count == 3
    assert len(waits) == 2
    # No retry-after and quota left: wait for the next second (0.75 s at NOW), plus jitter.
    assert all(0.75 <= wait <= 1.0 for wait in [*waits, limited.value.retry_after])


@pytest.mark.anyio
async def test_a_retry_after_longer_than_the_longest_wait_is_handed_to_the_caller(
    etsy: respx.MockRouter, waits: Waits
) -> None:
    etsy.get(f"/shops/{SHOP_ID}").respond(429, headers={"retry-after": "120"})

    with pytest.raises(RateLimited) as limited:
        await make_adapter(waits, max_retry_wait=10.0).shop_info()

    assert limited.value.retry_after == 120.0
    assert waits == []


@pytest.mark.anyio
@pytest.mark.parametrize(
    ("status", "body"),
    [
        (401, {"error": "invalid_token", "error_description": "access token is expired"}),
        (403, {"error": "Shared secret is required in x-api-key header."}),
        (403, {"error": "insufficient_scope", "error_description": "missing listings_r"}),
    ],
    ids=["401 invalid_token", "403 shared secret", "403 insufficient_scope"],
)
async def test_refused_credentials_raise_credentials_revoked(
    etsy: respx.MockRouter, waits: Waits, status: int, body: dict[str, str]
) -> None:
    route = etsy.get(f"/shops/{SHOP_ID}").respond(status, json=body)

    with pytest.raises(CredentialsRevoked) as refused:
        await make_adapter(waits).shop_info()

    assert body["error"] in str(refused.value)
    assert route.call_count == 1


@pytest.mark.anyio
async def test_a_503_is_retried_then_raises_platform_unavailable(
    etsy: respx.MockRouter, waits: Waits
) -> None:
    route = etsy.get(f"/shops/{SHOP_ID}/listings").respond(
        503, json={"error": "Service Unavailable"}
    )

    with pytest.raises(PlatformUnavailable):
        await make_adapter(waits).list_catalog()

    assert route.call_count == 4
    assert len(waits) == 3
    assert all(0 < wait <= 10.0 for wait in waits)


@pytest.mark.anyio
async def test_a_503_followed_by_success_succeeds(etsy: respx.MockRouter, waits: Waits) -> None:
    etsy.get(f"/shops/{SHOP_ID}/listings").mock(
        side_effect=[httpx.Response(502), httpx.Response(200, json={"count": 0, "results": []})]
    )

    page = await make_adapter(waits).list_catalog()

    assert (page.products, page.next_cursor) == ((), None)


@pytest.mark.anyio
async def test_a_timeout_on_a_read_is_retried_then_raises_platform_unavailable(
    etsy: respx.MockRouter, waits: Waits
) -> None:
    route = etsy.get(f"/shops/{SHOP_ID}").mock(side_effect=httpx.ConnectTimeout("no answer"))

    with pytest.raises(PlatformUnavailable) as failed:
        await make_adapter(waits, max_retries=1).shop_info()

    assert route.call_count == 2
    assert isinstance(failed.value.__cause__, httpx.ConnectTimeout)


@pytest.mark.anyio
@pytest.mark.parametrize(
    "response",
    [
        httpx.Response(200, text="<html>Etsy is down for maintenance</html>"),
        httpx.Response(200, json={"count": 3}),
        httpx.Response(200, json={"count": 1, "results": [{"listing_id": 1}]}),
    ],
    ids=["not json", "no results", "listing without fields"],
)
async def test_a_malformed_body_raises_platform_unavailable(
    etsy: respx.MockRouter, waits: Waits, response: httpx.Response
) -> None:
    etsy.get(f"/shops/{SHOP_ID}/listings").mock(return_value=response)

    with pytest.raises(PlatformUnavailable):
        await make_adapter(waits).list_catalog()


@pytest.mark.anyio
async def test_a_missing_listing_is_not_found(etsy: respx.MockRouter, waits: Waits) -> None:
    etsy.get("/listings/42/inventory").respond(404, json={"error": "Listing with id 42 not found"})

    with pytest.raises(PlatformNotFound):
        await make_adapter(waits).place_order(make_sale((VariantRef("42", "default"), 1)))


# -- webhooks -----------------------------------------------------------------------------------------


def shipped_body(**extra: Any) -> bytes:
    payload = {
        "event_type": "order.shipped",
        "resource_url": f"{BASE}/shops/{SHOP_ID}/receipts/3344556677",
        "shop_id": int(SHOP_ID),
        **extra,
    }
    return json.dumps(payload).encode()


def test_a_correctly_signed_webhook_is_parsed_into_an_event(waits: Waits) -> None:
    body = shipped_body()

    event = make_adapter(waits).parse_webhook(signed(body), body)

    assert (event.event_id, event.kind, event.platform_order_id, event.tracking) == (
        "msg_2b",
        "order_fulfilled",
        "3344556677",
        None,
    )


def test_the_standard_webhooks_reference_signature_verifies(waits: Waits) -> None:
    adapter = make_adapter(
        waits,
        webhook_secret="whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
        clock=lambda: datetime.fromtimestamp(1614265330, UTC),
    )
    headers = {
        "webhook-id": "msg_p5jXN8AQM9LWM0D4loKWxJek",
        "webhook-timestamp": "1614265330",
        "webhook-signature": "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=",
    }

    event = adapter.parse_webhook(headers, b'{"test": 2432232314}')

    assert event.kind == "other"


def test_a_webhook_signed_with_another_secret_is_refused(waits: Waits) -> None:
    body = shipped_body()

    with pytest.raises(WebhookInvalid):
        make_adapter(waits).parse_webhook(signed(body, key=b"x" * 32), body)


@pytest.mark.parametrize(
    "age", [timedelta(minutes=-6), timedelta(minutes=6)], ids=["stale", "future"]
)
def test_a_webhook_more_than_five_minutes_from_now_is_refused(waits: Waits, age: timedelta) -> None:
    body = shipped_body()

    with pytest.raises(WebhookInvalid):
        make_adapter(waits).parse_webhook(signed(body, at=NOW + age), body)


def test_a_webhook_with_a_tampered_body_is_refused(waits: Waits) -> None:
    headers = signed(shipped_body())

    with pytest.raises(WebhookInvalid):
        make_adapter(waits).parse_webhook(
            headers, shipped_body(x_sandbox_tracking={"tracking_number": "1Z"})
        )


def test_any_of_several_signatures_may_match(waits: Waits) -> None:
    body = shipped_body()
    headers = signed(body)
    headers["Webhook-Signature"] = f"v1,c3RhbGUtc2lnbmF0dXJl {headers['Webhook-Signature']}"

    assert make_adapter(waits).parse_webhook(headers, body).kind == "order_fulfilled"


def test_a_signed_body_that_is_not_json_is_refused(waits: Waits) -> None:
    with pytest.raises(WebhookInvalid):
        make_adapter(waits).parse_webhook(signed(b"order.shipped"), b"order.shipped")


def test_a_webhook_without_signature_headers_is_refused(waits: Waits) -> None:
    with pytest.raises(WebhookInvalid):
        make_adapter(waits).parse_webhook({"content-type": "application/json"}, shipped_body())


def test_a_webhook_for_another_shop_is_refused(waits: Waits) -> None:
    body = shipped_body(shop_id=11111111)

    with pytest.raises(WebhookInvalid):
        make_adapter(waits).parse_webhook(signed(body), body)


@pytest.mark.parametrize(
    ("payload", "kind", "order_id", "product_id"),
    [
        (
            {"event_type": "order.canceled", "resource_url": f"{BASE}/shops/{SHOP_ID}/receipts/77"},
            "order_canceled",
            "77",
            None,
        ),
        (
            {"event_type": "order.paid", "resource_url": f"{BASE}/shops/{SHOP_ID}/receipts/78"},
            "other",
            "78",
            None,
        ),
        (
            {"event_type": "x_sandbox.listing_updated", "listing_id": 555},
            "product_updated",
            None,
            "555",
        ),
    ],
    ids=["order.canceled", "order.paid", "x_sandbox.listing_updated"],
)
def test_webhook_event_types_map_to_event_kinds(
    waits: Waits, payload: dict[str, Any], kind: str, order_id: str | None, product_id: str | None
) -> None:
    body = json.dumps({**payload, "shop_id": int(SHOP_ID)}).encode()

    event = make_adapter(waits).parse_webhook(signed(body), body)

    assert (event.kind, event.platform_order_id, event.platform_product_id) == (
        kind,
        order_id,
        product_id,
    )


def test_sandbox_tracking_is_read_when_the_payload_carries_it(waits: Waits) -> None:
    body = shipped_body(
        x_sandbox_tracking={"carrier": "UPS", "tracking_number": "1Z999"},
        x_sandbox_reference="cs_9",
    )

    event = make_adapter(waits).parse_webhook(signed(body), body)

    assert event.tracking is not None
    assert (event.tracking.carrier, event.tracking.tracking_number, event.reference) == (
        "UPS",
        "1Z999",
        "cs_9",
    )

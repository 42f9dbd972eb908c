"""Merchants on their own platforms: onboarding, sync, and purchases recorded on Etsy- and
Shopify-style stores through the adapters, including the ways those platforms fail."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import json
import uuid
from datetime import UTC, datetime, timedelta

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import create_engine, text

from checkout.flows.purchase.recovery import recover_purchases
from checkout.flows.purchase.saga import carry_on
from checkout.flows.purchase.steps import begin_purchase
from checkout.protocol.requests import CheckoutSessionCompleteRequest
from checkout.store.rows import MerchantRow, PurchaseRow
from merchant_adapters.sandbox.shopify import ShopifySandbox
from merchant_adapters.shopify.queries import ORDER_CANCEL_MUTATION
from tests.platform_support import (
    fail_platform,
    platform_orders,
    platform_stock,
    rows_for,
    sandboxes_of,
    sell_in_merchant_store,
    seller_edit,
    services_of,
)
from tests.support import (
    CLAY,
    NORTHWIND,
    OPERATOR_KEY,
    Agent,
    message_codes,
    pick,
    seed_variant,
    total_of,
)

OPERATOR = {"Authorization": f"Bearer {OPERATOR_KEY}"}


def scalar(url: str, sql: str, **params: object) -> object:
    engine = create_engine(url)
    with engine.connect() as connection:
        value = connection.execute(text(sql), params).scalar()
    engine.dispose()
    return value


def test_the_seeded_shops_reach_the_catalog_through_their_platforms(agent: Agent) -> None:
    merchants = agent.client.get("/merchants", headers=OPERATOR).json()["merchants"]
    by_id = {m["id"]: m for m in merchants}
    assert by_id[CLAY]["platform"] == "etsy" and by_id[NORTHWIND]["platform"] == "shopify"
    for merchant_id in (CLAY, NORTHWIND):
        catalog = agent.client.get(
            f"/catalog/products?merchant_id={merchant_id}&limit=100", headers=agent.headers()
        ).json()["products"]
        assert len(catalog) == by_id[merchant_id]["active_products"] > 25
        for product in catalog:
            for variant in product["variants"]:
                seed = seed_variant(variant["id"])
                assert seed["merchant_id"] == merchant_id
                assert variant["price"]["amount"] == seed["price"]
                assert variant["available_quantity"] == seed["inventory"]
    assert "credentials" not in json.dumps(merchants)


@pytest.mark.parametrize("merchant_id", [CLAY, NORTHWIND])
def test_a_purchase_is_recorded_on_the_merchants_platform(agent: Agent, merchant_id: str) -> None:
    variant = pick(merchant_id, min_stock=5)
    before = platform_stock(agent.client, variant)
    assert before is not None
    session = agent.ready_session((variant, 2))
    token = agent.delegate(session).json()["id"]
    completed = agent.complete(session["id"], token, buyer={"email": "ada@example.com"})
    assert completed.status_code == 200, completed.text
    assert platform_stock(agent.client, variant) == before - 2
    [placed] = [
        o for o in platform_orders(agent.client, merchant_id) if o.reference == session["id"]
    ]
    assert sum(line.quantity for line in placed.lines) == 2
    if merchant_id == NORTHWIND:
        assert placed.total == total_of(session)
        assert placed.email == "ada@example.com"
        assert placed.shipping_address["city"] == "San Francisco"
    order = agent.client.get(f"/orders/{completed.json()['order']['id']}", headers=agent.headers())
    assert order.status_code == 200


def test_stock_sold_in_the_merchants_own_store_is_out_of_stock_at_complete(agent: Agent) -> None:
    variant = pick(NORTHWIND, min_stock=3)
    session = agent.ready_session(variant)
    token = agent.delegate(session).json()["id"]
    left = platform_stock(agent.client, variant)
    assert left is not None
    sell_in_merchant_store(agent.client, variant, left)
    response = agent.complete(session["id"], token)
    assert response.status_code == 400
    assert response.json()["code"] == "out_of_stock"
    assert "out_of_stock" in message_codes(agent.get(session["id"]).json())
    assert platform_stock(agent.client, variant) == 0
    assert agent.client.get("/merchants", headers=OPERATOR).status_code == 200


@pytest.mark.parametrize(
    ("merchant_id", "mode"),
    [(NORTHWIND, "throttle"), (NORTHWIND, "rate_limit"), (CLAY, "rate_limit")],
)
def test_a_briefly_limited_platform_is_retried_and_the_purchase_goes_through(
    agent: Agent, merchant_id: str, mode: str
) -> None:
    session = agent.ready_session(pick(merchant_id))
    token = agent.delegate(session).json()["id"]
    fail_platform(agent.client, merchant_id, mode, times=1)
    response = agent.complete(session["id"], token)
    assert response.status_code == 200, response.text


def test_revoked_credentials_stop_the_purchase_before_any_charge(agent: Agent, settings) -> None:  # type: ignore[no-untyped-def]
    session = agent.ready_session(pick(NORTHWIND))
    token = agent.delegate(session).json()["id"]
    fail_platform(agent.client, NORTHWIND, "revoked")
    response = agent.complete(session["id"], token)
    assert response.status_code == 400
    assert response.json()["code"] == "merchant_unavailable"
    assert scalar(settings.database_url, "SELECT count(*) FROM payments") == 0
    assert agent.get(session["id"]).json()["status"] == "ready_for_payment"


def test_a_platform_down_at_complete_charges_nothing_and_recovery_finishes_the_order(
    agent: Agent,
    settings,  # type: ignore[no-untyped-def]
) -> None:
    variant = pick(NORTHWIND)
    session = agent.ready_session(variant)
    token = agent.delegate(session).json()["id"]
    # Stock is read while the store answers; it goes down before the order is placed.
    services = services_of(agent.client)
    original = services.platforms.for_merchant

    def failing_after_stock(merchant: MerchantRow):  # type: ignore[no-untyped-def]
        adapter = original(merchant)
        real_place = adapter.place_order

        async def place(sale):  # type: ignore[no-untyped-def]
            fail_platform(agent.client, NORTHWIND, "outage")
            return await real_place(sale)

        adapter.place_order = place  # type: ignore[method-assign]
        return adapter

    services.platforms.for_merchant = failing_after_stock  # type: ignore[method-assign]
    response = agent.complete(session["id"], token)
    services.platforms.for_merchant = original  # type: ignore[method-assign]
    assert response.status_code == 503
    assert response.json()["type"] == "service_unavailable"
    assert (
        scalar(settings.database_url, "SELECT count(*) FROM payments WHERE status = 'succeeded'")
        == 0
    )
    assert scalar(settings.database_url, "SELECT count(*) FROM orders") == 0

    fail_platform(agent.client, NORTHWIND, "none")
    report = agent.client.portal.call(  # type: ignore[union-attr]
        lambda: recover_purchases(services.completion, older_than=timedelta(0))
    )
    assert report["completed"] + report["unwound"] == 1
    placed = [o for o in platform_orders(agent.client, NORTHWIND) if o.reference == session["id"]]
    orders = scalar(settings.database_url, "SELECT count(*) FROM orders")
    assert len(placed) == orders  # an order on the platform exactly when we kept the charge
    if orders:
        assert (
            scalar(
                settings.database_url, "SELECT count(*) FROM payments WHERE status = 'succeeded'"
            )
            == 1
        )


def _begin(agent: Agent, variant: str) -> tuple[dict[str, object], PurchaseRow]:
    """Run only the first step of complete, as a process killed right after it would leave things."""
    session = agent.ready_session(variant)
    token = agent.delegate(session).json()["id"]
    request = CheckoutSessionCompleteRequest.model_validate(
        {
            "payment_data": {
                "handler_id": "card_tokenized",
                "instrument": {"type": "card", "credential": {"type": "spt", "token": token}},
            }
        }
    )
    services = services_of(agent.client)
    with services.database.write() as db:
        purchase = begin_purchase(
            db,
            str(session["id"]),
            request,
            agent_id="agt_default",
            provider=services.provider,
            now=services.clock(),
        )
    assert isinstance(purchase, PurchaseRow)
    return session, purchase


@pytest.mark.parametrize("merchant_id", [CLAY, NORTHWIND])
def test_a_crash_after_authorisation_is_finished_by_recovery(
    agent: Agent, merchant_id: str, settings
) -> None:  # type: ignore[no-untyped-def]
    session, _ = _begin(agent, pick(merchant_id))
    assert agent.get(str(session["id"])).json()["status"] == "complete_in_progress"
    report = agent.client.portal.call(  # type: ignore[union-attr]
        lambda: recover_purchases(services_of(agent.client).completion, older_than=timedelta(0))
    )
    assert report == {"completed": 1, "unwound": 0, "pending": 0}
    assert agent.get(str(session["id"])).json()["status"] == "completed"
    assert (
        len([o for o in platform_orders(agent.client, merchant_id) if o.reference == session["id"]])
        == 1
    )
    assert (
        scalar(settings.database_url, "SELECT count(*) FROM payments WHERE status = 'succeeded'")
        == 1
    )


def test_a_crash_after_the_platform_took_the_order_finishes_without_a_second_order(
    agent: Agent,
) -> None:
    session, purchase = _begin(agent, pick(NORTHWIND))
    services = services_of(agent.client)
    with services.database.read() as db:
        merchant = db.get(MerchantRow, NORTHWIND)
    assert merchant is not None
    from checkout.flows.purchase.sale import external_sale

    adapter = services.platforms.for_merchant(merchant)
    agent.client.portal.call(adapter.place_order, external_sale(purchase))  # type: ignore[union-attr]
    outcome = agent.client.portal.call(  # type: ignore[union-attr]
        lambda: carry_on(services.completion, purchase, merchant)
    )
    assert outcome.refusal is None
    assert (
        len([o for o in platform_orders(agent.client, NORTHWIND) if o.reference == session["id"]])
        == 1
    )


def test_a_retried_complete_resumes_the_purchase_instead_of_paying_again(
    agent: Agent,
    settings,  # type: ignore[no-untyped-def]
) -> None:
    session, purchase = _begin(agent, pick(CLAY))
    at_once = agent.complete(str(session["id"]), purchase.token_id)
    assert at_once.status_code == 409  # the first request may still be placing the order
    assert at_once.json()["code"] == "idempotency_in_flight"
    engine = create_engine(settings.database_url)
    with engine.begin() as connection:  # that request died a minute ago
        connection.execute(
            text("UPDATE purchases SET updated_at = :t"),
            {"t": datetime.now(UTC) - timedelta(minutes=1)},
        )
    engine.dispose()
    retried = agent.complete(str(session["id"]), purchase.token_id)
    assert retried.status_code == 200, retried.text
    assert retried.json()["status"] == "completed"
    assert scalar(settings.database_url, "SELECT count(*) FROM payments") == 1


def test_a_shipment_on_the_platform_reaches_the_agent_as_order_update(
    agent: Agent, settings
) -> None:  # type: ignore[no-untyped-def]
    completed = agent.buy(pick(NORTHWIND)).json()
    [placed] = [
        o for o in platform_orders(agent.client, NORTHWIND) if o.reference == completed["id"]
    ]
    response = agent.client.post(
        f"/sandbox/shopify/_control/northwind-supply.myshopify.com/orders/{placed.name.lstrip('#')}/fulfill",
        json={
            "carrier": "UPS",
            "tracking_number": "1Z999AA10123456784",
            "tracking_url": "https://ups.example/1Z999AA10123456784",
        },
        headers=OPERATOR,
    )
    assert response.status_code == 200, response.text
    order = agent.client.get(f"/orders/{completed['order']['id']}", headers=agent.headers()).json()
    assert order["status"] == "shipped"
    assert order["fulfillments"][0]["tracking_number"] == "1Z999AA10123456784"
    payload = scalar(
        settings.database_url, "SELECT payload FROM outbox_events WHERE event_type = 'order_update'"
    )
    assert json.loads(str(payload))["data"]["fulfillments"][0]["carrier"] == "UPS"


def test_an_etsy_shipment_marks_the_order_shipped(agent: Agent) -> None:
    completed = agent.buy(pick(CLAY)).json()
    [placed] = [o for o in platform_orders(agent.client, CLAY) if o.reference == completed["id"]]
    response = agent.client.post(
        f"/sandbox/etsy/v3/application/x-sandbox/_control/shops/{placed.shop_id}/orders/{placed.order_id}/ship",
        json={"carrier": "USPS", "tracking_number": "9400111899223100000000"},
        headers=OPERATOR,
    )
    assert response.status_code == 200, response.text
    order = agent.client.get(f"/orders/{completed['order']['id']}", headers=agent.headers()).json()
    assert order["status"] == "shipped"


def _shopify_webhook(
    topic: str, payload: dict[str, object], secret: str
) -> tuple[bytes, dict[str, str]]:
    body = json.dumps(payload).encode()
    signature = base64.b64encode(hmac.new(secret.encode(), body, hashlib.sha256).digest()).decode()
    return body, {
        "X-Shopify-Topic": topic,
        "X-Shopify-Hmac-Sha256": signature,
        "X-Shopify-Webhook-Id": str(uuid.uuid4()),
        "X-Shopify-Shop-Domain": "northwind-supply.myshopify.com",
        "Content-Type": "application/json",
    }


def cancel_on_shopify(client: TestClient, order_gid: str) -> None:
    """The merchant cancels the order in its Shopify admin (the webhook is sent by the test)."""
    shopify = sandboxes_of(client).shopify
    assert shopify is not None
    answer = shopify.handle_graphql(
        "northwind-supply.myshopify.com",
        ShopifySandbox.DEMO_ACCESS_TOKEN,
        {
            "query": ORDER_CANCEL_MUTATION,
            "variables": {"orderId": order_gid, "reason": "CUSTOMER", "restock": True},
        },
    )
    assert answer.status == 200 and not answer.body["data"]["orderCancel"]["orderCancelUserErrors"]


def test_a_cancellation_on_the_platform_cancels_the_order_once(agent: Agent) -> None:
    completed = agent.buy(pick(NORTHWIND)).json()
    [placed] = [
        o for o in platform_orders(agent.client, NORTHWIND) if o.reference == completed["id"]
    ]
    cancel_on_shopify(agent.client, placed.gid)
    body, headers = _shopify_webhook(
        "orders/cancelled",
        {
            "id": int(placed.gid.rsplit("/", 1)[-1]),
            "admin_graphql_api_id": placed.gid,
            "tags": f"acp, acp:{completed['id']}",
            "cancelled_at": "2026-11-25T10:00:00Z",
        },
        ShopifySandbox.DEMO_WEBHOOK_SECRET,
    )
    first = agent.client.post(f"/webhooks/platforms/{NORTHWIND}", content=body, headers=headers)
    again = agent.client.post(f"/webhooks/platforms/{NORTHWIND}", content=body, headers=headers)
    total = total_of(completed)
    assert first.json()["outcome"] == f"order canceled, refunded {total}"
    assert again.json()["outcome"] == "duplicate"
    order = agent.client.get(f"/orders/{completed['order']['id']}", headers=agent.headers()).json()
    assert order["status"] == "canceled"
    # The buyer gets everything back, once, and the agent sees it as an adjustment.
    [refund] = order["adjustments"]
    assert (refund["type"], refund["status"], refund["amount"]) == ("refund", "completed", total)
    assert {t["type"]: t["amount"] for t in order["totals"]}["amount_refunded"] == total


def test_a_webhook_with_a_bad_signature_is_refused(agent: Agent) -> None:
    body, headers = _shopify_webhook("products/update", {"id": 1}, "not-the-secret")
    response = agent.client.post(f"/webhooks/platforms/{NORTHWIND}", content=body, headers=headers)
    assert response.status_code == 401
    assert response.json()["code"] == "invalid_signature"


@pytest.mark.parametrize("merchant_id", [CLAY, NORTHWIND])
def test_a_seller_price_change_reaches_the_catalog_by_webhook(
    agent: Agent, merchant_id: str
) -> None:
    variant = pick(merchant_id)
    response = seller_edit(agent.client, variant, price=4321)
    assert response.status_code == 200, response.text
    session = agent.create(variant).json()
    assert session["line_items"][0]["unit_amount"] == 4321


def test_a_price_change_on_the_platform_after_the_session_is_shown_before_paying(
    agent: Agent,
) -> None:
    variant = pick(NORTHWIND)
    session = agent.ready_session(variant)
    token = agent.delegate(session).json()["id"]
    seller_edit(agent.client, variant, price=session["line_items"][0]["unit_amount"] + 700)
    response = agent.complete(session["id"], token)
    assert response.status_code == 400
    assert response.json()["code"] == "price_changed"


def test_onboarding_a_shopify_store_checks_credentials_stores_them_sealed_and_syncs(
    client: TestClient,
    settings,  # type: ignore[no-untyped-def]
) -> None:
    shopify = sandboxes_of(client).shopify
    assert shopify is not None
    domain = "acme-goods.myshopify.com"
    shopify.generate_synthetic(domain, products=40, variants_per_product=2)
    body = {
        "name": "Acme Goods",
        "platform": "shopify",
        "shop_domain": domain,
        "credentials": {
            "access_token": ShopifySandbox.DEMO_ACCESS_TOKEN,
            "webhook_secret": ShopifySandbox.DEMO_WEBHOOK_SECRET,
        },
        "commission": {"rate_bps": 250, "category_bps": {"Apparel": 300}, "minimum": 50},
        "api_base_url": f"http://sandbox.internal/shopify/{domain}",
    }
    wrong = client.post(
        "/merchants",
        headers=OPERATOR,
        json={**body, "credentials": {"access_token": "shpat_wrong", "webhook_secret": "x"}},
    )
    assert wrong.status_code == 400
    assert wrong.json()["code"] == "invalid_credentials"
    created = client.post("/merchants", headers=OPERATOR, json=body)
    assert created.status_code == 201, created.text
    merchant = created.json()
    assert merchant["sync"]["created"] == 40
    assert merchant["commission"] == {
        "rate_bps": 250,
        "category_bps": {"Apparel": 300},
        "minimum": 50,
        "fixed": 0,
    }
    # 2.5% of a typical $50 order (125) is less than its card fee (175): said, not refused.
    assert [w["code"] for w in merchant["warnings"]] == ["commission_below_processing_fee"]
    assert "credentials" not in merchant and ShopifySandbox.DEMO_ACCESS_TOKEN not in created.text
    sealed = scalar(
        settings.database_url, "SELECT credentials FROM merchants WHERE id = :m", m=merchant["id"]
    )
    assert isinstance(sealed, bytes) and ShopifySandbox.DEMO_ACCESS_TOKEN.encode() not in sealed
    again = client.post("/merchants", headers=OPERATOR, json=body)
    assert again.json()["code"] == "merchant_exists"
    synced = client.post(
        f"/merchants/{merchant['id']}/sync", headers=OPERATOR, json={"mode": "full"}
    )
    assert synced.json()["updated"] == 40
    assert (
        client.get(f"/merchants/{merchant['id']}", headers=OPERATOR).json()["active_products"] == 40
    )


def test_onboarding_needs_the_operator_key(agent: Agent) -> None:
    assert agent.client.get("/merchants", headers=agent.headers()).status_code == 401


def test_a_feed_merchant_sells_from_its_acp_product_feed(agent: Agent) -> None:
    client = agent.client
    created = client.post(
        "/merchants",
        headers=OPERATOR,
        json={
            "name": "Paper & Ink",
            "platform": "feed",
            "currency": "usd",
            "shipping": {
                "standard": {"amount": 400, "carrier": "USPS", "min_days": 2, "max_days": 5}
            },
        },
    )
    assert created.status_code == 201, created.text
    merchant_id = created.json()["id"]
    products = [
        {
            "id": "notebook",
            "title": "Dot Grid Notebook",
            "description": {"plain": "A5, 160 pages."},
            "variants": [
                {
                    "id": "notebook-black",
                    "title": "Black",
                    "price": {"amount": 1800, "currency": "USD"},
                    "availability": {"available": True},
                },
                {
                    "id": "notebook-sage",
                    "title": "Sage",
                    "price": {"amount": 1800, "currency": "USD"},
                    "availability": {"available": False, "status": "out_of_stock"},
                },
            ],
        },
        {
            "id": "pen",
            "title": "Fineliner Pen",
            "variants": [
                {"id": "pen-03", "title": "0.3 mm", "price": {"amount": 450, "currency": "USD"}}
            ],
        },
    ]
    jsonl = "\n".join(json.dumps(p) for p in products).encode()
    ingested = client.post(
        f"/merchants/{merchant_id}/feed",
        content=jsonl,
        headers={**OPERATOR, "Content-Type": "application/x-ndjson"},
    )
    assert ingested.status_code == 200, ingested.text
    assert ingested.json()["created"] == 2
    listed = client.get(
        f"/catalog/products?merchant_id={merchant_id}", headers=agent.headers()
    ).json()
    black = next(v for p in listed["products"] for v in p["variants"] if v["title"] == "Black")
    assert agent.buy(black["id"]).status_code == 200
    replaced = client.post(f"/merchants/{merchant_id}/feed", json=products[:1], headers=OPERATOR)
    assert replaced.json()["unavailable"] == 1
    bad = client.post(
        f"/merchants/{merchant_id}/feed", content=b'[{"variants": []}]', headers=OPERATOR
    )
    assert bad.status_code == 400
    assert bad.json()["code"] == "invalid_feed"


def test_the_sandbox_loop_runs_without_any_network(agent: Agent) -> None:
    assert asyncio.get_event_loop_policy() is not None
    assert rows_for(agent.client, pick(CLAY))[2].api_base_url.startswith("http://sandbox.internal")  # type: ignore[union-attr]


@pytest.mark.parametrize("merchant_id", [CLAY, NORTHWIND])
def test_a_feed_upload_to_a_platform_merchant_is_refused_and_retires_nothing(
    agent: Agent, merchant_id: str
) -> None:
    def active() -> int:
        listed = agent.client.get(
            f"/catalog/products?merchant_id={merchant_id}&limit=100", headers=agent.headers()
        )
        return len(listed.json()["products"])

    before = active()
    feed = [{"id": "x", "title": "X", "variants": [{"id": "x-1", "title": "X",
             "price": {"amount": 100, "currency": "USD"}}]}]  # fmt: skip
    response = agent.client.post(f"/merchants/{merchant_id}/feed", json=feed, headers=OPERATOR)
    assert response.status_code == 400
    assert response.json()["code"] == "merchant_not_on_feed"
    assert active() == before > 0

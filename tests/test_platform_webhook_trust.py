"""A platform webhook moves money or state only when the platform itself confirms what it claims."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import uuid
from typing import Any

from sqlalchemy import create_engine, text

from checkout.settings import Settings
from merchant_adapters.sandbox.shopify import ShopifySandbox
from tests.platform_support import fail_platform, platform_orders, rows_for
from tests.support import NORTHWIND, OPERATOR_KEY, Agent, pick

OPERATOR = {"Authorization": f"Bearer {OPERATOR_KEY}"}
SHOP = "northwind-supply.myshopify.com"


def signed(topic: str, payload: dict[str, Any]) -> tuple[bytes, dict[str, str]]:
    """A body signed with the shop's real webhook secret: what an attacker replays."""
    body = json.dumps(payload).encode()
    key = ShopifySandbox.DEMO_WEBHOOK_SECRET.encode()
    signature = base64.b64encode(hmac.new(key, body, hashlib.sha256).digest()).decode()
    return body, {
        "X-Shopify-Topic": topic,
        "X-Shopify-Hmac-Sha256": signature,
        "X-Shopify-Webhook-Id": str(uuid.uuid4()),
        "X-Shopify-Shop-Domain": SHOP,
        "Content-Type": "application/json",
    }


def count(settings: Settings, sql: str) -> int:
    engine = create_engine(settings.database_url)
    with engine.connect() as connection:
        value = connection.execute(text(sql)).scalar_one()
    engine.dispose()
    return int(value)


def bought(agent: Agent) -> tuple[dict[str, Any], dict[str, Any]]:
    completed = agent.buy(pick(NORTHWIND)).json()
    [placed] = [
        o for o in platform_orders(agent.client, NORTHWIND) if o.reference == completed["id"]
    ]
    order_body = {
        "id": int(placed.gid.rsplit("/", 1)[-1]),
        "admin_graphql_api_id": placed.gid,
        "order_number": int(placed.name.lstrip("#")),
        "tags": f"acp, acp:{completed['id']}",
        "cancelled_at": None,
        "fulfillment_status": None,
        "line_items": [],
    }
    return completed, order_body


def order_of(agent: Agent, completed: dict[str, Any]) -> dict[str, Any]:
    response = agent.client.get(f"/orders/{completed['order']['id']}", headers=agent.headers())
    body: dict[str, Any] = response.json()
    return body


def test_a_signed_order_body_resent_as_a_cancellation_neither_cancels_nor_refunds(
    agent: Agent, settings: Settings
) -> None:
    completed, order_body = bought(agent)
    body, headers = signed("orders/cancelled", order_body)
    response = agent.client.post(f"/webhooks/platforms/{NORTHWIND}", content=body, headers=headers)
    assert response.status_code == 401
    assert order_of(agent, completed)["status"] != "canceled"
    assert count(settings, "SELECT count(*) FROM refunds") == 0


def test_a_cancellation_the_platform_does_not_show_neither_cancels_nor_refunds(
    agent: Agent, settings: Settings
) -> None:
    completed, order_body = bought(agent)
    claim = {**order_body, "cancelled_at": "2026-11-25T10:00:00Z"}
    body, headers = signed("orders/cancelled", claim)
    response = agent.client.post(f"/webhooks/platforms/{NORTHWIND}", content=body, headers=headers)
    assert response.status_code == 200
    assert response.json()["outcome"].startswith("ignored: the platform shows the order open")
    assert order_of(agent, completed)["status"] != "canceled"
    assert count(settings, "SELECT count(*) FROM refunds") == 0


def test_a_shipment_the_platform_does_not_show_does_not_ship_the_order(agent: Agent) -> None:
    completed, order_body = bought(agent)
    claim = {**order_body, "fulfillment_status": "fulfilled"}
    body, headers = signed("orders/fulfilled", claim)
    response = agent.client.post(f"/webhooks/platforms/{NORTHWIND}", content=body, headers=headers)
    assert response.json()["outcome"].startswith("ignored")
    assert order_of(agent, completed)["status"] != "shipped"


def test_an_order_body_resent_as_app_uninstalled_leaves_the_merchant_selling(
    agent: Agent,
) -> None:
    _, order_body = bought(agent)
    body, headers = signed("app/uninstalled", order_body)
    response = agent.client.post(f"/webhooks/platforms/{NORTHWIND}", content=body, headers=headers)
    assert response.status_code == 401
    shop_body, headers = signed("app/uninstalled", {"id": 1, "myshopify_domain": SHOP})
    response = agent.client.post(
        f"/webhooks/platforms/{NORTHWIND}", content=shop_body, headers=headers
    )
    assert response.json()["outcome"] == "ignored: the platform still accepts our credentials"
    merchant = agent.client.get(f"/merchants/{NORTHWIND}", headers=OPERATOR).json()
    assert merchant["status"] == "active"
    assert agent.buy(pick(NORTHWIND)).status_code == 200


def test_a_confirmed_uninstall_stops_the_merchant_selling_at_once(
    agent: Agent, settings: Settings
) -> None:
    session = agent.ready_session(pick(NORTHWIND))
    token = agent.delegate(session).json()["id"]
    payments_before = count(settings, "SELECT count(*) FROM payments")
    fail_platform(agent.client, NORTHWIND, "revoked")
    body, headers = signed("app/uninstalled", {"id": 1, "myshopify_domain": SHOP})
    response = agent.client.post(f"/webhooks/platforms/{NORTHWIND}", content=body, headers=headers)
    assert response.json()["outcome"] == "merchant revoked"
    fail_platform(agent.client, NORTHWIND, "none")  # even if the platform answered again
    refused = agent.complete(session["id"], token)
    assert refused.status_code == 400
    assert refused.json()["code"] == "merchant_unavailable"
    assert count(settings, "SELECT count(*) FROM payments") == payments_before
    fresh = agent.create(pick(NORTHWIND)).json()
    assert any(m["type"] == "error" for m in fresh["messages"])


def test_a_product_update_body_resent_as_a_deletion_retires_nothing(agent: Agent) -> None:
    variant = pick(NORTHWIND)
    session = agent.create(variant).json()
    product = session["line_items"][0]
    _, row, _ = rows_for(agent.client, variant)
    update_body = {
        "id": int(str(row.platform_product_id).rsplit("/", 1)[-1]),
        "admin_graphql_api_id": row.platform_product_id,
        "title": product.get("name") or "Mug",
        "variants": [],
    }
    body, headers = signed("products/delete", update_body)
    response = agent.client.post(f"/webhooks/platforms/{NORTHWIND}", content=body, headers=headers)
    assert response.status_code == 401
    assert agent.create(variant).status_code == 201

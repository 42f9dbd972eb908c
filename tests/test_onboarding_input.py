"""Onboarding input as the README writes it: api_base_url in its place, currencies in any case."""

from __future__ import annotations

from fastapi.testclient import TestClient

from tests.support import OPERATOR_KEY

OPERATOR = {"Authorization": f"Bearer {OPERATOR_KEY}"}


def test_api_base_url_inside_credentials_is_refused_not_ignored(client: TestClient) -> None:
    answer = client.post(
        "/merchants",
        headers=OPERATOR,
        json={
            "name": "Misplaced URL",
            "platform": "shopify",
            "shop_domain": "misplaced.myshopify.com",
            "credentials": {
                "access_token": "shpat_sandbox_demo_token",
                "api_base_url": "http://sandbox.internal/shopify/misplaced.myshopify.com",
            },
        },
    )
    assert answer.status_code == 400
    assert answer.json()["param"] == "$.credentials.api_base_url"
    names = [m["name"] for m in client.get("/merchants", headers=OPERATOR).json()["merchants"]]
    assert "Misplaced URL" not in names


def test_a_feed_merchant_may_write_its_currency_in_capitals(client: TestClient) -> None:
    created = client.post(
        "/merchants",
        headers=OPERATOR,
        json={"name": "Paper & Ink", "platform": "feed", "currency": "USD"},
    )
    assert created.status_code == 201, created.text
    assert created.json()["currency"] == "usd"
    fed = client.post(
        f"/merchants/{created.json()['id']}/feed",
        headers=OPERATOR,
        json=[
            {
                "id": "pen",
                "title": "Fineliner Pen",
                "variants": [
                    {"id": "pen-03", "title": "0.3 mm", "price": {"amount": 450, "currency": "usd"}}
                ],
            }
        ],
    )
    assert fed.status_code == 200, fed.text
    assert fed.json()["created"] == 1


def test_a_sandbox_shop_opened_by_the_lever_onboards_with_what_it_answers(
    client: TestClient,
) -> None:
    shop = "lever-shop.myshopify.com"
    opened = client.post(
        f"/sandbox/shopify/_control/{shop}/synthetic", headers=OPERATOR, json={"products": 3}
    )
    assert opened.status_code == 200, opened.text
    assert client.post(f"/sandbox/shopify/_control/{shop}/synthetic", json={}).status_code == 401
    answer = opened.json()
    created = client.post(
        "/merchants",
        headers=OPERATOR,
        json={
            "name": "Lever Shop",
            "platform": "shopify",
            "shop_domain": shop,
            "credentials": answer["credentials"],
            "api_base_url": answer["api_base_url"],
        },
    )
    assert created.status_code == 201, created.text
    assert created.json()["active_products"] == 3

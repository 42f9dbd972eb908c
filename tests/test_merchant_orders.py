"""A merchant's own orders over HTTP: the list (paged, filtered), each order's money from the
ledger, and the refunds and shipments a merchant makes with its own key."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from fastapi.testclient import TestClient

from checkout.domain.fees import FeeSchedule
from tests.support import CLAY, NORTHWIND, OPERATOR_KEY, Agent, pick, total_of

OPERATOR = {"Authorization": f"Bearer {OPERATOR_KEY}"}


def merchant_key(client: TestClient, merchant_id: str) -> dict[str, str]:
    issued = client.post(f"/merchants/{merchant_id}/api_key", headers=OPERATOR)
    assert issued.status_code == 200, issued.text
    return {"Authorization": f"Bearer {issued.json()['api_key']}"}


def bought(agent: Agent, variant: str) -> dict[str, Any]:
    completed = agent.buy((variant, 1))
    assert completed.status_code == 200, completed.text
    body: dict[str, Any] = completed.json()
    return body


def test_a_merchant_lists_its_orders_with_their_money_newest_first(agent: Agent) -> None:
    client = agent.client
    first, second = bought(agent, pick(CLAY)), bought(agent, pick(CLAY, skip=1))
    bought(agent, pick(NORTHWIND))
    clay = merchant_key(client, CLAY)

    page = client.get(f"/merchants/{CLAY}/orders", headers=clay)
    assert page.status_code == 200, page.text
    body = page.json()
    assert [o["id"] for o in body["orders"]] == [second["order"]["id"], first["order"]["id"]]
    assert body["total_count"] == 2 and body["next_offset"] is None
    money = body["orders"][1]["money"]
    assert money["charged"] == total_of(first)
    assert money["processor_fee"] == FeeSchedule().processing_fee(total_of(first))
    assert money["merchant_net"] == money["charged"] - money["commission"]
    assert money["refunded"] == 0

    paged = client.get(f"/merchants/{CLAY}/orders", params={"limit": 1}, headers=clay).json()
    assert [o["id"] for o in paged["orders"]] == [second["order"]["id"]]
    assert paged["next_offset"] == 1
    rest = client.get(
        f"/merchants/{CLAY}/orders", params={"limit": 1, "offset": 1}, headers=clay
    ).json()
    assert [o["id"] for o in rest["orders"]] == [first["order"]["id"]]


def test_orders_filter_by_status_and_day(agent: Agent) -> None:
    client = agent.client
    sale = bought(agent, pick(CLAY))
    clay = merchant_key(client, CLAY)
    status = sale["order"]["status"]
    same = client.get(f"/merchants/{CLAY}/orders", params={"status": status}, headers=clay)
    assert [o["id"] for o in same.json()["orders"]] == [sale["order"]["id"]]
    other = "shipped" if status != "shipped" else "canceled"
    assert (
        client.get(f"/merchants/{CLAY}/orders", params={"status": other}, headers=clay).json()[
            "orders"
        ]
        == []
    )
    yesterday = (datetime.now(UTC).date() - timedelta(days=1)).isoformat()
    assert (
        client.get(f"/merchants/{CLAY}/orders", params={"to": yesterday}, headers=clay).json()[
            "total_count"
        ]
        == 0
    )
    assert (
        client.get(f"/merchants/{CLAY}/orders", params={"from": yesterday}, headers=clay).json()[
            "total_count"
        ]
        == 1
    )
    refused = client.get(f"/merchants/{CLAY}/orders", params={"status": "lost"}, headers=clay)
    assert refused.status_code == 400


def test_a_merchant_never_reaches_another_merchants_orders(agent: Agent) -> None:
    client = agent.client
    sale = bought(agent, pick(NORTHWIND))
    clay = merchant_key(client, CLAY)
    assert client.get(f"/merchants/{NORTHWIND}/orders", headers=clay).status_code == 401
    assert client.get(f"/merchants/{CLAY}/orders").status_code == 401
    order_id = sale["order"]["id"]
    refund = client.post(
        f"/merchants/{CLAY}/orders/{order_id}/refunds",
        json={"amount": 100},
        headers={**clay, "Idempotency-Key": "not-mine"},
    )
    assert refund.status_code == 404
    ship = client.post(
        f"/merchants/{CLAY}/orders/{order_id}/fulfillments",
        json={"carrier": "UPS", "tracking_number": "1Z"},
        headers=clay,
    )
    assert ship.status_code == 404
    order = client.get(f"/merchants/{NORTHWIND}/orders", headers=OPERATOR).json()["orders"][0]
    assert (order["amount_refunded"], order["fulfillments"]) == (0, [])


def test_a_merchant_refunds_half_once_and_ships_with_its_own_key(agent: Agent) -> None:
    client = agent.client
    sale = bought(agent, pick(CLAY))
    order_id, half = sale["order"]["id"], total_of(sale) // 2
    clay = merchant_key(client, CLAY)
    path = f"/merchants/{CLAY}/orders/{order_id}/refunds"
    headers = {**clay, "Idempotency-Key": "half-refund"}
    first = client.post(path, json={"amount": half}, headers=headers)
    again = client.post(path, json={"amount": half}, headers=headers)
    assert first.status_code == again.status_code == 201, first.text
    assert first.json()["id"] == again.json()["id"]
    listed = client.get(f"/merchants/{CLAY}/orders", headers=clay).json()["orders"][0]
    assert listed["amount_refunded"] == listed["money"]["refunded"] == half
    assert listed["money"]["commission_refunded"] > 0

    shipped = client.post(
        f"/merchants/{CLAY}/orders/{order_id}/fulfillments",
        json={"carrier": "UPS", "tracking_number": "1Z999AA10123456784"},
        headers=clay,
    )
    assert shipped.status_code == 201, shipped.text
    assert shipped.json()["status"] == "shipped"
    assert shipped.json()["fulfillments"][0]["tracking_number"] == "1Z999AA10123456784"


def test_a_merchant_reads_its_catalog_with_stock_and_last_sync(agent: Agent) -> None:
    client = agent.client
    clay = merchant_key(client, CLAY)
    catalog = client.get(f"/merchants/{CLAY}/products", params={"limit": 5}, headers=clay)
    assert catalog.status_code == 200, catalog.text
    body = catalog.json()
    assert body["last_synced_at"] is not None
    assert len(body["products"]) == 5 and body["next_offset"] == 5
    variant = body["products"][0]["variants"][0]
    assert isinstance(variant["inventory"], int) and variant["currency"] == "usd"
    assert client.get(f"/merchants/{NORTHWIND}/products", headers=clay).status_code == 401


def test_the_openapi_document_declares_the_bearer_schemes_and_the_list_model(
    client: TestClient,
) -> None:
    schema = client.get("/openapi.json").json()
    assert {"agentKey", "operatorKey", "merchantKey"} <= set(
        schema["components"]["securitySchemes"]
    )
    listed = schema["paths"]["/merchants/{merchant_id}/orders"]["get"]["responses"]["200"]
    assert listed["content"]["application/json"]["schema"]["$ref"].endswith("MerchantOrderPage")
    docs = client.get("/docs")
    assert docs.status_code == 200 and "/web/swagger-ui/swagger-ui-bundle.js" in docs.text
    assert "cdn" not in docs.text.lower()
    assert client.get("/web/swagger-ui/swagger-ui-bundle.js").status_code == 200


def test_the_pages_and_product_pictures_are_served(client: TestClient) -> None:
    for path in ("/", "/merchant", "/operator"):
        page = client.get(path)
        assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
        assert "https://" not in page.text  # nothing from elsewhere
    picture = client.get("/web/images/placeholder.svg", params={"label": "Blue Mug", "key": "p1"})
    assert picture.headers["content-type"] == "image/svg+xml"
    assert (
        "BM" in picture.text
        and picture.text
        == client.get("/web/images/placeholder.svg", params={"label": "Blue Mug", "key": "p1"}).text
    )
    hostile = client.get("/web/images/placeholder.svg", params={"label": "<script>x</script>"})
    assert "<script>" not in hostile.text


def test_every_operation_documents_its_answer_and_real_answers_match(agent: Agent) -> None:
    from jsonschema import Draft202012Validator

    client = agent.client
    schema = client.get("/openapi.json").json()
    for path, operations in schema["paths"].items():
        for method, operation in operations.items():
            answers = {
                status: answer
                for status, answer in operation["responses"].items()
                if status.startswith(("2", "3"))
            }
            assert answers, f"{method.upper()} {path} documents no success"
            for status, answer in answers.items():
                if status.startswith("2"):
                    assert answer["content"]["application/json"]["schema"], f"{method} {path}"

    def documented(path: str, method: str, status: str) -> Draft202012Validator:
        body = schema["paths"][path][method]["responses"][status]["content"]["application/json"]
        return Draft202012Validator({**body["schema"], "components": schema["components"]})

    sale = bought(agent, pick(CLAY))
    order_id = sale["order"]["id"]
    refunded = client.post(
        f"/orders/{order_id}/refunds",
        json={"amount": 100},
        headers={**OPERATOR, "Idempotency-Key": "documented"},
    )
    answers = [
        ("/orders/{order_id}/refunds", "post", "201", refunded),
        (
            "/orders/{order_id}/refunds",
            "get",
            "200",
            client.get(f"/orders/{order_id}/refunds", headers=OPERATOR),
        ),
        ("/merchants", "get", "200", client.get("/merchants", headers=OPERATOR)),
        (
            "/merchants/{merchant_id}",
            "get",
            "200",
            client.get(f"/merchants/{CLAY}", headers=OPERATOR),
        ),
        (
            "/merchants/{merchant_id}/statement",
            "get",
            "200",
            client.get(f"/merchants/{CLAY}/statement", headers=OPERATOR),
        ),
        (
            "/merchants/{merchant_id}/ledger",
            "get",
            "200",
            client.get(f"/merchants/{CLAY}/ledger", headers=OPERATOR),
        ),
        (
            "/merchants/{merchant_id}/commission",
            "get",
            "200",
            client.get(f"/merchants/{CLAY}/commission", headers=OPERATOR),
        ),
        ("/platform/revenue", "get", "200", client.get("/platform/revenue", headers=OPERATOR)),
        ("/.well-known/acp.json", "get", "200", client.get("/.well-known/acp.json")),
    ]
    for path, method, status, answer in answers:
        assert answer.status_code == int(status), answer.text
        errors = list(documented(path, method, status).iter_errors(answer.json()))
        assert errors == [], f"{method.upper()} {path}: {errors[0].message if errors else ''}"

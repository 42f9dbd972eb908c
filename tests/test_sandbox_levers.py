"""The platform emulators' levers: only the operator pulls them, and only the local demo serves them."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest
import yaml
from fastapi.testclient import TestClient

from checkout.app import create_app
from merchant_adapters.sandbox.etsy import EtsySandbox
from merchant_adapters.sandbox.shopify import ShopifySandbox
from tests.conftest import make_settings
from tests.platform_support import LEVER_KEY, platform_orders, rows_for
from tests.support import CLAY, NORTHWIND, Agent, pick

COMPOSE = Path(__file__).resolve().parent.parent / "docker" / "compose.yaml"


def _shopify_reprice(variant_id: str, agent: Agent) -> tuple[str, dict[str, int]]:
    _, product, merchant = rows_for(agent.client, variant_id)
    numeric = str(product.platform_product_id).rsplit("/", 1)[-1]
    return f"/sandbox/shopify/_control/{merchant.platform_shop_id}/products/{numeric}/update", {
        "price": 1
    }


def test_a_lever_without_the_operator_key_is_refused_and_changes_nothing(agent: Agent) -> None:
    variant = pick(NORTHWIND)
    price = agent.create(variant).json()["line_items"][0]["unit_amount"]
    path, body = _shopify_reprice(variant, agent)
    for headers in ({}, {"Authorization": "Bearer agent_test_key"}, agent.headers()):
        refused = agent.client.post(path, json=body, headers=headers)
        assert refused.status_code == 401, refused.text
    assert agent.create(variant).json()["line_items"][0]["unit_amount"] == price
    allowed = agent.client.post(path, json=body, headers=LEVER_KEY)
    assert allowed.status_code == 200, allowed.text
    assert agent.create(variant).json()["line_items"][0]["unit_amount"] == 1


@pytest.mark.parametrize(
    "path",
    [
        "/sandbox/shopify/_control/northwind-supply.myshopify.com/orders",
        "/sandbox/shopify/_control/northwind-supply.myshopify.com/fail",
        "/sandbox/etsy/v3/application/x-sandbox/_control/fail",
    ],
)
def test_listing_orders_or_injecting_an_outage_needs_the_operator_key(
    agent: Agent, path: str
) -> None:
    method = agent.client.get if path.endswith("/orders") else agent.client.post
    kwargs = {} if path.endswith("/orders") else {"json": {"mode": "outage"}}
    assert method(path, **kwargs).status_code == 401  # type: ignore[operator]
    # The outage was not injected: a purchase from either platform still goes through.
    for merchant in (NORTHWIND, CLAY):
        assert agent.buy(pick(merchant)).status_code == 200


def test_the_emulated_platform_api_still_answers_its_own_credentials(agent: Agent) -> None:
    completed = agent.buy(pick(CLAY))
    assert completed.status_code == 200, completed.text
    assert [o for o in platform_orders(agent.client, CLAY) if o.reference == completed.json()["id"]]


def test_a_deployment_on_postgresql_serves_no_sandbox_unless_asked(
    database_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    settings = make_settings(database_url, merchant_sandbox=None, load_seeds=False)
    postgres_like = settings.model_copy(update={"database_url": "postgresql+psycopg://db/x"})
    assert postgres_like.sandboxes_on is False
    off = make_settings(database_url, merchant_sandbox=False)
    with caplog.at_level(logging.INFO, "checkout"), TestClient(create_app(off)) as client:
        response = client.post(
            "/sandbox/shopify/_control/northwind-supply.myshopify.com/fail",
            json={"mode": "outage"},
            headers=LEVER_KEY,
        )
        assert response.status_code == 404
        assert response.json()["type"] == "invalid_request"
    assert any(r.getMessage().startswith("sandbox.off") for r in caplog.records)


def test_startup_says_the_sandboxes_are_mounted_behind_the_operator_key(
    settings: object, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.INFO, "checkout"), TestClient(create_app(settings)):  # type: ignore[arg-type]
        pass
    [line] = [r.getMessage() for r in caplog.records if r.getMessage().startswith("sandbox.")
              and "mounted" in r.getMessage()]  # fmt: skip
    assert "path=/sandbox" in line and "levers=operator_key" in line
    assert "platform_api=in_process_only" in line


def test_the_compose_deployment_turns_the_sandboxes_off() -> None:
    app = yaml.safe_load(COMPOSE.read_text())["services"]["app"]
    assert str(app["environment"]["MERCHANT_SANDBOX"]).lower() == "false"


def test_the_emulated_platform_apis_are_not_served_to_the_outside(agent: Agent) -> None:
    """Their demo credentials are published, so only the adapters reach them, in-process."""
    graphql = agent.client.post(
        "/sandbox/shopify/northwind-supply.myshopify.com/admin/api/2026-10/graphql.json",
        json={"query": "{ shop { name } }"},
        headers={"X-Shopify-Access-Token": ShopifySandbox.DEMO_ACCESS_TOKEN},
    )
    assert graphql.status_code == 404
    inventory = agent.client.get(
        "/sandbox/etsy/v3/application/openapi-ping",
        headers={"x-api-key": f"{EtsySandbox.API_KEY}:{EtsySandbox.SHARED_SECRET}"},
    )
    assert inventory.status_code == 404
    assert agent.buy(pick(NORTHWIND)).status_code == 200  # the adapters still reach them

"""The UCP binding: responses valid against UCP 2026-01-11's own JSON Schemas, discounts in minor
units, sessions seen only through their own protocol, and one stock shared with ACP agents."""

from __future__ import annotations

import asyncio
import base64
import json
import shutil
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import jsonschema
import pytest
import respx
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature
from fastapi.testclient import TestClient
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

from checkout.api.services import utc_now
from checkout.app import create_app
from checkout.domain.discounts import DiscountCode, DiscountKind, apply_discounts
from checkout.flows.load_merchant_directory import load_merchant_directory
from checkout.flows.sync_catalog import catalog_id
from checkout.payments.sandbox import SandboxConnectedAccounts
from checkout.settings import Settings
from checkout.store.db import Database, create_database_engine, upgrade_schema
from tests.conftest import make_settings
from tests.servers import serve_app
from tests.support import AGENT_KEY, API_VERSION, OPERATOR_KEY, both_backends, fulfillment

SHARED = Path(__file__).resolve().parents[2] / "shared" / "ucp"
FLOWER_SHOP = SHARED / "conformance" / "test_data" / "flower_shop"
SPEC = SHARED / "spec" / "2026-01-11" / "spec"
SPEC_NEXT = SHARED / "spec" / "2026-04-08" / "source"
SIMULATION_SECRET = "simulation-secret-for-tests"
PROFILE = "https://agent.test/profiles/shopping-agent.json"

pytestmark = pytest.mark.skipif(
    not FLOWER_SHOP.exists() or not SPEC.exists() or not SPEC_NEXT.exists(),
    reason="../shared/ucp is not reachable",
)


def _registry(root: Path) -> Registry:
    """Every schema of a release under its file's URI: the files' relative $refs follow the
    folder layout, which some of their $ids do not (service_schema.json's, profile_schema's)."""
    resources = []
    for path in root.rglob("*.json"):
        document = json.loads(path.read_text())
        document.pop("$id", None)
        resources.append(
            (path.as_uri(), Resource.from_contents(document, default_specification=DRAFT202012))
        )
    return Registry().with_resources(resources)


RELEASES = {"2026-01-11": SPEC, "2026-04-08": SPEC_NEXT}
REGISTRIES = {v: _registry(root) for v, root in RELEASES.items() if root.exists()}
CHECKOUT_SCHEMAS = {
    "2026-01-11": (
        "schemas/shopping/fulfillment_resp.json#/$defs/checkout",
        "schemas/shopping/discount_resp.json#/$defs/checkout",
        "schemas/shopping/buyer_consent_resp.json#/$defs/checkout",
    ),
    "2026-04-08": (
        "schemas/shopping/fulfillment.json#/$defs/dev.ucp.shopping.checkout",
        "schemas/shopping/discount.json#/$defs/dev.ucp.shopping.checkout",
        "schemas/shopping/buyer_consent.json#/$defs/dev.ucp.shopping.checkout",
    ),
}


def assert_valid(document: Any, *refs: str, version: str = "2026-01-11") -> None:
    root = RELEASES[version]
    schema = {
        "allOf": [
            {
                "$ref": (root / ref.partition("#")[0]).as_uri()
                + ref.partition("#")[1]
                + ref.partition("#")[2]
            }
            for ref in refs
        ]
    }
    validator = jsonschema.Draft202012Validator(
        schema,
        registry=REGISTRIES[version],
        format_checker=jsonschema.Draft202012Validator.FORMAT_CHECKER,
    )
    errors = sorted(validator.iter_errors(document), key=lambda e: list(e.path))
    assert not errors, [f"{list(e.path)}: {e.message}" for e in errors[:5]]


def assert_checkout(document: Any, version: str = "2026-01-11") -> None:
    assert_valid(document, *CHECKOUT_SCHEMAS[version], version=version)


def load_flower_shop(database_url: str, directory: Path = FLOWER_SHOP) -> None:
    upgrade_schema(database_url)
    database = Database(create_database_engine(database_url))
    try:
        asyncio.run(
            load_merchant_directory(
                database,
                SandboxConnectedAccounts(),
                directory,
                merchant_id="flower_shop",
                name="Flower Shop",
                currency="USD",
                country="US",
                commission_bps=200,
                collects_tax=False,
                clock=utc_now,
            )
        )
    finally:
        database.dispose()


def ucp_settings(database_url: str, **overrides: Any) -> Settings:
    return make_settings(
        database_url,
        ucp_merchant_id="flower_shop",
        simulation_secret=SIMULATION_SECRET,
        **overrides,
    )


def ucp_headers(key: str | None = None, version: str | None = None) -> dict[str, str]:
    agent = f'profile="{PROFILE}"' + (f'; version="{version}"' if version else "")
    return {"UCP-Agent": agent, "Idempotency-Key": key or str(uuid.uuid4())}


def acp_headers() -> dict[str, str]:
    return {
        "Authorization": f"Bearer {AGENT_KEY}",
        "API-Version": API_VERSION,
        "Idempotency-Key": str(uuid.uuid4()),
    }


def ready_checkout(item: str = "bouquet_roses", quantity: int = 1, **fields: Any) -> dict[str, Any]:
    return {
        "currency": "USD",
        "line_items": [{"item": {"id": item, "title": "ignored"}, "quantity": quantity}],
        "fulfillment": {
            "methods": [
                {
                    "type": "shipping",
                    "destinations": [
                        {
                            "id": "home",
                            "street_address": "123 Main St",
                            "address_locality": "Springfield",
                            "address_region": "IL",
                            "postal_code": "62704",
                            "address_country": "US",
                        }
                    ],
                    "selected_destination_id": "home",
                    "groups": [{"selected_option_id": "exp-ship-us"}],
                }
            ]
        },
        **fields,
    }


def payment(token: str = "success_token") -> dict[str, Any]:
    return {
        "payment_data": {
            "id": "instr_1",
            "handler_id": "mock_payment_handler",
            "type": "card",
            "brand": "Visa",
            "last_digits": "4242",
            "credential": {"type": "token", "token": token},
        },
        "risk_signals": {},
    }


def total(document: dict[str, Any], kind: str = "total") -> int | None:
    return next((t["amount"] for t in document["totals"] if t["type"] == kind), None)


@pytest.fixture
def ucp_client(database_url: str) -> Iterator[TestClient]:
    load_flower_shop(database_url)
    with TestClient(create_app(ucp_settings(database_url)), raise_server_exceptions=False) as c:
        yield c


def test_discounts_apply_one_after_another_in_minor_units() -> None:
    ten = DiscountCode("10OFF", DiscountKind.PERCENTAGE, 1000, "10% Off")
    twenty = DiscountCode("WELCOME20", DiscountKind.PERCENTAGE, 2000, "20% Off")
    fixed = DiscountCode("FIXED500", DiscountKind.FIXED_AMOUNT, 500, "$5.00 Off")
    assert [d.amount for d in apply_discounts(3500, [ten, twenty])] == [350, 630]
    assert [d.amount for d in apply_discounts(999, [ten])] == [100]  # 899.1 left: 899
    assert [d.amount for d in apply_discounts(300, [fixed])] == [300]  # never below zero


def test_a_purchase_from_profile_to_order_is_valid_ucp_2026_01_11(ucp_client: TestClient) -> None:
    profile = ucp_client.get("/.well-known/ucp")
    assert profile.status_code == 200
    assert_valid(profile.json(), "discovery/profile_schema.json")
    assert profile.json()["ucp"]["services"]["dev.ucp.shopping"]["rest"]["endpoint"] == (
        "http://checkout.test/ucp"
    )

    created = ucp_client.post(
        "/ucp/checkout-sessions",
        json=ready_checkout(
            buyer={"email": "ada@example.com", "first_name": "Ada", "consent": {"marketing": True}}
        ),
        headers=ucp_headers(),
    )
    assert created.status_code == 201, created.text
    checkout = created.json()
    assert_checkout(checkout)
    assert checkout["status"] == "ready_for_complete"
    # Roses ship free (a promotion), so the express rate is what the buyer pays for.
    assert (total(checkout, "fulfillment"), total(checkout)) == (1500, 5000)

    updated = ucp_client.put(
        f"/ucp/checkout-sessions/{checkout['id']}",
        json={"discounts": {"codes": ["10OFF", "FIXED500", "NOPE"]}},
        headers=ucp_headers(),
    )
    assert updated.status_code == 200, updated.text
    assert_checkout(updated.json())
    applied = updated.json()["discounts"]["applied"]
    assert [(d["code"], d["amount"]) for d in applied] == [("10OFF", 350), ("FIXED500", 500)]
    assert total(updated.json()) == 3500 - 350 - 500 + 1500

    completed = ucp_client.post(
        f"/ucp/checkout-sessions/{checkout['id']}/complete", json=payment(), headers=ucp_headers()
    )
    assert completed.status_code == 200, completed.text
    assert_checkout(completed.json())
    assert completed.json()["status"] == "completed"

    order = ucp_client.get(f"/ucp/orders/{completed.json()['order']['id']}", headers=ucp_headers())
    assert order.status_code == 200
    assert_valid(order.json(), "schemas/shopping/order.json")
    assert total(order.json()) == 4150
    assert order.json()["fulfillment"]["expectations"][0]["description"] == (
        "Express Shipping (US)"
    )

    shipped = ucp_client.post(
        f"/ucp/testing/simulate-shipping/{order.json()['id']}",
        headers={**ucp_headers(), "Simulation-Secret": SIMULATION_SECRET},
    )
    assert shipped.status_code == 200
    assert_valid(shipped.json(), "schemas/shopping/order.json")
    assert shipped.json()["line_items"][0]["status"] == "fulfilled"

    canceled = ucp_client.post(
        "/ucp/checkout-sessions", json=ready_checkout(), headers=ucp_headers()
    ).json()
    response = ucp_client.post(
        f"/ucp/checkout-sessions/{canceled['id']}/cancel", headers=ucp_headers()
    )
    assert response.status_code == 200
    assert_checkout(response.json())
    assert response.json()["status"] == "canceled"


def test_refusals_come_in_ucp_error_shape(ucp_client: TestClient) -> None:
    unknown = ucp_client.post(
        "/ucp/checkout-sessions", json=ready_checkout(item="pink_wumpus"), headers=ucp_headers()
    )
    sold_out = ucp_client.post(
        "/ucp/checkout-sessions", json=ready_checkout(item="gardenias"), headers=ucp_headers()
    )
    future = ucp_client.post(
        "/ucp/checkout-sessions", json=ready_checkout(), headers=ucp_headers(version="2099-01-01")
    )
    declined_checkout = ucp_client.post(
        "/ucp/checkout-sessions", json=ready_checkout(), headers=ucp_headers()
    ).json()
    declined = ucp_client.post(
        f"/ucp/checkout-sessions/{declined_checkout['id']}/complete",
        json=payment("fail_token"),
        headers=ucp_headers(),
    )
    for response, status, code in (
        (unknown, 400, "invalid_item_id"),
        (sold_out, 400, "out_of_stock"),
        (future, 400, "version_unsupported"),
        (declined, 402, "payment_declined"),
    ):
        assert response.status_code == status, response.text
        body = response.json()
        assert body["status"] == "requires_escalation"
        assert body["messages"][0]["type"] == "error"
        assert body["messages"][0]["code"] == code


def test_the_simulation_endpoints_exist_only_with_their_secret(database_url: str) -> None:
    load_flower_shop(database_url)
    settings = make_settings(database_url, ucp_merchant_id="flower_shop")
    with TestClient(create_app(settings), raise_server_exceptions=False) as client:
        response = client.post(
            "/ucp/testing/simulate-shipping/ord_x",
            headers={**ucp_headers(), "Simulation-Secret": "anything-at-all-here"},
        )
    assert response.status_code == 404


def test_a_session_is_seen_only_through_the_protocol_that_created_it(
    ucp_client: TestClient,
) -> None:
    ucp_session = ucp_client.post(
        "/ucp/checkout-sessions", json=ready_checkout(), headers=ucp_headers()
    ).json()
    acp_session = ucp_client.post(
        "/checkout_sessions",
        json={
            "line_items": [{"id": catalog_id("var", "flower_shop", "bouquet_roses/bouquet_roses")}],
            "currency": "usd",
            "capabilities": {"interventions": {"supported": []}},
            "fulfillment_details": fulfillment(),
        },
        headers=acp_headers(),
    )
    assert acp_session.status_code == 201, acp_session.text

    as_acp = ucp_client.get(f"/checkout_sessions/{ucp_session['id']}", headers=acp_headers())
    as_ucp = ucp_client.get(
        f"/ucp/checkout-sessions/{acp_session.json()['id']}", headers=ucp_headers()
    )
    assert as_acp.status_code == 404
    assert as_acp.json()["type"] == "invalid_request"  # ACP's flat error
    assert as_ucp.status_code == 404
    assert as_ucp.json()["messages"][0]["code"] == "checkout_session_not_found"  # UCP's


@pytest.mark.slow
@both_backends
def test_the_last_unit_bought_at_once_over_ucp_and_acp_sells_once(
    database_url: str, tmp_path: Path
) -> None:
    data = tmp_path / "flower_shop"
    shutil.copytree(FLOWER_SHOP, data)
    stock = (data / "inventory.csv").read_text().replace("pot_ceramic,2000", "pot_ceramic,1")
    (data / "inventory.csv").write_text(stock)
    load_flower_shop(database_url, data)
    variant = catalog_id("var", "flower_shop", "pot_ceramic/pot_ceramic")
    with (
        serve_app(create_app(ucp_settings(database_url))) as base_url,
        httpx.Client(base_url=base_url, timeout=30) as http,
    ):
        ucp_checkout = http.post(
            "/ucp/checkout-sessions", json=ready_checkout("pot_ceramic"), headers=ucp_headers()
        ).json()
        acp_session = http.post(
            "/checkout_sessions",
            json={
                "line_items": [{"id": variant}],
                "currency": "usd",
                "capabilities": {"interventions": {"supported": []}},
                "fulfillment_details": fulfillment(),
            },
            headers=acp_headers(),
        ).json()
        token = http.post(
            "/agentic_commerce/delegate_payment",
            json={
                "payment_method": {
                    "type": "card",
                    "card_number_type": "fpan",
                    "number": "4242424242424242",
                    "display_card_funding_type": "credit",
                    "metadata": {},
                },
                "allowance": {
                    "reason": "one_time",
                    "max_amount": total(acp_session),
                    "currency": "usd",
                    "checkout_session_id": acp_session["id"],
                    "merchant_id": "flower_shop",
                    "expires_at": "2099-01-01T00:00:00Z",
                },
                "risk_signals": [],
                "metadata": {},
            },
            headers=acp_headers(),
        ).json()["id"]

        def buy_over_ucp() -> httpx.Response:
            return http.post(
                f"/ucp/checkout-sessions/{ucp_checkout['id']}/complete",
                json=payment(),
                headers=ucp_headers(),
            )

        def buy_over_acp() -> httpx.Response:
            return http.post(
                f"/checkout_sessions/{acp_session['id']}/complete",
                json={
                    "payment_data": {
                        "handler_id": "card_tokenized",
                        "instrument": {
                            "type": "card",
                            "credential": {"type": "spt", "token": token},
                        },
                    }
                },
                headers=acp_headers(),
            )

        with ThreadPoolExecutor(2) as pool:
            ucp_result, acp_result = (
                f.result() for f in [pool.submit(buy_over_ucp), pool.submit(buy_over_acp)]
            )
        statement = http.get(
            "/merchants/flower_shop/statement",
            headers={"Authorization": f"Bearer {OPERATOR_KEY}"},
        ).json()
    results = {"ucp": ucp_result, "acp": acp_result}
    winners = [name for name, r in results.items() if r.status_code == 200]
    assert len(winners) == 1, {n: r.text for n, r in results.items()}
    loser = results["acp" if winners == ["ucp"] else "ucp"]
    assert loser.status_code == 400
    assert "out_of_stock" in loser.text
    won = results[winners[0]].json()
    assert statement["orders"] == 1
    assert statement["gross_sales"] == total(won)
    assert statement["commission"] > 0


def test_an_agent_speaking_2026_04_08_is_answered_in_2026_04_08(ucp_client: TestClient) -> None:
    version = "2026-04-08"
    profile = ucp_client.get(
        "/.well-known/ucp", headers={"UCP-Agent": f'profile="{PROFILE}"; version="{version}"'}
    )
    assert_valid(profile.json(), "discovery/profile_schema.json", version=version)
    older = profile.json()["ucp"]["supported_versions"]["2026-01-11"]
    assert ucp_client.get(older.removeprefix("http://checkout.test")).json()["ucp"]["version"] == (
        "2026-01-11"
    )

    headers = ucp_headers(version=version)
    created = ucp_client.post(
        "/ucp/checkout-sessions",
        json=ready_checkout(discounts={"codes": ["FIXED500"]}),
        headers=headers,
    )
    assert created.status_code == 201, created.text
    assert_checkout(created.json(), version)
    assert created.json()["ucp"]["version"] == version
    assert total(created.json(), "discount") == -500

    completed = ucp_client.post(
        f"/ucp/checkout-sessions/{created.json()['id']}/complete",
        json=payment(),
        headers=ucp_headers(version=version),
    )
    assert completed.status_code == 200, completed.text
    assert_checkout(completed.json(), version)
    order = ucp_client.get(
        f"/ucp/orders/{completed.json()['order']['id']}", headers=ucp_headers(version=version)
    )
    assert_valid(order.json(), "schemas/shopping/order.json", version=version)

    missing = ucp_client.get("/ucp/checkout-sessions/cs_nope", headers=headers)
    assert missing.status_code == 404
    assert_valid(missing.json(), "schemas/shopping/types/error_response.json", version=version)


def test_a_card_tokenized_for_a_checkout_pays_for_that_checkout_only(
    ucp_client: TestClient,
) -> None:
    first, second = (
        ucp_client.post(
            "/ucp/checkout-sessions", json=ready_checkout(), headers=ucp_headers()
        ).json()["id"]
        for _ in range(2)
    )
    card = {"type": "card", "card_number_type": "fpan", "number": "4242424242424242"}
    tokenized = ucp_client.post(
        "/ucp/tokenize",
        json={"credential": card, "binding": {"checkout_id": first}},
        headers=ucp_headers(),
    )
    assert tokenized.status_code == 200, tokenized.text
    token = tokenized.json()["token"]
    elsewhere = ucp_client.post(
        f"/ucp/checkout-sessions/{second}/complete", json=payment(token), headers=ucp_headers()
    )
    paid = ucp_client.post(
        f"/ucp/checkout-sessions/{first}/complete", json=payment(token), headers=ucp_headers()
    )
    assert elsewhere.status_code == 400
    assert elsewhere.json()["messages"][0]["code"] == "payment_token_not_found"
    assert paid.status_code == 200, paid.text
    assert paid.json()["status"] == "completed"


def test_order_events_reach_the_agents_webhook_signed(ucp_client: TestClient) -> None:
    hook = "https://agent.test/webhooks/orders"
    agent_profile = {
        "ucp": {
            "version": "2026-01-11",
            "capabilities": [
                {
                    "name": "dev.ucp.shopping.order",
                    "version": "2026-01-11",
                    "config": {"webhook_url": hook},
                }
            ],
        }
    }
    checkout = ucp_client.post(
        "/ucp/checkout-sessions", json=ready_checkout(), headers=ucp_headers()
    ).json()
    completed = ucp_client.post(
        f"/ucp/checkout-sessions/{checkout['id']}/complete", json=payment(), headers=ucp_headers()
    )
    assert completed.status_code == 200
    sender = ucp_client.app.state.ucp_events  # type: ignore[attr-defined]
    with respx.mock(assert_all_called=True) as mock:
        mock.get(PROFILE).respond(200, json=agent_profile)
        received = mock.post(hook).respond(200)
        assert ucp_client.portal.call(sender.run_once) == 1  # type: ignore[union-attr]
    request = received.calls.last.request
    event = json.loads(request.content)
    assert event["event_type"] == "order_placed"
    assert event["checkout_id"] == checkout["id"]
    assert event["order"]["id"] == completed.json()["order"]["id"]
    assert_valid(event["order"], "schemas/shopping/order.json")

    # A detached JWS over the body, verifiable with the key the business profile publishes.
    header, _, signature = request.headers["Request-Signature"].partition("..")
    jwk = ucp_client.get("/.well-known/ucp").json()["signing_keys"][0]
    assert json.loads(base64.urlsafe_b64decode(header + "==")) == {
        "alg": "ES256",
        "kid": jwk["kid"],
        "b64": False,
        "crit": ["b64"],
    }
    public = ec.EllipticCurvePublicNumbers(
        int.from_bytes(base64.urlsafe_b64decode(jwk["x"] + "="), "big"),
        int.from_bytes(base64.urlsafe_b64decode(jwk["y"] + "="), "big"),
        ec.SECP256R1(),
    ).public_key()
    raw = base64.urlsafe_b64decode(signature + "=" * (-len(signature) % 4))
    public.verify(
        encode_dss_signature(int.from_bytes(raw[:32], "big"), int.from_bytes(raw[32:], "big")),
        header.encode() + b"." + request.content,
        ec.ECDSA(hashes.SHA256()),
    )

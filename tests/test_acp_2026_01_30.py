"""ACP 2026-01-30 beside 2026-04-17: every response and webhook in the version the request asked for.

Response bodies are validated against the JSON Schema bundles of their version
(`spec/<version>/json-schema`, loaded as in test_acp_schemas), webhook bodies against the
`WebhookEvent` of that version's `openapi.agentic_checkout_webhook.yaml`. What differs between the
versions, and why, is listed in `checkout/protocol/acp_2026_01_30.py`.

A session belongs to no version: each request is answered in the version it names, so a session
created in one version reads, updates and completes in the other. Its order webhooks go out in the
version its agent spoke when it created the session (recorded on the session).
"""

from __future__ import annotations

import json
import uuid
from functools import cache
from typing import Any

import pytest
import yaml
from fastapi.testclient import TestClient
from jsonschema import Draft202012Validator
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012
from sqlalchemy import create_engine, text

from checkout.app import create_app
from checkout.settings import Settings
from tests.conftest import make_settings
from tests.servers import webhook_receiver
from tests.support import (
    DECLINED,
    NORTHWIND,
    OPERATOR_KEY,
    THREE_DS,
    VISA,
    Agent,
    both_backends,
    fulfillment,
    pick,
)
from tests.test_acp_schemas import (
    ACP,
    CHECKOUT,
    DELEGATE_PAYMENT,
    FORMAT_CHECKER,
    VERSIONS,
    assert_valid,
    example,
    schema_errors,
)
from tests.test_purchase import SECRET, verify_signature

OLD, NEW = "2026-01-30", "2026-04-17"
OPERATOR = {"Authorization": f"Bearer {OPERATOR_KEY}"}


class VersionedAgent(Agent):
    """The test agent, speaking the given API-Version."""

    def __init__(self, client: TestClient, version: str) -> None:
        super().__init__(client)
        self.version = version

    def headers(self, idempotency_key: str | None = None, **extra: str) -> dict[str, str]:
        return {**super().headers(idempotency_key), "API-Version": self.version, **extra}

    def unkeyed(self, path: str, body: Any) -> Any:
        return self.client.post(path, json=body, headers=self.headers())


@pytest.fixture(scope="module")
def in_stock(sqlite_template: Any) -> str:
    return pick(min_stock=8)


def speaking(client: TestClient, version: str) -> VersionedAgent:
    return VersionedAgent(client, version)


# --------------------------------------------------------------------------------------------
# Webhook schemas (OpenAPI components, read as JSON Schema 2020-12 as OAS 3.1 defines them)
# --------------------------------------------------------------------------------------------


@cache
def webhook_registry(version: str) -> Registry:
    """The webhook OAS and the checkout OAS it refers to (04-17's EventDataOrder is the Order)."""
    resources = []
    for name in ("openapi.agentic_checkout_webhook.yaml", "openapi.agentic_checkout.yaml"):
        path = ACP / "spec" / version / "openapi" / name
        # CSafeLoader: 01-30's YAML has a tab pure-Python PyYAML refuses (acp-checklist.md §7).
        contents = yaml.load(path.read_text(encoding="utf-8"), Loader=yaml.CSafeLoader)
        resources.append(
            (path.as_uri(), Resource.from_contents(contents, default_specification=DRAFT202012))
        )
    return Registry().with_resources(resources)


def webhook_errors(event: Any, version: str) -> list[str]:
    path = ACP / "spec" / version / "openapi" / "openapi.agentic_checkout_webhook.yaml"
    reference = {"$ref": f"{path.as_uri()}#/components/schemas/WebhookEvent"}
    validator = Draft202012Validator(
        reference, registry=webhook_registry(version), format_checker=FORMAT_CHECKER
    )
    return sorted(f"{e.json_path}: {e.message[:200]}" for e in validator.iter_errors(event))


def assert_valid_event(event: Any, version: str) -> None:
    __tracebackhide__ = True
    errors = webhook_errors(event, version)
    assert not errors, f"{version} WebhookEvent: {errors}\nevent: {json.dumps(event)[:1500]}"


def webhook_examples(version: str) -> list[Any]:
    path = ACP / "spec" / version / "openapi" / "openapi.agentic_checkout_webhook.yaml"
    document = yaml.load(path.read_text(encoding="utf-8"), Loader=yaml.CSafeLoader)
    operation = document["paths"]["/agentic_checkout/webhooks/order_events"]["post"]
    examples = operation["requestBody"]["content"]["application/json"]["examples"]
    return [entry["value"] for entry in examples.values()]


def outbox_events(settings: Settings) -> list[dict[str, Any]]:
    engine = create_engine(settings.database_url)
    with engine.connect() as connection:
        payloads = connection.execute(
            text("SELECT payload FROM outbox_events ORDER BY created_at, id")
        ).all()
    engine.dispose()
    return [json.loads(row[0]) for row in payloads]


def session_version(settings: Settings, session_id: str) -> str:
    engine = create_engine(settings.database_url)
    with engine.connect() as connection:
        found = connection.execute(
            text("SELECT api_version FROM checkout_sessions WHERE id = :id"), {"id": session_id}
        ).scalar_one()
    engine.dispose()
    return str(found)


# --------------------------------------------------------------------------------------------
# The validators themselves
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("version", VERSIONS)
def test_the_spec_webhook_examples_validate_in_their_own_version_only(version: str) -> None:
    other = OLD if version == NEW else NEW
    for event in webhook_examples(version):
        assert_valid_event(event, version)
        assert webhook_errors(event, other), "the two versions' webhooks differ"


def test_a_0417_session_is_not_a_valid_0130_session(agent: Agent, in_stock: str) -> None:
    session = agent.ready_session(in_stock)
    assert_valid(session, "CheckoutSession", CHECKOUT, NEW)
    errors = schema_errors(session, CHECKOUT, "CheckoutSession", OLD)
    assert any("display_name" in e for e in errors), errors  # PaymentHandler is closed in 01-30


# --------------------------------------------------------------------------------------------
# A full purchase in each version
# --------------------------------------------------------------------------------------------


@both_backends
@pytest.mark.parametrize("version", VERSIONS)
def test_a_full_purchase(
    client: TestClient, settings: Settings, in_stock: str, version: str
) -> None:
    agent = speaking(client, version)
    created = agent.create((in_stock, 2), buyer={"email": "ada@example.com"})
    assert created.status_code == 201, created.text
    session = created.json()
    assert_valid(session, "CheckoutSession", CHECKOUT, version)
    assert session["protocol"]["version"] == version
    assert session["status"] == "not_ready_for_payment"
    assert session_version(settings, session["id"]) == version

    updated = agent.update(session["id"], fulfillment_details=fulfillment())
    assert updated.status_code == 200, updated.text
    assert_valid(updated.json(), "CheckoutSession", CHECKOUT, version)
    express = next(o for o in updated.json()["fulfillment_options"] if o["title"] == "Express")
    chosen = agent.update(
        session["id"],
        selected_fulfillment_options=[
            {"type": "shipping", "option_id": express["id"], "item_ids": []}
        ],
    )
    assert chosen.status_code == 200, chosen.text
    ready = chosen.json()
    assert_valid(ready, "CheckoutSession", CHECKOUT, version)
    assert ready["status"] == "ready_for_payment", ready["messages"]

    got = agent.get(session["id"])
    assert got.status_code == 200, got.text
    assert_valid(got.json(), "CheckoutSession", CHECKOUT, version)
    assert got.json()["totals"] == ready["totals"]

    token = agent.delegate(ready)
    assert token.status_code == 201, token.text
    assert_valid(token.json(), "DelegatePaymentResponse", DELEGATE_PAYMENT, version)
    completed = agent.complete(session["id"], token.json()["id"])
    assert completed.status_code == 200, completed.text
    done = completed.json()
    assert_valid(done, "CheckoutSessionWithOrder", CHECKOUT, version)
    assert done["status"] == "completed"
    assert done["order"]["checkout_session_id"] == session["id"]
    assert done["order"]["status"] == "confirmed"
    assert done["totals"] == ready["totals"]

    again = agent.get(session["id"])
    assert_valid(again.json(), "CheckoutSession", CHECKOUT, version)
    assert again.json()["order"]["id"] == done["order"]["id"]

    [event] = outbox_events(settings)
    assert_valid_event(event, version)
    assert event["type"] == "order_create"
    assert event["data"]["checkout_session_id"] == session["id"]
    if version == OLD:
        assert event["data"] == {
            "type": "order",
            "checkout_session_id": session["id"],
            "permalink_url": done["order"]["permalink_url"],
            "status": "confirmed",
            "refunds": [],
        }
    else:
        assert event["data"]["id"] == done["order"]["id"]


def test_an_0130_post_may_leave_out_the_idempotency_key(client: TestClient, in_stock: str) -> None:
    body = {"line_items": [{"id": in_stock}], "currency": "usd", "capabilities": {}}
    old, new = speaking(client, OLD), speaking(client, NEW)

    first, second = (old.unkeyed("/checkout_sessions", body) for _ in range(2))
    assert first.status_code == second.status_code == 201, (first.text, second.text)
    assert first.json()["id"] != second.json()["id"]  # nothing to replay without a key
    assert_valid(first.json(), "CheckoutSession", CHECKOUT, OLD)
    # The key the service chose is echoed, and retrying with it replays.
    retried = old.post("/checkout_sessions", body, key=first.headers["Idempotency-Key"])
    assert retried.status_code == 201, retried.text
    assert retried.json()["id"] == first.json()["id"]

    refused = new.unkeyed("/checkout_sessions", body)
    assert refused.status_code == 400, refused.text
    assert refused.json()["code"] == "idempotency_key_required"

    # With a key, a 01-30 POST is replayed like any other.
    key = str(uuid.uuid4())
    keyed, replayed = (old.post("/checkout_sessions", body, key=key) for _ in range(2))
    assert keyed.status_code == replayed.status_code == 201
    assert replayed.json()["id"] == keyed.json()["id"]
    assert replayed.headers["Idempotent-Replayed"] == "true"
    conflict = old.post("/checkout_sessions", {**body, "locale": "fr-FR"}, key=key)
    assert conflict.status_code == 422, conflict.text
    assert_valid(conflict.json(), "Error", CHECKOUT, OLD)


# --------------------------------------------------------------------------------------------
# One session, two versions
# --------------------------------------------------------------------------------------------


def test_a_session_answers_each_request_in_its_version_and_webhooks_in_its_creators(
    client: TestClient, settings: Settings, in_stock: str
) -> None:
    old, new = speaking(client, OLD), speaking(client, NEW)
    started_old = old.ready_session(in_stock)
    started_new = new.ready_session(in_stock)

    read_new = new.get(started_old["id"])
    assert read_new.status_code == 200, read_new.text
    assert_valid(read_new.json(), "CheckoutSession", CHECKOUT, NEW)
    assert read_new.json()["protocol"]["version"] == NEW
    read_old = old.get(started_new["id"])
    assert_valid(read_old.json(), "CheckoutSession", CHECKOUT, OLD)
    assert read_old.json()["protocol"]["version"] == OLD
    assert read_old.json()["totals"] == started_new["totals"]

    # Each completed by the other version's agent: the answer is in the caller's version...
    done_by_new = new.complete(started_old["id"], new.delegate(started_old).json()["id"])
    assert done_by_new.status_code == 200, done_by_new.text
    assert_valid(done_by_new.json(), "CheckoutSessionWithOrder", CHECKOUT, NEW)
    done_by_old = old.complete(started_new["id"], old.delegate(started_new).json()["id"])
    assert done_by_old.status_code == 200, done_by_old.text
    assert_valid(done_by_old.json(), "CheckoutSessionWithOrder", CHECKOUT, OLD)

    # ...and the order webhooks in the version of the agent that created the session.
    assert session_version(settings, started_old["id"]) == OLD
    assert session_version(settings, started_new["id"]) == NEW
    events = {e["data"]["checkout_session_id"]: e for e in outbox_events(settings)}
    assert_valid_event(events[started_old["id"]], OLD)
    assert "id" not in events[started_old["id"]]["data"]
    assert_valid_event(events[started_new["id"]], NEW)
    assert events[started_new["id"]]["data"]["id"] == done_by_old.json()["order"]["id"]


# --------------------------------------------------------------------------------------------
# Bad input, in each dialect's error shape
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("version", VERSIONS)
def test_bad_input_gets_the_error_of_the_version(
    client: TestClient, in_stock: str, version: str
) -> None:
    agent = speaking(client, version)

    def refused(response: Any, status: int, code: str | None = None) -> dict[str, Any]:
        assert response.status_code == status, response.text
        body: dict[str, Any] = response.json()
        assert_valid(body, "Error", CHECKOUT, version)
        if code is not None:
            assert body["code"] == code, body
        return body

    unknown_item = refused(agent.create("no_such_item"), 400, "invalid_item_id")
    assert unknown_item["param"].startswith("$.line_items[0]")
    refused(agent.post("/checkout_sessions", {"line_items": [{"id": in_stock}]}), 400, "missing")
    malformed = client.post(
        "/checkout_sessions",
        content=b"{not json",
        headers={**agent.headers(str(uuid.uuid4())), "Content-Type": "application/json"},
    )
    refused(malformed, 400)
    refused(agent.get("cs_does_not_exist"), 404)

    session = agent.ready_session(in_stock)
    refused(agent.update(session["id"], line_items=[]), 400)
    declined = agent.complete(session["id"], agent.delegate(session, number=DECLINED).json()["id"])
    refused(declined, 402, "payment_declined")
    assert agent.cancel(session["id"]).status_code == 200
    refused(agent.cancel(session["id"]), 405)

    invalid_card = agent.delegate(session, number="4242424242424241")
    assert invalid_card.status_code == 400, invalid_card.text
    assert_valid(invalid_card.json(), "Error", DELEGATE_PAYMENT, version)


def test_0130_requests_may_not_carry_0417_fields(client: TestClient, in_stock: str) -> None:
    old, new = speaking(client, OLD), speaking(client, NEW)
    with_company = {**fulfillment(), "address": {**fulfillment()["address"], "company": "ACME"}}
    cases: list[tuple[dict[str, Any], str]] = [
        ({"order_notes": "gift"}, "$.order_notes"),
        ({"fulfillment_details": with_company}, "$.fulfillment_details.address.company"),
    ]
    for fields, param in cases:
        rejected = old.create(in_stock, **fields)
        assert rejected.status_code == 400, rejected.text
        assert_valid(rejected.json(), "Error", CHECKOUT, OLD)
        assert rejected.json()["param"] == param
        assert new.create(in_stock, **fields).status_code == 201  # fine in 04-17

    session = old.ready_session(in_stock)
    noted = old.update(session["id"], order_notes="leave at the door")
    assert noted.status_code == 400, noted.text
    assert noted.json()["param"] == "$.order_notes"
    token = old.delegate(session).json()["id"]
    consenting = old.complete(
        session["id"], token, marketing_consents=[{"channel": "email", "opted_in": True}]
    )
    assert consenting.status_code == 400, consenting.text
    assert_valid(consenting.json(), "Error", CHECKOUT, OLD)
    assert consenting.json()["param"] == "$.marketing_consents"
    # Nothing was half-done: the same token still buys.
    completed = old.complete(session["id"], token)
    assert completed.status_code == 200, completed.text
    assert_valid(completed.json(), "CheckoutSessionWithOrder", CHECKOUT, OLD)


@pytest.mark.parametrize("sent", ["1999-01-01", "2026-01-16", ""])
def test_an_unsupported_version_is_a_400_listing_both(
    client: TestClient, in_stock: str, sent: str
) -> None:
    agent = speaking(client, sent)
    for response in (agent.create(in_stock), agent.get("cs_any")):
        assert response.status_code == 400, response.text
        body = response.json()
        assert_valid(body, "Error", CHECKOUT, NEW)  # no dialect was chosen: today's shape
        assert body["code"] == ("missing_api_version" if not sent else "unsupported_api_version")
        assert body["supported_versions"] == [NEW, OLD]

    discovery = client.get("/.well-known/acp.json").json()
    assert discovery["protocol"]["supported_versions"] == [NEW, OLD]


# --------------------------------------------------------------------------------------------
# 3-D Secure: 01-30 requires the browser channel in authentication_metadata
# --------------------------------------------------------------------------------------------


def test_three_d_secure_in_0130_carries_the_browser_channel(
    client: TestClient, in_stock: str
) -> None:
    old, new = speaking(client, OLD), speaking(client, NEW)
    session = old.ready_session(in_stock)
    token = old.delegate(session, number=THREE_DS).json()["id"]
    signals = {"ip_address": "203.0.113.45", "user_agent": "Mozilla/5.0", "accept_language": "de"}
    challenged = old.complete(session["id"], token, risk_signals=signals)
    assert challenged.status_code == 400, challenged.text
    assert_valid(challenged.json(), "Error", CHECKOUT, OLD)
    assert challenged.json()["code"] == "requires_3ds"

    got = old.get(session["id"]).json()
    assert_valid(got, "CheckoutSession", CHECKOUT, OLD)
    assert got["status"] == "authentication_required"
    browser = got["authentication_metadata"]["channel"]["browser"]
    assert (browser["ip_address"], browser["user_agent"], browser["language"]) == (
        "203.0.113.45",
        "Mozilla/5.0",
        "de",
    )
    assert_valid(new.get(session["id"]).json(), "CheckoutSession", CHECKOUT, NEW)

    authenticated = example("complete_session_with_authentication_result_request")
    authenticated["payment_data"]["instrument"]["credential"]["token"] = token
    completed = old.post(f"/checkout_sessions/{session['id']}/complete", authenticated)
    assert completed.status_code == 200, completed.text
    assert_valid(completed.json(), "CheckoutSessionWithOrder", CHECKOUT, OLD)


def test_a_session_challenged_in_0417_reads_as_a_valid_0130_session(
    client: TestClient, in_stock: str
) -> None:
    old, new = speaking(client, OLD), speaking(client, NEW)
    session = new.ready_session(in_stock)
    challenged = new.complete(session["id"], new.delegate(session, number=THREE_DS).json()["id"])
    assert challenged.status_code == 400, challenged.text
    got = old.get(session["id"]).json()
    assert_valid(got, "CheckoutSession", CHECKOUT, OLD)
    # Nobody described the buyer's browser: the required fields are there, empty, not guessed.
    assert got["authentication_metadata"]["channel"]["browser"]["ip_address"] == ""
    assert "channel" not in new.get(session["id"]).json()["authentication_metadata"]


# --------------------------------------------------------------------------------------------
# Webhooks delivered to a 01-30 receiver: creation, shipment, refund
# --------------------------------------------------------------------------------------------


@both_backends
def test_an_0130_receiver_gets_0130_events_for_the_whole_order_life(
    database_url: str, in_stock: str
) -> None:
    with webhook_receiver() as receiver:
        settings = make_settings(
            database_url,
            background_jobs=True,
            order_webhook_url=receiver.url,
            order_webhook_secret=SECRET,
            outbox_poll_seconds=0.05,
        )
        with TestClient(create_app(settings)) as client:
            old = speaking(client, OLD)
            session = old.ready_session(in_stock)
            done = old.complete(session["id"], old.delegate(session, number=VISA).json()["id"])
            assert done.status_code == 200, done.text
            order = done.json()["order"]
            shipped = client.post(
                f"/orders/{order['id']}/fulfillments",
                headers=OPERATOR,
                json={"carrier": "USPS", "tracking_number": "9400111899223"},
            )
            assert shipped.status_code == 201, shipped.text
            refunded = client.post(
                f"/orders/{order['id']}/refunds",
                headers={**OPERATOR, "Idempotency-Key": "refund-1"},
                json={"amount": 500, "reason": "requested_by_customer"},
            )
            assert refunded.status_code == 201, refunded.text
            deliveries = receiver.wait_for(3)
            read = old.get(session["id"]).json()
            assert_valid(read, "CheckoutSession", CHECKOUT, OLD)
            assert read["order"]["status"] == "shipped"

    events = [d.json for d in deliveries]
    for delivery, event in zip(deliveries, events, strict=True):
        verify_signature(delivery)
        assert_valid_event(event, OLD)
    assert [(e["type"], e["data"]["status"], e["data"]["refunds"]) for e in events] == [
        ("order_create", "confirmed", []),
        ("order_update", "shipped", []),
        ("order_update", "shipped", [{"type": "original_payment", "amount": 500}]),
    ]


def test_an_order_canceled_by_the_merchant_reaches_an_0130_agent_in_0130_words(
    client: TestClient, settings: Settings
) -> None:
    from merchant_adapters.sandbox.shopify import ShopifySandbox
    from tests.platform_support import platform_orders
    from tests.test_merchant_platforms import _shopify_webhook, cancel_on_shopify

    old = speaking(client, OLD)
    session = old.ready_session(pick(NORTHWIND))
    done = old.complete(session["id"], old.delegate(session).json()["id"])
    assert done.status_code == 200, done.text
    [placed] = [o for o in platform_orders(client, NORTHWIND) if o.reference == session["id"]]
    cancel_on_shopify(client, placed.gid)
    body, headers = _shopify_webhook(
        "orders/cancelled",
        {
            "id": int(placed.gid.rsplit("/", 1)[-1]),
            "admin_graphql_api_id": placed.gid,
            "tags": f"acp, acp:{session['id']}",
            "cancelled_at": "2026-11-25T10:00:00Z",
        },
        ShopifySandbox.DEMO_WEBHOOK_SECRET,
    )
    assert client.post(f"/webhooks/platforms/{NORTHWIND}", content=body, headers=headers).is_success

    read = old.get(session["id"]).json()
    assert_valid(read, "CheckoutSession", CHECKOUT, OLD)
    assert "status" not in read["order"]  # 01-30's Order.status has no word for canceled
    events = outbox_events(settings)
    for event in events:
        assert_valid_event(event, OLD)
    total = next(t["amount"] for t in done.json()["totals"] if t["type"] == "total")
    # Canceled first, then refunded (the money goes back after the cancellation commits).
    assert [(e["type"], e["data"]["status"], e["data"]["refunds"]) for e in events] == [
        ("order_create", "confirmed", []),
        ("order_update", "canceled", []),
        ("order_update", "canceled", [{"type": "original_payment", "amount": total}]),
    ]

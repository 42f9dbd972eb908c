"""Every response body of the replayed ACP example flows validates against the official JSON Schema.

The requests are the spec's own examples (examples/2026-04-17/examples.agentic_checkout.json) with the
example ids swapped for real ones: `item_123` becomes a seeded variant, `fulfillment_option_456`
becomes the session's express option, `spt_123` becomes a token from delegate_payment. Each response
is validated against the 2026-04-17 JSON Schema bundles (not the OAS: see acp-checklist.md §8 quirks
3 and 4, which make valid /complete responses fail OAS validation), and its key fields are checked.
"""

from __future__ import annotations

import copy
import json
import re
import uuid
from collections.abc import Iterator
from datetime import datetime
from functools import cache
from pathlib import Path
from typing import Any
from urllib.parse import urljoin, urlsplit

import pytest
from jsonschema import Draft202012Validator, FormatChecker
from jsonschema.exceptions import best_match
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

from tests.conftest import SEEDS
from tests.support import DECLINED, THREE_DS, Agent, fulfillment, pick

SHARED = Path(__file__).resolve().parents[2] / "shared"
ACP = SHARED / "acp"
SCHEMA_DIR = ACP / "spec" / "2026-04-17" / "json-schema"
# Each served ACP version validates against its own bundles (the loaders take `version`).
VERSIONS = ("2026-04-17", "2026-01-30")
CURRENT = VERSIONS[0]


def schema_dir(version: str = CURRENT) -> Path:
    return ACP / "spec" / version / "json-schema"


EXAMPLES_DIR = ACP / "examples" / "2026-04-17"

if not (SCHEMA_DIR.is_dir() and (EXAMPLES_DIR / "examples.agentic_checkout.json").is_file()):
    pytest.skip(
        f"ACP 2026-04-17 spec files not found under {SHARED} (the shared/ checkout sits "
        "beside the project); schema conformance tests skipped",
        allow_module_level=True,
    )

CHECKOUT = "schema.agentic_checkout.json"
DELEGATE_PAYMENT = "schema.delegate_payment.json"


# --------------------------------------------------------------------------------------------
# Loading the JSON Schema bundles
# --------------------------------------------------------------------------------------------

# Format checking is ON. In draft 2020-12 `format` is only an annotation unless the validator is
# asked to assert it, and the formats used by these bundles are part of what the server promises:
# `date-time` (created_at, expires_at, delegate_payment `created`), `uri` (order permalink_url,
# links[].url, payment handler spec/config_schema, discovery api_base_url) and `email` (buyer).
# jsonschema only checks `date-time` and `uri` when the optional rfc3339-validator / rfc3987
# packages are installed (they are not), so this module registers small stdlib checkers for them;
# otherwise "format on" would silently check nothing but `email`.
FORMAT_CHECKER = FormatChecker()
_RFC3339 = re.compile(r"^\d{4}-\d{2}-\d{2}[Tt]\d{2}:\d{2}:\d{2}(\.\d+)?([Zz]|[+-]\d{2}:\d{2})$")
_URI_SCHEME = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*$")


@FORMAT_CHECKER.checks("date-time", raises=ValueError)
def _is_rfc3339_datetime(instance: object) -> bool:
    if not isinstance(instance, str):
        return True
    if not _RFC3339.match(instance):
        return False
    datetime.fromisoformat(instance.upper())  # rejects impossible dates such as 2026-02-30
    return True


@FORMAT_CHECKER.checks("uri", raises=ValueError)
def _is_absolute_uri(instance: object) -> bool:
    if not isinstance(instance, str):
        return True
    parts = urlsplit(instance)
    return bool(_URI_SCHEME.match(parts.scheme)) and not any(c.isspace() for c in instance)


@cache
def bundles(version: str = CURRENT) -> dict[str, dict[str, Any]]:
    """file name -> parsed JSON Schema bundle."""
    return {
        path.name: json.loads(path.read_text(encoding="utf-8"))
        for path in sorted(schema_dir(version).glob("*.json"))
    }


def bundle_uri(filename: str, version: str = CURRENT) -> str:
    return str(bundles(version)[filename].get("$id") or (schema_dir(version) / filename).as_uri())


@cache
def registry(version: str = CURRENT) -> Registry:
    """Every bundle under its `$id` and under `<dir of an $id>/<file name>` (checklist §8 quirk 2).

    Bundles refer to each other by file name (`schema.agentic_checkout.json#/$defs/Buyer`), which a
    compliant resolver joins with the *referring* bundle's `$id`: from schema.cart.json that gives
    https://example.com/schemas/cart/schema.agentic_checkout.json. So each file is registered under
    its own `$id` and under `<dirname>/<file name>` for the dirname of every bundle's `$id`.
    """
    documents = bundles(version)
    bases = {bundle_uri(name, version).rsplit("/", 1)[0] for name in documents}
    resources: dict[str, Resource[Any]] = {}
    for name, contents in documents.items():
        resource = Resource.from_contents(contents, default_specification=DRAFT202012)
        resources[bundle_uri(name, version)] = resource
        for base in bases:
            resources.setdefault(f"{base}/{name}", resource)
    return Registry().with_resources(resources.items()).crawl()


def schema_errors(instance: Any, filename: str, name: str, version: str = CURRENT) -> list[str]:
    reference = {"$ref": f"{bundle_uri(filename, version)}#/$defs/{name}"}
    validator = Draft202012Validator(
        reference, registry=registry(version), format_checker=FORMAT_CHECKER
    )
    errors = list(validator.iter_errors(instance))
    if not errors:
        return []
    best = best_match(errors)
    found = [f"best match: {best.json_path}: {best.message}"]
    found += sorted({f"{e.json_path}: {e.message[:300]}" for e in errors})
    return found


def assert_valid(
    instance: Any, name: str, filename: str = CHECKOUT, version: str = CURRENT
) -> None:
    __tracebackhide__ = True
    errors = schema_errors(instance, filename, name, version)
    assert not errors, (
        f"response does not validate against {version}/{filename}#/$defs/{name}:\n  "
        + "\n  ".join(errors)
        + f"\ninstance: {json.dumps(instance)[:2000]}"
    )


# --------------------------------------------------------------------------------------------
# Seeds, examples and small helpers
# --------------------------------------------------------------------------------------------


@cache
def seeded_variants() -> list[dict[str, Any]]:
    """Every seeded variant with its merchant and whether it ships, in file order."""
    variants = []
    for path in sorted(SEEDS.glob("*.json")):
        document = json.loads(path.read_text(encoding="utf-8"))
        for product in document["products"]:
            for variant in product["variants"]:
                variants.append(
                    {
                        **variant,
                        "merchant_id": document["merchant"]["id"],
                        "digital": bool(product.get("digital")),
                    }
                )
    return variants


@pytest.fixture(scope="module")
def in_stock(sqlite_template: Path) -> str:
    """A physical variant with plenty of stock (several tests buy one), by its catalog id."""
    return pick(min_stock=5)


@pytest.fixture(scope="module")
def sold_out(sqlite_template: Path) -> str:
    return pick(stock=0)


@cache
def _examples(filename: str) -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads((EXAMPLES_DIR / filename).read_text(encoding="utf-8"))
    return loaded


def example(key: str, filename: str = "examples.agentic_checkout.json") -> Any:
    """A deep copy, so tests can edit it."""
    return copy.deepcopy(_examples(filename)[key])


def _replace(value: Any, mapping: dict[str, str]) -> Any:
    if isinstance(value, dict):
        return {k: _replace(v, mapping) for k, v in value.items()}
    if isinstance(value, list):
        return [_replace(v, mapping) for v in value]
    if isinstance(value, str):
        return mapping.get(value, value)
    return value


def with_ids(request: dict[str, Any], mapping: dict[str, str]) -> dict[str, Any]:
    """The example request with its example ids (exact string values) replaced."""
    replaced: dict[str, Any] = _replace(request, mapping)
    return replaced


def with_token(request: dict[str, Any], token: str) -> dict[str, Any]:
    body = copy.deepcopy(request)
    body["payment_data"]["instrument"]["credential"]["token"] = token
    return body


def amounts(session: dict[str, Any]) -> dict[str, int]:
    return {t["type"]: t["amount"] for t in session["totals"]}


def assert_totals(session: dict[str, Any]) -> None:
    """Totals are present, integer minor units, and add up (session and every line)."""
    __tracebackhide__ = True
    for owner in [session, *session["line_items"]]:
        assert owner["totals"], f"no totals on {owner.get('id')}"
        for entry in owner["totals"]:
            assert type(entry["amount"]) is int, f"non-integer amount {entry}"
            assert entry["amount"] >= 0, entry
        line = amounts(owner)
        assert line["total"] == line["subtotal"] + line.get("fulfillment", 0) + line[
            "tax"
        ] - line.get("discount", 0), owner["totals"]
    totals = amounts(session)
    assert totals["subtotal"] == sum(amounts(li)["subtotal"] for li in session["line_items"])
    selected = {s["option_id"] for s in session.get("selected_fulfillment_options", [])}
    chosen = sum(
        o["totals"][-1]["amount"] for o in session["fulfillment_options"] if o["id"] in selected
    )
    assert totals.get("fulfillment", 0) == chosen, (totals, selected)


def message_codes(session: dict[str, Any]) -> list[str]:
    return [m.get("code", "") for m in session["messages"]]


def express_option(session: dict[str, Any]) -> dict[str, Any]:
    shipping = [o for o in session["fulfillment_options"] if o["type"] == "shipping"]
    express = [o for o in shipping if "express" in f"{o['id']} {o['title']}".lower()]
    assert express, f"no express shipping option in {[o['id'] for o in shipping]}"
    return express[0]


def standard_option(session: dict[str, Any]) -> dict[str, Any]:
    shipping = [o for o in session["fulfillment_options"] if o["type"] == "shipping"]
    return min(shipping, key=lambda o: o["totals"][-1]["amount"])


def create_from_example(
    agent: Agent,
    variant: str,
    key: str = "create_checkout_session_request",
) -> tuple[Any, dict[str, Any]]:
    request = with_ids(example(key), {"item_123": variant})
    return agent.post("/checkout_sessions", request), request


def ready_example_session(agent: Agent, variant: str) -> dict[str, Any]:
    created, _ = create_from_example(agent, variant)
    assert created.status_code == 201, created.text
    assert_valid(created.json(), "CheckoutSession")
    session: dict[str, Any] = created.json()
    assert session["status"] == "ready_for_payment", session["messages"]
    return session


def delegated_token(agent: Agent, session: dict[str, Any], number: str) -> str:
    response = agent.delegate(session, number=number)
    assert response.status_code == 201, response.text
    assert_valid(response.json(), "DelegatePaymentResponse", DELEGATE_PAYMENT)
    token: str = response.json()["id"]
    return token


# --------------------------------------------------------------------------------------------
# The loader itself
# --------------------------------------------------------------------------------------------


def _refs(node: Any) -> Iterator[str]:
    if isinstance(node, dict):
        if isinstance(node.get("$ref"), str):
            yield node["$ref"]
        for value in node.values():
            yield from _refs(value)
    elif isinstance(node, list):
        for value in node:
            yield from _refs(value)


@pytest.mark.parametrize(
    ("version", "filename"),
    [(v, p.name) for v in VERSIONS for p in sorted(schema_dir(v).glob("*.json"))],
)
def test_every_ref_in_every_bundle_resolves(version: str, filename: str) -> None:
    """Including the cross-file ones (cart/discount -> schema.agentic_checkout.json)."""
    base = bundle_uri(filename, version)
    resolver = registry(version).resolver(base_uri=base)
    refs = sorted(set(_refs(bundles(version)[filename])))
    assert refs, f"{filename} has no $ref at all?"
    for ref in refs:
        resolved = resolver.lookup(ref)
        assert isinstance(resolved.contents, dict | bool), (ref, urljoin(base, ref))


@pytest.mark.parametrize(
    ("key", "name", "examples_file", "schema_file"),
    [
        (
            "create_checkout_session_response",
            "CheckoutSession",
            "examples.agentic_checkout.json",
            CHECKOUT,
        ),
        (
            "update_checkout_session_response",
            "CheckoutSession",
            "examples.agentic_checkout.json",
            CHECKOUT,
        ),
        (
            "checkout_session_authentication_required",
            "CheckoutSession",
            "examples.agentic_checkout.json",
            CHECKOUT,
        ),
        (
            "complete_checkout_session_response",
            "CheckoutSessionWithOrder",
            "examples.agentic_checkout.json",
            CHECKOUT,
        ),
        ("error_400_invalid_item", "Error", "examples.agentic_checkout.json", CHECKOUT),
        (
            "discovery_response_full",
            "DiscoveryResponse",
            "examples.agentic_checkout.json",
            CHECKOUT,
        ),
        (
            "delegate_payment_success_response",
            "DelegatePaymentResponse",
            "examples.delegate_payment.json",
            DELEGATE_PAYMENT,
        ),
        (
            "delegate_payment_error_invalid_card",
            "Error",
            "examples.delegate_payment.json",
            DELEGATE_PAYMENT,
        ),
    ],
)
def test_the_validator_accepts_the_spec_examples(
    key: str, name: str, examples_file: str, schema_file: str
) -> None:
    assert_valid(example(key, examples_file), name, schema_file)


def test_the_validator_is_not_vacuous() -> None:
    session = example("create_checkout_session_response")
    del session["totals"]
    assert schema_errors(session, CHECKOUT, "CheckoutSession")
    session = example("create_checkout_session_response")
    session["created_at"] = "yesterday"  # format assertions are on
    assert schema_errors(session, CHECKOUT, "CheckoutSession")
    session = example("complete_checkout_session_response")
    del session["order"]
    assert schema_errors(session, CHECKOUT, "CheckoutSessionWithOrder")
    assert schema_errors(
        {"type": "invalid_request", "code": "nope", "message": "x"}, DELEGATE_PAYMENT, "Error"
    )  # its code is a closed enum


# --------------------------------------------------------------------------------------------
# Replayed flows
# --------------------------------------------------------------------------------------------


def test_create_update_get_complete_and_order(agent: Agent, in_stock: str) -> None:
    created, request = create_from_example(agent, in_stock)
    assert request["order_notes"], "the example create carries order_notes (JS-only field)"
    assert created.status_code == 201, created.text
    session = created.json()
    assert_valid(session, "CheckoutSession")
    assert session["status"] == "ready_for_payment", session["messages"]
    assert session["currency"] == "usd"
    assert [li["item"]["id"] for li in session["line_items"]] == [in_stock]
    assert session["line_items"][0]["quantity"] == 1
    assert_totals(session)
    default = standard_option(session)
    assert [s["option_id"] for s in session["selected_fulfillment_options"]] == [default["id"]]
    # Write-only request fields are never echoed.
    assert "interventions" in session["capabilities"]
    assert "display_context" not in session["capabilities"]["interventions"]
    assert "3ds" in session["capabilities"]["interventions"]["supported"]
    assert "address_verification" not in session["capabilities"]["interventions"]["supported"]

    express = express_option(session)
    assert express["id"] != default["id"]
    update = with_ids(
        example("update_checkout_session_request"),
        {"fulfillment_option_456": express["id"], "item_123": in_stock},
    )
    updated = agent.update(session["id"], **update)
    assert updated.status_code == 200, updated.text
    after = updated.json()
    assert_valid(after, "CheckoutSession")
    assert after["id"] == session["id"]
    assert after["status"] == "ready_for_payment", after["messages"]
    assert [s["option_id"] for s in after["selected_fulfillment_options"]] == [express["id"]]
    assert_totals(after)
    assert amounts(after)["fulfillment"] == express["totals"][-1]["amount"]
    assert amounts(after)["total"] > amounts(session)["total"]

    got = agent.get(session["id"])
    assert got.status_code == 200, got.text
    assert_valid(got.json(), "CheckoutSession")
    for field in ("status", "totals", "selected_fulfillment_options", "line_items", "currency"):
        assert got.json()[field] == after[field], field

    token = delegated_token(agent, after, "4242424242424242")
    complete = with_token(example("complete_checkout_session_request"), token)
    completed = agent.post(f"/checkout_sessions/{session['id']}/complete", complete)
    assert completed.status_code == 200, completed.text
    done = completed.json()
    assert_valid(done, "CheckoutSessionWithOrder")
    assert done["status"] == "completed"
    assert done["order"]["id"]
    assert done["order"]["checkout_session_id"] == session["id"]
    assert done["order"]["permalink_url"].startswith("http")
    assert done["buyer"]["email"] == complete["buyer"]["email"]
    assert amounts(done) == amounts(after)
    assert "marketing_consents" not in done

    again = agent.get(session["id"])
    assert again.status_code == 200, again.text
    assert_valid(again.json(), "CheckoutSession")
    assert again.json()["status"] == "completed"

    order = agent.client.get(f"/orders/{done['order']['id']}", headers=agent.headers())
    assert order.status_code == 200, order.text
    assert_valid(order.json(), "Order")
    body = order.json()
    assert body["id"] == done["order"]["id"]
    assert body["checkout_session_id"] == session["id"]
    assert amounts(body)["total"] == amounts(after)["total"]
    assert all(type(t["amount"]) is int for t in body["totals"])
    assert [li["quantity"]["ordered"] for li in body["line_items"]] == [1]


@pytest.mark.parametrize(
    "key", ["cancel_checkout_session_request", "cancel_checkout_session_request_timing_deferred"]
)
def test_cancel(agent: Agent, in_stock: str, key: str) -> None:
    session = ready_example_session(agent, in_stock)
    canceled = agent.cancel(session["id"], example(key))
    assert canceled.status_code == 200, canceled.text
    assert_valid(canceled.json(), "CheckoutSession")
    assert canceled.json()["status"] == "canceled"
    assert "intent_trace" not in canceled.json()
    assert_totals(canceled.json())

    got = agent.get(session["id"])
    assert got.status_code == 200, got.text
    assert_valid(got.json(), "CheckoutSession")
    assert got.json()["status"] == "canceled"

    twice = agent.cancel(session["id"], example(key))
    assert twice.status_code == 405, twice.text
    assert_valid(twice.json(), "Error")


def test_invalid_item(agent: Agent) -> None:
    expected = example("error_400_invalid_item")
    response, _ = create_from_example(agent, "invalid_item")
    assert response.status_code == 400, response.text
    assert_valid(response.json(), "Error")
    assert response.json()["type"] == expected["type"] == "invalid_request"
    assert response.json()["code"] == expected["code"] == "invalid_item_id"
    assert response.json()["param"].startswith("$.line_items[0]")


def test_idempotency_errors(agent: Agent, in_stock: str) -> None:
    request = with_ids(example("create_checkout_session_request"), {"item_123": in_stock})
    missing = agent.client.post("/checkout_sessions", json=request, headers=agent.headers())
    assert missing.status_code == 400, missing.text
    assert_valid(missing.json(), "Error")
    assert missing.json()["code"] == example("error_400_idempotency_key_required")["code"]

    key = str(uuid.uuid4())
    first = agent.post("/checkout_sessions", request, key=key)
    assert first.status_code == 201, first.text
    replay = agent.post("/checkout_sessions", request, key=key)
    assert replay.status_code == 201, replay.text
    assert_valid(replay.json(), "CheckoutSession")
    assert replay.json()["id"] == first.json()["id"]

    conflict = agent.post("/checkout_sessions", {**request, "order_notes": "different"}, key=key)
    assert conflict.status_code == 422, conflict.text
    assert_valid(conflict.json(), "Error")
    assert conflict.json()["code"] == example("error_422_idempotency_conflict")["code"]


def test_unknown_session_and_api_version_errors(agent: Agent, in_stock: str) -> None:
    for response in (
        agent.get("cs_does_not_exist"),
        agent.update("cs_does_not_exist", order_notes="x"),
        agent.complete("cs_does_not_exist", "vt_nope"),
        agent.cancel("cs_does_not_exist"),
    ):
        assert response.status_code == 404, response.text
        assert_valid(response.json(), "Error")
        assert response.json()["type"] == "invalid_request"

    request = with_ids(example("create_checkout_session_request"), {"item_123": in_stock})
    headers = {**agent.headers(str(uuid.uuid4())), "API-Version": "1999-01-01"}
    unsupported = agent.client.post("/checkout_sessions", json=request, headers=headers)
    assert unsupported.status_code == 400, unsupported.text
    assert_valid(unsupported.json(), "Error")
    assert "2026-04-17" in unsupported.json()["supported_versions"]


def test_three_d_secure(agent: Agent, in_stock: str) -> None:
    session = ready_example_session(agent, in_stock)
    token = delegated_token(agent, session, THREE_DS)
    plain = with_token(example("complete_checkout_session_request"), token)
    path = f"/checkout_sessions/{session['id']}/complete"

    challenged = agent.post(path, plain)
    assert challenged.status_code == 400, challenged.text
    assert_valid(challenged.json(), "Error")
    expected = example("error_400_requires_3ds")
    for field in ("type", "code", "param"):
        assert challenged.json()[field] == expected[field], field

    got = agent.get(session["id"])
    assert got.status_code == 200, got.text
    assert_valid(got.json(), "CheckoutSession")
    state = got.json()
    assert state["status"] == "authentication_required"
    assert state["authentication_metadata"]["directory_server"] == "visa"
    assert_valid(state["authentication_metadata"], "AuthenticationMetadata")

    # Completing again without authentication_result: the spec's error_400_requires_3ds.
    still = agent.post(path, plain)
    assert still.status_code == 400, still.text
    assert_valid(still.json(), "Error")
    assert still.json()["code"] == "requires_3ds"

    authenticated = with_token(
        example("complete_session_with_authentication_result_request"), token
    )
    completed = agent.post(path, authenticated)
    assert completed.status_code == 200, completed.text
    assert_valid(completed.json(), "CheckoutSessionWithOrder")
    assert completed.json()["status"] == "completed"
    assert completed.json()["order"]["id"]
    assert "authentication_metadata" not in completed.json()
    assert_totals(completed.json())


def test_out_of_stock_create(agent: Agent, sold_out: str) -> None:
    created, _ = create_from_example(agent, sold_out)
    assert created.status_code == 201, created.text
    session = created.json()
    assert_valid(session, "CheckoutSession")
    assert session["status"] == "not_ready_for_payment"
    assert "out_of_stock" in message_codes(session)
    message = next(m for m in session["messages"] if m.get("code") == "out_of_stock")
    assert message["type"] == "error"
    assert message["param"].startswith("$.line_items[0]")
    assert session["line_items"][0]["availability_status"] == "out_of_stock"
    assert_totals(session)


def test_declined_card(agent: Agent, in_stock: str) -> None:
    session = ready_example_session(agent, in_stock)
    token = delegated_token(agent, session, DECLINED)
    path = f"/checkout_sessions/{session['id']}/complete"
    declined = agent.post(path, with_token(example("complete_checkout_session_request"), token))
    assert 400 <= declined.status_code < 500, declined.text
    assert_valid(declined.json(), "Error")
    assert declined.json()["code"] == "payment_declined"

    got = agent.get(session["id"])
    assert got.status_code == 200, got.text
    assert_valid(got.json(), "CheckoutSession")
    assert "payment_declined" in message_codes(got.json())
    assert_totals(got.json())
    # EX checkout_session_with_payment_declined: the session stays payable, so the buyer can
    # retry with another card.
    assert got.json()["status"] == example("checkout_session_with_payment_declined")["status"]
    retry = agent.post(
        path,
        with_token(
            example("complete_checkout_session_request"),
            delegated_token(agent, got.json(), "4242424242424242"),
        ),
    )
    assert retry.status_code == 200, retry.text
    assert_valid(retry.json(), "CheckoutSessionWithOrder")
    assert retry.json()["status"] == "completed"
    assert "payment_declined" not in message_codes(retry.json())


def test_delegate_payment(agent: Agent, in_stock: str) -> None:
    session = ready_example_session(agent, in_stock)
    response = agent.delegate(session)
    assert response.status_code == 201, response.text
    assert_valid(response.json(), "DelegatePaymentResponse", DELEGATE_PAYMENT)
    assert response.json()["id"].startswith("vt_")
    assert response.json()["metadata"]["source"] == "tests"

    invalid = agent.delegate(session, number="4242424242424241")  # fails the Luhn check
    assert invalid.status_code == 400, invalid.text
    assert_valid(invalid.json(), "Error", DELEGATE_PAYMENT)
    assert (
        invalid.json()["code"]
        == example("delegate_payment_error_invalid_card", "examples.delegate_payment.json")["code"]
    )


def test_discovery(agent: Agent) -> None:
    response = agent.client.get("/.well-known/acp.json")
    assert response.status_code == 200, response.text
    assert_valid(response.json(), "DiscoveryResponse")
    body = response.json()
    assert body["protocol"]["name"] == "acp"
    assert body["protocol"]["version"] == "2026-04-17"
    assert "2026-04-17" in body["protocol"]["supported_versions"]
    assert "checkout" in body["capabilities"]["services"]
    assert "public" in response.headers["cache-control"]


def test_ready_session_helper_matches_the_example_shape(agent: Agent, in_stock: str) -> None:
    """support.Agent's own create (not an example body) yields the same valid shape."""
    session = agent.ready_session(in_stock)
    assert_valid(session, "CheckoutSession")
    assert session["fulfillment_details"] == fulfillment()

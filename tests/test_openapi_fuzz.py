"""Schemathesis against the service's own OpenAPI document (`app.openapi()`).

For every operation, Hypothesis-generated requests (schema-valid and schema-violating ones) are sent
with real credentials, and each response must pass these schemathesis checks:

- `not_a_server_error`: no 5xx, whatever the input;
- `response_schema_conformance`: the body matches the schema documented for that status;
- `content_type_conformance`: the Content-Type is the documented one;
- `response_headers_conformance`: documented required headers are present (a 409 needs Retry-After);
- `status_code_conformance`: the status is one the operation documents (the ACP routes document
  400/401/404/409/422/500, plus 402 on complete and 405 on cancel; the catalog and order routes
  400/401/404). `test_error_statuses_are_documented` checks the latter directly.

Integers beyond 64 bits are fuzzed too: `test_integers_beyond_64_bits_are_not_a_server_error`
pins that echoing one is not a 5xx.

It runs on SQLite and, with TEST_POSTGRES_URL, on PostgreSQL (`tests/test_bad_input.py` adds a
hand-written list of hostile values in every slot of every route).

Deterministic and fast: `derandomize=True` (a fixed seed per test), no example database, a fixed
number of examples per operation and generation mode.
"""

from __future__ import annotations

import itertools
import json
import tempfile
from collections.abc import Callable, Iterator
from typing import Any

import pytest
import schemathesis
from fastapi import FastAPI
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from schemathesis import GenerationMode
from schemathesis.checks import (
    content_type_conformance,
    not_a_server_error,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)
from schemathesis.python.asgi import get_client

from checkout.app import create_app
from tests.conftest import SEEDS, _reset_postgres, make_settings
from tests.support import (
    AGENT_KEY,
    API_VERSION,
    OPERATOR_KEY,
    Agent,
    both_backends,
    catalog_id_for,
    fulfillment,
)
from tests.test_acp_schemas import CHECKOUT, DELEGATE_PAYMENT, schema_errors

MAX_EXAMPLES = 30  # per operation and generation mode
CHECKS = [
    not_a_server_error,
    response_schema_conformance,
    content_type_conformance,
    response_headers_conformance,
    status_code_conformance,
]
OPERATOR_OPERATIONS = {"shipOrder"}
BASE_URL = "http://testserver"


def _operations() -> list[tuple[str, bool]]:
    """(operationId, whether it has a body or query string that can be made schema-invalid)."""
    # Collected from the app itself, so a new route is fuzzed without touching this file. Building
    # the app connects to nothing (the database is touched in its lifespan, which does not run).
    with tempfile.TemporaryDirectory() as directory:
        document = create_app(make_settings(f"sqlite:///{directory}/unused.db")).openapi()
    found = []
    for path in document["paths"].values():
        for op in path.values():
            query = any(p["in"] == "query" for p in op.get("parameters", []))
            found.append((op["operationId"], "requestBody" in op or query))
    return sorted(found)


# Negative mode needs something to break: path parameters and headers are plain strings here
# (and the headers are replaced by real credentials), so operations without a body or a query
# string have no schema-invalid input and are fuzzed in positive mode only.
CASES = [pytest.param(op, GenerationMode.POSITIVE, id=f"{op}-positive") for op, _ in _operations()]
CASES += [
    pytest.param(op, GenerationMode.NEGATIVE, id=f"{op}-negative")
    for op, negatable in _operations()
    if negatable
]


def _in_stock_variants() -> list[str]:
    variants = []
    for path in sorted(SEEDS.glob("*.json")):
        for product in json.loads(path.read_text(encoding="utf-8"))["products"]:
            if product.get("digital"):
                continue
            variants += [catalog_id_for(v) for v in product["variants"] if int(v["inventory"]) >= 5]
    assert variants, f"no physical seeded variant with inventory >= 5 in {SEEDS}"
    return variants


class Harness:
    """The running app, an agent for setting up real resources, and how to call one operation."""

    def __init__(self, app: FastAPI, client: TestClient) -> None:
        self.app = app
        self.agent = Agent(client)
        self.variants = _in_stock_variants()
        self.keys = itertools.count()
        self.orders: list[str] = []
        self.version = API_VERSION  # the API-Version the fuzzed requests speak
        # Requests go through schemathesis' in-process ASGI client. It is never entered as a
        # context manager, so it does not start a second lifespan: the TestClient around the run
        # owns the one lifespan (migrate, seed, register the agent key) and shuts it down.
        self.http = get_client(app)

    def headers(self, operation_id: str) -> dict[str, str]:
        key = OPERATOR_KEY if operation_id in OPERATOR_OPERATIONS else AGENT_KEY
        # A fresh Idempotency-Key per request: a shared one would turn every POST after the first
        # into a 422 idempotency_conflict and fuzz nothing else.
        return {
            "Authorization": f"Bearer {key}",
            "API-Version": self.version,
            "Idempotency-Key": f"fuzz-{next(self.keys)}",
        }

    def session_id(self) -> str:
        created = self.agent.create(self.variants[0], fulfillment_details=fulfillment())
        assert created.status_code == 201, created.text
        return str(created.json()["id"])

    def order_id(self) -> str:
        # A few real orders, reused: buying one per case would sell the seeded stock out.
        if len(self.orders) < 5:
            completed = self.agent.buy(self.variants[1 + len(self.orders)])
            assert completed.status_code == 200, completed.text
            self.orders.append(str(completed.json()["order"]["id"]))
            return self.orders[-1]
        return self.orders[next(self.keys) % len(self.orders)]

    def aim_at_real_resources(self, case: schemathesis.Case) -> None:
        """Point the case at a real session or order and real items, so success paths get fuzzed too."""
        path = case.path_parameters or {}
        if "checkout_session_id" in path:
            path["checkout_session_id"] = self.session_id()
        if "order_id" in path:
            path["order_id"] = self.order_id()
        body = case.body
        if isinstance(body, dict) and isinstance(body.get("line_items"), list):
            for index, item in enumerate(body["line_items"]):
                if isinstance(item, dict):
                    item["id"] = self.variants[index % len(self.variants)]
            if isinstance(body.get("currency"), str):
                body["currency"] = "usd"

    def call(self, case: schemathesis.Case, checks: list[Callable[..., Any]]) -> None:
        # An unhandled exception in the app surfaces here as that exception (Starlette re-raises
        # after sending its 500), so it fails the test like a `not_a_server_error` finding.
        case.call_and_validate(
            base_url=BASE_URL,
            session=self.http,
            headers=self.headers(case.operation.definition.raw["operationId"]),
            checks=checks,
        )


@pytest.fixture(scope="module")
def postgres_harness(postgres_database: str, sqlite_template: Any) -> Iterator[Harness]:
    """On PostgreSQL one app serves every case of the module: resetting the database and
    onboarding the shops again for each would cost more than the fuzzing itself. (The SQLite
    template is what maps seed SKUs to catalog ids.)"""
    _reset_postgres(postgres_database)
    app = create_app(make_settings(postgres_database))
    with TestClient(app, raise_server_exceptions=False) as client:
        yield Harness(app, client)


@pytest.fixture
def harness(backend: str, request: pytest.FixtureRequest) -> Iterator[Harness]:
    if backend == "postgres":
        yield request.getfixturevalue("postgres_harness")
        return
    app = create_app(make_settings(request.getfixturevalue("database_url")))
    with TestClient(app, raise_server_exceptions=False) as client:
        yield Harness(app, client)


def operation(harness: Harness, operation_id: str) -> schemathesis.APIOperation:
    schema = schemathesis.openapi.from_dict(harness.app.openapi())
    found = [
        result.ok()
        for result in schema.get_all_operations()
        if result.ok().definition.raw.get("operationId") == operation_id
    ]
    assert len(found) == 1, operation_id
    return found[0]


def fuzz(
    harness: Harness,
    op: schemathesis.APIOperation,
    mode: GenerationMode,
    checks: list[Callable[..., Any]],
) -> None:
    @settings(
        max_examples=MAX_EXAMPLES,
        derandomize=True,
        database=None,
        deadline=None,
        phases=[Phase.explicit, Phase.generate, Phase.shrink],
        suppress_health_check=[
            HealthCheck.too_slow,
            HealthCheck.filter_too_much,
            HealthCheck.data_too_large,
            HealthCheck.large_base_example,
        ],
    )
    @given(case=op.as_strategy(generation_mode=mode), real=st.booleans())
    def run(case: schemathesis.Case, real: bool) -> None:
        if real:
            harness.aim_at_real_resources(case)
        harness.call(case, checks)

    run()


@pytest.mark.slow
@both_backends
@pytest.mark.parametrize(("operation_id", "mode"), CASES)
def test_fuzz_operation(harness: Harness, operation_id: str, mode: GenerationMode) -> None:
    fuzz(harness, operation(harness, operation_id), mode, CHECKS)


# ACP 2026-01-30: the same operations answered in the older dialect. The service's own document
# describes the 2026-04-17 shapes (a 01-30 body is a subset of them), so each response is also
# checked against the 2026-01-30 JSON Schema of its operation and status.
OLD_VERSION = "2026-01-30"
OLD_SHAPES = {
    "createCheckoutSession": (CHECKOUT, "CheckoutSession"),
    "updateCheckoutSession": (CHECKOUT, "CheckoutSession"),
    "getCheckoutSession": (CHECKOUT, "CheckoutSession"),
    "completeCheckoutSession": (CHECKOUT, "CheckoutSessionWithOrder"),
    "cancelCheckoutSession": (CHECKOUT, "CheckoutSession"),
    "delegatePayment": (DELEGATE_PAYMENT, "DelegatePaymentResponse"),
}


def conforms_to_2026_01_30(ctx: Any, response: Any, case: schemathesis.Case) -> bool | None:
    filename, success = OLD_SHAPES[case.operation.definition.raw["operationId"]]
    name = success if response.status_code < 300 else "Error"
    errors = schema_errors(response.json(), filename, name, OLD_VERSION)
    assert not errors, f"not a 2026-01-30 {name}: {errors[:3]}"
    return None


OLD_CASES = [
    pytest.param(op, mode, id=f"{op}-{mode.value}")
    for op, negatable in _operations()
    if op in OLD_SHAPES
    for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE)
    if negatable or mode is GenerationMode.POSITIVE
]


@pytest.mark.slow
@pytest.mark.parametrize(("operation_id", "mode"), OLD_CASES)
def test_fuzz_acp_2026_01_30_operation(
    harness: Harness, operation_id: str, mode: GenerationMode
) -> None:
    harness.version = OLD_VERSION
    fuzz(harness, operation(harness, operation_id), mode, [*CHECKS, conforms_to_2026_01_30])


def documented_statuses(app: FastAPI, method: str, path: str) -> set[str]:
    return set(app.openapi()["paths"][path][method.lower()]["responses"])


@pytest.mark.parametrize(
    ("method", "path", "url", "key", "body"),
    [
        pytest.param(
            "GET", "/orders/{order_id}", "/orders/ord_missing", AGENT_KEY, None, id="getOrder-404"
        ),
        pytest.param(
            "GET",
            "/catalog/products",
            "/catalog/products?limit=0",
            AGENT_KEY,
            None,
            id="listCatalogProducts-400",
        ),
        pytest.param(
            "POST",
            "/orders/{order_id}/fulfillments",
            "/orders/ord_missing/fulfillments",
            OPERATOR_KEY,
            {"carrier": "UPS", "tracking_number": "1Z999"},
            id="shipOrder-404",
        ),
    ],
)
def test_error_statuses_are_documented(
    harness: Harness, method: str, path: str, url: str, key: str, body: Any
) -> None:
    response = harness.agent.client.request(
        method,
        url,
        json=body,
        headers={
            "Authorization": f"Bearer {key}",
            "API-Version": API_VERSION,
            "Idempotency-Key": "documented-statuses",
        },
    )
    assert 400 <= response.status_code < 500, response.text[:300]
    assert set(response.json()) >= {"type", "code", "message"}
    assert str(response.status_code) in documented_statuses(harness.app, method, path)


@pytest.mark.parametrize("request_kind", ["create-metadata", "update-buyer-loyalty"])
def test_integers_beyond_64_bits_are_not_a_server_error(
    harness: Harness, request_kind: str
) -> None:
    huge = 2**64
    agent = harness.agent
    if request_kind == "create-metadata":
        response = agent.create(harness.variants[0], metadata={"n": huge})
    else:
        response = agent.update(
            harness.session_id(), buyer={"email": "ada@example.com", "loyalty": {"points": huge}}
        )
    assert response.status_code < 500, response.text
    if response.status_code < 300:
        echoed = response.json()
        assert huge in (
            echoed.get("metadata", {}).get("n"),
            echoed.get("buyer", {}).get("loyalty", {}).get("points"),
        )
    else:
        assert response.json()["type"] == "invalid_request"

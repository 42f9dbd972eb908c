"""Sizes and shapes have limits: bodies, metadata, free text, JSON depth, ids and headers."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import create_engine, text

from checkout.app import create_app
from checkout.payments.stripe_webhooks import sign_stripe_payload
from checkout.settings import Settings
from tests.conftest import make_settings
from tests.support import CLAY, OPERATOR_KEY, Agent, pick

OPERATOR = {"Authorization": f"Bearer {OPERATOR_KEY}"}
ACP_ERROR_FIELDS = {"type", "code", "message"}
WEBHOOK_SECRET = "whsec_limits_test_0123456789"


def sessions_stored(settings: Settings) -> int:
    engine = create_engine(settings.database_url)
    with engine.connect() as connection:
        value = connection.execute(text("SELECT count(*) FROM checkout_sessions")).scalar_one()
    engine.dispose()
    return int(value)


def refused(response: object, status: int, code: str) -> None:
    assert response.status_code == status, response.text  # type: ignore[attr-defined]
    body = response.json()  # type: ignore[attr-defined]
    assert set(body) >= ACP_ERROR_FIELDS and body["code"] == code, body


def deep(levels: int) -> str:
    return "[" * levels + "]" * levels


def test_a_ten_megabyte_metadata_is_refused_before_anything_is_stored(
    agent: Agent, settings: Settings
) -> None:
    before = sessions_stored(settings)
    response = agent.create(pick(), metadata={"blob": "x" * 10_000_000})
    refused(response, 413, "request_too_large")
    assert sessions_stored(settings) == before


def test_a_body_sent_in_chunks_without_a_length_is_cut_off_at_the_limit(agent: Agent) -> None:
    def chunks() -> Iterator[bytes]:
        yield b'{"line_items": [], "metadata": {"blob": "'
        for _ in range(40):
            yield b"x" * 65_536
        yield b'"}}'

    response = agent.client.post(
        "/checkout_sessions", content=chunks(), headers=agent.headers("chunked")
    )
    refused(response, 413, "request_too_large")


@pytest.mark.parametrize(
    "metadata",
    [
        {f"k{i}": "v" for i in range(51)},
        {"k" * 41: "v"},
        {"note": "v" * 501},
    ],
    ids=["51 keys", "a 41-character key", "a 501-character value"],
)
def test_metadata_beyond_stripes_limits_is_a_400_on_metadata(
    agent: Agent, metadata: dict[str, str]
) -> None:
    response = agent.create(pick(), metadata=metadata)
    refused(response, 400, "invalid")
    assert response.json()["param"] == "$.metadata"


def test_metadata_within_the_limits_is_kept_and_echoed(agent: Agent) -> None:
    metadata = {f"k{i}": "v" * 500 for i in range(50)}
    response = agent.create(pick(), metadata=metadata)
    assert response.status_code == 201, response.text


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("quote_id", "q" * 10_000),
        ("coupons", ["c"] * 51),
        ("affiliate_attribution", {"campaign": "a" * 20_000}),
        ("order_notes", "n" * 5_001),
    ],
)
def test_free_text_and_free_form_fields_have_limits(
    agent: Agent, field: str, value: object
) -> None:
    response = agent.create(pick(), **{field: value})
    refused(response, 400, "invalid")
    assert response.json()["param"].startswith(f"$.{field}")


def test_deep_json_in_a_checkout_request_is_a_400(agent: Agent) -> None:
    body = f'{{"line_items": [{{"id": "{pick()}"}}], "currency": "usd", "capabilities": {{}}, '
    body += f'"metadata": {{"x": {deep(5000)}}}}}'
    response = agent.client.post(
        "/checkout_sessions",
        content=body,
        headers={**agent.headers("deep"), "Content-Type": "application/json"},
    )
    refused(response, 400, "json_too_deep")


def test_deep_json_on_the_feed_upload_is_a_400(agent: Agent) -> None:
    response = agent.client.post(
        f"/merchants/{CLAY}/feed", content=deep(100_000).encode(), headers=OPERATOR
    )
    refused(response, 400, "json_too_deep")


def test_deep_json_in_a_validly_signed_stripe_event_is_a_400(database_url: str) -> None:
    settings = make_settings(database_url, stripe_webhook_secret=WEBHOOK_SECRET, load_seeds=False)
    payload = '{"id": "evt_deep", "type": "charge.refunded", "data": ' + deep(100_000) + "}"
    signature = sign_stripe_payload(payload.encode(), WEBHOOK_SECRET, int(time.time()))
    with TestClient(create_app(settings), raise_server_exceptions=False) as client:
        response = client.post(
            "/webhooks/stripe",
            content=payload,
            headers={"Stripe-Signature": signature, "Content-Type": "application/json"},
        )
    refused(response, 400, "json_too_deep")


def test_brackets_inside_strings_do_not_count_as_nesting(agent: Agent) -> None:
    response = agent.create(pick(), metadata={"shape": "[[[[[[[[[[" * 40 + '\\"{{{{' * 10})
    assert response.status_code == 201, response.text


@pytest.mark.parametrize(
    "path",
    [
        "/checkout_sessions/" + "c" * 300,
        "/checkout_sessions/" + "c" * 250 + "/complete",
        "/orders/" + "o" * 1_000,
    ],
)
def test_an_id_longer_than_the_limit_is_a_400_not_a_500(agent: Agent, path: str) -> None:
    if path.endswith("/complete"):
        response = agent.client.post(path, json={}, headers=agent.headers("long-id"))
    else:
        response = agent.client.get(path, headers=agent.headers())
    refused(response, 400, "id_too_long")


def test_an_oversized_header_is_a_400(agent: Agent) -> None:
    response = agent.client.get(
        "/catalog/products", headers={**agent.headers(), "X-Filler": "f" * 9_000}
    )
    refused(response, 400, "header_too_large")


def test_an_oversized_query_string_is_a_400(agent: Agent) -> None:
    response = agent.client.get(f"/catalog/products?q={'mug' * 4_000}", headers=agent.headers())
    refused(response, 400, "query_too_long")


def test_the_limits_come_from_the_settings(database_url: str) -> None:
    settings = make_settings(database_url, max_body_bytes=2_048, load_seeds=False)
    with TestClient(create_app(settings), raise_server_exceptions=False) as client:
        agent = Agent(client)
        body = json.dumps({"metadata": {"x": "y" * 3_000}})
        response = client.post(
            "/checkout_sessions",
            content=body,
            headers={**agent.headers("small"), "Content-Type": "application/json"},
        )
    refused(response, 413, "request_too_large")

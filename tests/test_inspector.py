"""The protocol inspector over HTTP: a conversation's ACP calls, delegated payment and order
webhooks, in order, masked, and only for the bearer of that conversation's token."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient

from marketplace.composition import create_platform_app
from tests.conftest import make_settings
from tests.support import AGENT_KEY

SCRIPT = (
    "a handmade ceramic mug under $40",
    "buy the first one",
    "Ship to Ada Lovelace, 1234 Chat Road, San Francisco, CA 94131, ada@example.com",
    "pay with 4242 4242 4242 4242 exp 12/30 cvc 123",
    "yes, place the order",
)


@pytest.fixture
def platform(database_url: str) -> Iterator[TestClient]:
    settings = make_settings(database_url, background_jobs=True, outbox_poll_seconds=0.05)
    with TestClient(create_platform_app(settings), raise_server_exceptions=False) as client:
        yield client


def conversation(client: TestClient) -> tuple[str, dict[str, str]]:
    created = client.post("/assistant/conversations").json()
    return created["id"], {"Authorization": f"Bearer {created['token']}"}


def inspect(client: TestClient, conversation_id: str, auth: dict[str, str], after: int = 0) -> Any:
    return client.get(
        f"/assistant/conversations/{conversation_id}/inspector",
        params={"after": after},
        headers=auth,
    )


def wait_for_webhook(client: TestClient, conversation_id: str, auth: dict[str, str]) -> Any:
    """The outbox delivers the order webhook in the background: poll until it is shown."""
    for _ in range(400):
        calls = inspect(client, conversation_id, auth).json()["calls"]
        if any(c["kind"] == "webhook" for c in calls):
            return calls
        client.get("/healthz")  # lets the server's loop run the outbox
    raise AssertionError("no order webhook reached the conversation")


def test_a_purchase_is_shown_call_by_call_with_secrets_masked(platform: TestClient) -> None:
    conversation_id, auth = conversation(platform)
    for number, text in enumerate(SCRIPT):
        answer = platform.post(
            f"/assistant/conversations/{conversation_id}/messages",
            json={"text": text},
            headers={**auth, "Idempotency-Key": f"inspect-{number}"},
        )
        assert answer.status_code == 200, answer.text
    calls = wait_for_webhook(platform, conversation_id, auth)
    kinds = [(c["kind"], c["method"], c["path"].split("/")[1]) for c in calls]
    assert kinds[0] == ("acp", "POST", "checkout_sessions")
    assert ("delegate_payment", "POST", "agentic_commerce") in kinds
    delegate = next(c for c in calls if c["kind"] == "delegate_payment")
    complete = next(c for c in calls if c["path"].endswith("/complete"))
    assert calls.index(delegate) < calls.index(complete) < len(calls) - 1
    assert calls[-1]["kind"] == "webhook"
    # Checkout's calls to the merchant's platform at complete, recorded as they finished.
    [placed] = [c for c in calls if c["kind"] == "platform" and c["method"] == "POST"]
    assert placed["path"].startswith("http://sandbox.internal/") and placed["status"] == 201
    assert calls.index(delegate) < calls.index(placed) < calls.index(complete)
    secrets = {
        name: value
        for name, value in placed["request_headers"].items()
        if name in ("authorization", "x-api-key", "x-shopify-access-token")
    }
    assert secrets and all(value.startswith("••••") for value in secrets.values())
    assert [c["seq"] for c in calls] == sorted(c["seq"] for c in calls)
    assert complete["status"] == 200 and complete["idempotency_key"]
    assert complete["response_body"]["order"]["id"]
    assert complete["replayed"] is False

    shown = json.dumps(calls)
    assert AGENT_KEY not in shown and "4242424242424242" not in shown
    assert delegate["request_body"]["payment_method"]["number"] == "••••4242"
    assert delegate["request_headers"]["authorization"].startswith("Bearer ••••")

    later = inspect(platform, conversation_id, auth, after=calls[-2]["seq"]).json()["calls"]
    assert [c["seq"] for c in later] == [calls[-1]["seq"]]


def test_a_retried_message_replays_the_turn_and_makes_no_new_call(platform: TestClient) -> None:
    conversation_id, auth = conversation(platform)
    path = f"/assistant/conversations/{conversation_id}/messages"
    platform.post(path, json={"text": SCRIPT[0]}, headers={**auth, "Idempotency-Key": "m1"})
    for _ in range(2):
        answer = platform.post(
            path, json={"text": SCRIPT[1]}, headers={**auth, "Idempotency-Key": "m2"}
        )
        assert answer.status_code == 200, answer.text
    calls = inspect(platform, conversation_id, auth).json()["calls"]
    creates = [c for c in calls if c["method"] == "POST" and c["path"] == "/checkout_sessions"]
    assert len(creates) == 1 and creates[0]["status"] == 201


def test_another_conversations_token_sees_nothing(platform: TestClient) -> None:
    mine, auth = conversation(platform)
    other, other_auth = conversation(platform)
    platform.post(f"/assistant/conversations/{mine}/messages", json={"text": "a mug"}, headers=auth)
    assert inspect(platform, mine, other_auth).status_code == 404
    assert inspect(platform, mine, {}).status_code == 401
    assert inspect(platform, other, other_auth).json()["calls"] == []

"""The protocol's edges: auth, API-Version, Request-Id, and the one flat error envelope everywhere."""

from __future__ import annotations

from fastapi.testclient import TestClient

from tests.support import API_VERSION, Agent, pick


def assert_envelope(body: dict[str, object], code: str) -> None:
    assert set(body) <= {"type", "code", "message", "param", "supported_versions"}
    assert body["type"] in ("invalid_request", "processing_error", "service_unavailable")
    assert body["code"] == code
    assert isinstance(body["message"], str) and body["message"]


def test_requests_without_a_valid_bearer_key_are_401(client: TestClient) -> None:
    missing = client.get("/checkout_sessions/cs_x", headers={"API-Version": API_VERSION})
    wrong = client.get(
        "/checkout_sessions/cs_x",
        headers={"API-Version": API_VERSION, "Authorization": "Bearer nope-nope"},
    )
    for response in (missing, wrong):
        assert response.status_code == 401
        assert response.headers["www-authenticate"] == "Bearer"
        assert_envelope(response.json(), "unauthorized")


def test_auth_is_checked_before_idempotency_so_no_stored_response_leaks(agent: Agent) -> None:
    created = agent.create(pick(), key="shared-key")
    assert created.status_code == 201
    stranger = Agent(agent.client, key="someone-else-key")
    replay = stranger.create(pick(), key="shared-key")
    assert replay.status_code == 401
    assert "Idempotent-Replayed" not in replay.headers


def test_a_missing_api_version_is_400_with_supported_versions(agent: Agent) -> None:
    response = agent.client.get(
        "/checkout_sessions/cs_x", headers={"Authorization": f"Bearer {agent.key}"}
    )
    assert response.status_code == 400
    assert_envelope(response.json(), "missing_api_version")
    assert response.json()["supported_versions"] == [API_VERSION, "2026-01-30"]


def test_an_unsupported_api_version_is_400(agent: Agent) -> None:
    response = agent.client.get(
        "/checkout_sessions/cs_x",
        headers={"Authorization": f"Bearer {agent.key}", "API-Version": "2025-09-29"},
    )
    assert response.status_code == 400
    assert_envelope(response.json(), "unsupported_api_version")


def test_request_id_is_echoed(agent: Agent) -> None:
    response = agent.client.get(
        "/checkout_sessions/cs_x", headers=agent.headers(**{"Request-Id": "req_42"})
    )
    assert response.headers["request-id"] == "req_42"


def test_a_post_without_an_idempotency_key_is_400(agent: Agent) -> None:
    response = agent.client.post(
        "/checkout_sessions",
        headers=agent.headers(),
        json={"line_items": [{"id": pick()}], "currency": "usd", "capabilities": {}},
    )
    assert response.status_code == 400
    assert_envelope(response.json(), "idempotency_key_required")


def test_unknown_paths_and_methods_use_the_envelope(agent: Agent) -> None:
    not_found = agent.client.get("/nowhere", headers=agent.headers())
    assert not_found.status_code == 404
    assert_envelope(not_found.json(), "not_found")
    wrong_method = agent.client.delete("/checkout_sessions", headers=agent.headers())
    assert wrong_method.status_code == 405
    assert_envelope(wrong_method.json(), "method_not_allowed")


def test_an_unknown_session_is_404(agent: Agent) -> None:
    response = agent.get("cs_missing")
    assert response.status_code == 404
    assert_envelope(response.json(), "checkout_session_not_found")


def test_malformed_json_is_400_not_500(agent: Agent) -> None:
    response = agent.client.post(
        "/checkout_sessions",
        content=b'{"line_items": [',
        headers={**agent.headers("k-bad-json"), "Content-Type": "application/json"},
    )
    assert response.status_code == 400
    assert_envelope(response.json(), "invalid_json")


def test_schema_errors_are_400_with_a_jsonpath_param(agent: Agent) -> None:
    response = agent.post(
        "/checkout_sessions",
        {"line_items": [{"id": pick(), "quantity": 0}], "currency": "usd", "capabilities": {}},
    )
    assert response.status_code == 400
    assert response.json()["param"] == "$.line_items[0].quantity"
    missing = agent.post("/checkout_sessions", {"currency": "usd", "capabilities": {}})
    assert missing.status_code == 400
    assert missing.json()["param"] == "$.line_items"
    assert missing.json()["code"] == "missing"


def test_discovery_is_public_and_cacheable(client: TestClient) -> None:
    response = client.get("/.well-known/acp.json")
    assert response.status_code == 200
    assert response.headers["cache-control"] == "public, max-age=3600"
    body = response.json()
    assert body["protocol"]["version"] == API_VERSION
    assert "checkout" in body["capabilities"]["services"]

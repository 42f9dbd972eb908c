"""Idempotency as ACP §6 defines it: replay, conflict, in-flight, scope, no 5xx caching, retention."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

from fastapi.testclient import TestClient
from sqlalchemy import create_engine, text

from checkout.app import create_app
from checkout.payments.provider import Authorization, AuthorizeRequest, PaymentUnavailable
from checkout.payments.sandbox import SandboxPaymentProvider
from checkout.store.idempotency import KeyScope
from tests.conftest import make_settings
from tests.support import AGENT_KEY, Agent, pick


def count(url: str, table: str) -> int:
    engine = create_engine(url)
    with engine.connect() as connection:
        value = connection.execute(text(f"SELECT count(*) FROM {table}")).scalar_one()
    engine.dispose()
    return int(value)


def test_a_replay_returns_the_original_status_and_body_and_does_nothing_again(
    agent: Agent, settings
) -> None:  # type: ignore[no-untyped-def]
    first = agent.create(pick(), key="create-1")
    again = agent.create(pick(), key="create-1")
    assert first.status_code == again.status_code == 201
    assert again.json() == first.json()
    assert again.headers["idempotent-replayed"] == "true"
    assert "idempotent-replayed" not in first.headers
    assert first.headers["idempotency-key"] == "create-1"
    assert count(settings.database_url, "checkout_sessions") == 1


def test_a_replayed_complete_returns_the_same_order_and_charges_once(
    agent: Agent, settings
) -> None:  # type: ignore[no-untyped-def]
    session = agent.ready_session(pick())
    token = agent.delegate(session).json()["id"]
    first = agent.complete(session["id"], token, key="pay-1")
    again = agent.complete(session["id"], token, key="pay-1")
    assert again.status_code == 200
    assert again.json()["order"]["id"] == first.json()["order"]["id"]
    assert count(settings.database_url, "orders") == 1
    assert count(settings.database_url, "payments") == 1


def test_an_error_is_replayed_as_the_same_error(agent: Agent) -> None:
    first = agent.create("var_nope", key="bad-1")
    again = agent.create("var_nope", key="bad-1")
    assert first.status_code == again.status_code == 400
    assert again.json() == first.json()
    assert again.headers["idempotent-replayed"] == "true"


def test_the_same_key_with_a_different_body_is_422(agent: Agent) -> None:
    agent.create(pick(), key="k-conflict")
    response = agent.create(pick(skip=1), key="k-conflict")
    assert response.status_code == 422
    assert response.json()["code"] == "idempotency_conflict"
    assert response.headers["idempotency-key"] == "k-conflict"


def test_equivalent_json_is_the_same_body(agent: Agent) -> None:
    body = {"line_items": [{"id": pick(), "quantity": 2}], "currency": "usd", "capabilities": {}}
    reordered = json.dumps(
        {"capabilities": {}, "currency": "usd", "line_items": [{"quantity": 2.0, "id": pick()}]}
    )
    first = agent.post("/checkout_sessions", body, key="k-jcs")
    again = agent.client.post(
        "/checkout_sessions",
        content=reordered,
        headers={**agent.headers("k-jcs"), "Content-Type": "application/json"},
    )
    assert again.status_code == 201
    assert again.json()["id"] == first.json()["id"]


def test_null_is_not_the_same_as_absent(agent: Agent) -> None:
    session = agent.create(pick()).json()
    agent.update(session["id"], key="k-null", buyer={"email": "a@example.com"})
    response = agent.update(
        session["id"], key="k-null", buyer={"email": "a@example.com"}, order_notes=None
    )
    assert response.status_code == 422


def test_keys_are_scoped_by_path_and_by_agent(agent: Agent, client: TestClient) -> None:
    session = agent.create(pick(), key="shared").json()
    update = agent.update(session["id"], key="shared", buyer={"email": "a@example.com"})
    assert update.status_code == 200 and "idempotent-replayed" not in update.headers
    client.app.state.services.agent_keys.register(  # type: ignore[attr-defined]
        "agt_two", "Second agent", "second_agent_key_1", datetime.now(UTC)
    )
    other = Agent(client, key="second_agent_key_1").create(pick(), key="shared")
    assert other.status_code == 201
    assert other.json()["id"] != session["id"]


def test_a_request_still_in_flight_is_409_with_retry_after(
    agent: Agent, client: TestClient
) -> None:
    services = client.app.state.services  # type: ignore[attr-defined]
    body = {"line_items": [{"id": pick()}], "currency": "usd", "capabilities": {}}
    from checkout.api.idempotency import fingerprint

    services.idempotency.claim(
        KeyScope("agt_default", "/checkout_sessions", "busy"),
        fingerprint(json.dumps(body).encode(), services.settings.fingerprint_key),
        datetime.now(UTC),
    )
    response = agent.post("/checkout_sessions", body, key="busy")
    assert response.status_code == 409
    assert response.json()["code"] == "idempotency_in_flight"
    assert int(response.headers["retry-after"]) >= 1


def test_an_abandoned_claim_is_taken_over_once_its_lease_ends(database_url: str) -> None:
    now = [datetime.now(UTC)]
    with TestClient(create_app(make_settings(database_url), clock=lambda: now[0])) as client:
        agent = Agent(client)
        body = {"line_items": [{"id": pick()}], "currency": "usd", "capabilities": {}}
        from checkout.api.idempotency import fingerprint

        client.app.state.services.idempotency.claim(  # type: ignore[attr-defined]
            KeyScope("agt_default", "/checkout_sessions", "crashed"),
            fingerprint(
                json.dumps(body).encode(),
                client.app.state.services.settings.fingerprint_key,  # type: ignore[attr-defined]
            ),
            now[0],
        )
        assert agent.post("/checkout_sessions", body, key="crashed").status_code == 409
        now[0] += timedelta(seconds=31)
        assert agent.post("/checkout_sessions", body, key="crashed").status_code == 201


class FlakyProvider(SandboxPaymentProvider):
    """The payment edge failing once, as a PSP outage would."""

    def __init__(self) -> None:
        self.failures = 1

    async def authorize(self, request: AuthorizeRequest) -> Authorization:
        if self.failures:
            self.failures -= 1
            raise PaymentUnavailable("PSP unavailable")
        return await super().authorize(request)


def test_a_5xx_is_not_cached_and_the_retry_is_processed_afresh(database_url: str) -> None:
    with TestClient(
        create_app(make_settings(database_url), provider=FlakyProvider()),
        raise_server_exceptions=False,
    ) as client:
        agent = Agent(client)
        session = agent.ready_session(pick())
        token = agent.delegate(session).json()["id"]
        failed = agent.complete(session["id"], token, key="pay-flaky")
        assert failed.status_code == 503
        assert failed.json()["type"] == "service_unavailable"
        # Nothing is decided until the provider answers: the same payment is asked again.
        assert agent.get(session["id"]).json()["status"] == "complete_in_progress"
        retried = agent.complete(session["id"], token, key="pay-flaky")
        assert retried.status_code == 200
        assert "idempotent-replayed" not in retried.headers
        assert count(database_url, "orders") == 1


def test_keys_older_than_the_retention_are_new_requests(database_url: str) -> None:
    now = [datetime.now(UTC)]
    with TestClient(create_app(make_settings(database_url), clock=lambda: now[0])) as client:
        agent = Agent(client)
        first = agent.create(pick(), key="old-key")
        now[0] += timedelta(hours=23)
        assert agent.create(pick(), key="old-key").json()["id"] == first.json()["id"]
        now[0] += timedelta(hours=2)
        fresh = agent.create(pick(), key="old-key")
        assert fresh.status_code == 201
        assert fresh.json()["id"] != first.json()["id"]
        assert "idempotent-replayed" not in fresh.headers


def test_the_key_and_the_business_change_commit_together(agent: Agent, settings) -> None:  # type: ignore[no-untyped-def]
    agent.create(pick(), key="atomic")
    engine = create_engine(settings.database_url)
    with engine.connect() as connection:
        record = connection.execute(
            text("SELECT state, response_status FROM idempotency_records WHERE key = 'atomic'")
        ).one()
    engine.dispose()
    assert tuple(record) == ("done", 201)
    assert AGENT_KEY  # the demo key is never the one tests use

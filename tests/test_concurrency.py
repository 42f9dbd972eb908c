"""Concurrent agents against a real server: no oversold stock, one order per session, one key one effect."""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import create_engine, text

from checkout.app import create_app
from tests.conftest import make_settings
from tests.servers import free_port, serve_app, wait_until_healthy
from tests.support import AGENT_KEY, API_VERSION, both_backends, fulfillment, pick

pytestmark = pytest.mark.slow


class HttpAgent:
    def __init__(self, base_url: str) -> None:
        self.client = httpx.Client(base_url=base_url, timeout=30)

    def __enter__(self) -> HttpAgent:
        return self

    def __exit__(self, *_: object) -> None:
        self.client.close()

    def post(self, path: str, body: Any, key: str | None = None) -> httpx.Response:
        return self.client.post(
            path,
            json=body,
            headers={
                "Authorization": f"Bearer {AGENT_KEY}",
                "API-Version": API_VERSION,
                "Idempotency-Key": key or str(uuid.uuid4()),
            },
        )

    def ready_session(self, variant: str) -> dict[str, Any]:
        response = self.post(
            "/checkout_sessions",
            {
                "line_items": [{"id": variant}],
                "currency": "usd",
                "capabilities": {"interventions": {"supported": []}},
                "fulfillment_details": fulfillment(),
            },
        )
        assert response.status_code == 201, response.text
        return dict(response.json())

    def token(self, session: dict[str, Any]) -> str:
        total = next(t["amount"] for t in session["totals"] if t["type"] == "total")
        response = self.post(
            "/agentic_commerce/delegate_payment",
            {
                "payment_method": {
                    "type": "card",
                    "card_number_type": "fpan",
                    "number": "4242424242424242",
                    "display_card_funding_type": "credit",
                    "metadata": {},
                },
                "allowance": {
                    "reason": "one_time",
                    "max_amount": total,
                    "currency": "usd",
                    "checkout_session_id": session["id"],
                    "merchant_id": session["capabilities"]["payment"]["handlers"][0]["config"][
                        "merchant_id"
                    ],
                    "expires_at": "2099-01-01T00:00:00Z",
                },
                "risk_signals": [],
                "metadata": {},
            },
        )
        return str(response.json()["id"])

    def complete(self, session_id: str, token: str, key: str | None = None) -> httpx.Response:
        return self.post(
            f"/checkout_sessions/{session_id}/complete",
            {
                "payment_data": {
                    "handler_id": "card_tokenized",
                    "instrument": {"type": "card", "credential": {"type": "spt", "token": token}},
                }
            },
            key,
        )


def scalar(url: str, sql: str, **params: Any) -> Any:
    engine = create_engine(url)
    with engine.connect() as connection:
        value = connection.execute(text(sql), params).scalar_one()
    engine.dispose()
    return value


@both_backends
def test_two_buyers_of_the_last_unit_get_one_order_and_one_out_of_stock(database_url: str) -> None:
    last_unit = pick(stock=1)
    with (
        serve_app(create_app(make_settings(database_url))) as base_url,
        HttpAgent(base_url) as agent,
    ):
        sessions = [agent.ready_session(last_unit) for _ in range(2)]
        tokens = [agent.token(s) for s in sessions]
        with ThreadPoolExecutor(2) as pool:
            results = list(pool.map(agent.complete, [s["id"] for s in sessions], tokens))
    statuses = sorted(r.status_code for r in results)
    assert statuses == [200, 400], [r.text for r in results]
    loser = next(r for r in results if r.status_code == 400)
    assert loser.json()["code"] == "out_of_stock"
    assert scalar(database_url, "SELECT inventory FROM variants WHERE id = :v", v=last_unit) == 0
    assert scalar(database_url, "SELECT count(*) FROM orders") == 1
    assert scalar(database_url, "SELECT count(*) FROM payments WHERE status = 'succeeded'") == 1


@both_backends
def test_concurrent_completes_of_one_session_make_one_order(database_url: str) -> None:
    with (
        serve_app(create_app(make_settings(database_url))) as base_url,
        HttpAgent(base_url) as agent,
    ):
        session = agent.ready_session(pick())
        token = agent.token(session)
        with ThreadPoolExecutor(4) as pool:
            results = list(pool.map(lambda _: agent.complete(session["id"], token), range(4)))
    # The same token four times at once: one purchase. Each answer is its order, or 409 (with
    # Retry-After) while another request is still placing it.
    assert {r.status_code for r in results} <= {200, 409}, [r.text for r in results]
    assert len({r.json()["order"]["id"] for r in results if r.status_code == 200}) == 1
    assert all("retry-after" in r.headers for r in results if r.status_code == 409)
    assert scalar(database_url, "SELECT count(*) FROM orders") == 1
    assert scalar(database_url, "SELECT count(*) FROM payments") == 1


@both_backends
def test_many_buyers_never_oversell(database_url: str) -> None:
    variant = pick(stock=2)
    with (
        serve_app(create_app(make_settings(database_url))) as base_url,
        HttpAgent(base_url) as agent,
    ):
        sessions = [agent.ready_session(variant) for _ in range(6)]
        tokens = [agent.token(s) for s in sessions]
        with ThreadPoolExecutor(6) as pool:
            results = list(pool.map(agent.complete, [s["id"] for s in sessions], tokens))
    assert sum(r.status_code == 200 for r in results) == 2
    assert all(r.json()["code"] == "out_of_stock" for r in results if r.status_code != 200)
    assert scalar(database_url, "SELECT inventory FROM variants WHERE id = :v", v=variant) == 0


@pytest.mark.postgres
@pytest.mark.parametrize("backend", ["postgres"], indirect=True)
def test_one_idempotency_key_is_one_effect_across_two_worker_processes(
    database_url: str, tmp_path: Path
) -> None:
    port = free_port()
    env = {
        **os.environ,
        "DATABASE_URL": database_url,
        "AGENT_API_KEY": AGENT_KEY,
        "BACKGROUND_JOBS": "false",
        "LOAD_SEEDS": "false",
    }
    executable = Path(sys.executable).parent / "agentic-checkout"
    log = (tmp_path / "server.log").open("w")
    server = subprocess.Popen(
        [str(executable), "serve", "--port", str(port), "--workers", "2"],
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:
        base_url = f"http://127.0.0.1:{port}"
        wait_until_healthy(base_url, server, tmp_path / "server.log")
        with HttpAgent(base_url) as agent:
            body = {
                "line_items": [{"id": pick()}],
                "currency": "usd",
                "capabilities": {},
                "fulfillment_details": fulfillment(),
            }
            with ThreadPoolExecutor(16) as pool:
                results = list(
                    pool.map(
                        lambda _: agent.post("/checkout_sessions", body, key="one-key"), range(32)
                    )
                )
            codes = {r.status_code for r in results}
            assert codes <= {201, 409}, [r.text for r in results]
            ids = {r.json()["id"] for r in results if r.status_code == 201}
            assert len(ids) == 1
            assert scalar(database_url, "SELECT count(*) FROM checkout_sessions") == 1
            replay = agent.post("/checkout_sessions", body, key="one-key")
            assert replay.status_code == 201 and replay.headers["idempotent-replayed"] == "true"
            assert all("Retry-After" in r.headers for r in results if r.status_code == 409)
    finally:
        server.terminate()
        server.wait(timeout=60)
        log.close()

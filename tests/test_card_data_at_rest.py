"""No stored value lets anyone recover card data: keyed fingerprints, no CVC-derived data kept."""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import MetaData, create_engine, select

from checkout.settings import Settings
from tests.support import Agent, pick

NUMBER = "4242424242424242"


def delegate_body(session: dict[str, Any], *, cvc: str, exp_month: str = "12") -> dict[str, Any]:
    handler = session["capabilities"]["payment"]["handlers"][0]
    total = next(t["amount"] for t in session["totals"] if t["type"] == "total")
    return {
        "payment_method": {
            "type": "card",
            "card_number_type": "fpan",
            "number": NUMBER,
            "exp_month": exp_month,
            "exp_year": "2030",
            "cvc": cvc,
            "display_card_funding_type": "credit",
            "metadata": {},
        },
        "allowance": {
            "reason": "one_time",
            "max_amount": total,
            "currency": "usd",
            "checkout_session_id": session["id"],
            "merchant_id": handler["config"]["merchant_id"],
            "expires_at": (datetime.now(UTC) + timedelta(minutes=15)).isoformat(),
        },
        "risk_signals": [],
        "metadata": {},
    }


def every_stored_value(settings: Settings) -> str:
    engine = create_engine(settings.database_url)
    tables = MetaData()
    tables.reflect(engine)
    with engine.connect() as connection:
        text = "\n".join(
            repr(row) for table in tables.sorted_tables for row in connection.execute(select(table))
        )
    engine.dispose()
    return text


def unkeyed_fingerprint(body: dict[str, Any]) -> str:
    canonical = json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(canonical.encode()).hexdigest()


def test_no_stored_value_is_an_unkeyed_hash_of_the_card_or_holds_its_number(
    agent: Agent, settings: Settings
) -> None:
    session = agent.ready_session(pick())
    body = delegate_body(session, cvc="987")
    response = agent.post("/agentic_commerce/delegate_payment", body, key="card-at-rest")
    assert response.status_code == 201, response.text
    stored = every_stored_value(settings)
    assert NUMBER not in stored
    # What brute force over expiry and CVC would test each guess against, on today's rows.
    assert unkeyed_fingerprint(body) not in stored
    assert hashlib.sha256(NUMBER.encode()).hexdigest() not in stored


def test_a_retry_replays_whatever_its_cvc_but_another_card_or_expiry_is_a_conflict(
    agent: Agent,
) -> None:
    session = agent.ready_session(pick())
    body = delegate_body(session, cvc="111")
    path = "/agentic_commerce/delegate_payment"
    first = agent.post(path, body, key="k")
    assert first.status_code == 201
    # Nothing derived from the CVC outlives the request, so it cannot take part in the check.
    body["payment_method"]["cvc"] = "222"
    again = agent.post(path, body, key="k")
    assert again.status_code == 201 and again.headers["idempotent-replayed"] == "true"
    assert again.json()["id"] == first.json()["id"]
    for field, value in (("exp_month", "11"), ("number", "5555555555554444")):
        changed = {**body, "payment_method": {**body["payment_method"], field: value}}
        other = agent.post(path, changed, key="k")
        assert other.status_code == 422
        assert other.json()["code"] == "idempotency_conflict"

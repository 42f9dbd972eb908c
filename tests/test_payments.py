"""Delegated payment and complete: the token's allowance, test-card outcomes, and 3-D Secure."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import create_engine, text

from tests.platform_support import seller_edit
from tests.support import (
    DECLINED,
    INSUFFICIENT_FUNDS,
    NORTHWIND,
    THREE_DS,
    VISA,
    Agent,
    message_codes,
    pick,
    total_of,
)

AUTHENTICATED = {
    "outcome": "authenticated",
    "outcome_details": {
        "three_ds_cryptogram": "AAIBBYNoEwAAACcKhAJkdQAAAAA=",
        "electronic_commerce_indicator": "05",
        "transaction_id": "f38e6948-5388-41a6-bca4-b49723c19437",
        "version": "2.2.0",
    },
}


def rows(url: str, sql: str, **params: object) -> list[tuple[object, ...]]:
    engine = create_engine(url)
    with engine.connect() as connection:
        result = [tuple(row) for row in connection.execute(text(sql), params)]
    engine.dispose()
    return result


def test_delegate_payment_returns_a_single_use_vault_token(agent: Agent) -> None:
    session = agent.ready_session(pick())
    response = agent.delegate(session, key="dp-1")
    assert response.status_code == 201
    body = response.json()
    assert body["id"].startswith("vt_")
    assert (
        body["metadata"]["merchant_id"]
        == session["capabilities"]["payment"]["handlers"][0]["config"]["merchant_id"]
    )
    assert body["metadata"]["idempotency_key"] == "dp-1"
    assert body["metadata"]["card_last4"] == "4242"


def test_the_card_number_and_cvc_are_never_stored(agent: Agent, settings, caplog) -> None:  # type: ignore[no-untyped-def]
    session = agent.ready_session(pick())
    agent.delegate(session, number=VISA)
    tables = [
        r[0]
        for r in rows(settings.database_url, "SELECT name FROM sqlite_master WHERE type = 'table'")
    ]
    for table in tables:
        for row in rows(settings.database_url, f'SELECT * FROM "{table}"'):
            dumped = repr(row)
            assert VISA not in dumped, table
            assert "'123'" not in dumped or table != "payment_tokens"
    assert VISA not in caplog.text


def test_a_number_that_fails_the_luhn_check_is_invalid_card(agent: Agent) -> None:
    session = agent.ready_session(pick())
    response = agent.delegate(session, number="4242424242424241")
    assert response.status_code == 400
    assert response.json()["code"] == "invalid_card"
    assert response.json()["param"] == "payment_method.number"


def test_the_sandbox_refuses_real_card_numbers(agent: Agent) -> None:
    session = agent.ready_session(pick())
    response = agent.delegate(session, number="4111111111111111")
    assert response.status_code == 400
    assert "test card" in response.json()["message"]


def test_an_allowance_that_already_expired_is_refused(agent: Agent) -> None:
    session = agent.ready_session(pick())
    response = agent.delegate(session, expires_in=timedelta(minutes=-1))
    assert response.status_code == 400


def test_complete_with_a_good_card_creates_the_order(agent: Agent, settings) -> None:  # type: ignore[no-untyped-def]
    session = agent.ready_session(pick())
    token = agent.delegate(session).json()["id"]
    response = agent.complete(
        session["id"], token, buyer={"email": "ada@example.com", "first_name": "Ada"}
    )
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "completed"
    order = body["order"]
    assert order["checkout_session_id"] == session["id"]
    assert order["permalink_url"].endswith(f"/orders/{order['id']}")
    payments = rows(
        settings.database_url,
        "SELECT status, amount FROM payments WHERE session_id = :s",
        s=session["id"],
    )
    assert payments == [("succeeded", total_of(session))]


def test_completing_again_with_the_same_token_returns_the_same_order(
    agent: Agent, settings
) -> None:  # type: ignore[no-untyped-def]
    session = agent.ready_session(pick())
    token = agent.delegate(session).json()["id"]
    first = agent.complete(session["id"], token)
    again = agent.complete(
        session["id"], token
    )  # a new Idempotency-Key: a client that lost the answer
    assert again.status_code == 200
    assert again.json()["order"]["id"] == first.json()["order"]["id"]
    assert rows(settings.database_url, "SELECT count(*) FROM payments") == [(1,)]
    other = agent.delegate(agent.get(session["id"]).json(), max_amount=10**6).json()["id"]
    refused = agent.complete(session["id"], other)
    assert refused.status_code == 400
    assert refused.json()["code"] == "checkout_session_completed"


def test_a_spent_token_cannot_pay_for_anything_else(agent: Agent) -> None:
    spent = agent.ready_session(pick())
    token = agent.delegate(spent, max_amount=10**7).json()["id"]
    assert agent.complete(spent["id"], token).status_code == 200
    other = agent.ready_session(pick())
    response = agent.complete(other["id"], token)
    assert response.json()["code"] in ("payment_token_used", "payment_token_session_mismatch")


def test_each_allowance_breach_is_refused_with_its_own_code(agent: Agent) -> None:
    session = agent.ready_session(pick())
    other = agent.ready_session(pick(NORTHWIND))
    cases = {
        "payment_token_amount_exceeded": agent.delegate(session, max_amount=total_of(session) - 1),
        "payment_token_session_mismatch": agent.delegate(session, session_id=other["id"]),
        "payment_token_merchant_mismatch": agent.delegate(session, merchant_id=NORTHWIND),
        "payment_token_currency_mismatch": agent.delegate(session, currency="eur"),
    }
    for code, delegated in cases.items():
        response = agent.complete(session["id"], delegated.json()["id"])
        assert response.status_code == 400, code
        assert response.json()["code"] == code
        assert response.json()["param"] == "$.payment_data.instrument.credential.token"
    unknown = agent.complete(session["id"], "vt_never_issued")
    assert unknown.json()["code"] == "payment_token_not_found"
    assert agent.get(session["id"]).json()["status"] == "ready_for_payment"


def test_an_expired_token_is_refused(agent: Agent) -> None:
    session = agent.ready_session(pick())
    token = agent.delegate(session, expires_in=timedelta(milliseconds=300)).json()["id"]
    import time

    time.sleep(0.4)
    response = agent.complete(session["id"], token)
    assert response.json()["code"] == "payment_token_expired"


def test_a_declined_card_leaves_the_session_payable_with_payment_declined(
    agent: Agent, settings
) -> None:  # type: ignore[no-untyped-def]
    session = agent.ready_session(pick())
    token = agent.delegate(session, number=DECLINED).json()["id"]
    response = agent.complete(session["id"], token)
    assert response.status_code == 402
    assert response.json()["type"] == "processing_error"
    assert response.json()["code"] == "payment_declined"
    after = agent.get(session["id"]).json()
    assert after["status"] == "ready_for_payment"
    assert "payment_declined" in message_codes(after)
    assert rows(settings.database_url, "SELECT count(*) FROM orders") == [(0,)]
    retry = agent.complete(session["id"], agent.delegate(after).json()["id"])
    assert retry.status_code == 200
    assert "payment_declined" not in message_codes(retry.json())


def test_insufficient_funds_says_so(agent: Agent) -> None:
    session = agent.ready_session(pick())
    token = agent.delegate(session, number=INSUFFICIENT_FUNDS).json()["id"]
    response = agent.complete(session["id"], token)
    assert response.status_code == 402
    assert "insufficient funds" in response.json()["message"]


def test_three_d_secure_requires_authentication_then_completes(agent: Agent) -> None:
    session = agent.ready_session(pick())
    token = agent.delegate(session, number=THREE_DS).json()["id"]
    challenged = agent.complete(session["id"], token)
    assert challenged.status_code == 400
    assert challenged.json()["code"] == "requires_3ds"
    assert challenged.json()["param"] == "$.authentication_result"
    pending = agent.get(session["id"]).json()
    assert pending["status"] == "authentication_required"
    assert pending["authentication_metadata"]["directory_server"] == "visa"
    again = agent.complete(session["id"], token)
    assert again.status_code == 400
    assert again.json()["code"] == "requires_3ds"
    done = agent.complete(session["id"], token, authentication_result=AUTHENTICATED)
    assert done.status_code == 200
    assert done.json()["status"] == "completed"
    assert "authentication_metadata" not in done.json()


def test_a_denied_authentication_declines_and_the_session_stays_payable(agent: Agent) -> None:
    session = agent.ready_session(pick())
    token = agent.delegate(session, number=THREE_DS).json()["id"]
    agent.complete(session["id"], token)
    denied = agent.complete(session["id"], token, authentication_result={"outcome": "denied"})
    assert denied.status_code == 402
    after = agent.get(session["id"]).json()
    assert after["status"] == "ready_for_payment"
    assert "payment_declined" in message_codes(after)


def test_an_agent_without_3ds_support_gets_a_decline_for_a_3ds_card(agent: Agent) -> None:
    from tests.support import fulfillment

    session = agent.create(
        pick(), capabilities={"interventions": {"supported": []}}, fulfillment_details=fulfillment()
    ).json()
    token = agent.delegate(session, number=THREE_DS).json()["id"]
    response = agent.complete(session["id"], token)
    assert response.status_code == 402
    assert "3-D Secure" in response.json()["message"]


def test_a_session_that_is_not_ready_cannot_be_completed(agent: Agent) -> None:
    session = agent.create(pick()).json()
    token = agent.delegate(session, max_amount=10**6).json()["id"]
    response = agent.complete(session["id"], token)
    assert response.status_code == 400
    assert response.json()["code"] == "not_ready_for_payment"
    assert response.json()["param"] == "$.fulfillment_details.address"


def test_a_price_rise_before_complete_stops_the_payment_and_shows_the_change(agent: Agent) -> None:
    variant = pick()
    session = agent.ready_session(variant)
    token = agent.delegate(session).json()["id"]
    seller_edit(agent.client, variant, price=session["line_items"][0]["unit_amount"] + 100)
    response = agent.complete(session["id"], token)
    assert response.status_code == 400
    assert response.json()["code"] == "price_changed"
    after = agent.get(session["id"]).json()
    assert "price_change" in message_codes(after)
    assert total_of(after) > total_of(session)
    too_small = agent.complete(session["id"], token)
    assert too_small.json()["code"] == "payment_token_amount_exceeded"

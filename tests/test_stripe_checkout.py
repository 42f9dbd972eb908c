"""Checkout with Stripe as the payment provider, through HTTP, against a stateful fake of Stripe's
API (tests/fake_stripe.py): the destination charge, retries that never pay twice, declines,
3-D Secure, refunds that give the commission back, and merchants' Connect accounts."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
import stripe
from fastapi.testclient import TestClient

from checkout.app import create_app
from checkout.flows.purchase.recovery import recover_purchases
from tests.conftest import make_settings
from tests.fake_stripe import (
    ACQUIRER_BIN,
    ACQUIRER_MERCHANT_ID,
    PREVIEW_VERSION,
    SECRET_KEY,
    FakeStripe,
    assign_account,
    half_up,
    sql,
    stripe_settings,
)
from tests.support import (
    CLAY,
    NORTHWIND,
    OPERATOR_KEY,
    Agent,
    fulfillment,
    message_codes,
    pick,
    total_of,
)

OPERATOR = {"Authorization": f"Bearer {OPERATOR_KEY}"}
AUTHENTICATED = {
    "outcome": "authenticated",
    "outcome_details": {
        "three_ds_cryptogram": "AAIBBYNoEwAAACcKhAJkdQAAAAA=",
        "electronic_commerce_indicator": "05",
        "transaction_id": "f38e6948-5388-41a6-bca4-b49723c19437",
        "version": "2.2.0",
    },
}


@pytest.fixture
def fake() -> Iterator[FakeStripe]:
    with FakeStripe() as api:
        yield api


@pytest.fixture
def backoff(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    """The SDK's waits between retries, recorded instead of slept."""
    waits: list[float] = []

    async def no_sleep(self: stripe.HTTPXClient, seconds: float) -> None:
        waits.append(seconds)

    monkeypatch.setattr(stripe.HTTPXClient, "sleep_async", no_sleep)
    return waits


def start(database_url: str, **overrides: Any) -> TestClient:
    return TestClient(create_app(stripe_settings(database_url, **overrides)))


def commission_of(session: dict[str, Any], bps: int = 200) -> int:
    """The commission rule: bps of items and shipping (never tax), rounded half-up once."""
    base = total_of(session, "subtotal") + total_of(session, "fulfillment")
    return half_up(base * bps, 10_000)


def ledger(client: TestClient, merchant_id: str) -> list[dict[str, Any]]:
    response = client.get(f"/merchants/{merchant_id}/ledger", headers=OPERATOR)
    assert response.status_code == 200, response.text
    entries: list[dict[str, Any]] = response.json()["entries"]
    return entries


def postings(entries: list[dict[str, Any]]) -> list[tuple[str, str, int]]:
    return [(e["kind"], e["account"], e["amount"]) for e in entries]


def moved(entries: list[dict[str, Any]], kind: str, account: str) -> int:
    return sum(e["amount"] for e in entries if e["kind"] == kind and e["account"] == account)


def payment_of(database_url: str, session_id: str) -> tuple[Any, ...]:
    [row] = sql(
        database_url,
        "SELECT id, status, provider_payment_id, charge_id, transfer_id, application_fee_id, "
        "application_fee FROM payments WHERE session_id = :s AND status = 'succeeded'",
        s=session_id,
    )
    return row


def inventory(database_url: str, variant_id: str) -> int:
    [(stock,)] = sql(database_url, "SELECT inventory FROM variants WHERE id = :v", v=variant_id)
    return int(stock)


def refund(client: TestClient, order_id: str, key: str, **body: Any) -> Any:
    return client.post(
        f"/orders/{order_id}/refunds", json=body, headers={**OPERATOR, "Idempotency-Key": key}
    )


def buy(agent: Agent, fake: FakeStripe, variant: str) -> tuple[dict[str, Any], dict[str, Any]]:
    session = agent.ready_session(variant)
    token = fake.grant_token(max_amount=total_of(session), checkout_session_id=session["id"])
    response = agent.complete(session["id"], token)
    assert response.status_code == 200, response.text
    return session, response.json()["order"]


# --- the purchase --------------------------------------------------------------------------


def test_a_shared_token_purchase_is_a_destination_charge_with_the_commission_as_fee_and_books_like_the_sandbox(
    database_url: str, sqlite_template: Path, tmp_path: Path, fake: FakeStripe
) -> None:
    account = fake.add_account()
    assign_account(database_url, CLAY, account)
    variant = pick(CLAY)
    with start(database_url) as client:
        agent = Agent(client)
        session = agent.ready_session((variant, 2))
        total, commission = total_of(session), commission_of(session)
        assert total_of(session, "tax") > 0  # so leaving tax out of the commission shows
        token = fake.grant_token(max_amount=total, checkout_session_id=session["id"])

        response = agent.complete(session["id"], token)

        assert response.status_code == 200, response.text
        assert response.json()["status"] == "completed"
        order = response.json()["order"]
        payment_id, status, intent_id, charge_id, transfer_id, fee_id, fee = payment_of(
            database_url, session["id"]
        )
        [create] = fake.calls("payment_intents.create")
        assert create.form == {
            "amount": str(total),
            "currency": "usd",
            "confirm": "true",
            "capture_method": "manual",
            "allowed_payment_method_types[0]": "card",
            "description": f"Checkout session {session['id']}",
            "metadata[checkout_session_id]": session["id"],
            "metadata[payment_id]": payment_id,
            "metadata[merchant_id]": CLAY,
            "application_fee_amount": str(commission),
            "transfer_data[destination]": account,
            "on_behalf_of": account,
            "payment_method_data[shared_payment_granted_token]": token,
        }
        assert create.headers["Stripe-Version"] == PREVIEW_VERSION
        assert create.headers["Authorization"] == "Bearer sk_test_51FakePlatformKey000000000000"
        assert create.idempotency_key == f"{session['id']}:authorize:{payment_id}"
        [token_read] = fake.calls("granted_tokens.retrieve")
        assert token_read.headers["Stripe-Version"] == PREVIEW_VERSION

        [capture] = fake.calls("payment_intents.capture")
        assert capture.path == f"/v1/payment_intents/{intent_id}/capture"
        assert capture.form == {
            "amount_to_capture": str(total),
            "expand[0]": "latest_charge",
            "expand[1]": "latest_charge.balance_transaction",
        }
        assert capture.idempotency_key == f"{payment_id}:capture"
        assert capture.headers["Stripe-Version"] != PREVIEW_VERSION  # only SPT calls preview
        assert not fake.calls("payment_intents.cancel") and not fake.unrecognized

        intent = fake.payment_intents[intent_id]
        assert (intent["status"], intent["amount_received"]) == ("succeeded", total)
        charge = fake.charges[charge_id]
        assert (charge["transfer"], charge["application_fee"]) == (transfer_id, fee_id)
        assert fake.application_fees[fee_id]["amount"] == commission == fee
        assert status == "succeeded"
        assert order["checkout_session_id"] == session["id"]

        stripe_entries = ledger(client, CLAY)
        assert sum(e["amount"] for e in stripe_entries) == 0
        assert {e["kind"] for e in stripe_entries} == {
            "charge",
            "commission",
            "merchant_share",
            "processing_fee",
        }
        stripe_fee = fake.balance_transactions[charge["balance_transaction"]]["fee"]
        assert stripe_fee == half_up(total * 290, 10_000) + 30
        assert moved(stripe_entries, "processing_fee", "platform") == -stripe_fee
        assert moved(stripe_entries, "charge", "clearing") == total
        assert moved(stripe_entries, "commission", "platform") == commission
        assert moved(stripe_entries, "merchant_share", "merchant") == total - commission
        assert {e["reference"] for e in stripe_entries} == {intent_id}
        stripe_statement = client.get(f"/merchants/{CLAY}/statement", headers=OPERATOR).json()

    # The same purchase with the sandbox provider books the same money.
    sandbox_db = tmp_path / "sandbox.db"
    shutil.copy(sqlite_template, sandbox_db)
    with TestClient(create_app(make_settings(f"sqlite:///{sandbox_db}"))) as client:
        agent = Agent(client)
        sandbox_session = agent.ready_session((variant, 2))
        assert sandbox_session["totals"] == session["totals"]
        token = agent.delegate(sandbox_session).json()["id"]
        assert agent.complete(sandbox_session["id"], token).status_code == 200
        sandbox_entries = ledger(client, CLAY)
        sandbox_statement = client.get(f"/merchants/{CLAY}/statement", headers=OPERATOR).json()
    assert postings(sandbox_entries) == postings(stripe_entries)
    assert sandbox_statement == stripe_statement
    assert stripe_statement["gross_sales"] == total
    assert stripe_statement["commission"] == commission
    assert stripe_statement["net"] == total - commission
    assert stripe_statement["orders"] == 1


def test_a_retried_complete_never_makes_a_second_payment_intent(
    database_url: str, fake: FakeStripe, backoff: list[float]
) -> None:
    account = fake.add_account()
    assign_account(database_url, NORTHWIND, account)
    with start(database_url, stripe_max_network_retries=2) as client:
        agent = Agent(client)
        session = agent.ready_session(pick(NORTHWIND))
        token = fake.grant_token(max_amount=total_of(session), checkout_session_id=session["id"])

        # Stripe cannot be reached at all: the SDK tries three times, then the agent gets a 503.
        fake.fail("payment_intents.create", times=3, kind="timeout")
        first = agent.complete(session["id"], token, key="complete-1")
        assert first.status_code == 503, first.text
        assert first.json()["type"] == "service_unavailable"
        assert agent.get(session["id"]).json()["status"] == "complete_in_progress"
        assert not fake.payment_intents

        # The same request again (a 5xx is not kept): Stripe makes the PaymentIntent this time,
        # but the answer is lost and the SDK's retries cannot connect.
        fake.fail("payment_intents.create", times=1, kind="timeout", after=True)
        fake.fail("payment_intents.create", times=2, kind="timeout")
        again = agent.complete(session["id"], token, key="complete-1")
        assert again.status_code == 503, again.text
        assert len(fake.payment_intents) == 1

        # A new Idempotency-Key after the 503: Stripe replays the PaymentIntent it made.
        done = agent.complete(session["id"], token, key="complete-2")
        assert done.status_code == 200, done.text
        order = done.json()["order"]
        assert agent.complete(session["id"], token, key="complete-2").json()["order"] == order
        assert agent.complete(session["id"], token, key="complete-3").json()["order"] == order

    creates = fake.calls("payment_intents.create")
    assert len(creates) == 7
    assert len({call.idempotency_key for call in creates}) == 1
    assert creates[-1].replayed
    [intent] = fake.payment_intents.values()
    assert intent["status"] == "succeeded"
    assert [c.path for c in fake.calls("payment_intents.capture")] == [
        f"/v1/payment_intents/{intent['id']}/capture"
    ]
    assert len(backoff) == 4  # two retries for each of the two failed requests
    assert sql(database_url, "SELECT count(*) FROM orders") == [(1,)]
    assert sql(database_url, "SELECT count(*) FROM payments") == [(1,)]


@pytest.mark.parametrize("acted", [False, True], ids=["before stripe acted", "after"])
def test_a_500_stripe_keeps_under_the_authorize_key_does_not_leave_the_purchase_stuck(
    database_url: str, fake: FakeStripe, acted: bool
) -> None:
    assign_account(database_url, CLAY, fake.add_account())
    with start(database_url) as client:
        agent = Agent(client)
        session = agent.ready_session(pick(CLAY))
        token = fake.grant_token(max_amount=total_of(session), checkout_session_id=session["id"])
        fake.fail("payment_intents.create", kind="server_error", after=acted)

        done = agent.complete(session["id"], token)

        assert done.status_code == 200, done.text
        [intent] = fake.intents_for(session["id"])  # one hold, found or made once
        assert intent["status"] == "succeeded"
        creates = fake.calls("payment_intents.create")
        assert creates[0].status == 500
        assert fake.calls("payment_intents.search")  # looked for it by our payment id
        if acted:
            assert len(creates) == 1
        else:
            assert [c.status for c in creates] == [500, 200]
            assert creates[1].idempotency_key == f"{creates[0].idempotency_key}:1"


def test_a_declined_shared_token_leaves_the_session_payable_and_charges_nothing(
    database_url: str, fake: FakeStripe
) -> None:
    account = fake.add_account()
    assign_account(database_url, CLAY, account)
    variant = pick(CLAY)
    with start(database_url) as client:
        agent = Agent(client)
        session = agent.ready_session(variant)
        stock = inventory(database_url, variant)
        token = fake.grant_token(
            max_amount=total_of(session),
            checkout_session_id=session["id"],
            outcome="decline",
            decline_code="insufficient_funds",
        )

        response = agent.complete(session["id"], token)

        assert response.status_code == 402, response.text
        assert response.json()["type"] == "processing_error"
        assert response.json()["code"] == "payment_declined"
        assert "insufficient funds" in response.json()["message"]
        after = agent.get(session["id"]).json()
        assert after["status"] == "ready_for_payment"
        assert "payment_declined" in message_codes(after)
        assert inventory(database_url, variant) == stock
        assert not fake.calls("payment_intents.capture")
        [intent] = fake.payment_intents.values()
        assert intent["status"] == "requires_payment_method"
        assert sql(
            database_url, "SELECT status, decline_code, provider_payment_id FROM payments"
        ) == [("declined", "insufficient_funds", intent["id"])]
        assert sql(database_url, "SELECT count(*) FROM orders") == [(0,)]

        # Another card pays: a new attempt, so a new key and a new PaymentIntent.
        other = fake.grant_token(max_amount=total_of(session), checkout_session_id=session["id"])
        paid = agent.complete(session["id"], other)
        assert paid.status_code == 200, paid.text
        assert "payment_declined" not in message_codes(paid.json())
    first, second = fake.calls("payment_intents.create")
    assert first.idempotency_key != second.idempotency_key
    assert inventory(database_url, variant) == stock - 1


def test_under_stripe_the_payment_handler_names_the_merchants_stripe_account_and_no_vault(
    database_url: str, fake: FakeStripe
) -> None:
    account = fake.add_account()
    assign_account(database_url, CLAY, account)
    with start(database_url) as client:
        session = Agent(client).ready_session(pick(CLAY))
        discovery = client.get("/.well-known/acp.json").json()

    [handler] = session["capabilities"]["payment"]["handlers"]
    assert handler["psp"] == "stripe"
    assert handler["requires_delegate_payment"] is False
    assert handler["config"]["merchant_id"] == account
    assert handler["config"]["environment"] == "test"
    assert "delegate_payment_url" not in handler["config"]
    assert "delegate_payment" not in discovery["capabilities"]["services"]


def test_a_live_key_makes_the_handler_live() -> None:
    from checkout.protocol.render import Presentation, payment_handler
    from checkout.store.rows import MerchantRow

    merchant = MerchantRow(id="mch_1", name="Shop", payment_account_id="acct_1Live")  # type: ignore[call-arg]
    live = payment_handler(merchant, Presentation("https://x", "stripe", livemode=True))
    assert (live["config"]["environment"], live["config"]["merchant_id"]) == ("live", "acct_1Live")
    sandbox = payment_handler(merchant, Presentation("https://x", "sandbox"))
    assert sandbox["config"]["merchant_id"] == "mch_1"
    assert (
        sandbox["config"]["delegate_payment_url"] == "https://x/agentic_commerce/delegate_payment"
    )


@pytest.mark.parametrize("refusal", ["rolled_key", "account_not_ready"])
def test_stripe_refusing_the_platforms_own_request_is_a_processing_error_not_a_decline(
    database_url: str, fake: FakeStripe, caplog: pytest.LogCaptureFixture, refusal: str
) -> None:
    # Our books say the merchant is payable; Stripe has not activated its transfers yet.
    account = fake.add_account(enabled=refusal != "account_not_ready")
    assign_account(database_url, CLAY, account)
    variant = pick(CLAY)
    with start(database_url) as client:
        agent = Agent(client)
        session = agent.ready_session(variant)
        stock = inventory(database_url, variant)
        token = fake.grant_token(max_amount=total_of(session), checkout_session_id=session["id"])
        if refusal == "rolled_key":
            fake.api_key = "sk_test_51RolledKey"  # the operator rolled the key at Stripe

        with caplog.at_level("WARNING"):
            response = agent.complete(session["id"], token)

        assert response.status_code == 502, response.text
        assert response.json()["type"] == "processing_error"
        assert response.json()["code"] == "processing_error"
        after = agent.get(session["id"]).json()
        assert after["status"] == "ready_for_payment"
        assert "payment_declined" not in message_codes(after)
        assert inventory(database_url, variant) == stock
        logged = " ".join(r.getMessage() for r in caplog.records)
        assert "stripe.error" in logged and "request_id=req_" in logged
        if refusal == "account_not_ready":
            [refused] = fake.calls("payment_intents.create")
            assert refused.status == 400
            assert "code=insufficient_capabilities_for_transfer" in logged
            assert sql(database_url, "SELECT status, decline_code FROM payments") == [
                ("failed", "processing_error")
            ]
        else:
            assert [c.status for c in fake.requests] == [401]
            assert not fake.calls("payment_intents.create")

        # Fixed on our side, the same token pays: it never reached the card.
        fake.api_key = SECRET_KEY
        fake.enable(account)
        paid = agent.complete(session["id"], token)
        assert paid.status_code == 200, paid.text


def test_three_d_secure_continues_the_same_payment_intent_after_the_buyer_authenticates(
    database_url: str, fake: FakeStripe
) -> None:
    account = fake.add_account()
    assign_account(database_url, NORTHWIND, account)
    with start(database_url) as client:
        agent = Agent(client)
        session = agent.ready_session(pick(NORTHWIND))
        assert session["capabilities"]["interventions"]["supported"] == ["3ds"]
        token = fake.grant_token(
            max_amount=total_of(session),
            checkout_session_id=session["id"],
            outcome="requires_action",
        )

        challenged = agent.complete(session["id"], token)

        assert challenged.status_code == 400, challenged.text
        assert challenged.json()["code"] == "requires_3ds"
        pending = agent.get(session["id"]).json()
        assert pending["status"] == "authentication_required"
        assert pending["authentication_metadata"]["directory_server"] == "visa"
        assert pending["authentication_metadata"]["acquirer_details"]["acquirer_bin"] == (
            ACQUIRER_BIN
        )
        assert pending["authentication_metadata"]["acquirer_details"]["acquirer_merchant_id"] == (
            ACQUIRER_MERCHANT_ID
        )
        [intent] = fake.payment_intents.values()
        assert intent["status"] == "requires_action"

        # The agent authenticates the buyer itself; its result goes to Stripe on confirm.
        done = agent.complete(session["id"], token, authentication_result=AUTHENTICATED)

        assert done.status_code == 200, done.text
        assert done.json()["status"] == "completed"
    [confirm] = fake.calls("payment_intents.confirm")
    details = AUTHENTICATED["outcome_details"]
    three_ds = "payment_method_options[card][three_d_secure]"
    assert confirm.form == {
        f"{three_ds}[cryptogram]": details["three_ds_cryptogram"],
        f"{three_ds}[electronic_commerce_indicator]": details["electronic_commerce_indicator"],
        f"{three_ds}[transaction_id]": details["transaction_id"],
        f"{three_ds}[version]": details["version"],
    }
    assert confirm.path == f"/v1/payment_intents/{intent['id']}/confirm"
    assert len(fake.calls("payment_intents.create")) == 1
    assert [c.path for c in fake.calls("payment_intents.retrieve")] == [
        f"/v1/payment_intents/{intent['id']}"
    ]
    assert [c.path for c in fake.calls("payment_intents.capture")] == [
        f"/v1/payment_intents/{intent['id']}/capture"
    ]
    assert fake.payment_intents[intent["id"]]["status"] == "succeeded"
    assert sql(
        database_url,
        "SELECT status, provider_payment_id FROM payments WHERE session_id = :s ORDER BY created_at",
        s=session["id"],
    ) == [("superseded", intent["id"]), ("succeeded", intent["id"])]


# --- refunds -------------------------------------------------------------------------------


def test_refunds_reverse_the_transfer_and_give_the_whole_commission_back_once(
    database_url: str, fake: FakeStripe
) -> None:
    account = fake.add_account()
    assign_account(database_url, CLAY, account)
    with start(database_url) as client:
        agent = Agent(client)
        session, order = buy(agent, fake, pick(CLAY))
        total, commission = total_of(session), commission_of(session)
        [intent] = fake.payment_intents.values()
        part = total // 3

        first = refund(client, order["id"], "refund-1", amount=part, reason="requested_by_customer")
        assert first.status_code == 201, first.text
        rest = refund(client, order["id"], "refund-2")
        assert rest.status_code == 201, rest.text
        replayed = refund(
            client, order["id"], "refund-1", amount=part, reason="requested_by_customer"
        )
        assert replayed.status_code == 201
        assert replayed.headers.get("Idempotent-Replayed") == "true"
        assert replayed.json()["id"] == first.json()["id"]

        creates = fake.calls("refunds.create")
        assert [c.form for c in creates] == [
            {
                "payment_intent": intent["id"],
                "amount": str(part),
                "expand[0]": "balance_transaction",
                "reverse_transfer": "true",
                "refund_application_fee": "true",
                "reason": "requested_by_customer",
                "metadata[order_id]": order["id"],
                "metadata[refund_id]": first.json()["id"],
            },
            {
                "payment_intent": intent["id"],
                "amount": str(total - part),
                "expand[0]": "balance_transaction",
                "reverse_transfer": "true",
                "refund_application_fee": "true",
                "metadata[order_id]": order["id"],
                "metadata[refund_id]": rest.json()["id"],
            },
        ]
        assert [c.idempotency_key for c in creates] == [
            f"{first.json()['id']}:refund",
            f"{rest.json()['id']}:refund",
        ]
        fee = fake.fee_of(intent["id"])
        assert (fee["amount_refunded"], fee["refunded"]) == (commission, True)
        assert len(fake.transfer_reversals) == 2
        fee_refunds = [r["amount"] for r in reversed(fake.fee_refunds[fee["id"]])]
        assert [first.json()["commission_refunded"], rest.json()["commission_refunded"]] == (
            fee_refunds
        )
        assert fee_refunds[0] == half_up(commission * part, total)

        document = rest.json()["order"]
        assert [(a["type"], a["amount"], a["status"]) for a in document["adjustments"]] == [
            ("refund", part, "completed"),
            ("refund", total - part, "completed"),
        ]
        assert total_of(document, "amount_refunded") == total

        entries = ledger(client, CLAY)
        assert sum(e["amount"] for e in entries) == 0
        assert moved(entries, "commission_refund", "clearing") == commission
        assert moved(entries, "refund", "buyer") == total
        statement = client.get(f"/merchants/{CLAY}/statement", headers=OPERATOR).json()
        assert (statement["refunds"], statement["commission_refunded"], statement["net"]) == (
            total,
            commission,
            0,
        )
        assert refund(client, order["id"], "refund-3").json()["code"] == "order_fully_refunded"
    assert len(fake.calls("refunds.create")) == 2


def test_a_refund_whose_answer_was_lost_is_asked_again_with_the_same_key_and_made_once(
    database_url: str, fake: FakeStripe
) -> None:
    account = fake.add_account()
    assign_account(database_url, NORTHWIND, account)
    with start(database_url) as client:
        agent = Agent(client)
        session, order = buy(agent, fake, pick(NORTHWIND))
        total, commission = total_of(session), commission_of(session)
        fake.fail("refunds.create", kind="timeout", after=True)

        lost = refund(client, order["id"], "refund-lost", amount=total - 1)
        assert lost.status_code == 503, lost.text
        assert len(fake.refunds) == 1  # Stripe made it; we do not know yet
        again = refund(client, order["id"], "refund-lost", amount=total - 1)

        assert again.status_code == 201, again.text
        assert again.json()["status"] == "succeeded"
        expected_fee = half_up(commission * (total - 1), total)
        assert again.json()["commission_refunded"] == expected_fee
        [stripe_refund] = fake.refunds.values()
        assert again.json()["provider_refund_id"] == stripe_refund["id"]
        keys = {c.idempotency_key for c in fake.calls("refunds.create")}
        assert keys == {f"{again.json()['id']}:refund"}
        entries = ledger(client, NORTHWIND)
        assert moved(entries, "refund", "buyer") == total - 1
        assert moved(entries, "commission_refund", "clearing") == expected_fee
        assert sum(e["amount"] for e in entries) == 0


@pytest.mark.parametrize(
    "lost",
    ["500 kept before stripe acted", "500 kept after stripe acted", "answer lost, keys pruned"],
)
def test_a_refund_is_never_made_twice_and_never_stuck_behind_a_kept_500(
    database_url: str, fake: FakeStripe, lost: str
) -> None:
    assign_account(database_url, CLAY, fake.add_account())
    with start(database_url) as client:
        _, order = buy(Agent(client), fake, pick(CLAY))
        if lost == "answer lost, keys pruned":
            fake.fail("refunds.create", kind="timeout", after=True)
            assert refund(client, order["id"], "r-1", amount=400).status_code == 503
            fake.forget_idempotency_keys()
        else:
            fake.fail(
                "refunds.create", kind="server_error", after=lost.endswith("after stripe acted")
            )

        made = refund(client, order["id"], "r-1", amount=400)

        assert made.status_code == 201, made.text
        [stripe_refund] = fake.refunds.values()  # exactly one, found by our refund id
        assert stripe_refund["metadata"]["refund_id"] == made.json()["id"]
        assert made.json()["provider_refund_id"] == stripe_refund["id"]
        creates = fake.calls("refunds.create")
        if lost == "500 kept before stripe acted":
            # The kept 500 would answer the same key for 24 hours: the next try has its own.
            assert [c.status for c in creates] == [500, 200]
            assert creates[1].idempotency_key == f"{creates[0].idempotency_key}:1"
        else:
            assert len(creates) == 1
        assert fake.calls("refunds.list")  # looked for ours before creating
        entries = ledger(client, CLAY)
        assert moved(entries, "refund", "buyer") == 400
        assert sum(e["amount"] for e in entries) == 0


@pytest.mark.parametrize("returned", [0, 12])
def test_a_refund_books_whatever_stripe_gave_back_of_its_fee(
    database_url: str, fake: FakeStripe, returned: int
) -> None:
    assign_account(database_url, CLAY, fake.add_account())
    fake.refund_fee_returned = returned  # none in the US; the books follow Stripe either way
    with start(database_url) as client:
        _, order = buy(Agent(client), fake, pick(CLAY))
        made = refund(client, order["id"], "r-fee", amount=500)
        assert made.status_code == 201, made.text
        [create] = fake.calls("refunds.create")
        assert create.form["expand[0]"] == "balance_transaction"
        entries = ledger(client, CLAY)
        assert moved(entries, "processing_fee_return", "platform") == returned
        assert sum(e["amount"] for e in entries) == 0


def test_an_idempotency_key_reused_after_its_retention_makes_a_new_refund(
    database_url: str, fake: FakeStripe
) -> None:
    now = [datetime.now(UTC)]
    assign_account(database_url, CLAY, fake.add_account())
    app = create_app(stripe_settings(database_url), clock=lambda: now[0])
    with TestClient(app) as client:
        _, order = buy(Agent(client), fake, pick(CLAY))
        first = refund(client, order["id"], "monthly-goodwill", amount=300)
        assert first.status_code == 201, first.text
        now[0] += timedelta(hours=25)
        fake.forget_idempotency_keys()  # Stripe prunes its keys after 24 hours as well

        later = refund(client, order["id"], "monthly-goodwill", amount=200)

        assert later.status_code == 201, later.text
        assert later.headers.get("Idempotent-Replayed") is None
        assert later.json()["amount"] == 200
        assert later.json()["id"] != first.json()["id"]
    assert [c.form["amount"] for c in fake.calls("refunds.create")] == ["300", "200"]


# --- merchants' Connect accounts -----------------------------------------------------------


FEED = [
    {
        "id": "notebook",
        "title": "Dot Grid Notebook",
        "variants": [
            {
                "id": "notebook-black",
                "title": "Black",
                "price": {"amount": 1800, "currency": "USD"},
                "availability": {"available": True},
            }
        ],
    }
]


def test_a_new_merchant_gets_an_express_account_and_cannot_sell_until_stripe_enables_it(
    database_url: str, fake: FakeStripe
) -> None:
    with start(database_url) as client:
        agent = Agent(client)
        created = client.post(
            "/merchants",
            headers=OPERATOR,
            json={
                "name": "Paper & Ink",
                "platform": "feed",
                "currency": "usd",
                "support_email": "owner@paper-ink.example",
                "shipping": {
                    "standard": {"amount": 400, "carrier": "USPS", "min_days": 2, "max_days": 5}
                },
            },
        )
        assert created.status_code == 201, created.text
        merchant = created.json()
        [opened] = fake.calls("accounts.create")
        assert opened.form == {
            "country": "US",
            "controller[fees][payer]": "application",
            "controller[losses][payments]": "application",
            "controller[stripe_dashboard][type]": "express",
            "capabilities[card_payments][requested]": "true",
            "capabilities[transfers][requested]": "true",
            "metadata[merchant_id]": merchant["id"],
            "email": "owner@paper-ink.example",
        }
        assert opened.idempotency_key == f"{merchant['id']}:account"
        [account_id] = fake.accounts
        payments = merchant["payments"]
        assert (payments["account_id"], payments["status"]) == (account_id, "pending")
        assert payments["reason"] == "requirements.past_due"  # Stripe's disabled_reason

        ingested = client.post(f"/merchants/{merchant['id']}/feed", json=FEED, headers=OPERATOR)
        assert ingested.status_code == 200, ingested.text
        listed = client.get(
            f"/catalog/products?merchant_id={merchant['id']}", headers=agent.headers()
        ).json()
        [variant] = [v["id"] for p in listed["products"] for v in p["variants"]]
        session = agent.create(variant, fulfillment_details=fulfillment()).json()
        assert session["status"] == "not_ready_for_payment"
        [message] = [m for m in session["messages"] if m["type"] == "error"]
        assert "setting up payments" in message["content"]
        token = fake.grant_token(max_amount=total_of(session), checkout_session_id=session["id"])
        refused = agent.complete(session["id"], token)
        assert refused.status_code == 400, refused.text
        assert refused.json()["code"] == "not_ready_for_payment"
        assert not fake.calls("payment_intents.create")

        link = client.post(
            f"/merchants/{merchant['id']}/payments/onboarding_link", headers=OPERATOR
        )
        assert link.status_code == 200, link.text
        [made] = fake.account_links
        assert link.json()["url"] == made["url"]
        assert link.json()["url"].startswith(f"https://connect.stripe.com/setup/e/{account_id}/")
        assert link.json()["payments"]["status"] == "pending"
        [asked] = fake.calls("account_links.create")
        assert asked.form["account"] == account_id
        assert asked.form["type"] == "account_onboarding"
        assert asked.form["collection_options[fields]"] == "currently_due"
        base = f"http://checkout.test/merchants/{merchant['id']}/payments/onboarding"
        assert asked.form["refresh_url"].startswith(f"{base}/refresh?")
        assert asked.form["return_url"].startswith(f"{base}/return?")

        # The merchant finishes onboarding at Stripe and comes back through the signed URL.
        fake.enable(account_id)
        back = urlsplit(asked.form["return_url"])
        returned = client.get(f"{back.path}?{back.query}")
        assert returned.status_code == 200, returned.text
        assert returned.json()["status"] == "payable"
        assert parse_qs(back.query).keys() == {"expires", "signature"}
        ready = agent.get(session["id"]).json()
        assert ready["status"] == "ready_for_payment", ready["messages"]
        paid = agent.complete(session["id"], token)
        assert paid.status_code == 200, paid.text
    [create] = fake.calls("payment_intents.create")
    assert create.form["transfer_data[destination]"] == account_id
    assert create.form["application_fee_amount"] == str(commission_of(session))


def test_a_shared_token_is_checked_against_its_limits_before_any_payment_intent(
    database_url: str, fake: FakeStripe, backoff: list[float]
) -> None:
    assign_account(database_url, CLAY, fake.add_account())
    with start(database_url) as client:
        agent = Agent(client)
        session = agent.ready_session(pick(CLAY))
        total = total_of(session)
        other = agent.ready_session(pick(CLAY, skip=1))
        used = fake.grant_token(max_amount=total)
        fake.tokens[used]["deactivated_at"] = fake.clock()
        tokens = {
            "payment_token_not_found": "spt_1NeverGranted",
            "payment_token_amount_exceeded": fake.grant_token(max_amount=total - 1),
            "payment_token_currency_mismatch": fake.grant_token(max_amount=total, currency="eur"),
            "payment_token_session_mismatch": fake.grant_token(
                max_amount=total, checkout_session_id=other["id"]
            ),
            "payment_token_expired": fake.grant_token(max_amount=total, expires_in=-60),
            "payment_token_used": used,
        }
        for code, token in tokens.items():
            response = agent.complete(session["id"], token)
            assert response.status_code == 400, (code, response.text)
            assert response.json()["code"] == code
            assert response.json()["param"] == "$.payment_data.instrument.credential.token"
        reads = fake.calls("granted_tokens.retrieve")
        assert [c.path.rsplit("/", 1)[1] for c in reads] == list(tokens.values())

        fake.fail("granted_tokens.retrieve", kind="server_error")
        unread = fake.grant_token(max_amount=total)
        down = agent.complete(session["id"], unread)
        assert down.status_code == 503, down.text
        assert "nothing was charged" in down.json()["message"]
        assert agent.complete(session["id"], unread).status_code == 200
        assert agent.get(session["id"]).json()["status"] == "completed"
    [create] = fake.calls("payment_intents.create")
    assert create.form["payment_method_data[shared_payment_granted_token]"] == unread


def test_without_stripes_acquirer_details_a_3ds_challenge_is_not_handed_to_the_agent(
    database_url: str, fake: FakeStripe
) -> None:
    assign_account(database_url, NORTHWIND, fake.add_account())
    unset = {"stripe_3ds_acquirer_bin": None, "stripe_3ds_acquirer_merchant_id": None}
    with start(database_url, **unset) as client:
        agent = Agent(client)
        session = agent.ready_session(pick(NORTHWIND))
        token = fake.grant_token(
            max_amount=total_of(session),
            checkout_session_id=session["id"],
            outcome="requires_action",
        )

        response = agent.complete(session["id"], token)

        assert response.status_code == 402, response.text
        after = agent.get(session["id"]).json()
        assert after["status"] == "ready_for_payment"
        assert "authentication_metadata" not in after or after["authentication_metadata"] is None
        [intent] = fake.payment_intents.values()
        assert intent["status"] == "canceled"  # the waiting hold is released at Stripe


def test_a_3ds_challenge_the_agent_cannot_take_is_declined_and_released_at_stripe(
    database_url: str, fake: FakeStripe
) -> None:
    assign_account(database_url, NORTHWIND, fake.add_account())
    with start(database_url) as client:
        agent = Agent(client)
        session = agent.create(
            pick(NORTHWIND),
            capabilities={"interventions": {"supported": []}},
            fulfillment_details=fulfillment(),
        ).json()
        token = fake.grant_token(
            max_amount=total_of(session),
            checkout_session_id=session["id"],
            outcome="requires_action",
        )
        response = agent.complete(session["id"], token)
        assert response.status_code == 402, response.text
        assert "3-D Secure" in response.json()["message"]
        assert agent.get(session["id"]).json()["status"] == "ready_for_payment"
    [intent] = fake.payment_intents.values()
    assert intent["status"] == "canceled"
    [cancel] = fake.calls("payment_intents.cancel")
    [(payment_id, status)] = sql(database_url, "SELECT id, status FROM payments")
    assert cancel.idempotency_key == f"{payment_id}:void"
    assert status == "canceled"


def test_a_denied_3ds_result_declines_and_recovery_releases_the_waiting_payment_intent(
    database_url: str, fake: FakeStripe
) -> None:
    assign_account(database_url, CLAY, fake.add_account())
    with start(database_url) as client:
        agent = Agent(client)
        session = agent.ready_session(pick(CLAY))
        token = fake.grant_token(
            max_amount=total_of(session),
            checkout_session_id=session["id"],
            outcome="requires_action",
        )
        assert agent.complete(session["id"], token).status_code == 400
        denied = agent.complete(session["id"], token, authentication_result={"outcome": "denied"})
        assert denied.status_code == 402, denied.text
        assert agent.get(session["id"]).json()["status"] == "ready_for_payment"
        services = client.app.state.services  # type: ignore[attr-defined]
        report = client.portal.call(  # type: ignore[union-attr]
            lambda: recover_purchases(services.completion, older_than=timedelta(0))
        )
        assert report == {"completed": 0, "unwound": 0, "pending": 0}
    [intent] = fake.payment_intents.values()
    assert intent["status"] == "canceled"
    assert len(fake.calls("payment_intents.cancel")) == 1
    assert not fake.calls("payment_intents.capture")


def test_an_account_opened_with_a_lost_answer_is_not_opened_twice(
    database_url: str, fake: FakeStripe
) -> None:
    with start(database_url) as client:
        fake.fail("accounts.create", kind="timeout", after=True)
        created = client.post(
            "/merchants",
            headers=OPERATOR,
            json={"name": "Paper & Ink", "platform": "feed", "currency": "usd"},
        )
        assert created.status_code == 201, created.text
        merchant_id = created.json()["id"]
        assert created.json()["payments"] == {
            "account_id": None,
            "status": "pending",
            "reason": "the payment account is not open yet",
        }
        [account_id] = fake.accounts  # Stripe made it; the platform did not hear back

        link = client.post(f"/merchants/{merchant_id}/payments/onboarding_link", headers=OPERATOR)
        assert link.status_code == 200, link.text
        assert link.json()["payments"]["account_id"] == account_id
        assert list(fake.accounts) == [account_id]
        assert {c.idempotency_key for c in fake.calls("accounts.create")} == {
            f"{merchant_id}:account"
        }

        # The link expired: Stripe sends the merchant to the refresh URL for a new one.
        refresh = urlsplit(fake.calls("account_links.create")[0].form["refresh_url"])
        again = client.get(f"{refresh.path}?{refresh.query}", follow_redirects=False)
        assert again.status_code == 303
        assert again.headers["location"] == fake.account_links[1]["url"]
        expires = parse_qs(refresh.query)["expires"][0]
        forged = client.get(
            f"{refresh.path}?expires={expires}&signature={'0' * 64}", follow_redirects=False
        )
        assert forged.status_code == 401
    assert len(fake.account_links) == 2

"""Stripe's webhooks at POST /webhooks/stripe: signatures, redeliveries, events in any order, and
what each event changes (merchants' accounts, disputes, refunds made in the Dashboard), with the
Stripe API played by the stateful fake in tests/fake_stripe.py."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient

from checkout.api.services import Services
from checkout.app import create_app
from checkout.flows.stripe_events import replay_deferred_events
from checkout.payments.stripe_webhooks import sign_stripe_payload
from tests.fake_stripe import (
    CONNECT_WEBHOOK_SECRET,
    WEBHOOK_SECRET,
    FakeStripe,
    assign_account,
    half_up,
    sql,
    stripe_settings,
)
from tests.stripe_contract import fixtures
from tests.support import CLAY, NORTHWIND, OPERATOR_KEY, Agent, pick, total_of

OPERATOR = {"Authorization": f"Bearer {OPERATOR_KEY}"}


@pytest.fixture
def fake() -> Iterator[FakeStripe]:
    with FakeStripe() as api:
        yield api


@pytest.fixture
def client(database_url: str, fake: FakeStripe) -> Iterator[TestClient]:
    for merchant_id in (CLAY, NORTHWIND):
        assign_account(database_url, merchant_id, fake.add_account())
    with TestClient(create_app(stripe_settings(database_url))) as test_client:
        yield test_client


def services_of(client: TestClient) -> Services:
    services: Services = client.app.state.services  # type: ignore[attr-defined]
    return services


def deliver(
    client: TestClient,
    event: dict[str, Any],
    *,
    secret: str = WEBHOOK_SECRET,
    timestamp: int | None = None,
    payload: bytes | None = None,
    signature: str | None = None,
) -> Any:
    """POST an event as Stripe does: the raw JSON, signed afresh for this delivery."""
    body = json.dumps(event).encode() if payload is None else payload
    if signature is None:
        when = int(time.time()) if timestamp is None else timestamp
        signature = sign_stripe_payload(json.dumps(event).encode(), secret, when)
    headers = {"Content-Type": "application/json"}
    if signature:
        headers["Stripe-Signature"] = signature
    return client.post("/webhooks/stripe", content=body, headers=headers)


def outcome(response: Any) -> str:
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["received"] is True
    return str(body["outcome"])


def buy(client: TestClient, fake: FakeStripe, merchant_id: str = CLAY) -> dict[str, Any]:
    """A completed purchase: the order reference, with the session's totals."""
    agent = Agent(client)
    session = agent.ready_session(pick(merchant_id))
    token = fake.grant_token(max_amount=total_of(session), checkout_session_id=session["id"])
    response = agent.complete(session["id"], token)
    assert response.status_code == 200, response.text
    order: dict[str, Any] = response.json()["order"]
    return {**order, "totals": session["totals"]}


def intent_of(database_url: str, order_id: str) -> str:
    [(intent,)] = sql(
        database_url,
        "SELECT p.provider_payment_id FROM orders o JOIN payments p ON p.id = o.payment_id "
        "WHERE o.id = :o",
        o=order_id,
    )
    return str(intent)


def ledger(client: TestClient, merchant_id: str) -> list[dict[str, Any]]:
    response = client.get(f"/merchants/{merchant_id}/ledger", headers=OPERATOR)
    assert response.status_code == 200, response.text
    entries: list[dict[str, Any]] = response.json()["entries"]
    return entries


def moved(entries: list[dict[str, Any]], kind: str, account: str) -> int:
    return sum(e["amount"] for e in entries if e["kind"] == kind and e["account"] == account)


def events_in_inbox(database_url: str) -> list[tuple[Any, ...]]:
    return sql(database_url, "SELECT id, processed_at IS NOT NULL, outcome FROM stripe_events")


# --- signatures ----------------------------------------------------------------------------


def test_only_a_recent_delivery_signed_with_an_endpoint_secret_is_accepted(
    client: TestClient, fake: FakeStripe, database_url: str
) -> None:
    event = fake.event("customer.created", {**fixtures()["customer"], "id": "cus_1Fake"})
    payload = json.dumps(event).encode()
    now = int(time.time())
    tampered = payload.replace(b"cus_1Fake", b"cus_2Fake")
    refused = {
        "wrong secret": deliver(client, event, secret="whsec_someone_else_0000000000"),
        "tampered body": deliver(
            client,
            event,
            payload=tampered,
            signature=sign_stripe_payload(payload, WEBHOOK_SECRET, now),
        ),
        # Each read of the time right before its delivery: on a loaded machine the deliveries
        # before it may take seconds, which must not bring "the future" within the tolerance.
        "old timestamp": deliver(client, event, timestamp=int(time.time()) - 310),
        "future timestamp": deliver(client, event, timestamp=int(time.time()) + 310),
        "no header": deliver(client, event, signature=""),
        "v0 only": deliver(
            client,
            event,
            signature=sign_stripe_payload(payload, WEBHOOK_SECRET, now).replace("v1=", "v0="),
        ),
    }
    for case, response in refused.items():
        assert response.status_code == 400, case
        body = response.json()
        assert body["type"] == "invalid_request", case
        assert body["code"] == "invalid_signature", case
        assert body["message"].startswith("The Stripe-Signature is not valid"), case
    assert events_in_inbox(database_url) == []

    assert outcome(deliver(client, event)) == "ignored"
    connect = fake.event("customer.created", {**fixtures()["customer"], "id": "cus_3Fake"})
    assert outcome(deliver(client, connect, secret=CONNECT_WEBHOOK_SECRET)) == "ignored"
    # Stripe signs each retry afresh; an event already processed is not processed again.
    assert outcome(deliver(client, event, timestamp=now - 10)) == "duplicate"
    assert sorted(events_in_inbox(database_url)) == sorted(
        [(event["id"], True, "ignored"), (connect["id"], True, "ignored")]
    )


def test_without_a_webhook_secret_stripe_events_are_refused(
    database_url: str, fake: FakeStripe
) -> None:
    settings = stripe_settings(
        database_url, stripe_webhook_secret=None, stripe_connect_webhook_secret=None
    )
    with TestClient(create_app(settings)) as client:
        event = fake.event("customer.created", {**fixtures()["customer"], "id": "cus_1Fake"})
        response = deliver(client, event, secret="")
    assert response.status_code == 400
    assert response.json()["code"] == "webhooks_not_configured"


# --- merchants' accounts -------------------------------------------------------------------


def test_account_updated_makes_a_merchant_payable_and_an_older_event_cannot_undo_it(
    client: TestClient, fake: FakeStripe
) -> None:
    created = client.post(
        "/merchants",
        headers=OPERATOR,
        json={"name": "Paper & Ink", "platform": "feed", "currency": "usd"},
    )
    assert created.status_code == 201, created.text
    merchant_id, account_id = created.json()["id"], created.json()["payments"]["account_id"]
    assert created.json()["payments"]["status"] == "pending"
    pending_snapshot = fake.snapshot("account", account_id)
    before = int(time.time()) - 60

    enabled = fake.event("account.updated", fake.enable(account_id), account=account_id)
    assert outcome(deliver(client, enabled, secret=CONNECT_WEBHOOK_SECRET)) == "merchant payable"
    payments = client.get(f"/merchants/{merchant_id}", headers=OPERATOR).json()["payments"]
    assert payments == {"account_id": account_id, "status": "payable", "reason": None}

    older = fake.event("account.updated", pending_snapshot, account=account_id, created=before)
    assert outcome(deliver(client, older)) == "merchant payable (unchanged)"
    payments = client.get(f"/merchants/{merchant_id}", headers=OPERATOR).json()["payments"]
    assert payments["status"] == "payable"
    reads = [c.path for c in fake.calls("accounts.retrieve")]
    assert reads.count(f"/v1/accounts/{account_id}") == 2  # each event re-read the account

    unknown = fake.event(
        "account.updated", fake.snapshot("account", account_id) | {"id": "acct_1Other"}
    )
    unknown["account"] = "acct_1Other"
    assert outcome(deliver(client, unknown)) == "no such merchant"


def test_an_old_account_updated_cannot_undo_a_newer_state_while_stripe_is_unreachable(
    client: TestClient, fake: FakeStripe, database_url: str
) -> None:
    [(account_id,)] = sql(
        database_url, "SELECT payment_account_id FROM merchants WHERE id = :m", m=CLAY
    )
    enabled_snapshot = fake.snapshot("account", account_id)
    disabled = fake.event("account.updated", fake.disable(account_id), account=account_id)
    assert outcome(deliver(client, disabled)) == "merchant pending"

    fake.fail("accounts.retrieve", kind="timeout")
    older = fake.event(
        "account.updated", enabled_snapshot, account=account_id, created=int(time.time()) - 600
    )
    deliver(client, older)

    payments = client.get(f"/merchants/{CLAY}", headers=OPERATOR).json()["payments"]
    assert payments["status"] == "pending"  # Stripe disabled the account; it stays disabled


def test_an_account_the_platform_can_no_longer_read_is_answered_and_not_payable(
    database_url: str, fake: FakeStripe
) -> None:
    account_id = fake.add_account()
    assign_account(database_url, CLAY, account_id)
    with TestClient(
        create_app(stripe_settings(database_url)), raise_server_exceptions=False
    ) as client:
        snapshot = fake.snapshot("account", account_id)
        fake.disconnect(account_id)
        response = deliver(client, fake.event("account.updated", snapshot, account=account_id))

        assert response.status_code == 200, response.text
        payments = client.get(f"/merchants/{CLAY}", headers=OPERATOR).json()["payments"]
        assert payments["status"] == "pending"


def test_a_merchant_that_disconnects_the_platform_stops_being_payable(
    client: TestClient, fake: FakeStripe, database_url: str
) -> None:
    [(account_id,)] = sql(
        database_url, "SELECT payment_account_id FROM merchants WHERE id = :m", m=NORTHWIND
    )
    fake.disconnect(account_id)
    application = {"id": "ca_1FakePlatform", "object": "application", "name": "Agentic Checkout"}
    event = fake.event("account.application.deauthorized", application, account=account_id)

    assert outcome(deliver(client, event, secret=CONNECT_WEBHOOK_SECRET)) != "ignored"
    payments = client.get(f"/merchants/{NORTHWIND}", headers=OPERATOR).json()["payments"]
    assert payments["status"] == "pending"


# --- disputes ------------------------------------------------------------------------------


def test_a_dispute_is_paid_by_the_platform_and_recovered_from_the_merchant_once(
    client: TestClient, fake: FakeStripe, database_url: str
) -> None:
    order = buy(client, fake)
    intent = intent_of(database_url, order["id"])
    dispute = fake.open_dispute(intent)
    created, withdrawn = fake.events_of("charge.dispute.created", "charge.dispute.funds_withdrawn")
    amount, dispute_fee = dispute["amount"], fake.dispute_fee

    assert outcome(deliver(client, created)) == "dispute needs_response"
    first = outcome(deliver(client, withdrawn))
    assert first == (
        f"dispute of {amount} withdrawn (fee {dispute_fee}), {amount} recovered from the merchant"
    )
    assert outcome(deliver(client, withdrawn)) == "duplicate"
    redelivered = fake.event("charge.dispute.funds_withdrawn", withdrawn["data"]["object"])
    assert (
        outcome(deliver(client, redelivered))
        == f"dispute of {amount} withdrawn (already recovered)"
    )

    # What Stripe did: the platform's transfer to the merchant is reversed by the amount, once.
    [reversal] = fake.transfer_reversals
    charge = fake.charges[fake.payment_intents[intent]["latest_charge"]]
    assert (reversal["transfer"], reversal["amount"]) == (charge["transfer"], amount)
    assert len(fake.calls("transfer_reversals.create")) == 1
    entries = ledger(client, CLAY)
    assert moved(entries, "dispute", "platform") == -amount
    assert moved(entries, "dispute", "buyer") == amount
    assert moved(entries, "dispute_fee", "platform") == -dispute_fee
    assert moved(entries, "transfer_reversal", "merchant") == -amount
    assert moved(entries, "transfer_reversal", "platform") == amount
    assert sum(e["amount"] for e in entries) == 0
    agent = Agent(client)

    def dispute_adjustments() -> list[tuple[str, str, int]]:
        seen = client.get(f"/orders/{order['id']}", headers=agent.headers()).json()
        return [
            (a["id"], a["status"], a["amount"])
            for a in seen["adjustments"]
            if a["type"] == "dispute"
        ]

    assert dispute_adjustments() == [(dispute["id"], "pending", amount)]
    statement = client.get(f"/merchants/{CLAY}/statement", headers=OPERATOR).json()
    assert statement["disputes"] == amount

    # The merchant wins: Stripe gives the amount (and here the fee) back to the platform, which
    # pays the merchant what it had taken.
    fake.close_dispute(dispute["id"], won=True)
    reinstated, closed = fake.events_of("charge.dispute.funds_reinstated", "charge.dispute.closed")
    assert outcome(deliver(client, reinstated)) == (
        f"dispute of {amount} reinstated, {amount} paid back to the merchant"
    )
    assert outcome(deliver(client, closed)) == "dispute won"
    [repaid] = [c for c in fake.calls("transfers.create")]
    assert repaid.form["amount"] == str(amount)
    assert repaid.form["source_transaction"] == charge["id"]
    assert dispute_adjustments() == [(dispute["id"], "failed", amount)]
    entries = ledger(client, CLAY)
    assert sum(e["amount"] for e in entries) == 0
    assert (
        sum(e["amount"] for e in entries if e["account"] == "processor")
        == (fake.balance_transactions[charge["balance_transaction"]]["fee"])
    )
    statement = client.get(f"/merchants/{CLAY}/statement", headers=OPERATOR).json()
    assert statement["disputes"] == 0
    assert statement["net"] == statement["gross_sales"] - statement["commission"]


def test_an_inquiry_moves_no_money_and_a_lost_dispute_stays_with_the_merchant(
    client: TestClient, fake: FakeStripe, database_url: str
) -> None:
    order = buy(client, fake)
    intent = intent_of(database_url, order["id"])
    inquiry = fake.open_dispute(intent, inquiry=True)
    assert [e["type"] for e in fake.events_of()][-1] == "charge.dispute.created"
    [created] = fake.events_of("charge.dispute.created")
    assert outcome(deliver(client, created)) == (
        "dispute warning_needs_response: an inquiry moves no money"
    )
    fake.close_dispute(inquiry["id"], won=False)
    assert outcome(deliver(client, fake.events_of("charge.dispute.closed")[-1])) == (
        "dispute warning_closed: an inquiry moves no money"
    )
    assert not [e for e in ledger(client, CLAY) if e["kind"].startswith(("dispute", "transfer"))]
    assert not fake.calls("transfer_reversals.create")

    chargeback = fake.open_dispute(intent, amount=500)
    for event in fake.events_of("charge.dispute.funds_withdrawn"):
        deliver(client, event)
    fake.close_dispute(chargeback["id"], won=False)
    assert not fake.events_of("charge.dispute.funds_reinstated")
    entries = ledger(client, CLAY)
    assert moved(entries, "transfer_reversal", "merchant") == -500
    assert moved(entries, "dispute", "buyer") == 500
    statement = client.get(f"/merchants/{CLAY}/statement", headers=OPERATOR).json()
    assert statement["disputes"] == 500
    assert statement["net"] == statement["gross_sales"] - statement["commission"] - 500
    # The books agree with Stripe's: the processor got exactly the fees on Stripe's balance
    # transactions, and the merchant lost exactly what its transfer was reversed by.
    stripe_fees = sum(t["fee"] for t in fake.balance_transactions.values())
    assert sum(e["amount"] for e in entries if e["account"] == "processor") == stripe_fees
    assert sum(r["amount"] for r in fake.transfer_reversals) == 500


def test_a_dispute_that_arrives_before_its_order_is_deferred_and_applied_later(
    client: TestClient, fake: FakeStripe, database_url: str
) -> None:
    agent = Agent(client)
    session = agent.ready_session(pick(NORTHWIND))
    token = fake.grant_token(max_amount=total_of(session), checkout_session_id=session["id"])
    # Stripe captures, but the answer is lost: no order yet, while Stripe already has a charge.
    fake.fail("payment_intents.capture", kind="timeout", after=True)
    lost = agent.complete(session["id"], token)
    assert lost.status_code == 503, lost.text
    [intent] = fake.intents_for(session["id"])
    assert intent["status"] == "succeeded"
    fake.open_dispute(intent["id"], amount=500)
    [early] = fake.events_of("charge.dispute.funds_withdrawn")

    assert outcome(deliver(client, early)) == "deferred"
    assert events_in_inbox(database_url) == [(early["id"], False, None)]

    done = agent.complete(session["id"], token)
    assert done.status_code == 200, done.text
    assert len(fake.calls("payment_intents.capture")) == 2
    assert len(fake.calls("payment_intents.capture", answered=True)) == 1
    inbox = services_of(client).stripe_inbox
    applied = client.portal.call(replay_deferred_events, inbox)  # type: ignore[union-attr]

    assert applied == 1
    assert events_in_inbox(database_url) == [
        (early["id"], True, "dispute of 500 withdrawn (fee 1500), 500 recovered from the merchant")
    ]
    entries = ledger(client, NORTHWIND)
    assert moved(entries, "dispute", "buyer") == 500
    assert sum(e["amount"] for e in entries) == 0
    assert outcome(deliver(client, early)) == "duplicate"
    assert client.portal.call(replay_deferred_events, inbox) == 0  # type: ignore[union-attr]


# --- payments and refunds settled by events ------------------------------------------------


def test_a_capture_whose_answer_was_lost_is_finished_by_payment_intent_succeeded(
    client: TestClient, fake: FakeStripe, database_url: str
) -> None:
    agent = Agent(client)
    session = agent.ready_session(pick(CLAY))
    token = fake.grant_token(max_amount=total_of(session), checkout_session_id=session["id"])
    fake.fail("payment_intents.capture", kind="timeout", after=True)
    assert agent.complete(session["id"], token).status_code == 503
    [intent] = fake.intents_for(session["id"])
    fake.forget_idempotency_keys()  # the capture's key is gone: Stripe answers by its state

    succeeded = fake.event(
        "payment_intent.succeeded", fake.snapshot("payment_intent", intent["id"])
    )
    assert outcome(deliver(client, succeeded)) == "purchase completed"

    assert agent.get(session["id"]).json()["status"] == "completed"
    assert sql(database_url, "SELECT count(*) FROM orders") == [(1,)]
    assert fake.calls("payment_intents.capture")[-1].status == 400  # already captured
    assert fake.calls("payment_intents.retrieve")[-1].query == {
        "expand[0]": "latest_charge",
        "expand[1]": "latest_charge.balance_transaction",
    }
    [(charge_id, fee_id)] = sql(
        database_url,
        "SELECT charge_id, application_fee_id FROM payments WHERE status = 'succeeded'",
    )
    assert charge_id == intent["latest_charge"]
    assert fee_id == fake.charges[charge_id]["application_fee"]
    assert len(fake.payment_intents) == 1


def test_a_refund_made_in_the_stripe_dashboard_is_recorded_once_and_the_ledger_stays_balanced(
    client: TestClient, fake: FakeStripe, database_url: str
) -> None:
    order = buy(client, fake)
    intent = intent_of(database_url, order["id"])
    total = total_of(order)
    fake.refund_in_dashboard(intent, 700)
    created, refunded = fake.events_of("refund.created", "charge.refunded")

    assert outcome(deliver(client, created)) == "refund of 700 made in Stripe recorded"
    assert outcome(deliver(client, created)) == "duplicate"
    # charge.refunded carries no refunds since API 2022-11-15: it settles nothing by itself.
    assert outcome(deliver(client, refunded)) == "refunds settle from refund events"
    # Another event about the same refund adds nothing.
    again = fake.event("refund.updated", created["data"]["object"])
    assert outcome(deliver(client, again)) == "refund succeeded"

    listed = client.get(f"/orders/{order['id']}/refunds", headers=OPERATOR).json()["refunds"]
    assert [(r["amount"], r["source"], r["status"], r["commission_refunded"]) for r in listed] == [
        (700, "stripe", "succeeded", 0)
    ]
    document = client.get(f"/orders/{order['id']}", headers=Agent(client).headers()).json()
    assert total_of(document, "amount_refunded") == 700
    entries = ledger(client, CLAY)
    assert moved(entries, "refund", "buyer") == 700
    assert moved(entries, "merchant_refund", "merchant") == -700
    assert sum(e["amount"] for e in entries) == 0

    # The operator refunds the rest: Stripe gives back the whole fee, and so does the ledger.
    rest = client.post(
        f"/orders/{order['id']}/refunds", json={}, headers={**OPERATOR, "Idempotency-Key": "r-1"}
    )
    assert rest.status_code == 201, rest.text
    assert rest.json()["amount"] == total - 700
    fee = fake.fee_of(intent)
    assert rest.json()["commission_refunded"] == fee["amount_refunded"] == fee["amount"]
    entries = ledger(client, CLAY)
    assert moved(entries, "commission_refund", "clearing") == fee["amount"]
    assert sum(e["amount"] for e in entries) == 0


def test_a_dashboard_refund_that_gave_the_fee_back_is_booked_with_that_fee(
    client: TestClient, fake: FakeStripe, database_url: str
) -> None:
    order = buy(client, fake)
    intent = intent_of(database_url, order["id"])
    fake.refund_in_dashboard(intent, 700, refund_application_fee=True)
    fee = fake.fee_of(intent)
    assert fee["amount_refunded"] == half_up(fee["amount"] * 700, total_of(order)) > 0

    for event in fake.events_of("refund.created", "charge.refunded"):
        deliver(client, event)

    entries = ledger(client, CLAY)
    assert moved(entries, "commission_refund", "clearing") == fee["amount_refunded"]


def test_a_dashboard_refund_that_kept_the_merchants_transfer_is_paid_by_the_platform(
    client: TestClient, fake: FakeStripe, database_url: str
) -> None:
    order = buy(client, fake)
    intent = intent_of(database_url, order["id"])
    fake.refund_in_dashboard(intent, 700, reverse_transfer=False)
    [created] = fake.events_of("refund.created")
    assert created["data"]["object"]["transfer_reversal"] is None

    assert outcome(deliver(client, created)) == "refund of 700 made in Stripe recorded"

    entries = ledger(client, CLAY)
    assert moved(entries, "refund", "buyer") == 700
    assert moved(entries, "platform_funded_refund", "platform") == -700
    assert not [e for e in entries if e["kind"] == "merchant_refund"]
    assert sum(e["amount"] for e in entries) == 0
    statement = client.get(f"/merchants/{CLAY}/statement", headers=OPERATOR).json()
    assert statement["net"] == statement["gross_sales"] - statement["commission"]


def test_after_a_dashboard_refund_a_retried_refund_still_books_the_fee_stripe_gave_back(
    client: TestClient, fake: FakeStripe, database_url: str
) -> None:
    order = buy(client, fake, NORTHWIND)
    intent = intent_of(database_url, order["id"])
    fake.refund_in_dashboard(intent, 500)
    [created] = fake.events_of("refund.created")
    assert "recorded" in outcome(deliver(client, created))
    fake.fail("refunds.create", kind="timeout", after=True)
    headers = {**OPERATOR, "Idempotency-Key": "rest-1"}
    lost = client.post(f"/orders/{order['id']}/refunds", json={}, headers=headers)
    assert lost.status_code == 503, lost.text

    again = client.post(f"/orders/{order['id']}/refunds", json={}, headers=headers)

    assert again.status_code == 201, again.text
    fee = fake.fee_of(intent)
    assert fee["amount_refunded"] == fee["amount"] > 0
    assert again.json()["commission_refunded"] == fee["amount"]
    entries = ledger(client, NORTHWIND)
    assert moved(entries, "commission_refund", "clearing") == fee["amount"]


def test_a_refund_stripe_leaves_pending_is_settled_by_refund_updated(
    client: TestClient, fake: FakeStripe, database_url: str
) -> None:
    order = buy(client, fake, NORTHWIND)
    fake.refund_status = "pending"
    response = client.post(
        f"/orders/{order['id']}/refunds",
        json={"amount": 1000},
        headers={**OPERATOR, "Idempotency-Key": "slow-1"},
    )
    assert response.status_code == 201, response.text
    assert response.json()["status"] == "pending"
    assert response.json()["order"].get("adjustments")[0]["status"] == "pending"
    [stripe_refund] = fake.refunds.values()
    assert response.json()["provider_refund_id"] == stripe_refund["id"]
    assert not [e for e in ledger(client, NORTHWIND) if e["kind"] == "refund"]

    updated = fake.event("refund.updated", fake.finish_refund(stripe_refund["id"]))
    assert outcome(deliver(client, updated)) == "refund succeeded"
    again = fake.event("refund.updated", fake.snapshot("refund", stripe_refund["id"]))
    assert outcome(deliver(client, again)) == "refund succeeded"  # already settled: no change

    entries = ledger(client, NORTHWIND)
    assert moved(entries, "refund", "buyer") == 1000
    assert sum(e["amount"] for e in entries) == 0
    document = client.get(f"/orders/{order['id']}", headers=Agent(client).headers()).json()
    assert total_of(document, "amount_refunded") == 1000
    assert document["adjustments"][0]["status"] == "completed"

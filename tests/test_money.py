"""The money through the operator API on the sandbox provider: the ledger of a sale, refunds in
full and in part, commission versions, statements and the platform's revenue."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import create_engine, text

from checkout.app import create_app
from checkout.domain.commission import CommissionLine, CommissionTerms, commission_for
from checkout.domain.fees import FeeSchedule
from checkout.payments.provider import (
    Capture,
    PaymentRefused,
    PaymentUnavailable,
    Refund,
    RefundRequest,
)
from checkout.payments.sandbox import SandboxPaymentProvider
from tests.conftest import make_settings
from tests.platform_support import platform_orders
from tests.support import CLAY, NORTHWIND, OPERATOR_KEY, Agent, both_backends, pick, total_of

OPERATOR = {"Authorization": f"Bearer {OPERATOR_KEY}"}


def rows(url: str, sql: str, **params: object) -> list[tuple[Any, ...]]:
    engine = create_engine(url)
    with engine.connect() as connection:
        result = [tuple(row) for row in connection.execute(text(sql), params)]
    engine.dispose()
    return result


def bought(agent: Agent, variant: str, quantity: int = 1) -> dict[str, Any]:
    completed = agent.buy((variant, quantity))
    assert completed.status_code == 200, completed.text
    body: dict[str, Any] = completed.json()
    return body


def expected_commission(session: dict[str, Any], rate_bps: int = 200) -> int:
    return commission_for(
        CommissionTerms(rate_bps=rate_bps),
        [CommissionLine(total_of(session, "subtotal"))],
        shipping=total_of(session, "fulfillment"),
    ).amount


def refund(client: TestClient, order_id: str, key: str, **body: Any) -> Any:  # the raw response
    return client.post(
        f"/orders/{order_id}/refunds", json=body, headers={**OPERATOR, "Idempotency-Key": key}
    )


def ledger_of(client: TestClient, merchant_id: str) -> list[dict[str, Any]]:
    response = client.get(f"/merchants/{merchant_id}/ledger", headers=OPERATOR)
    assert response.status_code == 200, response.text
    entries: list[dict[str, Any]] = response.json()["entries"]
    return entries


def by_kind(entries: list[dict[str, Any]], account: str) -> dict[str, int]:
    sums: dict[str, int] = {}
    for entry in entries:
        if entry["account"] == account:
            sums[entry["kind"]] = sums.get(entry["kind"], 0) + entry["amount"]
    return sums


@both_backends
def test_a_sale_writes_charge_commission_and_merchant_share_that_balance(
    agent: Agent, settings
) -> None:  # type: ignore[no-untyped-def]
    completed = bought(agent, pick(CLAY), 2)
    total, commission = total_of(completed), expected_commission(completed)
    assert commission > 0
    entries = ledger_of(agent.client, CLAY)
    assert sum(e["amount"] for e in entries) == 0
    assert by_kind(entries, "buyer") == {"charge": -total}
    # The sandbox prices its charges like Stripe's US list price: 2.9% + 30 cents.
    fee = FeeSchedule().processing_fee(total)
    assert fee == (total * 290 + 5_000) // 10_000 + 30
    assert by_kind(entries, "platform") == {"commission": commission, "processing_fee": -fee}
    assert by_kind(entries, "processor") == {"processing_fee": fee}
    assert by_kind(entries, "merchant") == {"merchant_share": total - commission}
    assert {e["order_id"] for e in entries} == {completed["order"]["id"]}
    [(stored, version)] = rows(
        settings.database_url,
        "SELECT commission_amount, commission_version FROM orders WHERE id = :o",
        o=completed["order"]["id"],
    )
    assert (stored, version) == (commission, 1)


@both_backends
def test_a_partial_then_a_full_refund_gives_back_the_whole_commission(agent: Agent) -> None:
    completed = bought(agent, pick(NORTHWIND), 3)
    order_id, total = completed["order"]["id"], total_of(completed)
    commission = expected_commission(completed)

    first = refund(agent.client, order_id, "r-1", amount=1001, reason="requested_by_customer")
    assert first.status_code == 201, first.text
    assert first.json()["status"] == "succeeded"
    rest = refund(agent.client, order_id, "r-2")
    assert rest.status_code == 201, rest.text
    assert rest.json()["amount"] == total - 1001

    assert first.json()["commission_refunded"] + rest.json()["commission_refunded"] == commission
    order = rest.json()["order"]
    assert [(a["type"], a["status"], a["amount"]) for a in order["adjustments"]] == [
        ("refund", "completed", 1001),
        ("refund", "completed", total - 1001),
    ]
    assert {t["type"]: t["amount"] for t in order["totals"]}["amount_refunded"] == total
    entries = ledger_of(agent.client, NORTHWIND)
    assert sum(e["amount"] for e in entries) == 0
    # All commission given back; Stripe keeps its processing fee on a refund.
    assert by_kind(entries, "platform")["processing_fee"] == -FeeSchedule().processing_fee(total)
    assert sum(by_kind(entries, "platform").values()) == -FeeSchedule().processing_fee(total)
    assert sum(by_kind(entries, "merchant").values()) == 0
    assert sum(by_kind(entries, "buyer").values()) == 0

    nothing_left = refund(agent.client, order_id, "r-3", amount=1)
    assert nothing_left.status_code == 400
    assert nothing_left.json()["code"] == "order_fully_refunded"


def test_a_refund_beyond_what_is_left_is_refused_and_changes_nothing(agent: Agent) -> None:
    completed = bought(agent, pick(CLAY))
    order_id, total = completed["order"]["id"], total_of(completed)
    too_much = refund(agent.client, order_id, "big", amount=total + 1)
    assert too_much.status_code == 400
    assert too_much.json()["code"] == "refund_exceeds_charge"
    assert too_much.json()["param"] == "$.amount"
    listed = agent.client.get(f"/orders/{order_id}/refunds", headers=OPERATOR).json()
    assert listed["refunds"] == []
    assert refund(agent.client, "ord_missing", "x").status_code == 404


def test_a_retried_refund_request_is_one_refund(agent: Agent, settings) -> None:  # type: ignore[no-untyped-def]
    completed = bought(agent, pick(CLAY))
    order_id = completed["order"]["id"]
    first = refund(agent.client, order_id, "same", amount=500)
    again = refund(agent.client, order_id, "same", amount=500)
    assert again.status_code == 201
    assert again.headers["idempotent-replayed"] == "true"
    assert again.json()["id"] == first.json()["id"]
    assert rows(settings.database_url, "SELECT count(*) FROM refunds") == [(1,)]


def test_refunds_need_the_operator_key(agent: Agent) -> None:
    completed = bought(agent, pick(CLAY))
    response = agent.client.post(
        f"/orders/{completed['order']['id']}/refunds",
        json={},
        headers={**agent.headers("k"), "Idempotency-Key": "k"},
    )
    assert response.status_code == 401


class RefundsDown(SandboxPaymentProvider):
    """The provider's refund endpoint not answering once."""

    def __init__(self) -> None:
        self.failures = 1
        self.keys: list[str] = []

    async def refund(self, request: RefundRequest) -> Refund:
        self.keys.append(request.idempotency_key)
        if self.failures:
            self.failures -= 1
            raise PaymentUnavailable("timeout")
        return await super().refund(request)


def test_a_refund_the_provider_did_not_answer_is_asked_again_with_the_same_key(
    database_url: str,
) -> None:
    provider = RefundsDown()
    with TestClient(
        create_app(make_settings(database_url), provider=provider), raise_server_exceptions=False
    ) as client:
        agent = Agent(client)
        completed = bought(agent, pick(CLAY))
        order_id = completed["order"]["id"]
        lost = refund(client, order_id, "flaky", amount=700)
        assert lost.status_code == 503
        pending = client.get(f"/orders/{order_id}/refunds", headers=OPERATOR).json()["refunds"]
        assert [(r["status"], r["amount"]) for r in pending] == [("pending", 700)]
        # While it is pending, its amount is not refundable twice.
        assert refund(client, order_id, "other", amount=total_of(completed)).status_code == 400
        retried = refund(client, order_id, "flaky", amount=700)
        assert retried.status_code == 201
        assert retried.json()["status"] == "succeeded"
    assert len(set(provider.keys)) == 1
    assert rows(database_url, "SELECT count(*), sum(amount) FROM refunds") == [(1, 700)]


def test_new_commission_terms_apply_to_new_orders_only(agent: Agent) -> None:
    before = bought(agent, pick(CLAY))
    changed = agent.client.put(
        f"/merchants/{CLAY}/commission",
        json={"rate_bps": 500, "category_bps": {"Jewelry": 1000}, "minimum": 25},
        headers=OPERATOR,
    )
    assert changed.status_code == 200, changed.text
    assert changed.json()["current"]["version"] == 2
    after = bought(agent, pick(CLAY, skip=1))
    history = agent.client.get(f"/merchants/{CLAY}/commission", headers=OPERATOR).json()
    assert [v["rate_bps"] for v in history["history"]] == [200, 500]

    platform = by_kind_per_order(ledger_of(agent.client, CLAY))
    assert platform[before["order"]["id"]] == expected_commission(before, 200)
    assert platform[after["order"]["id"]] >= expected_commission(after, 500)


def test_terms_with_a_fixed_part_are_charged_and_terms_below_the_card_fee_are_flagged(
    agent: Agent,
) -> None:
    # 2% of a $50 order is $1.00; Stripe's list price on it is $1.75.
    thin = agent.client.put(
        f"/merchants/{CLAY}/commission", json={"rate_bps": 200}, headers=OPERATOR
    ).json()
    assert [w["code"] for w in thin["warnings"]] == ["commission_below_processing_fee"]
    assert "175" in thin["warnings"][0]["message"]

    covering = agent.client.put(
        f"/merchants/{CLAY}/commission", json={"rate_bps": 300, "fixed": 30}, headers=OPERATOR
    )
    assert covering.status_code == 200, covering.text
    assert covering.json()["warnings"] == []
    assert covering.json()["current"]["fixed"] == 30
    sold = bought(agent, pick(CLAY))
    base = total_of(sold, "subtotal") + total_of(sold, "fulfillment")
    earned = by_kind_per_order(ledger_of(agent.client, CLAY))[sold["order"]["id"]]
    assert earned == (base * 300 + 5_000) // 10_000 + 30
    history = agent.client.get(f"/merchants/{CLAY}/commission", headers=OPERATOR).json()
    assert [v["fixed"] for v in history["history"]] == [0, 0, 30]


def by_kind_per_order(entries: list[dict[str, Any]]) -> dict[str, int]:
    earned: dict[str, int] = {}
    for entry in entries:
        if entry["account"] == "platform" and entry["kind"] == "commission":
            earned[entry["order_id"]] = earned.get(entry["order_id"], 0) + entry["amount"]
    return earned


def test_a_statement_and_the_platform_revenue_add_up(agent: Agent) -> None:
    sales = [bought(agent, pick(CLAY)), bought(agent, pick(CLAY, skip=1))]
    refund(agent.client, sales[0]["order"]["id"], "part", amount=300)
    today = datetime.now(UTC).date()
    statement = agent.client.get(
        f"/merchants/{CLAY}/statement",
        params={"from": today.isoformat(), "to": today.isoformat()},
        headers=OPERATOR,
    ).json()
    gross = sum(total_of(s) for s in sales)
    commission = sum(expected_commission(s) for s in sales)
    assert statement["orders"] == 2
    assert (statement["gross_sales"], statement["commission"], statement["refunds"]) == (
        gross,
        commission,
        300,
    )
    assert statement["net"] == (
        gross - commission - 300 + statement["commission_refunded"] - statement["disputes"]
    )
    yesterday = (today - timedelta(days=1)).isoformat()
    empty = agent.client.get(
        f"/merchants/{CLAY}/statement", params={"to": yesterday}, headers=OPERATOR
    ).json()
    assert (empty["gross_sales"], empty["net"]) == (0, 0)

    revenue = agent.client.get("/platform/revenue", headers=OPERATOR).json()
    [mine] = [m for m in revenue["by_merchant"] if m["merchant_id"] == CLAY]
    assert mine["commission"] == commission
    # Stripe's fee on every charge is the platform's cost under destination charges.
    fees = sum(FeeSchedule().processing_fee(total_of(s)) for s in sales)
    assert mine["processor_fees"] == fees
    assert mine["refunds_and_disputes"] == 0
    assert mine["net"] == commission - statement["commission_refunded"] - fees
    assert mine["net"] < 0  # 2% of a small order does not cover 2.9% + 30 cents
    [day] = revenue["by_day"]
    assert day["date"] == today.isoformat()


def test_a_statement_period_ending_before_it_starts_is_refused(agent: Agent) -> None:
    response = agent.client.get(
        f"/merchants/{CLAY}/statement",
        params={"from": "2026-11-02", "to": "2026-11-01"},
        headers=OPERATOR,
    )
    assert response.status_code == 400
    assert response.json()["type"] == "invalid_request"


def test_a_merchant_reads_its_own_money_with_its_own_key_and_nobody_else_s(
    agent: Agent,
) -> None:
    created = agent.client.post(
        "/merchants",
        json={"name": "Feed Shop", "platform": "feed", "currency": "usd"},
        headers=OPERATOR,
    )
    assert created.status_code == 201, created.text
    merchant_id, key = created.json()["id"], created.json()["api_key"]
    assert created.json()["payments"]["status"] == "payable"  # the sandbox account takes charges
    own = {"Authorization": f"Bearer {key}"}
    for path in ("ledger", "statement", "commission"):
        assert agent.client.get(f"/merchants/{merchant_id}/{path}", headers=own).status_code == 200
    assert agent.client.get(f"/merchants/{merchant_id}", headers=own).json()["id"] == merchant_id
    assert "api_key" not in agent.client.get(f"/merchants/{merchant_id}", headers=own).json()
    assert agent.client.get(f"/merchants/{CLAY}/ledger", headers=own).status_code == 401
    assert agent.client.get("/platform/revenue", headers=own).status_code == 401
    refused = agent.client.post(
        f"/merchants/{merchant_id}/api_key", headers={**own, "Idempotency-Key": "k"}
    )
    assert refused.status_code == 401

    rotated = agent.client.post(f"/merchants/{merchant_id}/api_key", headers=OPERATOR)
    fresh = {"Authorization": f"Bearer {rotated.json()['api_key']}"}
    assert agent.client.get(f"/merchants/{merchant_id}/ledger", headers=own).status_code == 401
    assert agent.client.get(f"/merchants/{merchant_id}/ledger", headers=fresh).status_code == 200


class CaptureRefused(SandboxPaymentProvider):
    """A hold that can no longer be captured (it lapsed at the issuer)."""

    async def capture(self, payment_id: str, amount: int, *, idempotency_key: str) -> Capture:
        raise PaymentRefused("the authorization has expired")


def test_a_hold_that_cannot_be_captured_cancels_the_merchant_order_and_charges_nothing(
    database_url: str,
) -> None:
    variant = pick(NORTHWIND)
    with TestClient(
        create_app(make_settings(database_url), provider=CaptureRefused()),
        raise_server_exceptions=False,
    ) as client:
        agent = Agent(client)
        before = rows(database_url, "SELECT inventory FROM variants WHERE id = :v", v=variant)
        session = agent.ready_session(variant)
        token = agent.delegate(session).json()["id"]
        response = agent.complete(session["id"], token)
        assert response.status_code == 402
        assert response.json()["code"] == "payment_declined"
        [placed] = [o for o in platform_orders(client, NORTHWIND) if o.reference == session["id"]]
        assert placed.canceled
        after = agent.get(session["id"]).json()
        assert after["status"] == "ready_for_payment"
        assert "payment_declined" in [m.get("code") for m in after["messages"]]
    assert rows(database_url, "SELECT count(*) FROM orders") == [(0,)]
    assert rows(database_url, "SELECT count(*) FROM ledger_entries") == [(0,)]
    assert rows(database_url, "SELECT status FROM payments") == [("canceled",)]
    assert rows(database_url, "SELECT inventory FROM variants WHERE id = :v", v=variant) == before

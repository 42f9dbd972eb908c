"""Commission terms, refunds of commission and the ledger's balance, as plain rules."""

from __future__ import annotations

import re
from datetime import date
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from checkout.domain import ledger
from checkout.domain.commission import (
    CommissionLine,
    CommissionTerms,
    commission_for,
    commission_refund,
    shortfall,
)
from checkout.domain.fees import FeeSchedule
from checkout.domain.ledger import Account, Entry, revenue, statement

README = Path(__file__).resolve().parent.parent / "README.md"


def readme_commission_rows() -> list[list[str]]:
    text = README.read_text()
    table = text.split("<!-- commission-table -->")[1].split("<!-- /commission-table -->")[0]
    rows = [line for line in table.strip().splitlines() if line.startswith("|")][2:]
    return [[cell.strip() for cell in row.strip("|").split("|")] for row in rows]


def _lines(cell: str) -> list[CommissionLine]:
    if ":" not in cell:
        return [CommissionLine(int(cell))]
    return [
        CommissionLine(int(amount), category)
        for category, amount in (part.strip().split(":") for part in cell.split(","))
    ]


@pytest.mark.parametrize("row", readme_commission_rows(), ids=lambda row: row[-1])
def test_the_readme_commission_table_is_what_the_platform_charges(row: list[str]) -> None:
    items, shipping, _tax, rate, categories, minimum, expected, _why = row
    terms = CommissionTerms(
        rate_bps=int(rate),
        category_bps={name: int(bps) for name, bps in re.findall(r"(\w+)=(\d+)", categories)},
        minimum=int(minimum) if minimum else None,
    )
    assert commission_for(terms, _lines(items), shipping=int(shipping)).amount == int(expected)


def test_the_readme_table_has_rows() -> None:
    assert len(readme_commission_rows()) >= 8


def test_a_fixed_part_is_added_once_per_order_and_checked_against_the_card_fee() -> None:
    terms = CommissionTerms(rate_bps=300, fixed=30)
    lines = [CommissionLine(2000), CommissionLine(3000)]
    assert commission_for(terms, lines, shipping=0).amount == 150 + 30
    assert commission_for(terms, [], shipping=0).amount == 0  # nothing sold, nothing earned
    stripe_us = FeeSchedule()
    assert stripe_us.processing_fee(5000) == 175
    assert shortfall(CommissionTerms(rate_bps=200), 5000, stripe_us) == 75
    assert shortfall(terms, 5000, stripe_us) == 0
    with pytest.raises(ValueError):
        CommissionTerms(rate_bps=200, fixed=-1)


def test_terms_refuse_rates_outside_basis_points() -> None:
    with pytest.raises(ValueError):
        CommissionTerms(rate_bps=10_001)
    with pytest.raises(ValueError):
        CommissionTerms(rate_bps=200, category_bps={"art": -1})


@given(
    commission=st.integers(0, 50_000),
    charged=st.integers(1, 1_000_000),
    cuts=st.lists(st.integers(1, 1_000_000), max_size=8),
)
def test_refunding_in_any_parts_gives_back_exactly_the_commission(
    commission: int, charged: int, cuts: list[int]
) -> None:
    commission = min(commission, charged)
    parts, left = [], charged
    for cut in cuts:
        if left == 0:
            break
        part = min(cut, left)
        parts.append(part)
        left -= part
    if left:
        parts.append(left)
    given_back, refunded = [], 0
    for part in parts:
        share = commission_refund(
            commission=commission, charged=charged, refunded_before=refunded, refund=part
        )
        assert 0 <= share <= part
        given_back.append(share)
        refunded += part
    assert sum(given_back) == commission


def test_a_refund_beyond_the_charge_is_refused() -> None:
    with pytest.raises(ValueError):
        commission_refund(commission=50, charged=1000, refunded_before=600, refund=401)


# One operation on the books: a sale, a refund of part of what is left, a dispute.
operation = st.one_of(
    st.tuples(st.just("sale"), st.integers(1, 500_000), st.integers(0, 2_000)),
    st.tuples(st.just("refund"), st.integers(0, 50), st.integers(1, 100)),
    st.tuples(st.just("dispute lost"), st.integers(0, 50), st.integers(1, 100)),
    st.tuples(st.just("dispute won"), st.integers(0, 50), st.integers(1, 100)),
)
SCHEDULE = FeeSchedule()


@settings(max_examples=300, deadline=None)
@given(st.lists(operation, min_size=1, max_size=40))
def test_the_ledger_balances_over_any_sequence_of_orders_refunds_and_disputes(
    operations: list[tuple[str, int, int]],
) -> None:
    orders: list[dict[str, int]] = []
    entries: list[Entry] = []
    expected = {
        "gross": 0,
        "commission": 0,
        "refunds": 0,
        "back": 0,
        "disputes": 0,
        "processor": 0,
    }

    def post(movements: list[ledger.Movement]) -> None:
        for movement in movements:
            assert sum(p.amount for p in movement.postings) == 0
            entries.extend(Entry(movement.kind, p.account, p.amount) for p in movement.postings)

    for kind, first, second in operations:
        if kind == "sale":
            charged = first
            fee = commission_for(
                CommissionTerms(rate_bps=second % 10_001), [CommissionLine(charged)], shipping=0
            ).amount
            orders.append({"charged": charged, "commission": fee, "refunded": 0})
            processing = SCHEDULE.processing_fee(charged)
            post(ledger.sale(charged=charged, commission=fee, processing_fee=processing))
            expected["processor"] += processing
            expected["gross"] += charged
            expected["commission"] += fee
        elif orders:
            order = orders[first % len(orders)]
            left = order["charged"] - order["refunded"]
            if left == 0:
                continue
            amount = max(1, left * second // 100)
            if kind == "refund":
                share = commission_refund(
                    commission=order["commission"],
                    charged=order["charged"],
                    refunded_before=order["refunded"],
                    refund=amount,
                )
                post(ledger.refund(amount=amount, commission_refunded=share))
                expected["refunds"] += amount
                expected["back"] += share
            else:
                # Stripe takes the amount and its fee from the platform, which reverses the
                # merchant's transfer; a won dispute gives both back and the merchant is repaid.
                post(ledger.dispute_withdrawn(amount=amount, fee=SCHEDULE.dispute_fee))
                post(ledger.transfer_reversal(amount=amount))
                if kind == "dispute won":
                    post(
                        ledger.dispute_reinstated(amount=amount, fee_returned=SCHEDULE.dispute_fee)
                    )
                    post(ledger.transfer(amount=amount))
                    continue
                expected["disputes"] += amount
                expected["processor"] += SCHEDULE.dispute_fee
            order["refunded"] += amount

    balances: dict[Account, int] = {}
    for entry in entries:
        balances[entry.account] = balances.get(entry.account, 0) + entry.amount
    assert sum(balances.values()) == 0
    assert balances.get(Account.CLEARING, 0) == 0
    # The processor is paid exactly its fees; the platform keeps its commission net of them.
    assert balances.get(Account.PROCESSOR, 0) == expected["processor"]
    assert balances.get(Account.PLATFORM, 0) == (
        expected["commission"] - expected["back"] - expected["processor"]
    )
    earned = revenue(
        ("m", "usd", date(2026, 12, 1), e.kind, e.amount)
        for e in entries
        if e.account is Account.PLATFORM
    ).totals.get("usd")
    assert (earned.net if earned else 0) == balances.get(Account.PLATFORM, 0)
    summary = statement(entries)
    assert (summary.gross_sales, summary.commission, summary.refunds) == (
        expected["gross"],
        expected["commission"],
        expected["refunds"],
    )
    assert summary.commission_refunded == expected["back"]
    assert summary.disputes == expected["disputes"]
    assert summary.net == balances.get(Account.MERCHANT, 0)
    assert summary.net == (
        summary.gross_sales
        - summary.commission
        - summary.refunds
        + summary.commission_refunded
        - summary.disputes
    )
    # The buyer is out of pocket exactly what was charged and not given back.
    assert -balances.get(Account.BUYER, 0) == (
        expected["gross"] - expected["refunds"] - expected["disputes"]
    )

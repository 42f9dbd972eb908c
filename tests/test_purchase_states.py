"""The purchase's states and moves (checkout.domain.purchase) and the sale document kept on a
purchase row (checkout.flows.purchase.sale.Sale), read the way the saga reads them."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import ValidationError

from checkout.domain.purchase import (
    HOLDING_STOCK,
    PAYMENT_MOVES,
    PURCHASE_MOVES,
    UNFINISHED,
    IllegalMove,
    PaymentStatus,
    PurchaseState,
    payment_moves,
    purchase_moves,
)
from checkout.flows.purchase.sale import Sale


def test_every_purchase_state_can_be_reached_and_only_completed_is_final() -> None:
    reached = {PurchaseState.AUTHORIZING}
    frontier = [PurchaseState.AUTHORIZING]
    while frontier:
        for target in PURCHASE_MOVES[frontier.pop()]:
            if target not in reached:
                reached.add(target)
                frontier.append(target)
    assert reached == set(PurchaseState)
    assert [s for s, moves in PURCHASE_MOVES.items() if not moves] == [PurchaseState.COMPLETED]
    assert set(HOLDING_STOCK) <= UNFINISHED
    assert PurchaseState.COMPLETED not in UNFINISHED


def test_a_move_the_table_does_not_allow_is_refused() -> None:
    assert purchase_moves("placed", PurchaseState.COMPLETED) == "completed"
    assert payment_moves("requires_action", PaymentStatus.SUPERSEDED) == "superseded"
    with pytest.raises(IllegalMove, match="from completed to authorizing"):
        purchase_moves("completed", PurchaseState.AUTHORIZING)
    with pytest.raises(IllegalMove, match="from succeeded to void_pending"):
        payment_moves("succeeded", PaymentStatus.VOID_PENDING)
    # A new attempt is a new payment row: nothing moves a payment back to authorizing.
    assert all(PaymentStatus.AUTHORIZING not in moves for moves in PAYMENT_MOVES.values())


def test_the_stored_values_are_the_ones_rows_have_always_held() -> None:
    assert [s.value for s in PurchaseState] == [
        "authorizing",
        "authorized",
        "placed",
        "completed",
        "unwound",
    ]
    assert {s.value for s in PaymentStatus} == {
        "authorizing",
        "requires_action",
        "requires_capture",
        "succeeded",
        "void_pending",
        "canceled",
        "declined",
        "failed",
        "superseded",
    }


def sale_document(**changes: Any) -> dict[str, Any]:
    document: dict[str, Any] = {
        "commission": {"amount": 70, "base": 3400, "version": 1, "minimum_applied": False},
        "reference": "cs_1",
        "currency": "usd",
        "lines": [
            {
                "variant_id": "var_1",
                "product_id": "prod_1",
                "platform_product_id": "111",
                "platform_variant_id": "222",
                "title": "Mug",
                "quantity": 2,
                "unit_amount": 1700,
                "subtotal": 3400,
                "category": "ceramics",
                "image_url": None,
                "url": None,
            }
        ],
        "items_amount": 3400,
        "fulfillment_amount": 595,
        "tax_amount": 290,
        "total_amount": 4285,
        "address": {"name": "Ada", "line_one": "1 Main St", "city": "SF", "state": "CA",
                    "country": "US", "postal_code": "94103"},
        "email": "ada@example.com",
        "buyer_name": "Ada",
        "shipping_title": "Standard",
        "estimated_earliest": "2026-01-02T00:00:00Z",
        "estimated_latest": "2026-01-05T00:00:00Z",
        "authenticated": True,
        "three_d_secure": {"cryptogram": "c", "transaction_id": "t", "version": "2.2.0"},
    }  # fmt: skip
    return {**document, **changes}


def test_a_sale_reads_back_exactly_the_document_it_was_kept_as() -> None:
    document = sale_document()
    sale = Sale.model_validate(document)
    assert sale.document() == document
    assert sale.quantities() == {"var_1": 2}
    assert sale.lines[0].platform_ref.platform_variant_id == "222"
    with pytest.raises(ValidationError):
        sale.total_amount = 1  # type: ignore[misc]  # the sale as charged never changes


def test_a_sale_kept_before_3ds_was_recorded_reads_as_not_authenticated() -> None:
    older = sale_document()
    del older["authenticated"], older["three_d_secure"]
    sale = Sale.model_validate(older)
    assert sale.authenticated is False
    assert sale.three_d_secure is None


def test_a_sale_document_missing_what_the_order_needs_is_refused() -> None:
    broken = sale_document()
    del broken["total_amount"]
    with pytest.raises(ValidationError, match="total_amount"):
        Sale.model_validate(broken)
    with pytest.raises(ValidationError, match="quantity"):
        Sale.model_validate(
            sale_document(lines=[{**sale_document()["lines"][0], "quantity": "two"}])
        )

"""Offline understanding of shopping language, without a catalog or a conversation."""

from __future__ import annotations

import pytest

from assistant.dialogue.addresses import find_address
from assistant.dialogue.cards import mask_card
from assistant.dialogue.language import understand


def test_a_budget_a_material_and_the_product_words_are_told_apart() -> None:
    u = understand("Hi! I'm looking for a handmade ceramic mug under $40")
    assert u.max_price == 4000
    assert u.material == "ceramic"
    assert u.product_words == ["handmade", "ceramic", "mug"]


@pytest.mark.parametrize(
    ("text", "low", "high"),
    [
        ("between 20 and 50 dollars", 2000, 5000),
        ("$20-$50 please", 2000, 5000),
        ("under 40", None, 4000),
        ("no more than $32.50", None, 3250),
        ("over $100", 10000, None),
        ("around $60", 4500, 7500),
    ],
)
def test_budgets_are_read_in_cents(text: str, low: int | None, high: int | None) -> None:
    u = understand(text)
    assert (u.min_price, u.max_price) == (low, high)


def test_refinements_of_the_last_results_are_recognised() -> None:
    assert understand("cheaper").cheaper
    assert understand("in blue").colour == "blue"
    assert not understand("in blue").colour_reference
    assert "show_more" in understand("show more").acts
    assert understand("only in stock").in_stock_only
    assert understand("something cheap").prefer_cheap


def test_references_to_shown_items_and_quantities_are_recognised() -> None:
    u = understand("buy the second one, two of them")
    assert "buy" in u.acts and u.ordinals == [2] and u.quantity == 2
    assert understand("both").all_shown
    assert understand("the blue one").colour_reference
    assert understand("that mug").pronoun and understand("that mug").product_words == ["mug"]
    assert understand("the last one").ordinals == [-1]


@pytest.mark.parametrize(
    ("text", "size"),
    [
        ("running shoes size 9", "9"),
        ("merino socks in medium", "M"),
        ("queen linen duvet cover", "queen"),
        ("18 x 18 linen cushion", "18 x 18"),
        ("a 16 oz mug", "16 oz"),
    ],
)
def test_sizes_are_read(text: str, size: str) -> None:
    assert understand(text).size == size


def test_purchase_steps_are_recognised() -> None:
    assert "confirm" in understand("yes, place the order").acts
    assert "deny" in understand("no, wait").acts
    assert "cancel" in understand("cancel").acts
    assert "order_status" in understand("where is my order?").acts
    assert "approve" in understand("I approved it in my bank app").acts
    assert understand("express shipping please").shipping == "express"
    assert "checkout" in understand("checkout").acts


def test_a_us_address_in_free_text_is_parsed_into_an_acp_address() -> None:
    address, _ = find_address(
        "Ship to Ada Lovelace at 1234 Chat Road, Apt 5, San Francisco, CA 94131"
    )
    assert address == {
        "name": "Ada Lovelace",
        "line_one": "1234 Chat Road",
        "line_two": "Apt 5",
        "city": "San Francisco",
        "state": "CA",
        "postal_code": "94131",
        "country": "US",
    }


def test_a_typed_card_is_masked_before_anything_else_sees_it() -> None:
    masked, card = mask_card("pay with 4242 4242 4242 4242 exp 12/30 cvc 123")
    assert masked == "pay with •••• 4242 exp 12/30 cvc •••"
    assert card is not None and card.number == "4242424242424242"
    assert (card.exp_month, card.exp_year, card.cvc) == ("12", "30", "123")
    assert card.label == "Visa ending 4242" and card.luhn_valid

"""The pure rules: money rounding, tax by destination, readiness, and the token allowance."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import iso4217
import pytest

from checkout.domain import money
from checkout.domain.allowance import Allowance, TokenState, check_spend
from checkout.domain.checkout import (
    Address,
    Line,
    Offer,
    QuoteInput,
    ShippingRate,
    ShippingRules,
    build_quote,
)
from checkout.domain.errors import PaymentTokenRejected
from checkout.domain.money import Money, apply_bps, divide_half_up, format_amount
from merchant_adapters import money as adapter_money

NOW = datetime(2026, 11, 25, 12, tzinfo=UTC)
RULES = ShippingRules(
    rates=(
        ShippingRate("ship_standard", "Standard", 595, "USPS", 3, 6),
        ShippingRate("ship_express", "Express", 1495, "UPS", 1, 2),
    ),
    free_shipping_threshold=7500,
)


def offer(price: int = 3400, stock: int = 10, digital: bool = False) -> Offer:
    return Offer(
        variant_id="var_x",
        product_id="prd_x",
        merchant_id="mch_x",
        name="Mug",
        description="",
        unit_amount=price,
        currency="usd",
        available_quantity=stock,
        digital=digital,
    )


def quote(*lines: Line, address: Address | None = None, email: str | None = None):  # type: ignore[no-untyped-def]
    return build_quote(
        QuoteInput(
            lines=lines,
            shipping=RULES,
            currency="usd",
            address=address,
            contact_email=email,
            selections=(),
            now=NOW,
        )
    )


CA = Address(
    name="A",
    line_one="1 Main St",
    city="San Francisco",
    state="CA",
    country="US",
    postal_code="94131",
)


@pytest.mark.parametrize(
    ("numerator", "denominator", "expected"),
    [(5, 10, 1), (4, 10, 0), (15, 10, 2), (-15, 10, -2), (25, 10, 3), (0, 7, 0)],
)
def test_division_rounds_half_away_from_zero(
    numerator: int, denominator: int, expected: int
) -> None:
    assert divide_half_up(numerator, denominator) == expected


def test_rates_in_basis_points_round_half_up_to_the_minor_unit() -> None:
    assert apply_bps(3400, 725) == 247  # 246.5 -> 247
    assert apply_bps(1000, 200) == 20
    assert apply_bps(1, 5000) == 1


def test_money_refuses_floats_and_mixed_currencies() -> None:
    with pytest.raises(TypeError):
        Money(10.5, "usd")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="cannot add"):
        Money(1, "usd") + Money(1, "eur")
    assert format_amount(123456, "usd") == "$1,234.56"
    assert format_amount(500, "jpy") == "¥500"


def test_every_iso_currency_is_written_with_its_own_minor_units() -> None:
    codes = [c.code for c in iso4217.Currency if c.exponent is not None]
    assert len(codes) > 150
    for code in codes:
        written = format_amount(123456, code.lower())
        places = written.rpartition(".")[2] if "." in written else ""
        assert len(places) == iso4217.Currency(code).exponent, written
    assert format_amount(-1050, "chf") == "-CHF 10.50"
    assert format_amount(1234, "bhd") == "BHD 1.234"
    assert format_amount(-150, "cad") == "-CA$1.50"


def test_checkout_and_the_adapters_read_one_exponent_table() -> None:
    for currency in iso4217.Currency:
        code = currency.code.lower()
        assert money.exponent(code) == adapter_money.exponent(code), code


def test_quote_prices_items_shipping_and_california_tax() -> None:
    result = quote(Line("li_1", offer(3400), 2, 3400), address=CA)
    assert result.payable
    assert result.totals.items_base == 6800
    assert result.totals.fulfillment == 595  # cheapest option chosen by default
    assert result.totals.tax == apply_bps(6800, 725) + apply_bps(595, 725)
    assert result.totals.total == 6800 + 595 + result.totals.tax


def test_standard_shipping_is_free_at_the_threshold_but_express_is_not() -> None:
    result = quote(Line("li_1", offer(7500), 1, 7500), address=CA)
    amounts = {option.id: option.amount for option in result.options}
    assert amounts == {"ship_standard": 0, "ship_express": 1495}


def test_states_without_sales_tax_charge_none() -> None:
    oregon = Address(
        name="A", line_one="1 Main", city="Portland", state="OR", country="US", postal_code="97201"
    )
    assert quote(Line("li_1", offer(), 1, 3400), address=oregon).totals.tax == 0


@pytest.mark.parametrize(
    ("address", "code"),
    [
        (
            Address(
                name="A", line_one="1", city="X", state="ZZ", country="US", postal_code="94131"
            ),
            "invalid",
        ),
        (
            Address(name="A", line_one="1", city="X", state="CA", country="US", postal_code="ABC"),
            "invalid",
        ),
        (
            Address(name="A", line_one="1", city="X", state="-", country="BR", postal_code="01000"),
            "region_restricted",
        ),
    ],
)
def test_undeliverable_addresses_block_payment(address: Address, code: str) -> None:
    result = quote(Line("li_1", offer(), 1, 3400), address=address)
    assert not result.payable
    assert code in [p.code for p in result.blocking]


def test_stock_problems_distinguish_sold_out_from_too_many() -> None:
    sold_out = quote(Line("li_1", offer(stock=0), 1, 3400), address=CA)
    too_many = quote(Line("li_1", offer(stock=2), 3, 3400), address=CA)
    assert [p.code for p in sold_out.blocking] == ["out_of_stock"]
    assert [p.code for p in too_many.blocking] == ["quantity_exceeded"]


def test_a_digital_cart_needs_an_email_not_an_address() -> None:
    line = Line("li_1", offer(digital=True), 1, 3400)
    assert [p.code for p in quote(line).blocking] == ["missing"]
    ready = quote(line, email="a@example.com")
    assert ready.payable
    assert [o.type for o in ready.options] == ["digital"]
    assert ready.totals.fulfillment == 0


def test_a_price_change_is_a_warning_with_the_new_price_applied() -> None:
    result = quote(Line("li_1", offer(price=3900), 1, 3400), address=CA)
    assert [p.code for p in result.problems if p.severity == "warning"] == ["price_change"]
    assert result.totals.items_base == 3900


def token(**overrides: object) -> TokenState:
    values: dict[str, object] = dict(
        max_amount=5000,
        currency="usd",
        checkout_session_id="cs_1",
        merchant_id="mch_1",
        expires_at=NOW + timedelta(minutes=5),
    )
    values.update(overrides)
    return TokenState(allowance=Allowance(**values), used=False)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("state", "spend", "code"),
    [
        (token(), {"amount": 5001}, "payment_token_amount_exceeded"),
        (token(), {"session_id": "cs_2"}, "payment_token_session_mismatch"),
        (token(), {"merchant_id": "mch_2"}, "payment_token_merchant_mismatch"),
        (token(), {"currency": "eur"}, "payment_token_currency_mismatch"),
        (token(), {"now": NOW + timedelta(minutes=5)}, "payment_token_expired"),
        (TokenState(token().allowance, used=True), {}, "payment_token_used"),
    ],
)
def test_each_allowance_breach_has_its_own_code(
    state: TokenState, spend: dict[str, object], code: str
) -> None:
    arguments: dict[str, object] = dict(
        session_id="cs_1", merchant_id="mch_1", amount=5000, currency="usd", now=NOW
    )
    arguments.update(spend)
    with pytest.raises(PaymentTokenRejected) as raised:
        check_spend(state, **arguments)  # type: ignore[arg-type]
    assert raised.value.code == code


def test_a_token_spends_up_to_exactly_its_allowance() -> None:
    check_spend(
        token(), session_id="cs_1", merchant_id="mch_1", amount=5000, currency="usd", now=NOW
    )

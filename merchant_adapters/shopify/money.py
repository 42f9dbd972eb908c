"""Shopify's decimal-string money in integer minor units and back, never through a float."""

from __future__ import annotations

from decimal import ROUND_HALF_EVEN, Decimal

# ISO 4217 exponents that are not 2; Shopify writes money as decimal strings in major units.
CURRENCY_EXPONENTS: dict[str, int] = {
    "bif": 0, "clp": 0, "djf": 0, "gnf": 0, "isk": 0, "jpy": 0, "kmf": 0, "krw": 0, "pyg": 0,
    "rwf": 0, "ugx": 0, "vnd": 0, "vuv": 0, "xaf": 0, "xof": 0, "xpf": 0,
    "bhd": 3, "iqd": 3, "jod": 3, "kwd": 3, "lyd": 3, "omr": 3, "tnd": 3,
}  # fmt: skip


def minor_units(amount: str, currency: str) -> int:
    """A Shopify decimal string in integer minor units: Decimal, never float; half-even if finer."""
    exponent = CURRENCY_EXPONENTS.get(currency.lower(), 2)
    scaled = Decimal(amount).scaleb(exponent)
    return int(scaled.to_integral_value(rounding=ROUND_HALF_EVEN))


def decimal_amount(minor: int, currency: str) -> str:
    """Integer minor units as the decimal string Shopify expects ("28.00", "1500")."""
    return str(Decimal(minor).scaleb(-CURRENCY_EXPONENTS.get(currency.lower(), 2)))

"""Shopify's decimal-string money in integer minor units and back, never through a float."""

from __future__ import annotations

from decimal import ROUND_HALF_EVEN, Decimal

from merchant_adapters.money import exponent

__all__ = ["decimal_amount", "minor_units"]


def minor_units(amount: str, currency: str) -> int:
    """A Shopify decimal string in integer minor units: Decimal, never float; half-even if finer."""
    scaled = Decimal(amount).scaleb(exponent(currency))
    return int(scaled.to_integral_value(rounding=ROUND_HALF_EVEN))


def decimal_amount(minor: int, currency: str) -> str:
    """Integer minor units as the decimal string Shopify expects ("28.00", "1500")."""
    return str(Decimal(minor).scaleb(-exponent(currency)))

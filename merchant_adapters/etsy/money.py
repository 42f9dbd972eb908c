"""Etsy's Money ({amount, divisor, currency_code}) as integer minor units, and as the PUT's float."""

from __future__ import annotations

from collections.abc import Mapping
from decimal import ROUND_HALF_EVEN, Decimal, InvalidOperation
from typing import Any

from merchant_adapters import PlatformUnavailable
from merchant_adapters.money import exponent


def minor_units(money: Mapping[str, Any]) -> tuple[int, str]:
    """Etsy Money {amount, divisor, currency_code} as (integer minor units, lowercase currency).

    value = amount / divisor, times 10^exponent of the currency, all in Decimal; a value finer
    than one minor unit is rounded half-even.
    """
    try:
        amount = Decimal(str(money["amount"]))
        divisor = Decimal(str(money["divisor"]))
        currency = str(money["currency_code"]).lower()
        # Etsy's Money carries no exponent, only a divisor: the currency's own one applies.
        scaled = amount / divisor * (Decimal(10) ** exponent(currency))
        return int(scaled.to_integral_value(rounding=ROUND_HALF_EVEN)), currency
    except (KeyError, TypeError, InvalidOperation, ArithmeticError) as exc:
        raise PlatformUnavailable(f"Etsy sent a malformed Money value: {money!r}") from exc


def float_price(money: Any) -> float:
    try:
        return float(Decimal(str(money["amount"])) / Decimal(str(money["divisor"])))
    except (KeyError, TypeError, InvalidOperation, ArithmeticError) as exc:
        raise PlatformUnavailable(f"Etsy sent a malformed Money value: {money!r}") from exc

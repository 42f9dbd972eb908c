"""Etsy's Money ({amount, divisor, currency_code}) as integer minor units, and as the PUT's float."""

from __future__ import annotations

from collections.abc import Mapping
from decimal import ROUND_HALF_EVEN, Decimal, InvalidOperation
from typing import Any

from merchant_adapters import PlatformUnavailable

# ISO 4217 exponents that are not 2 (Etsy's Money carries no exponent, only a divisor).
_EXPONENTS: dict[str, int] = {
    **dict.fromkeys(("bif", "clp", "djf", "gnf", "isk", "jpy", "kmf", "krw"), 0),
    **dict.fromkeys(("pyg", "rwf", "ugx", "vnd", "vuv", "xaf", "xof", "xpf"), 0),
    **dict.fromkeys(("bhd", "jod", "kwd", "omr", "tnd"), 3),
}


def minor_units(money: Mapping[str, Any]) -> tuple[int, str]:
    """Etsy Money {amount, divisor, currency_code} as (integer minor units, lowercase currency).

    value = amount / divisor, times 10^exponent of the currency, all in Decimal; a value finer
    than one minor unit is rounded half-even.
    """
    try:
        amount = Decimal(str(money["amount"]))
        divisor = Decimal(str(money["divisor"]))
        currency = str(money["currency_code"]).lower()
        scaled = amount / divisor * (Decimal(10) ** _EXPONENTS.get(currency, 2))
        return int(scaled.to_integral_value(rounding=ROUND_HALF_EVEN)), currency
    except (KeyError, TypeError, InvalidOperation, ArithmeticError) as exc:
        raise PlatformUnavailable(f"Etsy sent a malformed Money value: {money!r}") from exc


def float_price(money: Any) -> float:
    try:
        return float(Decimal(str(money["amount"])) / Decimal(str(money["divisor"])))
    except (KeyError, TypeError, InvalidOperation, ArithmeticError) as exc:
        raise PlatformUnavailable(f"Etsy sent a malformed Money value: {money!r}") from exc

"""Money as integer minor units: how the assistant writes amounts ("$32.00") and reads them ("$32.5")."""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal, InvalidOperation

SYMBOLS = {"usd": "$", "cad": "CA$", "eur": "€", "gbp": "£"}


def format_money(amount: int, currency: str = "usd") -> str:
    """2-decimal currencies only, which is every currency the demo catalog uses."""
    sign = "-" if amount < 0 else ""
    whole, cents = divmod(abs(amount), 100)
    symbol = SYMBOLS.get(currency.lower())
    text = f"{whole:,}.{cents:02d}"
    return f"{sign}{symbol}{text}" if symbol else f"{sign}{text} {currency.upper()}"


def to_minor(text: str) -> int | None:
    """ "40" -> 4000, "32.5" -> 3250, "1,200" -> 120000; rounds half up to the cent."""
    try:
        value = Decimal(text.replace(",", ""))
    except InvalidOperation:
        return None
    return int((value * 100).quantize(Decimal(1), rounding=ROUND_HALF_UP))

"""Money in integer minor units, currency exponents, and the named rounding rules.

The one currency table: ISO 4217's minor units (the `iso4217` package, the standard's own data;
CLDR's display digits differ for HUF, COP, IDR, IQD...) and CLDR's symbols through Babel. Nothing
here is a hand-kept number.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache

import iso4217
from babel.numbers import get_currency_symbol

# The currencies the platform sells in (discovery lists them; Money accepts only these).
SUPPORTED_CURRENCIES = frozenset({"usd", "eur", "gbp", "cad", "aud", "jpy"})
# What an unknown code is written with: most currencies have two decimals.
DEFAULT_EXPONENT = 2


@cache
def exponent(currency: str) -> int:
    """ISO 4217 minor units of `currency` (any case); 2 for a code ISO does not know."""
    try:
        minor = iso4217.Currency(currency.upper()).exponent
    except ValueError:
        return DEFAULT_EXPONENT
    return DEFAULT_EXPONENT if minor is None else int(minor)


@cache
def symbol(currency: str) -> str:
    """The symbol a US-English reader knows ("$", "CA$", "€"); the code itself when none."""
    code = currency.upper()
    shown = str(get_currency_symbol(code, locale="en_US"))
    return code + " " if shown == code else shown


@dataclass(frozen=True, slots=True)
class Money:
    amount: int
    currency: str

    def __post_init__(self) -> None:
        if not isinstance(self.amount, int) or isinstance(self.amount, bool):
            raise TypeError("Money.amount is an int of minor units")
        if self.currency not in SUPPORTED_CURRENCIES:
            raise ValueError(f"unsupported currency {self.currency!r}")

    def __add__(self, other: Money) -> Money:
        if other.currency != self.currency:
            raise ValueError(f"cannot add {other.currency} to {self.currency}")
        return Money(self.amount + other.amount, self.currency)

    def display(self) -> str:
        return format_amount(self.amount, self.currency)


def divide_half_up(numerator: int, denominator: int) -> int:
    """Integer division rounded half away from zero (1.5 -> 2, -1.5 -> -2); no floats."""
    if denominator <= 0:
        raise ValueError("denominator must be positive")
    quotient, remainder = divmod(abs(numerator), denominator)
    if remainder * 2 >= denominator:
        quotient += 1
    return quotient if numerator >= 0 else -quotient


def apply_bps(amount: int, bps: int) -> int:
    """`amount` x `bps`/10,000, rounded half-up to the minor unit (tax and commission rates)."""
    return divide_half_up(amount * bps, 10_000)


def format_amount(amount: int, currency: str) -> str:
    """Minor units as a reader sees them: "$1,234.56", "¥500", "CHF 12.00"; any currency code."""
    places, shown = exponent(currency), symbol(currency)
    sign = "-" if amount < 0 else ""
    if places == 0:
        return f"{sign}{shown}{abs(amount):,}"
    major, minor = divmod(abs(amount), 10**places)
    return f"{sign}{shown}{major:,}.{minor:0{places}d}"

"""Money in integer minor units, currency exponents, and the named rounding rules."""

from __future__ import annotations

from dataclasses import dataclass

# ISO 4217 exponents for the currencies the platform sells in.
CURRENCY_EXPONENTS: dict[str, int] = {"usd": 2, "eur": 2, "gbp": 2, "cad": 2, "aud": 2, "jpy": 0}
CURRENCY_SYMBOLS: dict[str, str] = {
    "usd": "$",
    "eur": "€",
    "gbp": "£",
    "cad": "CA$",
    "aud": "A$",
    "jpy": "¥",
}


@dataclass(frozen=True, slots=True)
class Money:
    amount: int
    currency: str

    def __post_init__(self) -> None:
        if not isinstance(self.amount, int) or isinstance(self.amount, bool):
            raise TypeError("Money.amount is an int of minor units")
        if self.currency not in CURRENCY_EXPONENTS:
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
    exponent = CURRENCY_EXPONENTS[currency]
    symbol = CURRENCY_SYMBOLS.get(currency, currency.upper() + " ")
    sign = "-" if amount < 0 else ""
    if exponent == 0:
        return f"{sign}{symbol}{abs(amount):,}"
    major, minor = divmod(abs(amount), 10**exponent)
    return f"{sign}{symbol}{major:,}.{minor:0{exponent}d}"

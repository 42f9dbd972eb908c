"""ISO 4217 minor units for the platforms' decimal money: one exponent table for every adapter.

The platforms write money in major units with no exponent of their own; the exponent is the
standard's (the `iso4217` package), the same table checkout.domain.money reads.
"""

from __future__ import annotations

from functools import cache

import iso4217

# What an unknown code is written with: most currencies have two decimals.
DEFAULT_EXPONENT = 2


@cache
def exponent(currency: str) -> int:
    try:
        minor = iso4217.Currency(currency.upper()).exponent
    except ValueError:
        return DEFAULT_EXPONENT
    return DEFAULT_EXPONENT if minor is None else int(minor)

"""Discount codes a merchant offers and how they reduce an items subtotal, in minor units."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum


class DiscountKind(StrEnum):
    PERCENTAGE = "percentage"
    FIXED_AMOUNT = "fixed_amount"


@dataclass(frozen=True, slots=True)
class DiscountCode:
    """A code as the merchant defined it: `value` is basis points for a percentage, minor units
    for a fixed amount."""

    code: str
    kind: DiscountKind
    value: int
    title: str


@dataclass(frozen=True, slots=True)
class AppliedDiscount:
    code: str
    title: str
    amount: int


def apply_discounts(subtotal: int, codes: Sequence[DiscountCode]) -> tuple[AppliedDiscount, ...]:
    """Codes apply one after another, each to what the previous ones left; what is left is
    rounded down, so a fraction of a minor unit goes to the buyer, and no code takes the subtotal
    below zero."""
    remaining = subtotal
    applied = []
    for code in codes:
        if code.kind is DiscountKind.PERCENTAGE:
            amount = remaining - remaining * (10_000 - min(code.value, 10_000)) // 10_000
        else:
            amount = min(code.value, remaining)
        remaining -= amount
        applied.append(AppliedDiscount(code.code, code.title, amount))
    return tuple(applied)

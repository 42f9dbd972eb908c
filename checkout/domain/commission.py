"""The platform's commission on an order and the share of it a refund gives back.

Rules (the README's commission table is tested against these functions):
- The base is the order's amount excluding tax: each line's amount after discounts, plus
  shipping. Tax is never commissioned: it is the buyer's money owed to the state.
- Each line is charged at its category's rate when the terms name one (the most specific
  ancestor of its taxonomy path: "Jewelry" covers "Jewelry > Rings"), else at the merchant's
  rate; shipping at the merchant's rate. The exact products (amount x bps) are summed first and
  the sum is rounded once, half-up to the minor unit, so splitting a cart never changes the fee.
- A fixed part per order (minor units) is added to the rate's amount, so terms can cover the
  card processor's fixed fee (Stripe's 30 cents).
- A minimum per order applies when the computed commission is below it; the commission never
  exceeds the base, so a tiny order cannot owe more than it brought in.
- A refund gives back the commission in proportion to the money refunded, rounded half-up on the
  running total: refunded_commission(after) - refunded_commission(before). Refunding the whole
  charge in any number of parts gives back exactly the whole commission.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from checkout.domain.fees import FeeSchedule
from checkout.domain.money import divide_half_up


@dataclass(frozen=True, slots=True)
class CommissionTerms:
    """One version of a merchant's terms; an order keeps the version it was sold under."""

    rate_bps: int
    category_bps: Mapping[str, int] = field(default_factory=dict)
    minimum: int | None = None
    version: int = 1
    fixed: int = 0  # minor units per order, on top of the rate

    def __post_init__(self) -> None:
        rates = [self.rate_bps, *self.category_bps.values()]
        if any(not 0 <= rate <= 10_000 for rate in rates):
            raise ValueError("commission rates are basis points between 0 and 10,000")
        if self.minimum is not None and self.minimum < 0:
            raise ValueError("a commission minimum cannot be negative")
        if self.fixed < 0:
            raise ValueError("a fixed commission per order cannot be negative")

    def rate_for(self, category: str | None) -> int:
        """The most specific rate for a taxonomy path: "Jewelry" covers "Jewelry > Rings"."""
        if category is None:
            return self.rate_bps
        best, depth = self.rate_bps, -1
        for name, rate in self.category_bps.items():
            if (category == name or category.startswith(f"{name} > ")) and len(name) > depth:
                best, depth = rate, len(name)
        return best


@dataclass(frozen=True, slots=True)
class CommissionLine:
    amount: int  # the line's amount after discounts, before tax
    category: str | None = None


@dataclass(frozen=True, slots=True)
class Commission:
    base: int
    amount: int
    rate_bps: int  # the effective rate of the whole order, for display (amount/base, rounded)
    minimum_applied: bool


def commission_for(
    terms: CommissionTerms, lines: Iterable[CommissionLine], shipping: int
) -> Commission:
    lines = list(lines)
    if shipping < 0 or any(line.amount < 0 for line in lines):
        raise ValueError("commission bases are never negative")
    base = sum(line.amount for line in lines) + shipping
    exact = sum(line.amount * terms.rate_for(line.category) for line in lines)
    exact += shipping * terms.rate_bps
    amount = divide_half_up(exact, 10_000) + (terms.fixed if base else 0)
    minimum_applied = terms.minimum is not None and amount < terms.minimum
    if minimum_applied:
        assert terms.minimum is not None
        amount = terms.minimum
    amount = min(amount, base)
    rate = divide_half_up(amount * 10_000, base) if base else 0
    return Commission(base=base, amount=amount, rate_bps=rate, minimum_applied=minimum_applied)


def shortfall(terms: CommissionTerms, typical_order: int, schedule: FeeSchedule) -> int:
    """How much less than the processor's fee these terms earn on a typical order (no
    categories, no shipping, no tax); 0 when they cover it. Under destination charges the
    platform pays that fee on every order."""
    earned = commission_for(terms, [CommissionLine(typical_order)], shipping=0).amount
    return max(0, schedule.processing_fee(typical_order) - earned)


def commission_refund(*, commission: int, charged: int, refunded_before: int, refund: int) -> int:
    """The commission to give back with a refund of `refund` (see the module's rules)."""
    if charged <= 0:
        return 0
    if refund < 0 or refunded_before < 0 or refunded_before + refund > charged:
        raise ValueError("refunds are positive and never exceed what was charged")
    after = divide_half_up(commission * (refunded_before + refund), charged)
    before = divide_half_up(commission * refunded_before, charged)
    return after - before

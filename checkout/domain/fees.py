"""What a card processor charges: a published fee schedule, for the sandbox and for estimates.

Under Stripe the fee of each charge is read from Stripe (the balance transaction), never from
here; this schedule prices the sandbox's charges the same way so its books show the real
economics, and tells onboarding what a typical order costs to process.
"""

from __future__ import annotations

from dataclasses import dataclass

from checkout.domain.money import divide_half_up

# Stripe's US list price for domestic cards (stripe.com/pricing): 2.9% + 30 cents per
# successful charge, and 15 dollars per dispute.
STRIPE_US_PERCENT_BPS = 290
STRIPE_US_FIXED = 30
STRIPE_US_DISPUTE_FEE = 1500


@dataclass(frozen=True, slots=True)
class FeeSchedule:
    percent_bps: int = STRIPE_US_PERCENT_BPS
    fixed: int = STRIPE_US_FIXED  # minor units per charge
    dispute_fee: int = STRIPE_US_DISPUTE_FEE

    def __post_init__(self) -> None:
        if not 0 <= self.percent_bps <= 10_000 or self.fixed < 0 or self.dispute_fee < 0:
            raise ValueError("fees are non-negative and a percentage is at most 100%")

    def processing_fee(self, amount: int) -> int:
        """The fee for a charge of `amount`: percent rounded half-up once, plus the fixed part."""
        if amount <= 0:
            return 0
        return divide_half_up(amount * self.percent_bps, 10_000) + self.fixed

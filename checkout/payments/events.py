"""What a payment provider tells us happened, as typed events: the flows read these, never the
provider's payloads (Stripe's are read into them in payments.stripe_webhooks)."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from checkout.payments.provider import RefundStatus


@dataclass(frozen=True, slots=True)
class AccountChanged:
    """A merchant's connected account changed, or the merchant disconnected it."""

    account_id: str
    disconnected: bool = False


@dataclass(frozen=True, slots=True)
class PaymentAnswered:
    """The provider settled a payment one way or the other (succeeded or failed)."""

    provider_payment_id: str


@dataclass(frozen=True, slots=True)
class ChargeSources:
    """How a charge-level event names the payment it is about: by payment or by charge."""

    provider_payment_id: str | None
    charge_id: str | None


@dataclass(frozen=True, slots=True)
class RefundChanged:
    """A refund was created or moved on, ours or one made outside the platform."""

    refund_id: str
    our_refund_id: str | None  # ours when the refund carries our id in its metadata
    status: str | None  # the provider's own word for it, as reported
    settled: RefundStatus | None  # None while it is still pending
    amount: int
    paid_with: ChargeSources
    merchant_share_reversed: bool  # the merchant's transfer was reversed with it


@dataclass(frozen=True, slots=True)
class ChargeRefunded:
    """A charge-level refund notice; each refund settles from its own RefundChanged."""


class DisputeStage(StrEnum):
    OPENED = "opened"
    CLOSED = "closed"
    FUNDS_WITHDRAWN = "funds_withdrawn"
    FUNDS_REINSTATED = "funds_reinstated"


@dataclass(frozen=True, slots=True)
class DisputeChanged:
    """A dispute on a charge: opened, closed, or money taken from or given back to the platform."""

    dispute_id: str
    stage: DisputeStage
    status: str  # the provider's status ("warning_..." for an inquiry, which moves nothing)
    paid_with: ChargeSources
    # (amount, fee) the provider booked on the platform's balance for the withdrawal and for
    # the reinstatement: its own figures, never our arithmetic.
    withdrawn: tuple[int, int] = (0, 0)
    reinstated: tuple[int, int] = (0, 0)

    @property
    def inquiry(self) -> bool:
        return self.status.startswith("warning_")


@dataclass(frozen=True, slots=True)
class Unhandled:
    """An event the platform does not act on."""


PaymentEvent = (
    AccountChanged | PaymentAnswered | RefundChanged | ChargeRefunded | DisputeChanged | Unhandled
)

"""The PaymentProvider interface and the plain result types every provider returns."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Protocol


class CardOutcome(StrEnum):
    """What a test card does when charged (Stripe's test-card semantics)."""

    SUCCEEDS = "succeeds"
    GENERIC_DECLINE = "generic_decline"
    INSUFFICIENT_FUNDS = "insufficient_funds"
    LOST_CARD = "lost_card"
    STOLEN_CARD = "stolen_card"
    EXPIRED_CARD = "expired_card"
    INCORRECT_CVC = "incorrect_cvc"
    PROCESSING_ERROR = "processing_error"
    REQUIRES_3DS = "requires_3ds"


@dataclass(frozen=True, slots=True)
class Card:
    brand: str
    last4: str
    funding: str
    outcome: CardOutcome


@dataclass(frozen=True, slots=True)
class AuthorizeRequest:
    idempotency_key: str
    amount: int
    currency: str
    merchant_id: str
    card: Card
    authenticated: bool  # a successful 3-D Secure result accompanies this attempt
    description: str


class AuthorizationStatus(StrEnum):
    AUTHORIZED = "authorized"
    DECLINED = "declined"
    REQUIRES_ACTION = "requires_action"


@dataclass(frozen=True, slots=True)
class Authorization:
    payment_id: str
    status: AuthorizationStatus
    decline_code: str | None = None
    message: str | None = None


class CardRejected(Exception):
    """The card cannot be vaulted (not a valid number, or not accepted by this provider)."""


class PaymentProvider(Protocol):
    name: str

    def card_for(self, number: str, funding: str) -> Card:
        """Identify a card for the vault; raise CardRejected when it cannot be used."""
        ...

    def authorize(self, request: AuthorizeRequest) -> Authorization:
        """Place a hold for the amount (manual capture)."""
        ...

    def capture(self, payment_id: str, amount: int) -> None: ...

    def void(self, payment_id: str) -> None: ...

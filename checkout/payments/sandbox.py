"""The offline sandbox provider: Stripe's test cards give Stripe's outcomes; no card is stored."""

from __future__ import annotations

from checkout.payments.provider import (
    Authorization,
    AuthorizationStatus,
    AuthorizeRequest,
    Card,
    CardOutcome,
    CardRejected,
)
from checkout.store.ids import new_id

# Stripe's published test card numbers and what each does in test mode.
TEST_CARDS: dict[str, tuple[str, CardOutcome]] = {
    "4242424242424242": ("visa", CardOutcome.SUCCEEDS),
    "4000056655665556": ("visa", CardOutcome.SUCCEEDS),
    "5555555555554444": ("mastercard", CardOutcome.SUCCEEDS),
    "2223003122003222": ("mastercard", CardOutcome.SUCCEEDS),
    "5200828282828210": ("mastercard", CardOutcome.SUCCEEDS),
    "378282246310005": ("amex", CardOutcome.SUCCEEDS),
    "6011111111111117": ("discover", CardOutcome.SUCCEEDS),
    "4000000000000002": ("visa", CardOutcome.GENERIC_DECLINE),
    "4000000000009995": ("visa", CardOutcome.INSUFFICIENT_FUNDS),
    "4000000000009987": ("visa", CardOutcome.LOST_CARD),
    "4000000000009979": ("visa", CardOutcome.STOLEN_CARD),
    "4000000000000069": ("visa", CardOutcome.EXPIRED_CARD),
    "4000000000000127": ("visa", CardOutcome.INCORRECT_CVC),
    "4000000000000119": ("visa", CardOutcome.PROCESSING_ERROR),
    "4000002760003184": ("visa", CardOutcome.REQUIRES_3DS),
    "4000002500003155": ("visa", CardOutcome.REQUIRES_3DS),
}

DECLINE_MESSAGES: dict[CardOutcome, str] = {
    CardOutcome.GENERIC_DECLINE: "Your card was declined.",
    CardOutcome.INSUFFICIENT_FUNDS: "Your card has insufficient funds.",
    CardOutcome.LOST_CARD: "Your card was declined.",
    CardOutcome.STOLEN_CARD: "Your card was declined.",
    CardOutcome.EXPIRED_CARD: "Your card has expired.",
    CardOutcome.INCORRECT_CVC: "Your card's security code is incorrect.",
    CardOutcome.PROCESSING_ERROR: "An error occurred while processing your card. Try again.",
}


def luhn_valid(number: str) -> bool:
    if not number.isdigit() or not 12 <= len(number) <= 19:
        return False
    total = 0
    for index, digit in enumerate(reversed(number)):
        value = int(digit)
        if index % 2 == 1:
            value = value * 2 - 9 if value > 4 else value * 2
        total += value
    return total % 10 == 0


class SandboxPaymentProvider:
    name = "sandbox"

    def card_for(self, number: str, funding: str) -> Card:
        digits = number.replace(" ", "").replace("-", "")
        if not luhn_valid(digits):
            raise CardRejected("The card number is not valid.")
        known = TEST_CARDS.get(digits)
        if known is None:
            # Like Stripe test mode: real card numbers are refused, so none is ever handled here.
            raise CardRejected(
                "The sandbox accepts Stripe test card numbers only (e.g. 4242 4242 4242 4242)."
            )
        brand, outcome = known
        return Card(brand=brand, last4=digits[-4:], funding=funding, outcome=outcome)

    def authorize(self, request: AuthorizeRequest) -> Authorization:
        payment_id = new_id("pi_sbx")
        outcome = request.card.outcome
        if outcome is CardOutcome.SUCCEEDS:
            return Authorization(payment_id, AuthorizationStatus.AUTHORIZED)
        if outcome is CardOutcome.REQUIRES_3DS:
            if request.authenticated:
                return Authorization(payment_id, AuthorizationStatus.AUTHORIZED)
            return Authorization(payment_id, AuthorizationStatus.REQUIRES_ACTION)
        return Authorization(
            payment_id,
            AuthorizationStatus.DECLINED,
            decline_code=outcome.value,
            message=DECLINE_MESSAGES[outcome],
        )

    def capture(self, payment_id: str, amount: int) -> None:
        """Sandbox captures always succeed; the payment row records the state."""

    def void(self, payment_id: str) -> None:
        """Sandbox voids always succeed; the payment row records the state."""

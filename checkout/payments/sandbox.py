"""The offline sandbox provider: Stripe's test cards give Stripe's outcomes; no card is stored."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime, timedelta

from checkout.domain.fees import FeeSchedule
from checkout.payments.provider import (
    AccountStatus,
    Acquirer,
    Authorization,
    AuthorizationStatus,
    AuthorizeRequest,
    Capture,
    Card,
    CardOutcome,
    CardRejected,
    OnboardingLink,
    Refund,
    RefundRequest,
    RefundStatus,
    SharedToken,
    TokenUnknown,
)

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


def _sandbox_id(prefix: str, key: str) -> str:
    """The same id for the same idempotency key, as Stripe replays a keyed request."""
    return f"{prefix}_sbx_{hashlib.sha256(key.encode()).hexdigest()[:24]}"


class SandboxPaymentProvider:
    """Stripe's test-mode outcomes and fee arithmetic without Stripe: holds, captures and refunds
    always succeed, keyed requests give the same answer again, and the application fee is
    given back exactly as the commission rule says."""

    name = "sandbox"
    # Priced like Stripe so the demo's books show what a real order nets the platform.
    fees = FeeSchedule()
    # The sandbox is its own (simulated) acquirer: a BIN of its own, merchants by their ids.
    acquirer: Acquirer | None = Acquirer(bin="400000", merchant_id=None)

    def __init__(self, fees: FeeSchedule | None = None) -> None:
        self.fees = fees or FeeSchedule()

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

    async def shared_token(self, token_id: str) -> SharedToken:
        raise TokenUnknown("The sandbox issues vt_ tokens through delegate_payment only.")

    async def authorize(self, request: AuthorizeRequest) -> Authorization:
        payment_id = request.pending_payment_id or _sandbox_id("pi", request.idempotency_key)
        outcome = request.card.outcome
        if outcome in (CardOutcome.SUCCEEDS, CardOutcome.DECIDED_BY_PROVIDER):
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

    async def capture(self, payment_id: str, amount: int, *, idempotency_key: str) -> Capture:
        return Capture(
            payment_id=payment_id,
            charge_id=_sandbox_id("ch", payment_id),
            transfer_id=_sandbox_id("tr", payment_id),
            application_fee_id=_sandbox_id("fee", payment_id),
            processing_fee=self.fees.processing_fee(amount),
        )

    async def void(self, payment_id: str, *, idempotency_key: str) -> None:
        """Sandbox releases always succeed; the payment row records the state."""

    async def refund(self, request: RefundRequest) -> Refund:
        return Refund(
            refund_id=_sandbox_id("re", request.idempotency_key),
            status=RefundStatus.SUCCEEDED,
            application_fee_refunded=request.application_fee_refund,
        )

    async def commission_returned(self, payment_id: str) -> int | None:
        """Nothing is refunded behind the platform's back here: the ledger is the record."""
        return None

    async def recover_from_merchant(
        self, payment_id: str, amount: int, *, idempotency_key: str
    ) -> int:
        return amount

    async def pay_merchant(self, payment_id: str, amount: int, *, idempotency_key: str) -> int:
        return amount


class SandboxConnectedAccounts:
    """Connected accounts that can take charges at once: the sandbox has no onboarding to do."""

    async def open_account(
        self, *, merchant_id: str, country: str, email: str | None, idempotency_key: str
    ) -> AccountStatus:
        return AccountStatus(
            account_id=_sandbox_id("acct", idempotency_key),
            charges_enabled=True,
            transfers_active=True,
            details_submitted=True,
        )

    async def onboarding_link(
        self, account_id: str, *, refresh_url: str, return_url: str
    ) -> OnboardingLink:
        # Nothing to fill in: the link leads straight back to where onboarding returns.
        return OnboardingLink(url=return_url, expires_at=datetime.now(UTC) + timedelta(minutes=5))

    async def account_status(self, account_id: str) -> AccountStatus:
        return AccountStatus(
            account_id=account_id,
            charges_enabled=True,
            transfers_active=True,
            details_submitted=True,
        )

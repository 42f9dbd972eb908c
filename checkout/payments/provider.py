"""The PaymentProvider and ConnectedAccounts interfaces and the plain result types they return.

Every method that moves money is async and is called outside any database transaction: a
provider call can take seconds, and no row lock is held while it runs. Every such call carries
an idempotency key derived from our own ids, so a retry after a lost answer repeats nothing.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
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
    # A token the provider itself holds (a Stripe Shared Payment Token): the outcome is Stripe's.
    DECIDED_BY_PROVIDER = "decided_by_provider"


@dataclass(frozen=True, slots=True)
class Card:
    brand: str
    last4: str
    funding: str
    outcome: CardOutcome


@dataclass(frozen=True, slots=True)
class AuthorizeRequest:
    """A hold (manual capture) for the merchant, with the platform's commission as its fee."""

    idempotency_key: str
    amount: int
    currency: str  # lower-case ISO 4217
    merchant_id: str
    connected_account: str | None  # the merchant's Stripe account (acct_...), None in the sandbox
    application_fee: int  # the commission, in minor units
    token_id: str  # vt_... (our vault) or spt_... (a Stripe Shared Payment Token)
    card: Card
    authenticated: bool  # a successful 3-D Secure result accompanies this attempt
    # The payment left waiting for 3-D Secure by the previous attempt, if any: a provider that
    # keeps it (Stripe's PaymentIntent in requires_action) continues it instead of starting anew.
    pending_payment_id: str | None
    description: str
    metadata: dict[str, str] = field(default_factory=dict)
    # The agent's 3-D Secure result for this attempt (cryptogram, ECI, transaction id,
    # version), which a provider that imports external 3DS passes on with the payment.
    three_d_secure: ThreeDSecureResult | None = None


@dataclass(frozen=True, slots=True)
class Acquirer:
    """The acquirer an agent's 3-D Secure server authenticates for (ACP authentication_metadata
    acquirer_details). With Stripe these are Stripe's, given to a platform enabled for 3DS
    import; without them a challenge cannot be handed to the agent."""

    bin: str
    # The acquirer's merchant id; None: each merchant's own id (the sandbox is its own acquirer).
    merchant_id: str | None


@dataclass(frozen=True, slots=True)
class ThreeDSecureResult:
    cryptogram: str
    electronic_commerce_indicator: str | None
    transaction_id: str
    version: str


class AuthorizationStatus(StrEnum):
    AUTHORIZED = "authorized"
    DECLINED = "declined"
    REQUIRES_ACTION = "requires_action"
    # The provider refused the request itself (a bad parameter, a bad key): not the card's doing.
    FAILED = "failed"


@dataclass(frozen=True, slots=True)
class Authorization:
    payment_id: str
    status: AuthorizationStatus
    decline_code: str | None = None
    message: str | None = None


@dataclass(frozen=True, slots=True)
class Capture:
    payment_id: str
    charge_id: str | None  # ch_... with Stripe
    transfer_id: str | None  # tr_...: the merchant's share moving to its connected account
    application_fee_id: str | None  # fee_...
    # What the provider charged the platform for processing the charge (Stripe: the charge's
    # balance_transaction.fee; with destination charges the platform pays it, not the merchant).
    processing_fee: int = 0


@dataclass(frozen=True, slots=True)
class RefundRequest:
    idempotency_key: str
    payment_id: str
    amount: int
    currency: str
    # The commission share to give back by our rounding rule; the provider reports what it did.
    application_fee_refund: int
    reason: str | None
    metadata: dict[str, str] = field(default_factory=dict)


class RefundStatus(StrEnum):
    SUCCEEDED = "succeeded"
    PENDING = "pending"
    FAILED = "failed"


@dataclass(frozen=True, slots=True)
class Refund:
    refund_id: str
    status: RefundStatus
    application_fee_refunded: int  # the commission actually given back with this refund
    # All the commission given back on this payment so far, when the provider can say: the
    # figure that stays right when a refund is retried or made outside the platform.
    application_fee_refunded_total: int | None = None
    # What the processor gave back of its own fee with this refund (Stripe: minus the refund's
    # balance_transaction.fee); Stripe returns none on card refunds in the US.
    processing_fee_returned: int = 0


@dataclass(frozen=True, slots=True)
class SharedToken:
    """A token held by the provider (Stripe's SharedPaymentGrantedToken) and its usage limits."""

    id: str
    max_amount: int
    currency: str
    expires_at: datetime | None
    deactivated: bool
    card: Card
    checkout_session_id: str | None  # when the agent scoped it to a session (shared metadata)


class CardRejected(Exception):
    """The card cannot be vaulted (not a valid number, or not accepted by this provider)."""


class TokenUnknown(Exception):
    """The provider does not know this shared token (or it belongs to someone else)."""


class PaymentUnavailable(Exception):
    """The provider did not answer usefully (timeouts, 5xx, rate limits after retries).

    The operation may or may not have happened; repeating it with the same idempotency key is
    safe and is how the caller finds out.
    """


class PaymentRefused(Exception):
    """The provider refused the operation itself (not a card decline): a bad request, a
    capture of an expired hold, a refund beyond what was charged."""


class PaymentOperations(Protocol):
    """What every PSP does: hold money on a card, take it, let it go, give it back.

    Every call is keyed, so repeating one after an unknown answer (PaymentUnavailable) is safe.
    """

    name: str

    async def authorize(self, request: AuthorizeRequest) -> Authorization: ...

    async def capture(self, payment_id: str, amount: int, *, idempotency_key: str) -> Capture: ...

    async def void(self, payment_id: str, *, idempotency_key: str) -> None: ...

    async def refund(self, request: RefundRequest) -> Refund: ...


class CardIdentification(Protocol):
    """Identify a card number for our own vault (delegate_payment, where we are the vault)."""

    def card_for(self, number: str, funding: str) -> Card:
        """The card's brand, funding and test outcome; raise CardRejected when it cannot be used."""
        ...


class ProviderTokens(Protocol):
    """Tokens the provider holds for agents (Stripe's Shared Payment Tokens), and the acquirer
    details an agent needs to run 3-D Secure itself."""

    acquirer: Acquirer | None  # None: challenges cannot be handed to agents

    async def shared_token(self, token_id: str) -> SharedToken:
        """Read a provider-held token's limits; raise TokenUnknown when there is none."""
        ...


class MerchantTransfers(Protocol):
    """Moving the merchant's share of a destination charge after the fact."""

    async def commission_returned(self, payment_id: str) -> int | None:
        """All of the payment's application fee given back so far (None: not tracked)."""
        ...

    async def recover_from_merchant(
        self, payment_id: str, amount: int, *, idempotency_key: str
    ) -> int:
        """Take up to `amount` of the merchant's share of a payment back to the platform (a
        transfer reversal); returns what was taken back."""
        ...

    async def pay_merchant(self, payment_id: str, amount: int, *, idempotency_key: str) -> int:
        """Send `amount` to the merchant against a payment (a transfer); returns what was sent."""
        ...


class PaymentProvider(
    PaymentOperations, CardIdentification, ProviderTokens, MerchantTransfers, Protocol
):
    """A provider as the platform uses it: the core every PSP offers, and the capabilities this
    platform also relies on. A flow that needs only some of it asks for only those."""


@dataclass(frozen=True, slots=True)
class AccountStatus:
    account_id: str
    charges_enabled: bool
    transfers_active: bool
    details_submitted: bool
    requirements_due: tuple[str, ...] = ()
    disabled_reason: str | None = None

    @property
    def payable(self) -> bool:
        return self.charges_enabled and self.transfers_active


@dataclass(frozen=True, slots=True)
class OnboardingLink:
    url: str
    expires_at: datetime


class ConnectedAccounts(Protocol):
    """The merchant's own account at the PSP, which receives its share of every charge."""

    async def open_account(
        self, *, merchant_id: str, country: str, email: str | None, idempotency_key: str
    ) -> AccountStatus: ...

    async def onboarding_link(
        self, account_id: str, *, refresh_url: str, return_url: str
    ) -> OnboardingLink: ...

    async def account_status(self, account_id: str) -> AccountStatus: ...

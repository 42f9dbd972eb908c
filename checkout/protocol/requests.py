"""ACP 2026-04-17 request bodies, validated leniently only where the spec asks for leniency."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, EmailStr, Field

from checkout.domain.checkout import MAX_QUANTITY_PER_LINE

# Amounts are stored as 32-bit integers of minor units; larger values are refused up front.
MAX_AMOUNT = 2_147_483_647


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Item(Strict):
    id: str = Field(min_length=1, max_length=256)
    name: str | None = None
    unit_amount: int | None = Field(default=None, ge=0, le=MAX_AMOUNT)
    # Deviation (ACP issue #264): the 2026-04-17 Item has no quantity; we accept one, default 1.
    quantity: int = Field(default=1, ge=1, le=MAX_QUANTITY_PER_LINE)


class Address(Strict):
    name: str = Field(min_length=1, max_length=256)
    line_one: str = Field(min_length=1, max_length=256)
    line_two: str | None = Field(default=None, max_length=256)
    city: str = Field(min_length=1, max_length=128)
    state: str = Field(min_length=1, max_length=64)
    country: str = Field(min_length=2, max_length=2)
    postal_code: str = Field(min_length=1, max_length=20)
    company: str | None = Field(default=None, max_length=256)


class FulfillmentDetails(Strict):
    name: str | None = Field(default=None, max_length=256)
    phone_number: str | None = Field(default=None, max_length=32)
    email: EmailStr | None = None
    address: Address | None = None


class Buyer(Strict):
    email: EmailStr
    first_name: str | None = Field(default=None, max_length=256)
    last_name: str | None = Field(default=None, max_length=256)
    full_name: str | None = Field(default=None, max_length=256)
    phone_number: str | None = Field(default=None, max_length=32)
    customer_id: str | None = Field(default=None, max_length=256)
    account_type: Literal["guest", "registered", "business"] | None = None
    authentication_status: Literal["authenticated", "guest", "requires_signin"] | None = None
    company: dict[str, Any] | None = None
    loyalty: dict[str, Any] | None = None
    tax_exemption: dict[str, Any] | None = None


class InterventionCapabilities(BaseModel):
    # Unknown intervention names are ignored, never rejected (capability negotiation RFC).
    supported: list[str] = Field(default_factory=list)
    required: list[str] | None = None
    enforcement: str | None = None
    display_context: str | None = None
    redirect_context: str | None = None
    max_redirects: int | None = Field(default=None, ge=0)
    max_interaction_depth: int | None = Field(default=None, ge=1)


class Capabilities(Strict):
    payment: dict[str, Any] | None = None
    interventions: InterventionCapabilities | None = None
    extensions: list[Any] | None = None


class SelectedFulfillmentOption(Strict):
    type: Literal["shipping", "digital", "pickup", "local_delivery"]
    option_id: str = Field(min_length=1, max_length=256)
    item_ids: list[str] = Field(default_factory=list)


class CheckoutSessionCreateRequest(Strict):
    line_items: list[Item] = Field(min_length=1, max_length=100)
    currency: str = Field(pattern=r"^[A-Za-z]{3}$")
    capabilities: Capabilities
    buyer: Buyer | None = None
    fulfillment_details: FulfillmentDetails | None = None
    fulfillment_groups: list[dict[str, Any]] | None = None
    affiliate_attribution: dict[str, Any] | None = None
    coupons: list[str] | None = None
    discounts: dict[str, Any] | None = None
    locale: str | None = Field(default=None, max_length=35)
    timezone: str | None = Field(default=None, max_length=64)
    quote_id: str | None = None
    metadata: dict[str, Any] | None = None
    order_notes: str | None = Field(default=None, max_length=5000)


class CheckoutSessionUpdateRequest(Strict):
    buyer: Buyer | None = None
    line_items: list[Item] | None = Field(default=None, min_length=1, max_length=100)
    fulfillment_details: FulfillmentDetails | None = None
    fulfillment_groups: list[dict[str, Any]] | None = None
    selected_fulfillment_options: list[SelectedFulfillmentOption] | None = None
    coupons: list[str] | None = None
    discounts: dict[str, Any] | None = None
    order_notes: str | None = Field(default=None, max_length=5000)


class Credential(Strict):
    type: str = Field(min_length=1, max_length=64)
    token: str = Field(min_length=1, max_length=256)


class Instrument(Strict):
    type: str = Field(min_length=1, max_length=64)
    credential: Credential


class PaymentData(Strict):
    handler_id: str | None = Field(default=None, max_length=256)
    instrument: Instrument | None = None
    billing_address: Address | None = None
    purchase_order_number: str | None = None
    payment_terms: Literal["immediate", "net_15", "net_30", "net_60", "net_90"] | None = None
    due_date: str | None = None
    approval_required: bool | None = None


class AuthenticationResult(BaseModel):
    outcome: Literal[
        "abandoned",
        "attempt_acknowledged",
        "authenticated",
        "canceled",
        "denied",
        "informational",
        "internal_error",
        "not_supported",
        "processing_error",
        "rejected",
    ]
    # Partial details are accepted for non-success outcomes (the spec's own example sends them).
    outcome_details: dict[str, Any] | None = None


class MarketingConsent(Strict):
    channel: str
    opted_in: bool


class CheckoutSessionCompleteRequest(Strict):
    payment_data: PaymentData
    buyer: Buyer | None = None
    authentication_result: AuthenticationResult | None = None
    affiliate_attribution: dict[str, Any] | None = None
    risk_signals: dict[str, Any] | None = None
    marketing_consents: list[MarketingConsent] | None = None
    order_notes: str | None = Field(default=None, max_length=5000)


class IntentTrace(BaseModel):
    # reason_code is an open string here: unknown codes are recorded as "other" (intent traces RFC).
    reason_code: str = Field(min_length=1, max_length=64)
    trace_summary: str | None = Field(default=None, max_length=500)
    metadata: dict[str, Any] | None = None


class CancelSessionRequest(BaseModel):
    intent_trace: IntentTrace | None = None


class PaymentMethodCard(Strict):
    type: Literal["card"]
    card_number_type: Literal["fpan", "network_token"]
    number: str = Field(min_length=1, max_length=32)
    exp_month: str | None = Field(default=None, max_length=2)
    exp_year: str | None = Field(default=None, max_length=4)
    name: str | None = Field(default=None, max_length=256)
    cvc: str | None = Field(default=None, max_length=4)
    cryptogram: str | None = None
    eci_value: str | None = Field(default=None, max_length=2)
    checks_performed: list[Literal["avs", "cvv", "ani", "auth0"]] | None = None
    iin: str | None = Field(default=None, max_length=8)
    display_card_funding_type: Literal["credit", "debit", "prepaid"]
    display_wallet_type: str | None = None
    display_brand: str | None = None
    display_last4: str | None = Field(default=None, pattern=r"^[0-9]{4}$")
    virtual: bool | None = None
    metadata: dict[str, str]


class DelegateAllowance(Strict):
    reason: Literal["one_time"]
    max_amount: int = Field(ge=1, le=MAX_AMOUNT)
    currency: str = Field(pattern=r"^[a-z]{3}$")
    checkout_session_id: str = Field(min_length=1, max_length=256)
    merchant_id: str = Field(min_length=1, max_length=256)
    expires_at: AwareDatetime


class BillingAddress(Strict):
    name: str = Field(min_length=1, max_length=256)
    line_one: str = Field(min_length=1, max_length=60)
    line_two: str | None = Field(default=None, max_length=60)
    city: str = Field(min_length=1, max_length=60)
    state: str | None = None
    country: str = Field(min_length=2, max_length=2)
    postal_code: str = Field(min_length=1, max_length=20)


class RiskSignal(Strict):
    type: Literal["card_testing"]
    score: int
    action: Literal["blocked", "manual_review", "authorized"]


class DelegatePaymentRequest(Strict):
    payment_method: PaymentMethodCard
    allowance: DelegateAllowance
    billing_address: BillingAddress | None = None
    risk_signals: list[RiskSignal]
    metadata: dict[str, str]

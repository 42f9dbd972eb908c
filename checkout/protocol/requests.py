"""ACP 2026-04-17 request bodies, validated leniently only where the spec asks for leniency."""

from __future__ import annotations

import json
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, AwareDatetime, BaseModel, ConfigDict, EmailStr, Field

from checkout.domain.checkout import MAX_QUANTITY_PER_LINE

# Amounts are stored as 32-bit integers of minor units; larger values are refused up front.
MAX_AMOUNT = 2_147_483_647


# Stripe's metadata limits, which agents already live with: 50 keys of up to 40 characters, each
# value up to 500 characters (as JSON, for the few non-string values the spec allows).
MAX_METADATA_KEYS = 50
MAX_METADATA_KEY_LENGTH = 40
MAX_METADATA_VALUE_LENGTH = 500
# Free-form objects we store but never interpret (attribution, loyalty, discounts...).
MAX_OBJECT_JSON_LENGTH = 16_384
MAX_TEXT = 256


def _json_length(value: Any) -> int:
    return len(value) if isinstance(value, str) else len(json.dumps(value, default=str))


def _bounded_metadata(value: dict[str, Any]) -> dict[str, Any]:
    if len(value) > MAX_METADATA_KEYS:
        raise ValueError(f"metadata has at most {MAX_METADATA_KEYS} keys")
    for key, item in value.items():
        if len(key) > MAX_METADATA_KEY_LENGTH:
            raise ValueError(f"metadata keys are at most {MAX_METADATA_KEY_LENGTH} characters")
        if _json_length(item) > MAX_METADATA_VALUE_LENGTH:
            raise ValueError(
                f"metadata values are at most {MAX_METADATA_VALUE_LENGTH} characters ({key!r})"
            )
    return value


def _bounded_object(value: Any) -> Any:
    if _json_length(value) > MAX_OBJECT_JSON_LENGTH:
        raise ValueError(f"at most {MAX_OBJECT_JSON_LENGTH} characters of JSON")
    return value


Metadata = Annotated[dict[str, Any], AfterValidator(_bounded_metadata)]
StringMetadata = Annotated[dict[str, str], AfterValidator(_bounded_metadata)]
FreeObject = Annotated[dict[str, Any], AfterValidator(_bounded_object)]
FreeList = Annotated[list[Any], Field(max_length=100), AfterValidator(_bounded_object)]
Text = Annotated[str, Field(max_length=MAX_TEXT)]
Codes = Annotated[list[Text], Field(max_length=50)]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Item(Strict):
    id: str = Field(min_length=1, max_length=256)
    name: str | None = Field(default=None, max_length=MAX_TEXT)
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


class CompanyInfo(Strict):
    name: str = Field(max_length=MAX_TEXT)
    tax_id: str | None = Field(default=None, max_length=MAX_TEXT)
    department: str | None = Field(default=None, max_length=MAX_TEXT)
    cost_center: str | None = Field(default=None, max_length=MAX_TEXT)


class LoyaltyInfo(Strict):
    tier: str | None = Field(default=None, max_length=MAX_TEXT)
    points_balance: int | None = None
    member_since: AwareDatetime | None = None


class TaxExemption(Strict):
    certificate_id: str = Field(max_length=MAX_TEXT)
    certificate_type: Literal["resale", "exempt_organization", "government"]
    exempt_regions: list[Text] | None = Field(default=None, max_length=100)
    expires_at: AwareDatetime | None = None


class Buyer(Strict):
    email: EmailStr
    first_name: str | None = Field(default=None, max_length=256)
    last_name: str | None = Field(default=None, max_length=256)
    full_name: str | None = Field(default=None, max_length=256)
    phone_number: str | None = Field(default=None, max_length=32)
    customer_id: str | None = Field(default=None, max_length=256)
    account_type: Literal["guest", "registered", "business"] | None = None
    authentication_status: Literal["authenticated", "guest", "requires_signin"] | None = None
    # Echoed on every session, so held to the spec's closed shapes (CompanyInfo, LoyaltyInfo,
    # TaxExemption are identical in 2026-01-30 and 2026-04-17).
    company: CompanyInfo | None = None
    loyalty: LoyaltyInfo | None = None
    tax_exemption: TaxExemption | None = None


class InterventionCapabilities(BaseModel):
    # Unknown intervention names are ignored, never rejected (capability negotiation RFC).
    supported: Codes = Field(default_factory=list)
    required: Codes | None = None
    enforcement: Text | None = None
    display_context: Text | None = None
    redirect_context: Text | None = None
    max_redirects: int | None = Field(default=None, ge=0)
    max_interaction_depth: int | None = Field(default=None, ge=1)


class Capabilities(Strict):
    payment: FreeObject | None = None
    interventions: InterventionCapabilities | None = None
    extensions: FreeList | None = None


class SelectedFulfillmentOption(Strict):
    type: Literal["shipping", "digital", "pickup", "local_delivery"]
    option_id: str = Field(min_length=1, max_length=256)
    item_ids: list[Text] = Field(default_factory=list, max_length=100)


class CheckoutSessionCreateRequest(Strict):
    line_items: list[Item] = Field(min_length=1, max_length=100)
    currency: str = Field(pattern=r"^[A-Za-z]{3}$")
    capabilities: Capabilities
    buyer: Buyer | None = None
    fulfillment_details: FulfillmentDetails | None = None
    fulfillment_groups: FreeList | None = None
    affiliate_attribution: FreeObject | None = None
    coupons: Codes | None = None
    discounts: FreeObject | None = None
    locale: str | None = Field(default=None, max_length=35)
    timezone: str | None = Field(default=None, max_length=64)
    quote_id: str | None = Field(default=None, max_length=MAX_TEXT)
    metadata: Metadata | None = None
    order_notes: str | None = Field(default=None, max_length=5000)


class CheckoutSessionUpdateRequest(Strict):
    buyer: Buyer | None = None
    line_items: list[Item] | None = Field(default=None, min_length=1, max_length=100)
    fulfillment_details: FulfillmentDetails | None = None
    fulfillment_groups: FreeList | None = None
    selected_fulfillment_options: list[SelectedFulfillmentOption] | None = Field(
        default=None, max_length=20
    )
    coupons: Codes | None = None
    discounts: FreeObject | None = None
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
    purchase_order_number: str | None = Field(default=None, max_length=MAX_TEXT)
    payment_terms: Literal["immediate", "net_15", "net_30", "net_60", "net_90"] | None = None
    due_date: str | None = Field(default=None, max_length=64)
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
    outcome_details: FreeObject | None = None


class MarketingConsent(Strict):
    channel: str = Field(max_length=64)
    opted_in: bool


class CheckoutSessionCompleteRequest(Strict):
    payment_data: PaymentData
    buyer: Buyer | None = None
    authentication_result: AuthenticationResult | None = None
    affiliate_attribution: FreeObject | None = None
    risk_signals: FreeObject | None = None
    marketing_consents: list[MarketingConsent] | None = Field(default=None, max_length=20)
    order_notes: str | None = Field(default=None, max_length=5000)


class IntentTrace(BaseModel):
    # reason_code is an open string here: unknown codes are recorded as "other" (intent traces RFC).
    reason_code: str = Field(min_length=1, max_length=64)
    trace_summary: str | None = Field(default=None, max_length=500)
    metadata: Metadata | None = None


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
    cryptogram: str | None = Field(default=None, max_length=MAX_TEXT)
    eci_value: str | None = Field(default=None, max_length=2)
    checks_performed: list[Literal["avs", "cvv", "ani", "auth0"]] | None = None
    iin: str | None = Field(default=None, max_length=8)
    display_card_funding_type: Literal["credit", "debit", "prepaid"]
    display_wallet_type: str | None = Field(default=None, max_length=64)
    display_brand: str | None = Field(default=None, max_length=64)
    display_last4: str | None = Field(default=None, pattern=r"^[0-9]{4}$")
    virtual: bool | None = None
    metadata: StringMetadata


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
    state: str | None = Field(default=None, max_length=64)
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
    risk_signals: list[RiskSignal] = Field(max_length=20)
    metadata: StringMetadata

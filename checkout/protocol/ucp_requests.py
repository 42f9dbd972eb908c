"""UCP request bodies as we read them: the fields we act on, checked; unknown fields ignored, as
UCP's schemas allow additional properties."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

MAX_TEXT = 2048


class Lenient(BaseModel):
    model_config = ConfigDict(extra="ignore")


class ItemRef(Lenient):
    id: str = Field(min_length=1, max_length=256)
    title: str | None = Field(default=None, max_length=MAX_TEXT)


class LineItemRequest(Lenient):
    id: str | None = Field(default=None, max_length=256)
    item: ItemRef
    quantity: int = Field(ge=1, le=1_000_000)


class PostalAddress(Lenient):
    id: str | None = Field(default=None, max_length=256)
    street_address: str | None = Field(default=None, max_length=256)
    extended_address: str | None = Field(default=None, max_length=256)
    address_locality: str | None = Field(default=None, max_length=128)
    address_region: str | None = Field(default=None, max_length=128)
    address_country: str | None = Field(default=None, min_length=2, max_length=2)
    postal_code: str | None = Field(default=None, max_length=32)
    first_name: str | None = Field(default=None, max_length=256)
    last_name: str | None = Field(default=None, max_length=256)
    full_name: str | None = Field(default=None, max_length=256)
    phone_number: str | None = Field(default=None, max_length=64)


class GroupRequest(Lenient):
    id: str | None = Field(default=None, max_length=256)
    selected_option_id: str | None = Field(default=None, max_length=256)


class MethodRequest(Lenient):
    id: str | None = Field(default=None, max_length=256)
    type: Literal["shipping", "pickup"] = "shipping"
    destinations: list[PostalAddress] | None = Field(default=None, max_length=20)
    selected_destination_id: str | None = Field(default=None, max_length=256)
    groups: list[GroupRequest] | None = Field(default=None, max_length=20)


class FulfillmentRequest(Lenient):
    methods: list[MethodRequest] = Field(default_factory=list, max_length=5)


class Consent(Lenient):
    analytics: bool | None = None
    preferences: bool | None = None
    marketing: bool | None = None
    sale_of_data: bool | None = None


class BuyerRequest(Lenient):
    first_name: str | None = Field(default=None, max_length=256)
    last_name: str | None = Field(default=None, max_length=256)
    full_name: str | None = Field(default=None, max_length=256)
    email: str | None = Field(default=None, max_length=320)
    phone_number: str | None = Field(default=None, max_length=64)
    consent: Consent | None = None


class DiscountsRequest(Lenient):
    codes: list[str] = Field(default_factory=list, max_length=20)


class PaymentRequest(Lenient):
    handlers: list[dict[str, Any]] | None = Field(default=None, max_length=20)
    instruments: list[dict[str, Any]] | None = Field(default=None, max_length=20)
    selected_instrument_id: str | None = Field(default=None, max_length=256)


class CheckoutCreateRequest(Lenient):
    currency: str = Field(pattern=r"^[A-Za-z]{3}$")
    line_items: list[LineItemRequest] = Field(min_length=1, max_length=100)
    buyer: BuyerRequest | None = None
    payment: PaymentRequest | None = None
    fulfillment: FulfillmentRequest | None = None
    discounts: DiscountsRequest | None = None


class CheckoutUpdateRequest(Lenient):
    id: str | None = Field(default=None, max_length=256)
    currency: str | None = Field(default=None, pattern=r"^[A-Za-z]{3}$")
    line_items: list[LineItemRequest] | None = Field(default=None, min_length=1, max_length=100)
    buyer: BuyerRequest | None = None
    payment: PaymentRequest | None = None
    fulfillment: FulfillmentRequest | None = None
    discounts: DiscountsRequest | None = None


class Credential(Lenient):
    type: str = Field(min_length=1, max_length=64)
    token: str | None = Field(default=None, min_length=1, max_length=512)
    # A card credential (card_credential.json): the card itself.
    card_number_type: Literal["fpan", "network_token", "dpan"] | None = None
    number: str | None = Field(default=None, min_length=12, max_length=19, pattern=r"^\d+$")
    expiry_month: int | None = Field(default=None, ge=1, le=12)
    expiry_year: int | None = Field(default=None, ge=2000, le=2100)
    cvc: str | None = Field(default=None, max_length=4)
    name: str | None = Field(default=None, max_length=256)


class PaymentInstrument(Lenient):
    id: str = Field(min_length=1, max_length=256)
    handler_id: str = Field(min_length=1, max_length=256)
    type: str = Field(min_length=1, max_length=64)
    brand: str | None = Field(default=None, max_length=64)
    last_digits: str | None = Field(default=None, max_length=4)
    credential: Credential | None = None
    billing_address: PostalAddress | None = None


class CompleteRequest(Lenient):
    payment_data: PaymentInstrument
    risk_signals: dict[str, Any] | None = None
    ap2: dict[str, Any] | None = None


class Binding(Lenient):
    checkout_id: str = Field(min_length=1, max_length=256)


class TokenizeRequest(Lenient):
    credential: Credential
    binding: Binding


class OrderLineRef(BaseModel):
    id: str = Field(min_length=1, max_length=256)
    quantity: int = Field(ge=0)


class FulfillmentEvent(BaseModel):
    model_config = ConfigDict(extra="allow")
    id: str = Field(min_length=1, max_length=256)
    occurred_at: AwareDatetime | datetime
    type: str = Field(min_length=1, max_length=64)
    line_items: list[OrderLineRef]
    tracking_number: str | None = Field(default=None, max_length=256)
    tracking_url: str | None = Field(default=None, max_length=MAX_TEXT)
    carrier: str | None = Field(default=None, max_length=256)
    description: str | None = Field(default=None, max_length=MAX_TEXT)


class Adjustment(BaseModel):
    model_config = ConfigDict(extra="allow")
    id: str = Field(min_length=1, max_length=256)
    type: str = Field(min_length=1, max_length=64)
    occurred_at: AwareDatetime | datetime
    status: Literal["pending", "completed", "failed"]
    line_items: list[OrderLineRef] | None = None
    amount: int | None = Field(default=None, ge=0)
    description: str | None = Field(default=None, max_length=MAX_TEXT)


class OrderFulfillment(Lenient):
    events: list[FulfillmentEvent] | None = Field(default=None, max_length=1000)


class OrderUpdateRequest(Lenient):
    """The order as the platform last saw it, with events or adjustments added."""

    id: str | None = None
    fulfillment: OrderFulfillment | None = None
    adjustments: list[Adjustment] | None = Field(default=None, max_length=1000)

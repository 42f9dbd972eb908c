"""ACP 2026-04-17 response shapes, for the service's own OpenAPI document (rendering builds dicts)."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field


class Shape(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Error(Shape):
    type: Literal["invalid_request", "processing_error", "service_unavailable"]
    code: str
    message: str
    param: str | None = None
    supported_versions: list[str] | None = None


class Total(Shape):
    type: Literal[
        "items_base_amount",
        "items_discount",
        "subtotal",
        "discount",
        "fulfillment",
        "tax",
        "fee",
        "gift_wrap",
        "tip",
        "store_credit",
        "total",
        "amount_refunded",
    ]
    display_text: str
    amount: int
    description: str | None = None


class ItemRef(Shape):
    id: str


class VariantOption(Shape):
    name: str
    value: str


class SellerDetails(Shape):
    name: str


class LineItem(Shape):
    id: str
    item: ItemRef
    quantity: int = Field(ge=1)
    name: str | None = None
    description: str | None = None
    images: list[str] | None = None
    unit_amount: int | None = None
    product_id: str | None = None
    variant_id: str | None = None
    sku: str | None = None
    category: str | None = None
    availability_status: (
        Literal["in_stock", "low_stock", "out_of_stock", "backorder", "pre_order"] | None
    ) = None
    available_quantity: int | None = None
    variant_options: list[VariantOption] | None = None
    marketplace_seller_details: SellerDetails | None = None
    totals: list[Total]


class FulfillmentOption(Shape):
    type: Literal["shipping", "digital"]
    id: str
    title: str
    description: str | None = None
    carrier: str | None = None
    earliest_delivery_time: str | None = None
    latest_delivery_time: str | None = None
    totals: list[Total]


class SelectedFulfillmentOption(Shape):
    type: Literal["shipping", "digital", "pickup", "local_delivery"]
    option_id: str
    item_ids: list[str]


class Message(Shape):
    type: Literal["info", "warning", "error"]
    code: str | None = None
    content_type: Literal["plain", "markdown"]
    content: str
    param: str | None = None
    severity: str | None = None
    resolution: Literal["recoverable", "requires_buyer_input", "requires_buyer_review"] | None = (
        None
    )


class Link(Shape):
    type: str
    url: str
    title: str | None = None


class PaymentHandler(Shape):
    id: str
    name: str
    display_name: str | None = None
    version: str
    spec: str
    requires_delegate_payment: bool
    requires_pci_compliance: bool
    psp: str
    config_schema: str
    instrument_schemas: list[str]
    config: dict[str, Any]


class PaymentCapability(Shape):
    handlers: list[PaymentHandler]


class Interventions(Shape):
    supported: list[str]
    required: list[str] | None = None
    enforcement: str | None = None


class Capabilities(Shape):
    payment: PaymentCapability | None = None
    interventions: Interventions | None = None


class OrderReference(Shape):
    id: str
    checkout_session_id: str
    permalink_url: str
    order_number: str | None = None
    status: str | None = None


class CheckoutSession(Shape):
    id: str
    protocol: dict[str, str] | None = None
    capabilities: Capabilities
    status: Literal[
        "incomplete",
        "not_ready_for_payment",
        "requires_escalation",
        "authentication_required",
        "ready_for_payment",
        "pending_approval",
        "complete_in_progress",
        "completed",
        "canceled",
        "in_progress",
        "expired",
    ]
    currency: str
    buyer: dict[str, Any] | None = None
    line_items: list[LineItem]
    fulfillment_details: dict[str, Any] | None = None
    fulfillment_options: list[FulfillmentOption]
    selected_fulfillment_options: list[SelectedFulfillmentOption] | None = None
    totals: list[Total]
    messages: list[Message]
    links: list[Link]
    authentication_metadata: dict[str, Any] | None = None
    locale: str | None = None
    timezone: str | None = None
    metadata: dict[str, Any] | None = None
    created_at: str | None = None
    updated_at: str | None = None
    expires_at: str | None = None
    order: OrderReference | None = None


class CheckoutSessionWithOrder(CheckoutSession):
    order: OrderReference


class DelegatePaymentResponse(Shape):
    id: str
    created: str
    metadata: dict[str, str]


class Order(Shape):
    type: Literal["order"]
    id: str
    checkout_session_id: str
    permalink_url: str
    order_number: str | None = None
    status: str
    line_items: list[dict[str, Any]]
    fulfillments: list[dict[str, Any]]
    adjustments: list[dict[str, Any]]
    totals: list[Total]
    confirmation: dict[str, Any] | None = None
    estimated_delivery: dict[str, str] | None = None
    support: dict[str, Any] | None = None


class CatalogPage(Shape):
    """ACP feed Products, each with its merchant_id and each variant with available_quantity."""

    products: list[dict[str, Any]]
    next_cursor: str | None

"""The database tables as SQLModel rows; the Alembic migrations are the authority on the schema."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import JSON, CheckConstraint, Column, DateTime, Index, LargeBinary, UniqueConstraint
from sqlalchemy.engine import Dialect
from sqlalchemy.types import TypeDecorator
from sqlmodel import Field

from datastore import Row, empty_dict, empty_list


class UtcDateTime(TypeDecorator[datetime]):
    """Timezone-aware UTC in and out, on SQLite (which stores naive text) as on PostgreSQL."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        return value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def utc_column(nullable: bool = False, index: bool = False) -> Any:
    return Field(sa_column=Column(UtcDateTime(), nullable=nullable, index=index))


class MerchantRow(Row, table=True):
    __tablename__ = "merchants"
    id: str = Field(primary_key=True, max_length=64)
    name: str
    platform: str = Field(max_length=16)
    shop_ref: str
    currency: str = Field(max_length=3)
    country: str = Field(max_length=2)
    support_email: str | None = None
    links: dict[str, str] = Field(
        default_factory=empty_dict, sa_column=Column(JSON, nullable=False)
    )
    shipping: dict[str, Any] = Field(
        default_factory=empty_dict, sa_column=Column(JSON, nullable=False)
    )
    commission_bps: int
    commission_category_bps: dict[str, int] = Field(
        default_factory=empty_dict, sa_column=Column(JSON, nullable=False, server_default="{}")
    )
    commission_minimum: int | None = None
    commission_fixed: int = Field(default=0, sa_column_kwargs={"server_default": "0"})
    # Where and how the platform is reached; credentials are Fernet-encrypted JSON, never returned.
    platform_shop_id: str | None = Field(default=None, max_length=255)
    api_base_url: str | None = None
    credentials: bytes | None = Field(default=None, sa_column=Column(LargeBinary, nullable=True))
    status: str = Field(default="active", max_length=16)  # active | paused | revoked
    status_reason: str | None = None
    commission_version: int = Field(default=1, sa_column_kwargs={"server_default": "1"})
    # The merchant's account at the payment provider, which receives its share of each charge.
    payment_account_id: str | None = Field(default=None, max_length=255, index=True)
    # pending (onboarding not finished: cannot be bought from) | payable
    payment_status: str = Field(
        default="payable", max_length=16, sa_column_kwargs={"server_default": "payable"}
    )
    payment_status_reason: str | None = None
    # SHA-256 of the merchant's own API key (read its ledger, statements and terms).
    api_key_hash: str | None = Field(default=None, max_length=64, unique=True, index=True)
    catalog_watermark: str | None = None
    last_synced_at: datetime | None = utc_column(nullable=True)
    created_at: datetime = utc_column()


class ProductRow(Row, table=True):
    __tablename__ = "products"
    __table_args__ = (
        UniqueConstraint("merchant_id", "platform_product_id", name="uq_products_platform_id"),
    )
    id: str = Field(primary_key=True, max_length=64)
    merchant_id: str = Field(foreign_key="merchants.id", index=True, max_length=64)
    title: str
    description: str
    category: str | None = None
    tags: list[str] = Field(default_factory=empty_list, sa_column=Column(JSON, nullable=False))
    material: str | None = None
    rating: float | None = None
    review_count: int = 0
    digital: bool = False
    url: str | None = None
    images: list[str] = Field(default_factory=empty_list, sa_column=Column(JSON, nullable=False))
    platform_product_id: str | None = Field(default=None, max_length=255)
    active: bool = True  # False once the platform no longer sells it
    updated_at: datetime = utc_column()


class VariantRow(Row, table=True):
    __tablename__ = "variants"
    __table_args__ = (CheckConstraint("inventory >= 0", name="ck_variants_inventory_nonnegative"),)
    id: str = Field(primary_key=True, max_length=64)
    product_id: str = Field(foreign_key="products.id", index=True, max_length=64)
    merchant_id: str = Field(foreign_key="merchants.id", index=True, max_length=64)
    sku: str | None = None
    title: str
    options: dict[str, str] = Field(
        default_factory=empty_dict, sa_column=Column(JSON, nullable=False)
    )
    price: int
    list_price: int | None = None
    currency: str = Field(max_length=3)
    inventory: int
    platform_variant_id: str | None = Field(default=None, max_length=255)
    active: bool = True
    updated_at: datetime = utc_column()


class AgentKeyRow(Row, table=True):
    __tablename__ = "agent_api_keys"
    id: str = Field(primary_key=True, max_length=64)
    name: str
    key_hash: str = Field(unique=True, max_length=64)
    created_at: datetime = utc_column()
    revoked_at: datetime | None = utc_column(nullable=True)


class CheckoutSessionRow(Row, table=True):
    __tablename__ = "checkout_sessions"
    id: str = Field(primary_key=True, max_length=64)
    agent_id: str = Field(index=True, max_length=64)
    merchant_id: str = Field(foreign_key="merchants.id", index=True, max_length=64)
    status: str = Field(max_length=32)
    currency: str = Field(max_length=3)
    locale: str | None = None
    timezone: str | None = None
    buyer: dict[str, Any] | None = Field(default=None, sa_column=Column(JSON, nullable=True))
    fulfillment_details: dict[str, Any] | None = Field(
        default=None, sa_column=Column(JSON, nullable=True)
    )
    selections: list[dict[str, Any]] = Field(
        default_factory=empty_list, sa_column=Column(JSON, nullable=False)
    )
    interventions: list[str] = Field(
        default_factory=empty_list, sa_column=Column(JSON, nullable=False)
    )
    notices: list[dict[str, Any]] = Field(
        default_factory=empty_list, sa_column=Column(JSON, nullable=False)
    )
    authentication_metadata: dict[str, Any] | None = Field(
        default=None, sa_column=Column(JSON, nullable=True)
    )
    order_notes: str | None = None
    metadata_: dict[str, Any] | None = Field(
        default=None, sa_column=Column("metadata", JSON, nullable=True)
    )
    created_at: datetime = utc_column()
    updated_at: datetime = utc_column()
    expires_at: datetime = utc_column(index=True)
    # The ACP API-Version the session's agent spoke when it created the session: its order
    # webhooks are sent in that version's shape.
    api_version: str = Field(
        default="2026-04-17", max_length=10, sa_column_kwargs={"server_default": "2026-04-17"}
    )
    # acp | ucp: a session is seen only through the protocol that created it.
    protocol: str = Field(default="acp", max_length=8, sa_column_kwargs={"server_default": "acp"})
    discount_codes: list[str] = Field(
        default_factory=empty_list, sa_column=Column(JSON, nullable=False, server_default="[]")
    )
    # What a protocol shows that the core does not model (UCP's destination ids, consent).
    protocol_state: dict[str, Any] | None = Field(
        default=None, sa_column=Column(JSON, nullable=True)
    )


class CheckoutLineRow(Row, table=True):
    __tablename__ = "checkout_lines"
    __table_args__ = (CheckConstraint("quantity >= 1", name="ck_checkout_lines_quantity_positive"),)
    id: str = Field(primary_key=True, max_length=64)
    session_id: str = Field(foreign_key="checkout_sessions.id", index=True, max_length=64)
    position: int
    variant_id: str = Field(foreign_key="variants.id", max_length=64)
    quantity: int
    unit_amount: int


class PaymentTokenRow(Row, table=True):
    """A delegated payment token (vt_...). The card number is never stored: brand, last4, outcome."""

    __tablename__ = "payment_tokens"
    id: str = Field(primary_key=True, max_length=64)
    agent_id: str = Field(max_length=64)
    card_brand: str
    card_last4: str = Field(max_length=4)
    funding: str
    card_outcome: str
    max_amount: int
    currency: str = Field(max_length=3)
    checkout_session_id: str = Field(index=True, max_length=256)
    merchant_id: str = Field(max_length=256)
    expires_at: datetime = utc_column()
    metadata_: dict[str, str] = Field(
        default_factory=empty_dict, sa_column=Column("metadata", JSON, nullable=False)
    )
    created_at: datetime = utc_column()
    used_at: datetime | None = utc_column(nullable=True)


class PaymentRow(Row, table=True):
    __tablename__ = "payments"
    id: str = Field(primary_key=True, max_length=64)
    session_id: str = Field(foreign_key="checkout_sessions.id", index=True, max_length=64)
    token_id: str = Field(foreign_key="payment_tokens.id", max_length=64)
    provider: str = Field(max_length=16)
    amount: int
    currency: str = Field(max_length=3)
    # A checkout.domain.purchase.PaymentStatus value: authorizing | requires_action |
    # requires_capture | succeeded | void_pending | canceled | declined | failed | superseded
    status: str = Field(max_length=32)
    decline_code: str | None = None
    # The provider's id for this payment (pi_...), known once the provider has answered.
    provider_payment_id: str | None = Field(default=None, max_length=255, index=True)
    application_fee: int = Field(default=0, sa_column_kwargs={"server_default": "0"})
    connected_account: str | None = Field(default=None, max_length=255)
    charge_id: str | None = Field(default=None, max_length=255, index=True)
    transfer_id: str | None = Field(default=None, max_length=255)
    application_fee_id: str | None = Field(default=None, max_length=255)
    created_at: datetime = utc_column()
    updated_at: datetime = utc_column()


class OrderRow(Row, table=True):
    __tablename__ = "orders"
    id: str = Field(primary_key=True, max_length=64)
    checkout_session_id: str = Field(foreign_key="checkout_sessions.id", unique=True, max_length=64)
    merchant_id: str = Field(foreign_key="merchants.id", index=True, max_length=64)
    payment_id: str = Field(foreign_key="payments.id", max_length=64)
    order_number: str = Field(unique=True, max_length=32)
    permalink_url: str
    platform_order_id: str | None = Field(default=None, max_length=255, index=True)
    platform_order_name: str | None = None
    status: str = Field(max_length=32)
    currency: str = Field(max_length=3)
    items_amount: int
    fulfillment_amount: int
    tax_amount: int
    total_amount: int
    commission_amount: int = Field(default=0, sa_column_kwargs={"server_default": "0"})
    commission_version: int = Field(default=1, sa_column_kwargs={"server_default": "1"})
    amount_refunded: int = Field(default=0, sa_column_kwargs={"server_default": "0"})
    commission_refunded: int = Field(default=0, sa_column_kwargs={"server_default": "0"})
    destination: dict[str, Any] | None = Field(default=None, sa_column=Column(JSON, nullable=True))
    email: str | None = None
    estimated_earliest: datetime | None = utc_column(nullable=True)
    estimated_latest: datetime | None = utc_column(nullable=True)
    fulfillments: list[dict[str, Any]] = Field(
        default_factory=empty_list, sa_column=Column(JSON, nullable=False)
    )
    created_at: datetime = utc_column()
    updated_at: datetime = utc_column()


class OrderLineRow(Row, table=True):
    __tablename__ = "order_lines"
    id: str = Field(primary_key=True, max_length=64)
    order_id: str = Field(foreign_key="orders.id", index=True, max_length=64)
    position: int
    variant_id: str = Field(foreign_key="variants.id", max_length=64)
    product_id: str = Field(max_length=64)
    title: str
    quantity: int
    unit_amount: int
    subtotal: int
    image_url: str | None = None
    url: str | None = None


class IntentTraceRow(Row, table=True):
    __tablename__ = "intent_traces"
    session_id: str = Field(foreign_key="checkout_sessions.id", primary_key=True, max_length=64)
    reason_code: str
    trace_summary: str | None = None
    metadata_: dict[str, Any] | None = Field(
        default=None, sa_column=Column("metadata", JSON, nullable=True)
    )
    created_at: datetime = utc_column()


class IdempotencyRecordRow(Row, table=True):
    """A request key's fingerprint and, once done, the response to replay."""

    __tablename__ = "idempotency_records"
    __table_args__ = (UniqueConstraint("identity", "path", "key", name="uq_idempotency_scope"),)
    id: int | None = Field(default=None, primary_key=True)
    identity: str = Field(max_length=64)
    path: str = Field(max_length=255)
    key: str = Field(max_length=255)
    fingerprint: str = Field(max_length=64)
    state: str = Field(max_length=16)  # in_flight | done
    response_status: int | None = None
    response_body: bytes | None = Field(default=None, sa_column=Column(LargeBinary, nullable=True))
    locked_until: datetime = utc_column()
    created_at: datetime = utc_column(index=True)


class OutboxEventRow(Row, table=True):
    """An order event waiting to be delivered to the agent's webhook receiver."""

    __tablename__ = "outbox_events"
    __table_args__ = (Index("ix_outbox_pending", "delivered_at", "next_attempt_at"),)
    id: str = Field(primary_key=True, max_length=64)
    event_type: str = Field(max_length=32)
    order_id: str = Field(foreign_key="orders.id", index=True, max_length=64)
    payload: str
    attempts: int = 0
    next_attempt_at: datetime = utc_column()
    locked_until: datetime | None = utc_column(nullable=True)
    delivered_at: datetime | None = utc_column(nullable=True)
    failed_at: datetime | None = utc_column(nullable=True)
    last_error: str | None = None
    created_at: datetime = utc_column()


class PurchaseRow(Row, table=True):
    """The completion saga of one session: authorised -> placed on the platform -> captured."""

    __tablename__ = "purchases"
    id: str = Field(primary_key=True, max_length=64)
    # One per session: a new attempt after an unwound one starts over on the same row (the
    # payments table keeps every attempt's payment).
    session_id: str = Field(foreign_key="checkout_sessions.id", unique=True, max_length=64)
    merchant_id: str = Field(foreign_key="merchants.id", index=True, max_length=64)
    payment_id: str = Field(foreign_key="payments.id", max_length=64)
    token_id: str = Field(max_length=64)
    # A checkout.domain.purchase.PurchaseState value: authorizing | authorized | placed |
    # completed | unwound
    state: str = Field(max_length=16, index=True)
    # The sale as charged; read it as checkout.flows.purchase.sale.Sale.of(row).
    sale: dict[str, Any] = Field(default_factory=empty_dict, sa_column=Column(JSON, nullable=False))
    platform_order_id: str | None = Field(default=None, max_length=255)
    platform_order_name: str | None = None
    recorded: str | None = Field(default=None, max_length=32)
    attempts: int = 0
    last_error: str | None = None
    created_at: datetime = utc_column()
    updated_at: datetime = utc_column()


class PlatformEventRow(Row, table=True):
    """An inbox of verified merchant-platform webhooks: one row per delivery id, processed once."""

    __tablename__ = "platform_events"
    __table_args__ = (
        UniqueConstraint("merchant_id", "event_id", name="uq_platform_events_delivery"),
    )
    id: int | None = Field(default=None, primary_key=True)
    merchant_id: str = Field(foreign_key="merchants.id", max_length=64)
    event_id: str = Field(max_length=255)
    kind: str = Field(max_length=32)
    payload: dict[str, Any] = Field(
        default_factory=empty_dict, sa_column=Column(JSON, nullable=False)
    )
    received_at: datetime = utc_column()
    processed_at: datetime | None = utc_column(nullable=True)


class CommissionTermsRow(Row, table=True):
    """Every version of every merchant's commission terms; orders name the version they used."""

    __tablename__ = "commission_terms"
    __table_args__ = (
        UniqueConstraint("merchant_id", "version", name="uq_commission_terms_version"),
    )
    id: int | None = Field(default=None, primary_key=True)
    merchant_id: str = Field(foreign_key="merchants.id", max_length=64)
    version: int
    rate_bps: int
    category_bps: dict[str, int] = Field(
        default_factory=empty_dict, sa_column=Column(JSON, nullable=False)
    )
    minimum: int | None = None
    fixed: int = Field(default=0, sa_column_kwargs={"server_default": "0"})
    effective_at: datetime = utc_column()


class LedgerEntryRow(Row, table=True):
    """One posting of a movement of money; append-only (never updated, never deleted)."""

    __tablename__ = "ledger_entries"
    __table_args__ = (
        # A movement is written once: a retried refund or a redelivered webhook finds it there.
        UniqueConstraint("movement_key", "account", name="uq_ledger_movement_account"),
        Index("ix_ledger_merchant_time", "merchant_id", "occurred_at"),
    )
    id: int | None = Field(default=None, primary_key=True)
    movement_key: str = Field(max_length=255)
    kind: str = Field(max_length=32)
    account: str = Field(max_length=16)
    merchant_id: str = Field(foreign_key="merchants.id", max_length=64)
    order_id: str | None = Field(default=None, foreign_key="orders.id", max_length=64, index=True)
    amount: int
    currency: str = Field(max_length=3)
    reference: str | None = Field(default=None, max_length=255)  # pi_, re_, dp_ ...
    occurred_at: datetime = utc_column()


class RefundRow(Row, table=True):
    __tablename__ = "refunds"
    id: str = Field(primary_key=True, max_length=64)
    order_id: str = Field(foreign_key="orders.id", index=True, max_length=64)
    amount: int
    commission_amount: int  # given back with this refund (what the provider reported)
    currency: str = Field(max_length=3)
    reason: str | None = None
    source: str = Field(max_length=32)  # operator | merchant_platform | stripe
    status: str = Field(max_length=16)  # pending | succeeded | failed
    provider_refund_id: str | None = Field(default=None, max_length=255, unique=True)
    created_at: datetime = utc_column()
    updated_at: datetime = utc_column()


class StripeEventRow(Row, table=True):
    """The inbox of verified Stripe webhooks, keyed by Stripe's event id: processed once."""

    __tablename__ = "stripe_events"
    id: str = Field(primary_key=True, max_length=255)
    type: str = Field(max_length=64)
    account: str | None = Field(default=None, max_length=255)
    payload: dict[str, Any] = Field(
        default_factory=empty_dict, sa_column=Column(JSON, nullable=False)
    )
    created: datetime = utc_column()
    received_at: datetime = utc_column()
    processed_at: datetime | None = utc_column(nullable=True)
    outcome: str | None = None


class DiscountCodeRow(Row, table=True):
    """A code a merchant offers (percentage in basis points, or a fixed amount in minor units)."""

    __tablename__ = "discount_codes"
    __table_args__ = (CheckConstraint("value >= 0", name="ck_discount_codes_value_nonnegative"),)
    merchant_id: str = Field(foreign_key="merchants.id", primary_key=True, max_length=64)
    code: str = Field(primary_key=True, max_length=64)
    kind: str = Field(max_length=16)
    value: int
    title: str


class BuyerAddressRow(Row, table=True):
    """A shipping address a buyer used with a merchant, offered again at their next checkout."""

    __tablename__ = "buyer_addresses"
    __table_args__ = (Index("ix_buyer_addresses_buyer", "merchant_id", "email"),)
    id: str = Field(primary_key=True, max_length=64)
    merchant_id: str = Field(foreign_key="merchants.id", max_length=64)
    email: str = Field(max_length=320)
    address: dict[str, Any] = Field(sa_column=Column(JSON, nullable=False))
    created_at: datetime = utc_column()


class OrderProtocolStateRow(Row, table=True):
    """What a protocol's order carries beyond ours (UCP's fulfillment events and adjustments)."""

    __tablename__ = "order_protocol_state"
    order_id: str = Field(foreign_key="orders.id", primary_key=True, max_length=64)
    state: dict[str, Any] = Field(sa_column=Column(JSON, nullable=False))
    updated_at: datetime = utc_column()

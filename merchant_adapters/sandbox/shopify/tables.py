"""The Shopify sandbox's own tables (sandbox_shopify_*), its deterministic ids, write transactions.

They emulate Shopify's storage, are made with `metadata.create_all`, and are not part of the
product's schema or its migrations.
"""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Column,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
)

metadata = MetaData()

shops = Table(
    "sandbox_shopify_shops",
    metadata,
    Column("domain", String(255), primary_key=True),
    Column("name", String(255), nullable=False),
    Column("currency", String(3), nullable=False),
    Column("number", Integer, nullable=False),  # the stem of every id in the shop
    Column("next_product", Integer, nullable=False),
    Column("next_variant", Integer, nullable=False),
    Column("next_order", Integer, nullable=False),
    Column("webhook_url", Text),
)

products = Table(
    "sandbox_shopify_products",
    metadata,
    Column("id", BigInteger, primary_key=True, autoincrement=False),
    Column("shop_domain", String(255), nullable=False),
    Column("seed_ref", String(255)),  # the seed's product id, so a second load adds nothing
    Column("handle", String(255), nullable=False),
    Column("title", Text, nullable=False),
    Column("description_html", Text, nullable=False),
    Column("vendor", String(255), nullable=False),
    Column("product_type", String(255), nullable=False),
    Column("tags", JSON, nullable=False),
    Column("status", String(16), nullable=False),
    Column("online_store_url", Text),
    Column("images", JSON, nullable=False),
    Column("requires_shipping", Boolean, nullable=False),
    Column("metafields", JSON, nullable=False),  # {"namespace.key": {"type": ..., "value": ...}}
    Column("updated_at", String(20), nullable=False),  # "YYYY-MM-DDTHH:MM:SSZ": sorts as time
    UniqueConstraint("shop_domain", "seed_ref"),
    Index("ix_sandbox_shopify_products_sync", "shop_domain", "updated_at", "id"),
)

variants = Table(
    "sandbox_shopify_variants",
    metadata,
    Column("id", BigInteger, primary_key=True, autoincrement=False),
    Column("product_id", BigInteger, nullable=False, index=True),
    Column("shop_domain", String(255), nullable=False),
    Column("position", Integer, nullable=False),
    Column("title", Text, nullable=False),
    Column("sku", String(255)),
    Column("price", BigInteger, nullable=False),  # minor units of the shop currency
    Column("compare_at_price", BigInteger),
    Column("available", Integer, nullable=False),
    Column("inventory_policy", String(16), nullable=False),
    Column("tracked", Boolean, nullable=False),
    Column("options", JSON, nullable=False),
)

orders = Table(
    "sandbox_shopify_orders",
    metadata,
    Column("id", BigInteger, primary_key=True, autoincrement=False),
    Column("shop_domain", String(255), nullable=False),
    Column("number", Integer, nullable=False),
    Column("email", String(255)),
    Column("tags", Text, nullable=False),  # comma separated, as Shopify's REST payloads carry them
    Column("source_name", String(255)),
    Column("source_identifier", String(255)),
    Column("currency", String(3), nullable=False),
    Column("subtotal", BigInteger, nullable=False),
    Column("shipping", BigInteger, nullable=False),
    Column("tax", BigInteger, nullable=False),
    Column("total", BigInteger, nullable=False),
    Column("financial_status", String(32), nullable=False),
    Column("inventory_claimed", Boolean, nullable=False),
    Column("lines", JSON, nullable=False),
    Column("shipping_address", JSON),
    Column("shipping_lines", JSON, nullable=False),
    Column("fulfillments", JSON, nullable=False),
    Column("created_at", String(20), nullable=False),
    Column("updated_at", String(20), nullable=False),
    Column("cancelled_at", String(20)),
    Column("cancel_reason", String(32)),
    UniqueConstraint("shop_domain", "number"),
)

webhooks = Table(
    "sandbox_shopify_webhooks",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("shop_domain", String(255), nullable=False),
    Column("url", Text, nullable=False),
    Column("topic", String(64), nullable=False),
    Column("webhook_id", String(36), nullable=False, unique=True),
    Column("triggered_at", String(40), nullable=False),
    Column("body", Text, nullable=False),
    Column("delivered", Boolean, nullable=False, default=False),
    Column("attempts", Integer, nullable=False, default=0),
)

PRODUCT, VARIANT, ORDER, LINE_ITEM, FULFILLMENT = 1, 2, 3, 4, 5


def make_id(shop_number: int, kind: int, sequence: int) -> int:
    """Deterministic 14-digit ids: the same shop and load order always give the same GIDs."""
    return shop_number * 10**10 + kind * 10**9 + sequence


def numeric_id(gid: object, kind: str) -> int | None:
    text = str(gid or "")
    prefix = f"gid://shopify/{kind}/"
    text = text.removeprefix(prefix) if text.startswith(prefix) else text
    return int(text) if text.isdigit() else None


def format_time(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")

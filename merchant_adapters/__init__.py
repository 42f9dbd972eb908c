"""Merchant platforms behind one interface that checkout depends on, and nothing else.

    MerchantAdapter (Protocol)      what checkout may ask of a merchant's own store
    ├── etsy.EtsyAdapter            Etsy Open API v3 shapes (listings, inventory, receipts)
    └── shopify.ShopifyAdapter      Shopify GraphQL Admin API shapes (products, orderCreate)
    sandbox/                        local emulators of both platforms, for the offline default

Types are plain frozen dataclasses in integer minor units; errors are the small taxonomy below,
so checkout can act on a failure without knowing which platform raised it. This package knows
nothing about checkout sessions, payments or commissions.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import ClassVar, Literal, Protocol


@dataclass(frozen=True, slots=True)
class ShopInfo:
    """Who the credentials belong to, as the platform reports it (checked at onboarding)."""

    shop_id: str
    name: str
    currency: str  # ISO 4217, lowercase


@dataclass(frozen=True, slots=True)
class PlatformVariant:
    platform_variant_id: str
    title: str
    price: int  # minor units
    currency: str  # lowercase
    available: int  # units that can be sold now (0 when sold out)
    sku: str | None = None
    options: tuple[tuple[str, str], ...] = ()
    list_price: int | None = None


@dataclass(frozen=True, slots=True)
class PlatformProduct:
    platform_product_id: str
    title: str
    description: str
    status: Literal["active", "inactive", "deleted"]
    updated_at: datetime
    variants: tuple[PlatformVariant, ...]
    url: str | None = None
    images: tuple[str, ...] = ()
    tags: tuple[str, ...] = ()
    category: str | None = None
    digital: bool = False
    # Review signals where the platform exposes them (None/0 where it does not).
    rating: float | None = None
    review_count: int = 0
    material: str | None = None


@dataclass(frozen=True, slots=True)
class CatalogPage:
    products: tuple[PlatformProduct, ...]
    next_cursor: str | None  # None on the last page
    # An opaque mark to pass as `updated_since` next time for an incremental sync.
    watermark: str | None = None


@dataclass(frozen=True, slots=True)
class VariantRef:
    platform_product_id: str
    platform_variant_id: str


@dataclass(frozen=True, slots=True)
class VariantStock:
    ref: VariantRef
    price: int
    currency: str
    available: int
    purchasable: bool


@dataclass(frozen=True, slots=True)
class ShippingAddress:
    name: str
    line_one: str
    city: str
    state: str
    country: str
    postal_code: str
    line_two: str | None = None


@dataclass(frozen=True, slots=True)
class SaleLine:
    ref: VariantRef
    quantity: int
    unit_price: int
    title: str = ""


@dataclass(frozen=True, slots=True)
class ExternalSale:
    """A sale made elsewhere (our checkout) to be recorded on the merchant's platform."""

    reference: str  # our checkout session id: the idempotency key on the platform side
    lines: tuple[SaleLine, ...]
    currency: str
    buyer_email: str | None
    buyer_name: str | None
    shipping_address: ShippingAddress | None
    shipping_title: str | None
    shipping_amount: int
    tax_amount: int
    total_amount: int


@dataclass(frozen=True, slots=True)
class PlacedOrder:
    platform_order_id: str
    platform_order_name: str | None
    # native_order: the platform holds a real order; inventory_only: stock was decremented
    # (Etsy has no order-create API); sandbox_extension: the Etsy-style sandbox's extra route.
    recorded: Literal["native_order", "inventory_only", "sandbox_extension"]
    # Where the order stands on the platform as last read; None where the platform cannot say
    # (an inventory-only Etsy sale, or an answer to a write).
    state: Literal["open", "fulfilled", "canceled"] | None = None


@dataclass(frozen=True, slots=True)
class Tracking:
    carrier: str
    tracking_number: str
    tracking_url: str | None = None


@dataclass(frozen=True, slots=True)
class PlatformEvent:
    """A verified platform webhook, reduced to what checkout acts on."""

    event_id: str  # the platform's delivery id: the dedupe key
    kind: Literal["product_updated", "product_deleted", "order_fulfilled", "order_canceled",
                  "credentials_revoked", "other"]  # fmt: skip
    platform_product_id: str | None = None
    platform_order_id: str | None = None
    reference: str | None = None  # our checkout session id, when the platform echoes it
    tracking: Tracking | None = None
    raw: Mapping[str, object] = field(default_factory=dict)


class MerchantAdapter(Protocol):
    platform: ClassVar[str]

    async def shop_info(self) -> ShopInfo:
        """Check the credentials and say whose shop they open (raises CredentialsRevoked)."""
        ...

    async def list_catalog(
        self, *, cursor: str | None = None, updated_since: str | None = None, page_size: int = 100
    ) -> CatalogPage:
        """One page of active products with their variants, prices and stock."""
        ...

    async def read_stock(self, refs: Sequence[VariantRef]) -> dict[VariantRef, VariantStock]:
        """Current price and stock of the given variants, read fresh from the platform."""
        ...

    async def place_order(self, sale: ExternalSale) -> PlacedOrder:
        """Record the sale; idempotent on `sale.reference` (a retry returns the same order)."""
        ...

    async def find_order(self, reference: str) -> PlacedOrder | None:
        """The order recorded for `reference`, if any, with its state read from the platform:
        how an unknown outcome is resolved, and how a webhook's claim is confirmed."""
        ...

    async def cancel_order(self, order: PlacedOrder, sale: ExternalSale, *, restock: bool) -> None:
        """Cancel a recorded sale, putting the stock back when `restock`."""
        ...

    def parse_webhook(self, headers: Mapping[str, str], body: bytes) -> PlatformEvent:
        """Verify the signature over the raw body, then parse (raises WebhookInvalid)."""
        ...


class MerchantPlatformError(Exception):
    """Base of every error an adapter raises; platform-specific errors never escape."""


class RateLimited(MerchantPlatformError):
    def __init__(self, message: str, *, retry_after: float) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class CredentialsRevoked(MerchantPlatformError):
    """The platform refused the credentials (revoked, expired beyond refresh, app uninstalled)."""


class PlatformNotFound(MerchantPlatformError):
    """The shop, product, variant or order does not exist (or no longer does)."""


class PlatformOutOfStock(MerchantPlatformError):
    def __init__(self, message: str, *, refs: Sequence[VariantRef] = ()) -> None:
        super().__init__(message)
        self.refs = tuple(refs)


class PlatformUnavailable(MerchantPlatformError):
    """5xx, timeouts, connection failures: worth retrying later. For a write, the outcome is
    unknown: call find_order before trying again."""


class PlatformInvalidRequest(MerchantPlatformError):
    """The platform rejected the request as malformed (a bug on our side, not worth retrying)."""


class WebhookInvalid(MerchantPlatformError):
    """Missing or wrong signature, stale timestamp, or a body that is not the platform's."""


__all__ = [
    "CatalogPage",
    "CredentialsRevoked",
    "ExternalSale",
    "MerchantAdapter",
    "MerchantPlatformError",
    "PlacedOrder",
    "PlatformEvent",
    "PlatformInvalidRequest",
    "PlatformNotFound",
    "PlatformOutOfStock",
    "PlatformProduct",
    "PlatformUnavailable",
    "PlatformVariant",
    "RateLimited",
    "SaleLine",
    "ShippingAddress",
    "ShopInfo",
    "Tracking",
    "VariantRef",
    "VariantStock",
    "WebhookInvalid",
]  # fmt: skip

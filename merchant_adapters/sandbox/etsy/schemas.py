"""The Etsy sandbox's wire shapes: its Etsy-style error, request bodies, and records tests read."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

Json = dict[str, Any]
FailureMode = Literal["rate_limit", "outage", "revoked"]


class EtsyApiError(Exception):
    """An Etsy-shaped error answer: {"error": ...} plus any extra fields."""

    def __init__(
        self, status: int, error: str, *, headers: Mapping[str, str] | None = None, **extra: Any
    ) -> None:
        super().__init__(error)
        self.status = status
        self.body: Json = {"error": error, **extra}
        self.headers = dict(headers or {})


class _PutShape(BaseModel):
    # Strict and closed: the GET shape (ids, is_deleted, scale_name, Money prices) is refused.
    model_config = ConfigDict(extra="forbid", strict=True)


class PutPropertyValue(_PutShape):
    property_id: int
    values: list[str] = Field(min_length=1, max_length=1)
    value_ids: list[int] = []
    property_name: str | None = None
    scale_id: int | None = None


class PutOffering(_PutShape):
    price: float = Field(gt=0)
    quantity: int = Field(ge=0)
    is_enabled: bool = True
    readiness_state_id: int | None = None


class PutProduct(_PutShape):
    sku: str = ""
    property_values: list[PutPropertyValue] = []
    offerings: list[PutOffering] = Field(min_length=1, max_length=1)


class PutInventory(_PutShape):
    """updateListingInventory's body as Etsy's OpenAPI document types it."""

    products: list[PutProduct] = Field(min_length=1)
    price_on_property: list[int] = []
    quantity_on_property: list[int] = []
    sku_on_property: list[int] = []
    readiness_state_on_property: list[int] = []


class OrderLine(BaseModel):
    listing_id: int
    product_id: int
    quantity: int = Field(gt=0)


class OrderRequest(BaseModel):
    """The /x-sandbox/ order route's body (not Etsy's; Etsy has no such route)."""

    reference: str = Field(min_length=1, max_length=200)
    lines: list[OrderLine] = Field(min_length=1)
    currency: str | None = None
    buyer_email: str | None = None
    buyer_name: str | None = None
    total_amount: int | None = None


class CancelRequest(BaseModel):
    restock: bool = True


class FailRequest(BaseModel):
    mode: FailureMode | None = None  # None clears the failure
    times: int | None = Field(default=None, ge=1)


class ShipRequest(BaseModel):
    carrier: str
    tracking_number: str


class ListingUpdate(BaseModel):
    price: int | None = Field(default=None, ge=1)  # cents
    quantity: int | None = Field(default=None, ge=0)
    title: str | None = None
    product_id: int | None = None


class WebhookSubscription(BaseModel):
    url: str


@dataclass(frozen=True, slots=True)
class SandboxOrderLine:
    listing_id: int
    product_id: int
    quantity: int


@dataclass(frozen=True, slots=True)
class SandboxOrder:
    order_id: int
    shop_id: int
    reference: str
    status: str  # paid, shipped, canceled
    lines: tuple[SandboxOrderLine, ...]
    tracking: Mapping[str, str] | None


@dataclass(frozen=True, slots=True)
class WebhookDelivery:
    url: str
    headers: Mapping[str, str]
    body: bytes
    status_code: int | None  # None when the receiver could not be reached

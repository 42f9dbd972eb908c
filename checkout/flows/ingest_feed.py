"""Ingesting an ACP product feed (a JSON array or JSONL of feed Products) for a merchant on no platform.

A feed file replaces the merchant's whole product set (the product-feeds RFC's file semantics):
products missing from it stop being sold. ACP feeds carry availability, not quantities, so an
available variant is stocked as untracked (FEED_STOCK units) and an unavailable one at zero.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from checkout.domain.errors import InvalidRequest
from checkout.flows.sync_catalog import SyncCounts, product_rows
from checkout.store.catalog import CatalogWriter, merchant_or_missing
from checkout.store.db import Database
from merchant_adapters import PlatformProduct, PlatformVariant

FEED_STOCK = 1_000_000


class FeedShape(BaseModel):
    model_config = ConfigDict(extra="forbid")


class FeedPrice(FeedShape):
    amount: int = Field(ge=0)
    currency: str = Field(pattern=r"^[A-Za-z]{3}$")  # USD or usd, as merchants write it


class FeedDescription(FeedShape):
    plain: str | None = None
    html: str | None = None
    markdown: str | None = None


class FeedAvailability(FeedShape):
    available: bool | None = None
    status: str | None = None


class FeedNamed(FeedShape):
    name: str
    value: str


class FeedCategory(FeedShape):
    value: str
    taxonomy: str | None = None


class FeedMedia(FeedShape):
    type: str
    url: str
    alt_text: str | None = None
    width: int | None = None
    height: int | None = None


class FeedVariant(FeedShape):
    id: str = Field(min_length=1, max_length=200)
    title: str
    description: FeedDescription | None = None
    url: str | None = None
    barcodes: list[dict[str, Any]] | None = None
    price: FeedPrice | None = None
    list_price: FeedPrice | None = None
    unit_price: dict[str, Any] | None = None
    availability: FeedAvailability | None = None
    categories: list[FeedCategory] | None = None
    condition: list[str] | None = None
    variant_options: list[FeedNamed] | None = None
    media: list[FeedMedia] | None = None
    seller: dict[str, Any] | None = None
    marketplace: dict[str, Any] | None = None


class FeedProduct(FeedShape):
    id: str = Field(min_length=1, max_length=200)
    title: str | None = None
    description: FeedDescription | None = None
    url: str | None = None
    media: list[FeedMedia] | None = None
    variants: list[FeedVariant]


def parse_feed(body: bytes) -> list[FeedProduct]:
    """A JSON array of Products, `{"products": [...]}`, or one Product per line (JSONL)."""
    text = body.decode("utf-8", errors="replace").strip()
    try:
        if text.startswith("[") or text.startswith('{"products"'):
            document = json.loads(text)
            raw = document["products"] if isinstance(document, dict) else document
        else:
            raw = [json.loads(line) for line in text.splitlines() if line.strip()]
    except (json.JSONDecodeError, KeyError, TypeError) as exc:
        raise InvalidRequest(
            "The feed is neither a JSON array of Products nor JSONL.", code="invalid_feed"
        ) from exc
    products = []
    for index, item in enumerate(raw):
        try:
            products.append(FeedProduct.model_validate(item))
        except ValidationError as exc:
            first = exc.errors()[0]
            where = "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in first["loc"])
            raise InvalidRequest(
                f"Product {index}: {first['msg']}", param=f"$[{index}]{where}", code="invalid_feed"
            ) from exc
    return products


def _platform_product(product: FeedProduct, currency: str, now: datetime) -> PlatformProduct:
    description = product.description
    text = (
        (description.plain or description.markdown or description.html or "") if description else ""
    )
    variants = []
    for variant in product.variants:
        if variant.price is None:
            raise InvalidRequest(
                f"Variant '{variant.id}' has no price; it cannot be sold.",
                param="$.variants.price",
                code="invalid_feed",
            )
        if variant.price.currency.lower() != currency:
            raise InvalidRequest(
                f"Variant '{variant.id}' is priced in {variant.price.currency}, "
                f"the merchant sells in {currency.upper()}.",
                code="invalid_feed",
            )
        available = variant.availability is None or variant.availability.available is not False
        variants.append(
            PlatformVariant(
                platform_variant_id=variant.id,
                title=variant.title,
                price=variant.price.amount,
                currency=currency,
                available=FEED_STOCK if available else 0,
                options=tuple((o.name, o.value) for o in variant.variant_options or ()),
                list_price=variant.list_price.amount if variant.list_price else None,
            )
        )
    category = next((c.value for v in product.variants for c in v.categories or ()), None)
    images = tuple(m.url for m in product.media or () if m.type == "image")
    return PlatformProduct(
        platform_product_id=product.id,
        title=product.title or product.variants[0].title,
        description=text,
        status="active",
        updated_at=now,
        variants=tuple(variants),
        url=product.url,
        images=images,
        category=category,
    )


def ingest_feed(
    database: Database, merchant_id: str, body: bytes, *, clock: Callable[[], datetime]
) -> SyncCounts:
    products = parse_feed(body)
    now = clock()
    with database.write() as db:
        merchant = merchant_or_missing(db, merchant_id)
        if merchant.platform != "feed":
            # A platform merchant's catalog is what its platform says; a feed would retire it.
            raise InvalidRequest(
                f"Merchant '{merchant_id}' sells on {merchant.platform}: its catalog comes from "
                "the platform (POST /merchants/{id}/sync), not from a feed.",
                code="merchant_not_on_feed",
            )
        converted = tuple(_platform_product(p, merchant.currency, now) for p in products)
        product_dicts, variant_dicts = product_rows(merchant, converted, now)
        writer = CatalogWriter(db)
        created, updated = writer.upsert(product_dicts, variant_dicts)
        gone = writer.deactivate_except(merchant.id, {p["id"] for p in product_dicts}, now)
        merchant.last_synced_at = now
        db.add(merchant)
    return SyncCounts(created, updated, gone, 1)

"""Syncing a merchant's catalog from its platform into ours: full or incremental, page by page."""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import anyio

from checkout.store.catalog import CatalogWriter
from checkout.store.db import Database
from checkout.store.merchants import Merchants
from checkout.store.rows import MerchantRow
from merchant_adapters import CatalogPage, MerchantAdapter, PlatformProduct


@dataclass(frozen=True, slots=True)
class SyncCounts:
    created: int
    updated: int
    unavailable: int
    pages: int

    def as_dict(self) -> dict[str, int]:
        return {
            "created": self.created,
            "updated": self.updated,
            "unavailable": self.unavailable,
            "pages": self.pages,
        }


def catalog_id(prefix: str, merchant_id: str, platform_id: str) -> str:
    """Our stable id for a platform object: the same platform id always maps to the same id."""
    digest = hashlib.sha256(f"{merchant_id}:{platform_id}".encode()).hexdigest()[:20]
    return f"{prefix}_{digest}"


def product_rows(
    merchant: MerchantRow, products: tuple[PlatformProduct, ...], now: datetime
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    product_dicts: list[dict[str, Any]] = []
    variant_dicts: list[dict[str, Any]] = []
    for product in products:
        product_id = catalog_id("prd", merchant.id, product.platform_product_id)
        product_dicts.append(
            {
                "id": product_id,
                "merchant_id": merchant.id,
                "title": product.title,
                "description": product.description,
                "category": product.category,
                "tags": list(product.tags),
                "material": product.material,
                "rating": product.rating,
                "review_count": product.review_count,
                "digital": product.digital,
                "url": product.url,
                "images": list(product.images),
                "platform_product_id": product.platform_product_id,
                "active": product.status == "active",
                "updated_at": now,
            }
        )
        for variant in product.variants:
            variant_dicts.append(
                {
                    # Variant ids are unique only within their product on some platforms (Etsy).
                    "id": catalog_id(
                        "var",
                        merchant.id,
                        f"{product.platform_product_id}/{variant.platform_variant_id}",
                    ),
                    "product_id": product_id,
                    "merchant_id": merchant.id,
                    "sku": variant.sku,
                    "title": variant.title,
                    "options": dict(variant.options),
                    "price": variant.price,
                    "list_price": variant.list_price,
                    "currency": variant.currency,
                    "inventory": max(variant.available, 0),
                    "platform_variant_id": variant.platform_variant_id,
                    "active": product.status == "active",
                    "updated_at": now,
                }
            )
    return product_dicts, variant_dicts


async def sync_catalog(
    database: Database,
    adapter: MerchantAdapter,
    merchant: MerchantRow,
    *,
    full: bool,
    clock: Callable[[], datetime],
    page_size: int = 100,
) -> SyncCounts:
    """Page through the platform's catalog and upsert it; a full sync also retires what is gone.

    An incremental sync asks only for what changed since the stored watermark. Pages are
    written as they arrive, each in its own short transaction, so a large catalog never holds
    one long transaction and memory stays at one page.
    """
    since = None if full else merchant.catalog_watermark
    cursor: str | None = None
    created = updated = pages = 0
    seen: set[str] = set()
    watermark = merchant.catalog_watermark

    def write(page: CatalogPage) -> tuple[int, int]:
        products, variants = product_rows(merchant, page.products, clock())
        with database.write() as db:
            return CatalogWriter(db).upsert(products, variants)

    while True:
        page = await adapter.list_catalog(cursor=cursor, updated_since=since, page_size=page_size)
        made, changed = await anyio.to_thread.run_sync(write, page)
        created, updated, pages = created + made, updated + changed, pages + 1
        seen.update(catalog_id("prd", merchant.id, p.platform_product_id) for p in page.products)
        if page.watermark and (watermark is None or page.watermark > watermark):
            watermark = page.watermark
        cursor = page.next_cursor
        if cursor is None:
            break

    def finish() -> int:
        now = clock()
        with database.write() as db:
            gone = CatalogWriter(db).deactivate_except(merchant.id, seen, now) if full else 0
            row = Merchants(db).get(merchant.id)
            assert row is not None
            row.catalog_watermark = watermark
            row.last_synced_at = now
            db.add(row)
            return gone

    unavailable = await anyio.to_thread.run_sync(finish)
    return SyncCounts(created, updated, unavailable, pages)

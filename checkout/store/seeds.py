"""Loads the demo merchants and their catalogs from `seeds/*.json` into an empty catalog."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from checkout.store.catalog import Catalog
from checkout.store.db import Database
from checkout.store.rows import MerchantRow, ProductRow, VariantRow


def catalog_rows(document: dict[str, Any], *, commission_bps: int, now: datetime) -> list[Any]:
    merchant = document["merchant"]
    currency = merchant["currency"].lower()
    rows: list[Any] = [
        MerchantRow(
            id=merchant["id"],
            name=merchant["name"],
            platform=merchant["platform"],
            shop_ref=merchant["shop_ref"],
            currency=currency,
            country=merchant["country"],
            support_email=merchant.get("support_email"),
            links=merchant.get("links", {}),
            shipping=merchant["shipping"],
            commission_bps=commission_bps,
            created_at=now,
        )
    ]
    for product in document["products"]:
        rows.append(
            ProductRow(
                id=product["id"],
                merchant_id=merchant["id"],
                title=product["title"],
                description=product["description"],
                category=product.get("category"),
                tags=product.get("tags", []),
                material=product.get("material"),
                rating=product.get("rating"),
                review_count=product.get("review_count", 0),
                digital=bool(product.get("digital")),
                url=product.get("url"),
                images=product.get("images", []),
                updated_at=now,
            )
        )
        for variant in product["variants"]:
            rows.append(
                VariantRow(
                    id=variant["id"],
                    product_id=product["id"],
                    merchant_id=merchant["id"],
                    sku=variant.get("sku"),
                    title=variant["title"],
                    options=variant.get("options", {}),
                    price=int(variant["price"]),
                    list_price=variant.get("list_price"),
                    currency=currency,
                    inventory=int(variant["inventory"]),
                    updated_at=now,
                )
            )
    return rows


def load_seeds(database: Database, seeds_dir: Path, *, commission_bps: int) -> int:
    """Fill an empty catalog from the seed files; returns how many merchants were loaded."""
    files = sorted(seeds_dir.glob("*.json"))
    now = datetime.now(UTC)
    with database.write() as db:
        catalog = Catalog(db)
        if catalog.has_merchants():
            return 0
        for path in files:
            document = json.loads(path.read_text(encoding="utf-8"))
            rows = catalog_rows(document, commission_bps=commission_bps, now=now)
            # Parents before children: without ORM relationships the flush order is not implied.
            for kind in (MerchantRow, ProductRow, VariantRow):
                catalog.add(row for row in rows if isinstance(row, kind))
                db.flush()
    return len(files)

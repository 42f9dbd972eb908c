"""Filling the Shopify sandbox: seeds/*.json merchants, and synthetic catalogs for load tests."""

from __future__ import annotations

import hashlib
import html
import json
import random
from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Engine, Row, select, update

from merchant_adapters.sandbox.shopify.tables import (
    PRODUCT,
    VARIANT,
    format_time,
    make_id,
    products,
    shops,
    variants,
)
from merchant_adapters.sandbox.transactions import write_transaction


def load_seed(engine: Engine, clock: Callable[[], datetime], document: Mapping[str, Any]) -> str:
    """Load a seeds/*.json document of a Shopify merchant; returns its shop domain. Idempotent."""
    merchant = document["merchant"]
    if merchant.get("platform") != "shopify":
        raise ValueError(f"{merchant.get('id')} is not a Shopify merchant")
    domain = str(merchant["shop_ref"])
    now = format_time(clock())
    with write_transaction(engine) as conn:
        shop = ensure_shop(conn, domain, merchant["name"], merchant["currency"])
        known = set(
            conn.execute(
                select(products.c.seed_ref).where(products.c.shop_domain == domain)
            ).scalars()
        )
        fresh = [item for item in document.get("products", []) if item["id"] not in known]
        product_rows, variant_rows = [], []
        next_product, next_variant = shop.next_product, shop.next_variant
        for item in fresh:
            product_id = make_id(shop.number, PRODUCT, next_product)
            next_product += 1
            url = item.get("url")
            product_rows.append(
                {
                    "id": product_id,
                    "shop_domain": domain,
                    "seed_ref": item["id"],
                    "handle": url.rstrip("/").rsplit("/", 1)[-1] if url else item["id"],
                    "title": item["title"],
                    "description_html": f"<p>{html.escape(item.get('description', ''))}</p>",
                    "vendor": merchant["name"],
                    "product_type": item.get("category") or "",
                    "tags": list(item.get("tags", [])),
                    "status": str(item.get("status", "active")).upper(),
                    "online_store_url": url,
                    "images": list(item.get("images", [])),
                    "requires_shipping": not item.get("digital", False),
                    "metafields": _seed_metafields(item),
                    "updated_at": now,
                }
            )
            for position, variant in enumerate(item["variants"], start=1):
                variant_rows.append(
                    {
                        "id": make_id(shop.number, VARIANT, next_variant),
                        "product_id": product_id,
                        "shop_domain": domain,
                        "position": position,
                        "title": variant["title"],
                        "sku": variant.get("sku"),
                        "price": variant["price"],
                        "compare_at_price": variant.get("list_price"),
                        "available": variant.get("inventory", 0),
                        "inventory_policy": "DENY",
                        "tracked": True,
                        "options": [[k, v] for k, v in (variant.get("options") or {}).items()],
                    }
                )
                next_variant += 1
        insert_rows(conn, product_rows, variant_rows, domain, next_product, next_variant)
    return domain


def generate_synthetic(
    engine: Engine,
    clock: Callable[[], datetime],
    shop_domain: str,
    products: int,
    variants_per_product: int = 2,
    seed: int = 0,
) -> None:
    """Add `products` synthetic products (bulk inserts: 100,000 load in seconds)."""
    rng = random.Random(seed)
    now = format_time(clock())
    sizes = ["XS", "S", "M", "L", "XL", "XXL"]
    kinds = ["Tee", "Hoodie", "Sock", "Beanie", "Throw", "Mug", "Backpack", "Jacket"]
    with write_transaction(engine) as conn:
        shop = ensure_shop(conn, shop_domain, shop_domain.split(".")[0], "usd")
        product_rows, variant_rows = [], []
        next_product, next_variant = shop.next_product, shop.next_variant
        for _ in range(products):
            product_id = make_id(shop.number, PRODUCT, next_product)
            kind = rng.choice(kinds)
            handle = f"synthetic-{kind.lower()}-{next_product}"
            price = rng.randrange(500, 20000, 100)
            product_rows.append(
                {
                    "id": product_id,
                    "shop_domain": shop_domain,
                    "seed_ref": None,
                    "handle": handle,
                    "title": f"Synthetic {kind} {next_product}",
                    "description_html": f"<p>Synthetic {kind.lower()} for load tests.</p>",
                    "vendor": "Sandbox",
                    "product_type": kind,
                    "tags": ["synthetic", kind.lower()],
                    "status": "ACTIVE",
                    "online_store_url": f"https://{shop_domain}/products/{handle}",
                    "images": [f"https://cdn.sandbox.example/{handle}.jpg"],
                    "requires_shipping": True,
                    "metafields": {},
                    "updated_at": now,
                }
            )
            next_product += 1
            for position in range(1, variants_per_product + 1):
                size = sizes[(position - 1) % len(sizes)] + ("" if position <= 6 else str(position))
                variant_rows.append(
                    {
                        "id": make_id(shop.number, VARIANT, next_variant),
                        "product_id": product_id,
                        "shop_domain": shop_domain,
                        "position": position,
                        "title": size,
                        "sku": f"SYN-{product_id}-{position}",
                        "price": price,
                        "compare_at_price": None,
                        "available": rng.randrange(0, 50),
                        "inventory_policy": "DENY",
                        "tracked": True,
                        "options": [["Size", size]],
                    }
                )
                next_variant += 1
        insert_rows(conn, product_rows, variant_rows, shop_domain, next_product, next_variant)


def ensure_shop(conn: Connection, domain: str, name: str, currency: str) -> Row[Any]:
    shop = conn.execute(select(shops).where(shops.c.domain == domain)).first()
    if shop is not None:
        return shop
    number = int(hashlib.sha256(domain.encode()).hexdigest(), 16) % 9000 + 1000
    conn.execute(
        shops.insert().values(
            domain=domain,
            name=name,
            currency=currency.upper(),
            number=number,
            next_product=1,
            next_variant=1,
            next_order=1,
        )
    )
    return conn.execute(select(shops).where(shops.c.domain == domain)).one()


def insert_rows(
    conn: Connection,
    product_rows: list[dict[str, Any]],
    variant_rows: list[dict[str, Any]],
    domain: str,
    next_product: int,
    next_variant: int,
) -> None:
    # executemany in chunks: one round trip per 5,000 rows instead of one per row.
    for table, rows in ((products, product_rows), (variants, variant_rows)):
        for start in range(0, len(rows), 5000):
            conn.execute(table.insert(), rows[start : start + 5000])
    conn.execute(
        update(shops)
        .where(shops.c.domain == domain)
        .values(next_product=next_product, next_variant=next_variant)
    )


def _seed_metafields(item: Mapping[str, Any]) -> dict[str, dict[str, str]]:
    """Review signals as review apps store them (standard `reviews.*`), material as `custom.material`."""
    fields = {}
    if item.get("rating") is not None:
        rating = {"value": str(item["rating"]), "scale_min": "1.0", "scale_max": "5.0"}
        fields["reviews.rating"] = {"type": "rating", "value": json.dumps(rating)}
        count = str(item.get("review_count", 0))
        fields["reviews.rating_count"] = {"type": "number_integer", "value": count}
    if item.get("material"):
        fields["custom.material"] = {"type": "single_line_text_field", "value": item["material"]}
    return fields

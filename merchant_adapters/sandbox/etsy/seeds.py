"""Loading a seeds/*.json Etsy merchant into the sandbox as a shop, listings and products."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from sqlalchemy import Connection, Engine, insert, select

from merchant_adapters.sandbox.etsy.catalog import ON_PROPERTY, refresh_state
from merchant_adapters.sandbox.etsy.tables import listings, next_ids, products, shops
from merchant_adapters.sandbox.transactions import write_transaction

CUSTOM_PROPERTY_IDS = (513, 514, 515)  # Etsy's ids for seller-named variation properties


def insert_seed(engine: Engine, clock: Callable[[], int], document: Mapping[str, Any]) -> int:
    """The shop of an Etsy seed document, with every listing not loaded yet; returns its id."""
    merchant = document["merchant"]
    now, name = clock(), str(merchant["shop_ref"])
    currency = str(merchant.get("currency") or "usd").upper()
    with write_transaction(engine) as conn:
        shop_id = conn.execute(select(shops.c.shop_id).where(shops.c.shop_name == name)).scalar()
        if shop_id is None:
            shop_id = next_ids(conn, "shop", 1)
            conn.execute(
                insert(shops).values(
                    shop_id=shop_id,
                    shop_name=name,
                    currency_code=currency,
                    created_timestamp=now,
                )
            )
        query = select(listings.c.seed_ref).where(listings.c.shop_id == shop_id)
        loaded = set(conn.execute(query).scalars())
        for product in document.get("products", []):
            if product["id"] not in loaded:
                _insert_listing(conn, shop_id, currency, product, now)
    return int(shop_id)


def _insert_listing(
    conn: Connection, shop_id: int, currency: str, seed: Mapping[str, Any], now: int
) -> None:
    variants = seed.get("variants") or []
    names = list(dict.fromkeys(name for v in variants for name in v.get("options", {})))
    property_ids = dict(zip(names, CUSTOM_PROPERTY_IDS, strict=False))
    pairs = list(dict.fromkeys((n, str(x)) for v in variants for n, x in v["options"].items()))
    first_value = next_ids(conn, "value", len(pairs))
    value_ids = {pair: first_value + i for i, pair in enumerate(pairs)}
    listing_id = next_ids(conn, "listing", 1)
    urls = list(seed.get("images") or [])
    first_image = next_ids(conn, "image", len(urls))
    images = [
        {
            "listing_id": listing_id,
            "listing_image_id": first_image + rank,
            "rank": rank + 1,
            **dict.fromkeys(("url_75x75", "url_170x135", "url_570xN", "url_fullxfull"), url),
            "alt_text": None,
        }
        for rank, url in enumerate(urls)
    ]
    used = list(property_ids.values())
    path = [part.strip() for part in str(seed.get("category") or "").split(">") if part.strip()]
    conn.execute(
        insert(listings).values(
            listing_id=listing_id,
            shop_id=shop_id,
            seed_ref=seed["id"],
            title=seed["title"],
            description=seed.get("description") or "",
            state="active",
            url=seed.get("url"),
            listing_type="download" if seed.get("digital") else "physical",
            tags=list(seed.get("tags") or []),
            materials=[seed["material"]] if seed.get("material") else [],
            images=images,
            review_average=seed.get("rating"),
            review_count=int(seed.get("review_count") or 0),
            taxonomy_path=path,
            on_property={name: used if name != ON_PROPERTY[3] else [] for name in ON_PROPERTY},
            created_timestamp=now,
            last_modified_timestamp=now,
            state_timestamp=now,
        )
    )
    first_product = next_ids(conn, "product", len(variants))
    first_offering = next_ids(conn, "offering", len(variants))
    for position, variant in enumerate(variants):
        values = [
            {
                "property_id": property_ids[name],
                "property_name": name,
                "scale_id": None,
                "value_ids": [value_ids[(name, str(value))]],
                "values": [str(value)],
            }
            for name, value in variant.get("options", {}).items()
            if name in property_ids
        ]
        conn.execute(
            insert(products).values(
                product_id=first_product + position,
                offering_id=first_offering + position,
                listing_id=listing_id,
                position=position,
                sku=str(variant.get("sku") or ""),
                property_values=values,
                quantity=int(variant["inventory"]),
                is_enabled=True,
                amount=int(variant["price"]),
                divisor=100,
                currency_code=currency,
                readiness_state_id=None,
            )
        )
    refresh_state(conn, [listing_id], now)

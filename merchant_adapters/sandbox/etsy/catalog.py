"""Etsy sandbox listings: rendered in Etsy's shapes, inventory replaced, stock-driven state kept."""

from __future__ import annotations

import zlib
from collections.abc import Callable, Iterable, Mapping, Sequence
from decimal import ROUND_HALF_EVEN, Decimal
from typing import Any

from sqlalchemy import Connection, Engine, RowMapping, delete, func, insert, select, update

from merchant_adapters.sandbox.etsy.schemas import EtsyApiError, Json, PutInventory
from merchant_adapters.sandbox.etsy.tables import listings, next_ids, products, shops
from merchant_adapters.sandbox.transactions import write_transaction

ON_PROPERTY = (
    "price_on_property",
    "quantity_on_property",
    "sku_on_property",
    "readiness_state_on_property",
)


def value_pairs(property_values: Iterable[Mapping[str, Any]]) -> list[tuple[int, str]]:
    return sorted((v["property_id"], str(v["values"][0])) for v in property_values)


def shop_exists(conn: Connection, shop_id: int) -> None:
    if conn.execute(select(shops.c.shop_id).where(shops.c.shop_id == shop_id)).first() is None:
        raise EtsyApiError(404, f"Shop with id {shop_id} not found")


def listing_row(conn: Connection, listing_id: int) -> RowMapping:
    query = select(listings).where(listings.c.listing_id == listing_id)
    row = conn.execute(query).mappings().first()
    if row is None:
        raise EtsyApiError(404, f"Listing with id {listing_id} not found")
    return row


def refresh_state(conn: Connection, listing_ids: Iterable[int], now: int) -> None:
    """As on Etsy, a listing with no stock left is sold_out; unlike Etsy (which wants a
    paid renewal), the sandbox makes it active again when stock comes back."""
    for listing_id in listing_ids:
        total = conn.execute(
            select(func.coalesce(func.sum(products.c.quantity), 0)).where(
                products.c.listing_id == listing_id, products.c.is_enabled.is_(True)
            )
        ).scalar_one()
        old, new = ("active", "sold_out") if total == 0 else ("sold_out", "active")
        conn.execute(
            update(listings)
            .where(listings.c.listing_id == listing_id, listings.c.state == old)
            .values(state=new, state_timestamp=now)
        )


def inventories(conn: Connection, rows: Sequence[RowMapping]) -> dict[int, Json]:
    """getListingInventory's shape (products -> offerings, Money prices) per listing."""
    found: dict[int, list[Json]] = {row["listing_id"]: [] for row in rows}
    query = select(products).where(products.c.listing_id.in_(found)).order_by(products.c.position)
    for p in conn.execute(query):
        offering = {
            "offering_id": p.offering_id,
            "quantity": p.quantity,
            "is_enabled": p.is_enabled,
            "is_deleted": False,
            "price": {
                "amount": p.amount,
                "divisor": p.divisor,
                "currency_code": p.currency_code,
            },
            "readiness_state_id": p.readiness_state_id,
        }
        found[p.listing_id].append(
            {
                "product_id": p.product_id,
                "sku": p.sku,
                "is_deleted": False,
                "property_values": [{**v, "scale_name": None} for v in p.property_values],
                "offerings": [offering],
            }
        )
    return {
        row["listing_id"]: {"products": found[row["listing_id"]], **row["on_property"]}
        for row in rows
    }


def render(conn: Connection, rows: Sequence[RowMapping], includes: set[str]) -> list[Json]:
    """Listings in getListingsByShop's shape; `includes` are lowercase association names."""
    by_listing = inventories(conn, rows)
    rendered = []
    for row in rows:
        inventory = by_listing[row["listing_id"]]
        offers = [o for p in inventory["products"] for o in p["offerings"] if o["is_enabled"]]
        cheapest = min(offers, key=lambda o: o["price"]["amount"], default=None)
        taxonomy = " > ".join(row["taxonomy_path"]).encode()
        listing = {
            "listing_id": row["listing_id"],
            "user_id": row["shop_id"],
            "shop_id": row["shop_id"],
            "title": row["title"],
            "description": row["description"],
            "state": row["state"],
            "quantity": sum(o["quantity"] for o in offers),
            "url": row["url"],
            "listing_type": row["listing_type"],
            "has_variations": any(p["property_values"] for p in inventory["products"]),
            "created_timestamp": row["created_timestamp"],
            "updated_timestamp": row["last_modified_timestamp"],
            "last_modified_timestamp": row["last_modified_timestamp"],
            "state_timestamp": row["state_timestamp"],
            "tags": row["tags"],
            "materials": row["materials"],
            "taxonomy_id": zlib.crc32(taxonomy) % 9000 + 1000,  # made up, but stable
            "taxonomy_path": row["taxonomy_path"],  # v2's field, not v3's: the seed category
            "who_made": "i_did",
            "is_supply": False,
            "price": cheapest["price"] if cheapest else None,
            "skus": [p["sku"] for p in inventory["products"] if p["sku"]],
            # Not Etsy's: v3 has no rating on a listing, only review records (getReviewsByShop).
            "x_sandbox_review_average": row["review_average"],
            "x_sandbox_review_count": row["review_count"],
        }
        if "images" in includes:
            listing["images"] = row["images"]
        if "inventory" in includes:
            listing["inventory"] = inventory
        rendered.append(listing)
    return rendered


def replace_inventory(
    engine: Engine, clock: Callable[[], int], listing_id: int, body: PutInventory
) -> Json:
    """updateListingInventory: a full replace that, as on Etsy, renumbers every product."""
    combinations = [tuple(value_pairs(p.model_dump()["property_values"])) for p in body.products]
    if len(set(combinations)) != len(combinations):
        raise EtsyApiError(400, "Two products have the same property values")
    now = clock()
    with write_transaction(engine) as conn:
        row = listing_row(conn, listing_id)
        currency = conn.execute(
            select(shops.c.currency_code).where(shops.c.shop_id == row["shop_id"])
        ).scalar_one()
        conn.execute(delete(products).where(products.c.listing_id == listing_id))
        first_product = next_ids(conn, "product", len(body.products))
        first_offering = next_ids(conn, "offering", len(body.products))
        for position, item in enumerate(body.products):
            [offering] = item.offerings
            cents = Decimal(str(offering.price)) * 100
            conn.execute(
                insert(products).values(
                    product_id=first_product + position,
                    offering_id=first_offering + position,
                    listing_id=listing_id,
                    position=position,
                    sku=item.sku,
                    property_values=[v.model_dump() for v in item.property_values],
                    quantity=offering.quantity,
                    is_enabled=offering.is_enabled,
                    amount=int(cents.quantize(Decimal(1), rounding=ROUND_HALF_EVEN)),
                    divisor=100,
                    currency_code=currency,
                    readiness_state_id=offering.readiness_state_id,
                )
            )
        on_property = {name: getattr(body, name) for name in ON_PROPERTY}
        conn.execute(
            update(listings)
            .where(listings.c.listing_id == listing_id)
            .values(on_property=on_property, last_modified_timestamp=now)
        )
        refresh_state(conn, [listing_id], now)
        return inventories(conn, [listing_row(conn, listing_id)])[listing_id]


def edit_listing(
    engine: Engine,
    now: int,
    public_url: str,
    listing_id: int,
    price: int | None,
    quantity: int | None,
    title: str | None,
    product_id: int | None,
) -> tuple[str | None, Json]:
    """A seller's edit; returns the shop's webhook url and the x_sandbox.listing_updated payload."""
    with write_transaction(engine) as conn:
        row = listing_row(conn, listing_id)
        target = update(products).where(products.c.listing_id == listing_id)
        if product_id is not None:
            target = target.where(products.c.product_id == product_id)
        if price is not None:
            conn.execute(target.values(amount=price, divisor=100))
        if quantity is not None:
            conn.execute(target.values(quantity=quantity))
        edited: Json = {"last_modified_timestamp": now}
        if title is not None:
            edited["title"] = title
        conn.execute(update(listings).where(listings.c.listing_id == listing_id).values(**edited))
        refresh_state(conn, [listing_id], now)
        query = select(shops.c.webhook_url).where(shops.c.shop_id == row["shop_id"])
        url = conn.execute(query).scalar()
    return url, {
        "event_type": "x_sandbox.listing_updated",  # not Etsy's: Etsy has no listing webhooks
        "resource_url": f"{public_url}/listings/{listing_id}",
        "shop_id": row["shop_id"],
        "listing_id": listing_id,
    }

"""Etsy listings and their inventory products mapped to PlatformProduct and PlatformVariant."""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote

from merchant_adapters import PlatformProduct, PlatformUnavailable, PlatformVariant
from merchant_adapters.etsy.money import minor_units
from merchant_adapters.etsy.transport import Json

CURSOR = re.compile(r"^offset:(\d+)(?:;seen:(\d+))?$")


def variant_key(product: Mapping[str, Any]) -> str:
    """A variant's id that survives inventory updates: its property values, or "default".

    Etsy issues new product_id and offering_id values on every inventory PUT (etsy/open-api
    #523, #432), and recording a sale is such a PUT, so a product_id goes stale after one sale.
    """
    parts = sorted(
        f"{value.get('property_id', value.get('property_name'))}={quote(str(value['values'][0]), safe=' ')}"
        for value in product.get("property_values") or ()
        if value.get("values")
    )
    return ";".join(parts) or "default"


def find_product(inventory: Mapping[str, Any], variant_id: str) -> Json | None:
    # A bare product_id (what Etsy itself calls the variant) is still accepted while it is current.
    for product in inventory.get("products") or ():
        if product.get("is_deleted"):
            continue
        if variant_key(product) == variant_id or str(product.get("product_id")) == variant_id:
            return dict(product)
    return None


def live_offering(product: Mapping[str, Any]) -> Json | None:
    live = [o for o in product.get("offerings") or () if not o.get("is_deleted")]
    enabled = [o for o in live if o.get("is_enabled", True)]
    return dict((enabled or live)[0]) if live else None


def _variant(product: Mapping[str, Any]) -> PlatformVariant | None:
    offering = live_offering(product)
    if offering is None or not offering.get("is_enabled", True):
        return None
    price, currency = minor_units(offering["price"])
    options = tuple(
        (str(value.get("property_name") or value.get("property_id")), str(value["values"][0]))
        for value in product.get("property_values") or ()
        if value.get("values")
    )
    return PlatformVariant(
        platform_variant_id=variant_key(product),
        title=" / ".join(value for _, value in options) or "Default",
        price=price,
        currency=currency,
        available=max(0, int(offering.get("quantity") or 0)),
        sku=product.get("sku") or None,
        options=options,
    )


def listing_product(listing: Mapping[str, Any]) -> PlatformProduct:
    try:
        inventory = listing.get("inventory") or {}
        variants = (_variant(p) for p in inventory.get("products") or () if not p.get("is_deleted"))
        images = sorted(listing.get("images") or (), key=lambda image: image.get("rank") or 0)
        # Etsy v3 listings carry only taxonomy_id; a path (v2's field, kept by the sandbox) is
        # used when present. No tag is promoted to a category: tags are not a hierarchy.
        path = listing.get("taxonomy_path")
        category = " > ".join(path) if isinstance(path, list) and path else None
        state = listing.get("state")
        materials = [str(m) for m in listing.get("materials") or () if m]
        # Etsy v3 keeps reviews apart from listings (getReviewsByShop): no rating here. The
        # sandbox carries its seed's rating in clearly non-Etsy x_sandbox_* fields.
        rating = listing.get("x_sandbox_review_average")
        return PlatformProduct(
            platform_product_id=str(listing["listing_id"]),
            title=str(listing["title"]),
            description=str(listing.get("description") or ""),
            status="active" if state == "active" else "inactive",
            updated_at=datetime.fromtimestamp(int(listing["last_modified_timestamp"]), UTC),
            variants=tuple(v for v in variants if v is not None),
            url=listing.get("url"),
            images=tuple(str(i["url_fullxfull"]) for i in images if i.get("url_fullxfull")),
            tags=tuple(str(tag) for tag in listing.get("tags") or ()),
            category=category,
            digital=listing.get("listing_type") == "download",
            rating=float(rating) if rating is not None else None,
            review_count=int(listing.get("x_sandbox_review_count") or 0),
            material=", ".join(materials) or None,
        )
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        raise PlatformUnavailable(f"Etsy sent a malformed listing: {exc!r}") from exc

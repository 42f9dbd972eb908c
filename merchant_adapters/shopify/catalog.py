"""Shopify product and variant nodes mapped to PlatformProduct, PlatformVariant and stock counts."""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import datetime
from decimal import Decimal
from html.parser import HTMLParser
from typing import Any, ClassVar, Literal

from merchant_adapters import PlatformInvalidRequest, PlatformProduct, PlatformVariant
from merchant_adapters.shopify.money import minor_units

# The interface has no "unlimited": an untracked variant, or one that keeps selling when out of
# stock (inventoryPolicy CONTINUE), is reported with a count no checkout will exhaust.
UNLIMITED = 10**6


class _TextExtractor(HTMLParser):
    # Block tags separate words ("<li>Blue</li><li>Sand</li>" is "Blue Sand", not "BlueSand").
    BLOCKS: ClassVar[frozenset[str]] = frozenset({"p", "br", "div", "li", "h1", "h2", "h3", "tr"})
    HIDDEN: ClassVar[frozenset[str]] = frozenset({"script", "style"})

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self.hidden = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in self.HIDDEN:
            self.hidden += 1
        if tag in self.BLOCKS:
            self.parts.append(" ")

    def handle_endtag(self, tag: str) -> None:
        if tag in self.HIDDEN and self.hidden:
            self.hidden -= 1

    def handle_data(self, data: str) -> None:
        if not self.hidden:
            self.parts.append(data)


def plain_text(html: str) -> str:
    """descriptionHtml as one line of text: tags dropped, entities decoded, whitespace collapsed."""
    extractor = _TextExtractor()
    extractor.feed(html)
    extractor.close()
    return " ".join("".join(extractor.parts).split())


def iso(moment: datetime) -> str:
    return moment.isoformat().replace("+00:00", "Z")


def catalog_filter(updated_since: str | None) -> str:
    if updated_since is None:
        return "status:active"
    try:
        since = datetime.fromisoformat(updated_since)
    except ValueError as exc:
        raise PlatformInvalidRequest(f"updated_since is not a timestamp: {updated_since!r}") from exc
    return f"status:active AND updated_at:>'{iso(since)}'"


def available(variant: Mapping[str, Any], inventory_item: Mapping[str, Any]) -> int:
    if not variant.get("availableForSale", True):
        return 0
    if variant.get("inventoryPolicy") == "CONTINUE" or inventory_item.get("tracked") is False:
        return UNLIMITED
    return max(int(variant.get("inventoryQuantity") or 0), 0)


def _rating(metafield: Mapping[str, Any] | None) -> float | None:
    """The `reviews.rating` metafield (JSON {value, scale_min, scale_max}) on a 0-5 scale."""
    if not metafield or not metafield.get("value"):
        return None
    try:
        rating = json.loads(metafield["value"])
        scale = Decimal(str(rating.get("scale_max") or "5"))
        return float(round(Decimal(str(rating["value"])) * 5 / scale, 2))
    except (ValueError, KeyError, TypeError, ArithmeticError):
        return None  # a review app's malformed value is no reason to drop the product


def product_from_node(
    node: dict[str, Any], variant_nodes: list[dict[str, Any]], currency: str
) -> PlatformProduct:
    images: list[str] = []
    featured = ((node.get("featuredMedia") or {}).get("preview") or {}).get("image") or {}
    media = [(item.get("image") or {}) for item in (node.get("media") or {}).get("nodes", [])]
    for image in (featured, *media):
        if image.get("url") and image["url"] not in images:
            images.append(image["url"])
    variants = tuple(
        PlatformVariant(
            platform_variant_id=variant["id"],
            title=variant["title"],
            price=minor_units(variant["price"], currency),
            currency=currency,
            available=available(variant, variant.get("inventoryItem") or {}),
            sku=variant.get("sku") or None,
            options=tuple((o["name"], o["value"]) for o in variant.get("selectedOptions", [])),
            list_price=(
                minor_units(variant["compareAtPrice"], currency)
                if variant.get("compareAtPrice")
                else None
            ),
        )
        for variant in variant_nodes
    )
    tags = tuple(node.get("tags") or ())
    ships = [(v.get("inventoryItem") or {}).get("requiresShipping") for v in variant_nodes]
    status: Literal["active", "inactive"] = "active" if node["status"] == "ACTIVE" else "inactive"
    return PlatformProduct(
        platform_product_id=node["id"],
        title=node["title"],
        description=plain_text(node.get("descriptionHtml") or ""),
        status=status,
        updated_at=datetime.fromisoformat(node["updatedAt"]),
        variants=variants,
        url=node.get("onlineStoreUrl"),
        images=tuple(images),
        tags=tags,
        category=node.get("productType") or None,
        digital="digital" in {tag.lower() for tag in tags}
        or (bool(ships) and all(flag is False for flag in ships)),
        rating=_rating(node.get("rating")),
        review_count=int((node.get("ratingCount") or {}).get("value") or 0),
        material=(node.get("material") or {}).get("value") or None,
    )

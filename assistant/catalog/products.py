"""Products and variants as the assistant knows them, parsed from checkout's ACP feed.

Only what recommendation may use is kept. A merchant's commission terms or whether it offers
instant checkout are not fields here at all, so no ranking can depend on them.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True, slots=True)
class Variant:
    id: str
    title: str
    price: int
    currency: str
    available_quantity: int
    options: tuple[tuple[str, str], ...] = ()
    list_price: int | None = None

    @property
    def in_stock(self) -> bool:
        return self.available_quantity > 0

    def option(self, *names: str) -> str | None:
        wanted = {n.lower() for n in names}
        return next((value for name, value in self.options if name.lower() in wanted), None)


@dataclass(frozen=True, slots=True)
class Product:
    id: str
    merchant_id: str
    merchant_name: str
    title: str
    description: str
    variants: tuple[Variant, ...]
    category: str = ""
    tags: tuple[str, ...] = ()
    material: str | None = None
    rating: float | None = None
    review_count: int | None = None
    url: str | None = None
    images: tuple[str, ...] = field(default_factory=tuple)
    # The seller's policy links from the feed (type -> url): returns, shipping, terms, privacy.
    policies: tuple[tuple[str, str], ...] = ()

    @property
    def image(self) -> str | None:
        return self.images[0] if self.images else None

    @property
    def in_stock(self) -> bool:
        return any(v.in_stock for v in self.variants)

    @property
    def min_price(self) -> int:
        return min(v.price for v in self.variants)

    def variant(self, variant_id: str) -> Variant | None:
        return next((v for v in self.variants if v.id == variant_id), None)

    def option_values(self, name: str) -> list[str]:
        values: list[str] = []
        for variant in self.variants:
            value = variant.option(name)
            if value and value not in values:
                values.append(value)
        return values


def _text(value: Any) -> str:
    if isinstance(value, Mapping):
        return str(value.get("plain") or value.get("markdown") or value.get("html") or "")
    return str(value or "")


def _number(value: Any) -> float | None:
    try:
        return None if value is None else float(value)
    except (TypeError, ValueError):
        return None


def _variant(raw: Mapping[str, Any]) -> Variant:
    price = raw.get("price") or {}
    listed = raw.get("list_price") or {}
    options = tuple(
        (str(o.get("name", "")), str(o.get("value", "")))
        for o in raw.get("variant_options") or []
        if isinstance(o, Mapping)
    )
    available = raw.get("available_quantity")
    if available is None:
        available = 1 if (raw.get("availability") or {}).get("available") else 0
    return Variant(
        id=str(raw["id"]),
        title=str(raw.get("title") or ""),
        price=int(price.get("amount", 0)),
        currency=str(price.get("currency", "usd")).lower(),
        available_quantity=max(int(available), 0),
        options=options,
        list_price=int(listed["amount"]) if listed.get("amount") else None,
    )


def product_from_feed(raw: Mapping[str, Any]) -> Product:
    """One ACP feed Product as served by GET /catalog/products (extra fields are optional).

    `rating`, `review_count`, `tags` and `material` are read when checkout adds them to the feed;
    without them the ranking simply has no quality signal beyond availability.
    """
    variants = tuple(_variant(v) for v in raw.get("variants") or [])
    first = (raw.get("variants") or [{}])[0]
    categories = first.get("categories") or []
    category = str(raw.get("category") or (categories[0].get("value") if categories else "") or "")
    seller = first.get("seller") or {}
    media = raw.get("media") or []
    images = tuple(
        str(m["url"]) for m in media if isinstance(m, Mapping) and m.get("type", "image") == "image"
    )
    reviews = raw.get("review_count")
    return Product(
        id=str(raw["id"]),
        merchant_id=str(raw.get("merchant_id") or ""),
        merchant_name=str(seller.get("name") or raw.get("merchant_id") or ""),
        title=str(raw.get("title") or ""),
        description=_text(raw.get("description")),
        variants=variants,
        category=category,
        tags=tuple(str(t) for t in raw.get("tags") or []),
        material=str(raw["material"]) if raw.get("material") else None,
        rating=_number(raw.get("rating")),
        review_count=int(reviews) if reviews is not None else None,
        url=str(raw["url"]) if raw.get("url") else None,
        images=images,
        policies=tuple(
            (str(link["type"]), str(link["url"]))
            for link in seller.get("links") or []
            if isinstance(link, Mapping) and link.get("type") and link.get("url")
        ),
    )


def products_from_feed(raw: Iterable[Mapping[str, Any]]) -> list[Product]:
    return [product_from_feed(item) for item in raw if item.get("variants")]

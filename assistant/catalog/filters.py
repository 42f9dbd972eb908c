"""Structured filters: which variant of a product, if any, satisfies a query's price, colour, size,
material and availability constraints."""

from __future__ import annotations

import re

from assistant.catalog.products import Product, Variant
from assistant.catalog.query import SearchQuery
from assistant.catalog.text import COLOURS, MATERIALS, fold

SIZE_WORDS = {
    "extra small": "xs",
    "x-small": "xs",
    "small": "s",
    "medium": "m",
    "large": "l",
    "extra large": "xl",
    "x-large": "xl",
    "xxl": "xxl",
}
SIZE_OPTIONS = ("size", "ring size")
COLOUR_OPTIONS = ("color", "colour")


def normalise_size(value: str) -> str:
    text = fold(value).strip()
    for word, short in SIZE_WORDS.items():
        if text == word:
            return short
    text = re.sub(r"^us\s*", "", text)
    return re.sub(r"[\s-]+", "", text)


def size_matches(wanted: str, value: str) -> bool:
    want, have = normalise_size(wanted), normalise_size(value)
    if want == have:
        return True
    # "18 x 18" matches "18 x 18 in" and "small" matches "Small 15 mm"; a bare number must
    # match exactly ("9" is neither "19" nor "9 in"), and "s" is not "Standard".
    if any(c.isdigit() for c in want) and not want.isdigit() and have.startswith(want):
        return True
    return fold(wanted).isalpha() and fold(value).startswith(fold(wanted) + " ")


def contains_any(haystack: str, needles: tuple[str, ...]) -> bool:
    return any(re.search(rf"\b{re.escape(n)}\b", haystack) for n in needles)


def product_text(product: Product) -> str:
    return fold(" ".join((product.title, " ".join(product.tags), product.description)))


def material_text(product: Product) -> str:
    """Where a material shows: the feed's material and tags when present, else the description."""
    options = " ".join(value for v in product.variants for _, value in v.options)
    if product.material or product.tags:
        parts = [product.material or "", " ".join(product.tags), product.title, options]
    else:
        parts = [product.title, product.description, options]
    return fold(" ".join(parts))


def material_words(material: str) -> tuple[str, ...]:
    return MATERIALS.get(material, (material,))


def colour_words(colour: str) -> tuple[str, ...]:
    return COLOURS.get(colour, (colour,))


def _variant_colour_ok(product: Product, variant: Variant, colour: str) -> bool:
    value = variant.option(*COLOUR_OPTIONS)
    if value is not None:
        return contains_any(fold(value), colour_words(colour))
    # No colour option: the product's own words decide ("layered blues" prints pass "blue").
    return contains_any(product_text(product), colour_words(colour)) or contains_any(
        fold(variant.title), colour_words(colour)
    )


def _variant_material_ok(product: Product, variant: Variant, material: str) -> bool:
    words = material_words(material)
    metal = variant.option("metal")
    if metal is not None and contains_any(fold(metal), words):
        return True
    if metal is not None and material in ("gold", "silver", "sterling silver"):
        return False  # the other metal of a two-metal product
    return contains_any(material_text(product), words)


def variant_passes(product: Product, variant: Variant, query: SearchQuery) -> bool:
    if query.min_price is not None and variant.price < query.min_price:
        return False
    if query.max_price is not None and variant.price > query.max_price:
        return False
    if query.in_stock_only and not variant.in_stock:
        return False
    if query.colour and not _variant_colour_ok(product, variant, query.colour):
        return False
    if query.material and not _variant_material_ok(product, variant, query.material):
        return False
    if query.size:
        value = variant.option(*SIZE_OPTIONS)
        if value is None or not size_matches(query.size, value):
            return False
    return True


def choose_variant(product: Product, query: SearchQuery) -> Variant | None:
    """The variant to show for this query: passing every filter, in stock first, then cheapest,
    then not nearly sold out."""
    if query.merchant_id and product.merchant_id != query.merchant_id:
        return None
    passing = [v for v in product.variants if variant_passes(product, v, query)]
    if not passing:
        return None
    return min(passing, key=lambda v: (not v.in_stock, v.price, v.available_quantity <= 2))

"""Structured filters: which variant of a product, if any, satisfies a query's price, colour, size,
material and availability constraints."""

from __future__ import annotations

import re
from dataclasses import dataclass

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


def _word_set(text: str) -> frozenset[str]:
    return frozenset(re.findall(r"[a-z0-9]+", fold(text)))


def has_phrase(words: frozenset[str], phrases: tuple[str, ...]) -> bool:
    """Whether every word of one of the phrases is among the words ("sky blue" in a colour)."""
    return any(all(w in words for w in phrase.split()) for phrase in phrases)


@dataclass(frozen=True, slots=True)
class VariantFacts:
    colour: frozenset[str] | None
    size: str | None
    metal: frozenset[str] | None


@dataclass(frozen=True, slots=True)
class ProductFacts:
    """A product's filterable attributes, folded once (the index keeps one per product)."""

    text: frozenset[str]
    material: frozenset[str]
    variants: tuple[VariantFacts, ...]


def facts_of(product: Product) -> ProductFacts:
    variants = []
    for variant in product.variants:
        colour = variant.option(*COLOUR_OPTIONS)
        metal = variant.option("metal")
        variants.append(
            VariantFacts(
                colour=_word_set(colour) if colour is not None else None,
                size=variant.option(*SIZE_OPTIONS),
                metal=_word_set(metal) if metal is not None else None,
            )
        )
    return ProductFacts(
        text=_word_set(product_text(product)),
        material=_word_set(material_text(product)),
        variants=tuple(variants),
    )


def _colour_ok(facts: ProductFacts, variant: VariantFacts, colour: str) -> bool:
    words = colour_words(colour)
    if variant.colour is not None:
        return has_phrase(variant.colour, words)
    # No colour option: the product's own words decide ("layered blues" prints pass "blue").
    return has_phrase(facts.text, words)


def _material_ok(facts: ProductFacts, variant: VariantFacts, material: str) -> bool:
    words = material_words(material)
    if variant.metal is not None:
        if has_phrase(variant.metal, words):
            return True
        if material in ("gold", "silver", "sterling silver"):
            return False  # the other metal of a two-metal product
    return has_phrase(facts.material, words)


def variant_passes(
    variant: Variant, facts: ProductFacts, variant_facts: VariantFacts, query: SearchQuery
) -> bool:
    if query.min_price is not None and variant.price < query.min_price:
        return False
    if query.max_price is not None and variant.price > query.max_price:
        return False
    if query.in_stock_only and not variant.in_stock:
        return False
    if query.colour and not _colour_ok(facts, variant_facts, query.colour):
        return False
    if query.material and not _material_ok(facts, variant_facts, query.material):
        return False
    return not query.size or (
        variant_facts.size is not None and size_matches(query.size, variant_facts.size)
    )


def choose_variant(
    product: Product, query: SearchQuery, facts: ProductFacts | None = None
) -> Variant | None:
    """The variant to show for this query: passing every filter, in stock first, then cheapest,
    then not nearly sold out."""
    if query.merchant_id and product.merchant_id != query.merchant_id:
        return None
    facts = facts or facts_of(product)
    passing = [
        v
        for v, vf in zip(product.variants, facts.variants, strict=True)
        if variant_passes(v, facts, vf, query)
    ]
    if not passing:
        return None
    return min(passing, key=lambda v: (not v.in_stock, v.price, v.available_quantity <= 2))

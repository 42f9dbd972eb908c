"""Why a result was chosen, in the shopper's words ("stoneware, under $40, 4.8 stars, in stock").

Every reason is read off the product data and the query; nothing here is invented.
"""

from __future__ import annotations

from assistant.catalog.filters import COLOUR_OPTIONS, SIZE_OPTIONS, material_text, material_words
from assistant.catalog.products import Product, Variant
from assistant.catalog.query import SearchQuery
from assistant.catalog.text import fold, stem, words
from assistant.money import format_money

LOW_STOCK = 2


def stock_phrase(variant: Variant) -> str:
    if not variant.in_stock:
        return "out of stock"
    if variant.available_quantity <= LOW_STOCK:
        return f"only {variant.available_quantity} left"
    return "in stock"


def rating_phrase(product: Product) -> str | None:
    if product.rating is None:
        return None
    reviews = f" ({product.review_count} reviews)" if product.review_count else ""
    return f"{product.rating:.1f} stars{reviews}"


def _material(product: Product, query: SearchQuery) -> str | None:
    if not query.material:
        return None
    family = material_words(query.material)
    if product.material and any(w in fold(product.material) for w in family):
        return product.material
    haystack = material_text(product)
    return next((w for w in family if w in haystack), None) or query.material


def _matched_terms(product: Product, query: SearchQuery, skip: set[str]) -> list[str]:
    title = {stem(w) for w in words(" ".join((product.title, " ".join(product.tags))))}
    terms = []
    for word in words(query.text):
        if stem(word) in title and word not in skip and word not in terms and len(word) > 2:
            terms.append(word)
    return terms[:2]


def reasons_for(product: Product, variant: Variant, query: SearchQuery) -> tuple[str, ...]:
    reasons: list[str] = []
    material = _material(product, query)
    if material:
        reasons.append(material)
    skip = {fold(material or "")}
    terms = _matched_terms(product, query, skip)
    if terms:
        reasons.append("matches " + ", ".join(f"'{t}'" for t in terms))
    colour = variant.option(*COLOUR_OPTIONS)
    if query.colour and colour:
        reasons.append(f"in {colour}")
    size = variant.option(*SIZE_OPTIONS)
    if query.size and size:
        reasons.append(f"size {size}")
    price = format_money(variant.price, variant.currency)
    if query.min_price is not None and query.max_price is not None:
        low = format_money(query.min_price, variant.currency)
        high = format_money(query.max_price, variant.currency)
        reasons.append(f"{price}, within {low}-{high}")
    elif query.max_price is not None:
        budget = format_money(query.max_price, variant.currency)
        reasons.append(f"{price}, within your {budget} budget")
    elif query.min_price is not None:
        reasons.append(f"{price}, over {format_money(query.min_price, variant.currency)}")
    elif query.prefer_cheap or query.sort == "price":
        reasons.append(f"{price}, one of the lowest prices here")
    if variant.list_price and variant.list_price > variant.price:
        reasons.append(f"on sale (was {format_money(variant.list_price, variant.currency)})")
    rating = rating_phrase(product)
    if rating:
        reasons.append(rating)
    reasons.append(stock_phrase(variant))
    if query.merchant_id:
        reasons.append(f"from {product.merchant_name}")
    return tuple(reasons)

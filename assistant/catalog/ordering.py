"""How superlatives order a search's results ("the best rated", "cheapest", "most popular");
used by `assistant.catalog.index`."""

from __future__ import annotations

from typing import TYPE_CHECKING

from assistant.catalog.products import Product

if TYPE_CHECKING:
    from assistant.catalog.index import Match

SORT_RELEVANCE = 0.5
# How many reviews a rating needs before it counts at full weight (also the ranker's prior).
RATING_PRIOR_REVIEWS = 25


def ordered(scored: list[Match], sort: str, has_text: bool) -> list[Match]:
    """Superlatives ("the best rated", "cheapest") order the clearly relevant results; weaker
    matches follow in relevance order, so "cheapest candle" is never a cheap sock."""
    if sort == "relevance":
        return scored
    head = [m for m in scored if not has_text or m.relevance >= SORT_RELEVANCE]
    tail = [m for m in scored if m not in head]
    keys = {
        "price": lambda m: (m.variant.price, -m.score),
        "price_desc": lambda m: (-m.variant.price, -m.score),
        "rating": lambda m: (-shrunk_rating(m.product), -m.score),
        "popular": lambda m: (-(m.product.review_count or 0), -m.score),
    }
    return sorted(head, key=keys[sort]) + tail


def shrunk_rating(product: Product) -> float:
    """A rating pulled towards 4.5 when it rests on few reviews (5.0 from 9 reviews < 4.9 from 200)."""
    if product.rating is None:
        return 0.0
    reviews = product.review_count or 0
    return (product.rating * reviews + 4.5 * RATING_PRIOR_REVIEWS) / (
        reviews + RATING_PRIOR_REVIEWS
    )

"""The product index: BM25 over the catalog's text, structured filters, quality-aware ranking.

    score = relevance (BM25, normalised to the best match) + quality (rating, availability)
            [+ dense similarity when embeddings are on]

Commission terms and instant-checkout status are not inputs: `Product` does not carry them.
`plain_bm25()` is the baseline the benchmark compares with: the same tokens, no field weights,
no synonyms, no filters, no quality. The index is built by `assistant.catalog.indexing` into
compact columns; products are unpacked only for the candidates a search examines.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, replace

import numpy as np

from assistant.catalog.bm25 import Bm25, Bm25Builder
from assistant.catalog.embeddings import Encoder
from assistant.catalog.exclusions import Exclusion
from assistant.catalog.filters import (
    ProductFacts,
    choose_variant,
    colour_words,
    facts_of,
    material_words,
    size_matches,
)
from assistant.catalog.indexing import (
    CatalogColumns,
    CatalogIndexer,
    Shop,
    dense_text,
    plain_text,
    rating_term,
    weighted_document,
)
from assistant.catalog.ordering import ordered
from assistant.catalog.packed import PackedProducts
from assistant.catalog.products import Product, Variant
from assistant.catalog.query import SearchQuery
from assistant.catalog.reasons import reasons_for
from assistant.catalog.text import expand, tokens, words

__all__ = [
    "Match",
    "ProductIndex",
    "Shop",
    "dense_text",
    "plain_text",
    "rating_term",
    "weighted_document",
]

SYNONYM_WEIGHT = 0.4
DENSE_WEIGHT = 0.3
OUT_OF_STOCK_PENALTY = 0.35
IN_STOCK_BONUS = 0.05
CHEAP_WEIGHT = 0.15
COVERAGE_FLOOR = 0.4
TYPE_BONUS = 0.3
MEANING_FLOOR = 0.25
MEANING_POOL = 10
# Products unpacked (with their filter facts) kept at hand: a search examines a few dozen, and
# the same popular ones come back query after query. The whole seeded catalog fits.
UNPACKED_KEPT = 1024
# Attribute masks kept (one bool per product each): colours, sizes and materials asked for.
MASKS_KEPT = 16


@dataclass(frozen=True, slots=True)
class Match:
    product: Product
    variant: Variant
    score: float
    relevance: float
    reasons: tuple[str, ...]


def plain_document(product: Product) -> list[str]:
    return tokens(plain_text(product))


def _unpacked(products: PackedProducts, position: int) -> tuple[Product, ProductFacts]:
    product = products[position]
    return product, facts_of(product)


class ProductIndex:
    """Built once per catalog snapshot (a refresh builds a new one and swaps it in).

    `ProductIndex(products)` builds from products at hand; a refresh streams pages into a
    `CatalogIndexer` and passes its `columns`.
    """

    def __init__(
        self,
        products: Iterable[Product] = (),
        *,
        encoder: Encoder | None = None,
        columns: CatalogColumns | None = None,
    ) -> None:
        if columns is None:
            indexer = CatalogIndexer(encoder)
            indexer.add(products)
            columns = indexer.finish()
        self.encoder = encoder
        self.products: Sequence[Product] = columns.products
        self.variant_count = columns.variant_count
        self.speller = columns.speller
        self.shops = columns.shops
        self._bm25 = columns.bm25
        self._plain: Bm25 | None = None
        self._quality = columns.quality
        self._in_stock = columns.in_stock
        self._min_price = columns.min_price
        self._max_price = columns.max_price
        # What kind of thing each product is: the last level of its category ("Mugs").
        self._kinds = columns.kinds
        self._colours = columns.colours
        self._sizes = columns.sizes
        self._uncoloured = columns.uncoloured
        self._vectors = columns.vectors if encoder is not None else None
        self._lookup = columns.lookup
        self._masks: dict[tuple[str, str], np.ndarray] = {}
        # Bound to the packed products, not to self, so a replaced index is freed at once.
        self._unpack: Callable[[int], tuple[Product, ProductFacts]] = functools.lru_cache(
            maxsize=UNPACKED_KEPT
        )(functools.partial(_unpacked, columns.products))

    def __len__(self) -> int:
        return len(self.products)

    def product(self, product_id: str) -> Product | None:
        found = None
        for row in self._lookup.product_rows(product_id):
            product = self._unpack(row)[0]
            if product.id == product_id:
                found = product
        return found

    def variant(self, variant_id: str) -> tuple[Product, Variant] | None:
        found = None
        for row in self._lookup.variant_rows(variant_id):
            product = self._unpack(row)[0]
            for variant in product.variants:
                if variant.id == variant_id:
                    found = (product, variant)
        return found

    def knows(self, word: str) -> bool:
        """Whether a query word occurs anywhere in the catalog (directly, through a synonym, or
        as a misspelling of a catalog word)."""
        if any(self._bm25.has(t) for t in tokens(word) + expand([word])):
            return True
        corrected = self.speller.correct(word)
        return corrected is not None and any(self._bm25.has(t) for t in tokens(corrected))

    def spelled(self, text: str) -> tuple[str, list[tuple[str, str]]]:
        """The query with misspelt words replaced by the catalog words they stand for."""
        fixed: list[str] = []
        corrections: list[tuple[str, str]] = []
        for word in words(text):
            known = any(self._bm25.has(t) for t in tokens(word) + expand([word]))
            corrected = None if known else self.speller.correct(word)
            if corrected:
                corrections.append((word, corrected))
            fixed.append(corrected or word)
        return " ".join(fixed), corrections

    def relevance(self, text: str) -> np.ndarray:
        """BM25 of the query's words (plus synonyms at a lower weight), scaled by coverage:
        a product matching every word of "ceramic mug" beats one matching only "ceramic"."""
        query_words = [w for w in words(text) if tokens(w)]
        main_tokens = list(dict.fromkeys(tokens(text)))
        main = self._bm25.scores(main_tokens)
        synonyms = expand(query_words)
        if synonyms:
            main = main + SYNONYM_WEIGHT * self._bm25.scores(synonyms)
        groups = [g for g in (tokens(w) + expand([w]) for w in query_words) if g]
        groups = [g for g in groups if any(self._bm25.has(t) for t in g)]
        if len(groups) > 1:
            covered = sum((self._bm25.scores(g) > 0).astype(np.float32) for g in groups)
            main = main * (COVERAGE_FLOOR + (1 - COVERAGE_FLOOR) * covered / len(groups))
        return main

    def search(self, query: SearchQuery, limit: int = 5) -> list[Match]:
        if not self.products:
            return []
        text, corrections = self.spelled(query.text) if query.text.strip() else ("", [])
        relevance = self.relevance(text)
        has_text = bool(text.strip()) and float(relevance.max(initial=0.0)) > 0
        if text.strip() and not has_text:
            return self._by_meaning(query, text, limit)
        top = float(relevance.max(initial=0.0)) or 1.0
        normalised = relevance / top
        normalised = normalised + self._kind_bonus(text, relevance)
        mask = relevance > 0 if has_text else np.ones(len(self.products), dtype=bool)
        if query.max_price is not None:
            mask &= self._min_price <= query.max_price
        if query.min_price is not None:
            mask &= self._max_price >= query.min_price
        if query.in_stock_only:
            mask &= self._in_stock
        for kind, value in (
            ("colour", query.colour),
            ("size", query.size),
            ("material", query.material),
        ):
            if value:
                mask &= self._attribute_mask(kind, value)
        exclusion = Exclusion(query.exclude)
        candidates = np.flatnonzero(mask)
        # Only the candidates' prior and similarity are ever read: compute no more.
        dense = self._dense(text, candidates) if has_text else None
        in_stock = np.where(self._in_stock[candidates], 0.0, -OUT_OF_STOCK_PENALTY)
        prior = normalised[candidates] + self._quality[candidates] + in_stock
        if dense is not None:
            prior = prior + DENSE_WEIGHT * dense[candidates]
        order = candidates[np.argsort(-prior, kind="stable")]
        wanted = query.offset + limit
        pool = max(50, 3 * wanted)
        chosen: list[tuple[int, Variant]] = []
        for position in order:
            product, facts = self._unpack(int(position))
            if exclusion:
                # Checked only for the products examined, in rank order: leaving an excluded
                # product out here gives the same order as leaving it out before sorting.
                if exclusion.product_out(product):
                    continue
                allowed = exclusion.allowed_variants(product)
                variant = choose_variant(replace(product, variants=tuple(allowed)), query)
            else:
                variant = choose_variant(product, query, facts)
            if variant is not None:
                chosen.append((int(position), variant))
                if len(chosen) >= pool:
                    break
        # Where each price stands in the pool (cheapest first), for shoppers who want cheap.
        prices = sorted(v.price for _, v in chosen) if query.prefer_cheap else []
        price_rank = {price: prices.index(price) / max(len(prices) - 1, 1) for price in set(prices)}
        scored = [self._score(i, v, normalised, dense, query, price_rank) for i, v in chosen]
        scored.sort(key=lambda m: (-m.score, m.variant.price, m.product.id))
        scored = ordered(scored, query.sort, has_text)
        if corrections:
            note = "read " + ", ".join(f"'{wrong}' as '{right}'" for wrong, right in corrections)
            scored = [replace(m, reasons=(note, *m.reasons)) for m in scored]
        return scored[query.offset : wanted]

    def _by_meaning(self, query: SearchQuery, text: str, limit: int) -> list[Match]:
        """No catalog word in the query ("my desk looks boring"): the dense neighbours of its
        meaning, when embeddings are on; nothing otherwise (nothing is invented)."""
        dense = self._dense(text)
        if dense is None:
            return []
        near = np.flatnonzero(dense >= MEANING_FLOOR)
        if not len(near):
            return []
        # The closest few, visited in catalog order (product ids are unique in a catalog).
        closest = np.sort(near[np.argsort(-dense[near])][:MEANING_POOL])
        wanted = query.offset + limit
        scored = []
        for position in closest:
            product, facts = self._unpack(int(position))
            variant = choose_variant(product, query, facts)
            if variant is None:
                continue
            score = float(dense[position]) + float(self._quality[position])
            score += IN_STOCK_BONUS if variant.in_stock else -OUT_OF_STOCK_PENALTY
            reasons = (
                "close in meaning to what you described",
                *reasons_for(product, variant, query),
            )
            scored.append(Match(product, variant, score, float(dense[position]), reasons))
        scored.sort(key=lambda m: (-m.score, m.variant.price, m.product.id))
        return ordered(scored, query.sort, False)[query.offset : wanted]

    def _score(
        self,
        index: int,
        variant: Variant,
        normalised: np.ndarray,
        dense: np.ndarray | None,
        query: SearchQuery,
        price_rank: dict[int, float],
    ) -> Match:
        product = self._unpack(index)[0]
        relevance = float(normalised[index])
        score = relevance + float(self._quality[index])
        score += IN_STOCK_BONUS if variant.in_stock else -OUT_OF_STOCK_PENALTY
        if dense is not None:
            score += DENSE_WEIGHT * float(dense[index])
        if query.prefer_cheap and price_rank:
            score += CHEAP_WEIGHT * (1 - price_rank[variant.price])
        return Match(product, variant, score, relevance, reasons_for(product, variant, query))

    def _attribute_mask(self, kind: str, value: str) -> np.ndarray:
        """Products that may have a variant of this colour, size or material: a superset, cut
        down cheaply from posting lists, that `choose_variant` then checks exactly."""
        key = (kind, value)
        if key in self._masks:
            return self._masks[key]
        mask = np.zeros(len(self.products), dtype=bool)
        if kind == "size":
            for size, rows in self._sizes.items():
                if size_matches(value, size):
                    mask[rows] = True
        elif kind == "colour":
            for phrase in colour_words(value):
                in_option = np.ones(len(self.products), dtype=bool)
                for word in phrase.split():
                    has_word = np.zeros(len(self.products), dtype=bool)
                    has_word[self._colours.get(word, np.array([], dtype=np.int32))] = True
                    in_option &= has_word
                mask |= in_option | (self._uncoloured & self._mentions(phrase))
        else:
            for phrase in material_words(value):
                mask |= self._mentions(phrase)
        if len(self._masks) >= MASKS_KEPT:
            del self._masks[next(iter(self._masks))]  # the oldest
        self._masks[key] = mask
        return mask

    def _mentions(self, phrase: str) -> np.ndarray:
        found = np.ones(len(self.products), dtype=bool)
        for token in tokens(phrase):
            found &= self._bm25.scores([token]) > 0
        return found

    def _kind_bonus(self, text: str, relevance: np.ndarray) -> np.ndarray:
        """A lift for products of the kind the query names ("jacket" in "warm jacket for winter")."""
        named = {t for w in words(text) for t in tokens(w) + expand([w]) if t in self._kinds}
        bonus = np.zeros(len(self.products), dtype=np.float32)
        for token in named:
            bonus[self._kinds[token]] = TYPE_BONUS
        return np.where(relevance > 0, bonus, np.float32(0.0))

    def _dense(self, text: str, rows: np.ndarray | None = None) -> np.ndarray | None:
        """Cosine similarity of the text to each product in `rows` (ascending; default all),
        zero elsewhere."""
        if self.encoder is None or self._vectors is None:
            return None
        return self._vectors.similarity(self.encoder.encode([text])[0], len(self.products), rows)

    def plain_bm25(self, text: str, limit: int = 10) -> list[str]:
        """Baseline ranking: BM25 over the unweighted text with the raw query's tokens."""
        if self._plain is None:
            plain = Bm25Builder()
            for product in self.products:
                plain.add(plain_document(product))
            self._plain = plain.build()
        scores = self._plain.scores(tokens(text))
        order = np.argsort(-scores, kind="stable")[:limit]
        return [self.products[i].id for i in order if scores[i] > 0]

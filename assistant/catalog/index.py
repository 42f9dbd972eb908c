"""The product index: BM25 (bm25s) over the catalog's text, structured filters, quality-aware ranking.

    score = relevance (BM25, normalised to the best match) + quality (rating, availability)
            [+ dense similarity when embeddings are on]

Commission terms and instant-checkout status are not inputs: `Product` does not carry them.
`plain_bm25()` is the baseline the benchmark compares with: the same tokens, no field weights,
no synonyms, no filters, no quality.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace

import bm25s
import numpy as np

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
from assistant.catalog.ordering import RATING_PRIOR_REVIEWS, ordered
from assistant.catalog.products import Product, Variant
from assistant.catalog.query import SearchQuery
from assistant.catalog.reasons import reasons_for
from assistant.catalog.spelling import Speller
from assistant.catalog.text import expand, tokens, words

# Field weights: a title word counts three times a description word.
TITLE, CATEGORY, TAGS, OPTIONS, DESCRIPTION = 3, 2, 2, 1, 1
SYNONYM_WEIGHT = 0.4
DENSE_WEIGHT = 0.3
OUT_OF_STOCK_PENALTY = 0.35
IN_STOCK_BONUS = 0.05
RATING_WEIGHT = 0.2
CHEAP_WEIGHT = 0.15
COVERAGE_FLOOR = 0.4
TYPE_BONUS = 0.3
MEANING_FLOOR = 0.25
MEANING_POOL = 10


@dataclass(frozen=True, slots=True)
class Match:
    product: Product
    variant: Variant
    score: float
    relevance: float
    reasons: tuple[str, ...]


def weighted_document(product: Product) -> list[str]:
    options = " ".join(value for v in product.variants for _, value in v.options)
    category = product.category.replace(">", " ")
    return (
        tokens(product.title) * TITLE
        + tokens(category) * CATEGORY
        + tokens(" ".join(product.tags) + " " + (product.material or "")) * TAGS
        + tokens(options) * OPTIONS
        + tokens(product.description) * DESCRIPTION
        + tokens(product.merchant_name)
    )


def plain_text(product: Product) -> str:
    """Everything a product says about itself, unweighted: the baseline's document and the
    spelling vocabulary."""
    options = " ".join(value for v in product.variants for _, value in v.options)
    return " ".join(
        (
            product.title,
            product.category,
            " ".join(product.tags),
            product.material or "",
            options,
            product.description,
            product.merchant_name,
        )
    )


def plain_document(product: Product) -> list[str]:
    return tokens(plain_text(product))


def rating_term(product: Product) -> float:
    """A rating's pull on the rank, shrunk towards neutral when it rests on few reviews."""
    if product.rating is None:
        return 0.0
    reviews = product.review_count or 0
    confidence = reviews / (reviews + RATING_PRIOR_REVIEWS)
    return (product.rating - 4.5) * RATING_WEIGHT * confidence


class _Bm25:
    def __init__(self, documents: list[list[str]]) -> None:
        self.size = len(documents)
        self.vocabulary: dict[str, int] = {}
        self.model = bm25s.BM25()
        if documents:  # bm25s cannot index an empty corpus
            self.model.index([doc or [""] for doc in documents], show_progress=False)
            self.vocabulary = self.model.vocab_dict

    def has(self, token: str) -> bool:
        return token in self.vocabulary

    def scores(self, query_tokens: list[str]) -> np.ndarray:
        known = [t for t in query_tokens if t in self.vocabulary and t]
        if not known:
            return np.zeros(self.size, dtype=np.float32)
        return np.asarray(self.model.get_scores(known), dtype=np.float32)


class ProductIndex:
    """Built once per catalog snapshot (a refresh builds a new one and swaps it in)."""

    def __init__(self, products: Sequence[Product], *, encoder: Encoder | None = None) -> None:
        self.products = list(products)
        self._by_id = {p.id: i for i, p in enumerate(self.products)}
        self._variants = {v.id: (p, v) for p in self.products for v in p.variants}
        self._bm25 = _Bm25([weighted_document(p) for p in self.products])
        self._plain: _Bm25 | None = None
        self._quality = np.array([rating_term(p) for p in self.products], dtype=np.float32)
        self._in_stock = np.array([p.in_stock for p in self.products], dtype=bool)
        # What kind of thing each product is: the last level of its category ("Mugs").
        kinds: dict[str, list[int]] = {}
        for i, product in enumerate(self.products):
            for token in set(tokens(product.category.split(">")[-1])):
                kinds.setdefault(token, []).append(i)
        self._kinds = {token: np.array(rows, dtype=np.int64) for token, rows in kinds.items()}
        self._facts: list[ProductFacts] = [facts_of(p) for p in self.products]
        colours: dict[str, list[int]] = {}
        sizes: dict[str, list[int]] = {}
        for i, facts in enumerate(self._facts):
            for variant in facts.variants:
                for word in variant.colour or ():
                    colours.setdefault(word, []).append(i)
                if variant.size:
                    sizes.setdefault(variant.size, []).append(i)
        self._colours = {w: np.array(rows, dtype=np.int64) for w, rows in colours.items()}
        self._sizes = {v: np.array(rows, dtype=np.int64) for v, rows in sizes.items()}
        self._uncoloured = np.array(
            [all(v.colour is None for v in f.variants) for f in self._facts], dtype=bool
        )
        self._masks: dict[tuple[str, str], np.ndarray] = {}
        self._min_price = np.array([p.min_price for p in self.products], dtype=np.int64)
        self._max_price = np.array(
            [max(v.price for v in p.variants) for p in self.products], dtype=np.int64
        )
        self.speller = Speller(plain_text(p) for p in self.products)
        self.encoder = encoder
        self._vectors = (
            encoder.encode([dense_text(p) for p in self.products])
            if encoder and self.products
            else None
        )

    def __len__(self) -> int:
        return len(self.products)

    def product(self, product_id: str) -> Product | None:
        index = self._by_id.get(product_id)
        return None if index is None else self.products[index]

    def variant(self, variant_id: str) -> tuple[Product, Variant] | None:
        return self._variants.get(variant_id)

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
        dense = self._dense(text) if has_text else None
        normalised = normalised + self._kind_bonus(text, relevance)
        prior = normalised + self._quality + np.where(self._in_stock, 0.0, -OUT_OF_STOCK_PENALTY)
        if dense is not None:
            prior = prior + DENSE_WEIGHT * dense
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
        if exclusion:
            mask &= ~self._excluded(exclusion)
        candidates = np.flatnonzero(mask)
        order = candidates[np.argsort(-prior[candidates], kind="stable")]
        wanted = query.offset + limit
        pool = max(50, 3 * wanted)
        chosen: list[tuple[int, Variant]] = []
        for position in order:
            product = self.products[position]
            if exclusion:
                allowed = exclusion.allowed_variants(product)
                variant = choose_variant(replace(product, variants=allowed), query)
            else:
                variant = choose_variant(product, query, self._facts[position])
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

    def _excluded(self, exclusion: Exclusion) -> np.ndarray:
        return np.array([exclusion.product_out(p) for p in self.products], dtype=bool)

    def _by_meaning(self, query: SearchQuery, text: str, limit: int) -> list[Match]:
        """No catalog word in the query ("my desk looks boring"): the dense neighbours of its
        meaning, when embeddings are on; nothing otherwise (nothing is invented)."""
        dense = self._dense(text)
        if dense is None:
            return []
        near = np.flatnonzero(dense >= MEANING_FLOOR)
        if not len(near):
            return []
        mask = np.zeros(len(self.products), dtype=bool)
        mask[near] = True
        ids = {self.products[i].id for i in near[np.argsort(-dense[near])][:MEANING_POOL]}
        wanted = query.offset + limit
        scored = []
        for position in near:
            product = self.products[position]
            if product.id not in ids:
                continue
            variant = choose_variant(product, query, self._facts[position])
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
        product = self.products[index]
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
                    has_word[self._colours.get(word, np.array([], dtype=np.int64))] = True
                    in_option &= has_word
                mask |= in_option | (self._uncoloured & self._mentions(phrase))
        else:
            for phrase in material_words(value):
                mask |= self._mentions(phrase)
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

    def _dense(self, text: str) -> np.ndarray | None:
        if self.encoder is None or self._vectors is None:
            return None
        vector = self.encoder.encode([text])[0]
        similarity: np.ndarray = self._vectors @ vector
        return similarity

    def plain_bm25(self, text: str, limit: int = 10) -> list[str]:
        """Baseline ranking: BM25 over the unweighted text with the raw query's tokens."""
        if self._plain is None:
            self._plain = _Bm25([plain_document(p) for p in self.products])
        scores = self._plain.scores(tokens(text))
        order = np.argsort(-scores, kind="stable")[:limit]
        return [self.products[i].id for i in order if scores[i] > 0]


def dense_text(product: Product) -> str:
    return f"{product.title}. {product.category}. {' '.join(product.tags)}. {product.description}"

"""Building the product index a page at a time into compact columns (`CatalogColumns`).

Only what ranking reads for every product stays as arrays: BM25, prices, stock, quality, the
attribute posting lists, int8 embeddings (`assistant.catalog.vectors`). The products themselves
are packed (`assistant.catalog.packed`) and unpacked only for the candidates a search examines.
Nothing per product is kept as a Python object, so 100,000 products cost tens of MB, not a GB.
"""

from __future__ import annotations

from array import array
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np

from assistant.catalog.bm25 import Bm25, Bm25Builder
from assistant.catalog.embeddings import Encoder
from assistant.catalog.filters import facts_of
from assistant.catalog.ordering import RATING_PRIOR_REVIEWS
from assistant.catalog.packed import PackedProducts, ProductPacker
from assistant.catalog.products import Product
from assistant.catalog.spelling import Speller, speller_words
from assistant.catalog.text import tokens
from assistant.catalog.vectors import ProductVectors, VectorBuilder

# Field weights: a title word counts three times a description word.
TITLE, CATEGORY, TAGS, OPTIONS, DESCRIPTION = 3, 2, 2, 1, 1
RATING_WEIGHT = 0.2

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


def dense_text(product: Product) -> str:
    return f"{product.title}. {product.category}. {' '.join(product.tags)}. {product.description}"


def rating_term(product: Product) -> float:
    """A rating's pull on the rank, shrunk towards neutral when it rests on few reviews."""
    if product.rating is None:
        return 0.0
    reviews = product.review_count or 0
    confidence = reviews / (reviews + RATING_PRIOR_REVIEWS)
    return (product.rating - 4.5) * RATING_WEIGHT * confidence


@dataclass(frozen=True, slots=True)
class Shop:
    """A merchant as its first product in the catalog names it, with its policy links."""

    merchant_id: str
    name: str
    policies: tuple[tuple[str, str], ...]


@dataclass(frozen=True, slots=True)
class CatalogColumns:
    products: PackedProducts
    variant_count: int
    bm25: Bm25
    quality: np.ndarray  # float32 rating term
    in_stock: np.ndarray  # bool: any variant in stock
    min_price: np.ndarray  # int64
    max_price: np.ndarray  # int64
    kinds: dict[str, np.ndarray]  # last category level's token -> product rows
    colours: dict[str, np.ndarray]  # colour option word -> product rows
    sizes: dict[str, np.ndarray]  # size option value -> product rows
    uncoloured: np.ndarray  # bool: no variant has a colour option
    vectors: ProductVectors | None  # embeddings, when an encoder was given
    speller: Speller
    lookup: CatalogLookup
    shops: tuple[Shop, ...]


class CatalogLookup:
    """Product and variant ids to product rows, as sorted 64-bit string hashes (a dict of
    100,000 ids costs ten times as much). A hash may collide: callers check the id they get."""

    def __init__(self, product_hashes: array[int], variant_hashes: array[int], owners: array[int]):
        products = np.frombuffer(product_hashes, dtype=np.int64)
        self._products = np.sort(products, kind="stable")
        self._product_rows = np.argsort(products, kind="stable").astype(np.int32)
        variants = np.frombuffer(variant_hashes, dtype=np.int64)
        order = np.argsort(variants, kind="stable")
        self._variants = variants[order]
        self._variant_rows = np.frombuffer(owners, dtype=np.int32)[order]

    @property
    def nbytes(self) -> int:
        arrays = (self._products, self._product_rows, self._variants, self._variant_rows)
        return sum(a.nbytes for a in arrays)

    def product_rows(self, product_id: str) -> list[int]:
        return _rows(self._products, self._product_rows, product_id)

    def variant_rows(self, variant_id: str) -> list[int]:
        return _rows(self._variants, self._variant_rows, variant_id)


def _rows(keys: np.ndarray, rows: np.ndarray, text: str) -> list[int]:
    """Rows whose key is the text's hash, in catalog order (last one wins, as a dict's would)."""
    key = hash(text)
    start = int(np.searchsorted(keys, key, side="left"))
    end = int(np.searchsorted(keys, key, side="right"))
    return [int(row) for row in rows[start:end]]


class CatalogIndexer:
    """Takes the catalog a page at a time (`add`), then `finish()` makes its columns."""

    def __init__(self, encoder: Encoder | None = None) -> None:
        self.encoder = encoder
        self._packer = ProductPacker()
        self._bm25 = Bm25Builder()
        self._count = 0
        self._variant_count = 0
        self._quality = array("f")
        self._in_stock = array("b")
        self._min_price = array("q")
        self._max_price = array("q")
        self._uncoloured = array("b")
        self._kinds: dict[str, array[int]] = {}
        self._colours: dict[str, array[int]] = {}
        self._sizes: dict[str, array[int]] = {}
        self._words: Counter[str] = Counter()
        self._product_hashes = array("q")
        self._variant_hashes = array("q")
        self._variant_owners = array("i")
        self._shops: dict[tuple[str, str], Shop] = {}
        self._vectors = VectorBuilder()

    def add(self, products: Iterable[Product]) -> None:
        page = list(products)
        self._packer.add(page)
        for product in page:
            self._add_one(product)
        if self.encoder is not None and page:
            self._vectors.add(self.encoder.encode([dense_text(p) for p in page]))

    def _add_one(self, product: Product) -> None:
        row = self._count
        self._count += 1
        self._bm25.add(weighted_document(product))
        self._quality.append(rating_term(product))
        self._in_stock.append(product.in_stock)
        prices = [v.price for v in product.variants]
        self._min_price.append(min(prices))
        self._max_price.append(max(prices))
        for token in set(tokens(product.category.split(">")[-1])):
            self._kinds.setdefault(token, array("i")).append(row)
        facts = facts_of(product)
        for options in facts.variants:
            for word in options.colour or ():
                self._colours.setdefault(word, array("i")).append(row)
            if options.size:
                self._sizes.setdefault(options.size, array("i")).append(row)
        self._uncoloured.append(all(v.colour is None for v in facts.variants))
        self._words.update(speller_words(plain_text(product)))
        self._product_hashes.append(hash(product.id))
        for variant in product.variants:
            self._variant_hashes.append(hash(variant.id))
            self._variant_owners.append(row)
        self._variant_count += len(product.variants)
        self._shops.setdefault(
            (product.merchant_id, product.merchant_name),
            Shop(product.merchant_id, product.merchant_name, product.policies),
        )

    def finish(self) -> CatalogColumns:
        def rows(postings: dict[str, array[int]]) -> dict[str, np.ndarray]:
            return {key: np.frombuffer(found, dtype=np.int32) for key, found in postings.items()}

        return CatalogColumns(
            products=self._packer.finish(),
            variant_count=self._variant_count,
            bm25=self._bm25.build(),
            quality=np.frombuffer(self._quality, dtype=np.float32),
            in_stock=np.frombuffer(self._in_stock, dtype=np.int8).astype(bool),
            min_price=np.frombuffer(self._min_price, dtype=np.int64),
            max_price=np.frombuffer(self._max_price, dtype=np.int64),
            kinds=rows(self._kinds),
            colours=rows(self._colours),
            sizes=rows(self._sizes),
            uncoloured=np.frombuffer(self._uncoloured, dtype=np.int8).astype(bool),
            vectors=self._vectors.finish() if self.encoder is not None else None,
            speller=Speller.from_counts(self._words),
            lookup=CatalogLookup(self._product_hashes, self._variant_hashes, self._variant_owners),
            shops=tuple(self._shops.values()),
        )

"""The compact product index: products and variants found by id as the feed gave them, BM25 as
bm25s scores it, the same ranking however the catalog arrives, and a refresh that swaps in the
new catalog."""

from __future__ import annotations

from typing import Any

import bm25s
import numpy as np
import pytest
from sqlalchemy import create_engine, update
from sqlmodel import col

from assistant.catalog.bm25 import Bm25Builder
from assistant.catalog.evaluation import ranked_titles
from assistant.catalog.exclusions import Exclusion
from assistant.catalog.index import ProductIndex, weighted_document
from assistant.catalog.indexing import CatalogIndexer
from assistant.catalog.packed import ProductPacker
from assistant.catalog.products import Product, Variant, products_from_feed
from assistant.catalog.query import SearchQuery
from assistant.catalog.vectors import BLOCK_ROWS, VectorBuilder
from checkout.store.rows import VariantRow
from tests.assistant.shopper import Platform
from tests.assistant.test_recommendation import QUERIES, SHOPPER_QUERIES
from tests.support import OPERATOR_KEY

pytestmark = pytest.mark.anyio


@pytest.fixture
async def feed(stack: Platform) -> list[dict[str, Any]]:
    return await stack.service.checkout.catalog()


def make_product(**changes: Any) -> Product:
    values: dict[str, Any] = {
        "id": "prd_1",
        "merchant_id": "mch_1",
        "merchant_name": "Clay & Kiln",
        "title": "Speckled Stoneware Mug",
        "description": "Hand-thrown, glazed in café crème.",
        "variants": (
            Variant("var_1", "Blue", 3200, "usd", 4, (("Color", "Blue"),), list_price=3800),
            Variant("var_2", "White", 3000, "usd", 0, (("Color", "White"),)),
        ),
        "category": "Home & Living > Kitchen & Dining > Mugs",
        "tags": ("mug", "handmade"),
        "material": "stoneware",
        "rating": 4.8,
        "review_count": 211,
        "url": "https://example.com/mug",
        "images": ("https://example.com/mug.jpg",),
        "policies": (("refund_policy", "https://example.com/returns"),),
    }
    values.update(changes)
    return Product(**values)


def test_stored_embeddings_give_each_products_cosine_within_a_quarter_percent() -> None:
    rng = np.random.default_rng(3)
    vectors = rng.normal(size=(BLOCK_ROWS + 300, 256)).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    vectors[5] = 0.0  # a product with no text to embed
    builder = VectorBuilder()
    for start in range(0, len(vectors), 1000):  # page by page, across a block's end
        builder.add(vectors[start : start + 1000])
    stored = builder.finish()
    assert stored is not None
    query = vectors[7]
    exact = vectors @ query
    assert np.abs(stored.similarity(query, len(vectors), None) - exact).max() < 2.5e-3
    rows = np.array([5, 7, BLOCK_ROWS - 1, BLOCK_ROWS, len(vectors) - 1])
    some = stored.similarity(query, len(vectors), rows)
    assert np.abs(some[rows] - exact[rows]).max() < 2.5e-3
    assert some[7] == pytest.approx(1.0, abs=1e-3) and some[5] == 0.0
    assert not np.delete(some, rows).any()
    assert stored.nbytes < vectors.nbytes / 3


def test_packed_products_unpack_equal_to_what_was_packed() -> None:
    products = [
        make_product(),
        make_product(id="prd_2", material=None, rating=None, review_count=None, url=None),
        make_product(id="prd_3", tags=(), images=(), policies=(), description=""),
    ]
    packer = ProductPacker()
    packer.add(products)
    packed = packer.finish()
    assert list(packed) == products
    assert packed[-1] == products[-1] and packed[0:2] == products[:2]
    with pytest.raises(IndexError):
        packed[3]


async def test_every_product_and_variant_is_found_by_its_id(feed: list[dict[str, Any]]) -> None:
    products = products_from_feed(feed)
    index = ProductIndex(products)
    assert len(index) == len(products) and list(index.products) == products
    for product in products:
        assert index.product(product.id) == product
        for variant in product.variants:
            assert index.variant(variant.id) == (product, variant)
    assert index.product("prd_missing") is None and index.variant("var_missing") is None
    assert index.variant_count == sum(len(p.variants) for p in products)


async def test_bm25_scores_are_bm25s_scores_to_the_last_bit(feed: list[dict[str, Any]]) -> None:
    documents = [weighted_document(p) for p in products_from_feed(feed)]
    reference = bm25s.BM25()
    reference.index(documents, show_progress=False)
    ours = Bm25Builder()
    for document in documents:
        ours.add(document)
    built = ours.build()
    vocabulary = sorted({t for d in documents for t in d})
    for query in [[t] for t in vocabulary] + [vocabulary[i : i + 3] for i in range(0, 60, 3)]:
        expected = np.asarray(reference.get_scores(query), dtype=np.float32)
        assert np.array_equal(built.scores(query), expected), query


async def test_a_catalog_indexed_page_by_page_ranks_as_one_indexed_at_once(
    feed: list[dict[str, Any]],
) -> None:
    products = products_from_feed(feed)
    indexer = CatalogIndexer()
    for start in range(0, len(products), 7):
        indexer.add(products[start : start + 7])
    paged = ProductIndex(columns=indexer.finish())
    whole = ProductIndex(products)
    for judged in QUERIES + SHOPPER_QUERIES:
        assert ranked_titles(paged, judged.query) == ranked_titles(whole, judged.query)


async def test_an_excluded_word_leaves_out_what_names_it_and_keeps_the_rest(
    feed: list[dict[str, Any]],
) -> None:
    products = products_from_feed(feed)
    index = ProductIndex(products)
    query = SearchQuery(text="beanie", exclude=("charcoal",))
    exclusion = Exclusion(query.exclude)
    results = index.search(query, limit=20)
    assert results
    for match in results:
        assert not exclusion.product_out(match.product)
        assert exclusion.variant_ok(match.variant)
    # A product that has the word only in some variants' options is kept in its other ones.
    assert any(not all(exclusion.variant_ok(v) for v in m.product.variants) for m in results)


async def test_a_refresh_swaps_in_the_catalog_as_it_now_is(stack: Platform) -> None:
    before = stack.service.index
    product = before.products[0]
    variant = product.variants[0]
    engine = create_engine(stack.database_url)
    with engine.begin() as connection:
        connection.execute(
            update(VariantRow).where(col(VariantRow.id) == variant.id).values(inventory=0)
        )
    engine.dispose()
    answer = await stack.http.post(
        "/assistant/index/refresh", headers={"Authorization": f"Bearer {OPERATOR_KEY}"}
    )
    assert answer.status_code == 200
    after = stack.service.index
    assert after is not before
    assert answer.json()["variants"] == after.variant_count == before.variant_count
    found = after.variant(variant.id)
    assert found is not None and found[1].available_quantity == 0
    assert before.variant(variant.id) == (product, variant)  # the old index is left as it was

"""Quality floors on the shopper evaluation written before tuning (tests/assistant_eval/).

152 judged queries in eight categories and 40 scripted conversations, tuning and held-out
parts together. The floors sit a little below what the benchmark measured
(`python -m benchmarks.recommendation`); nothing here measures time.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from assistant.catalog.embeddings import load_encoder
from assistant.catalog.evaluation import evaluate_by_category, load_queries
from assistant.catalog.index import ProductIndex
from assistant.catalog.products import products_from_feed
from tests.assistant.shopper import Platform
from tests.assistant_eval.conversations import load_scripts, play

pytestmark = pytest.mark.anyio
ROOT = Path(__file__).resolve().parents[2]
SHOPPER_QUERIES = load_queries(ROOT / "tests" / "assistant_eval" / "shopper_queries.json")
OVERALL_NDCG_FLOOR, CATEGORY_NDCG_FLOOR, RECALL_FLOOR = 0.95, 0.88, 0.85
CONVERSATION_FLOOR = 0.95


@pytest.fixture
async def feed(stack: Platform) -> list[dict[str, Any]]:
    return await stack.service.checkout.catalog()


async def test_the_evaluation_has_its_named_categories_and_a_held_out_fifth() -> None:
    categories = {q.category for q in SHOPPER_QUERIES}
    assert categories == {
        "plain",
        "multi_constraint",
        "typos",
        "slang",
        "negations",
        "indirect",
        "comparisons",
        "merchant_budget",
    }
    assert len(SHOPPER_QUERIES) >= 150
    held_out = [q for q in SHOPPER_QUERIES if q.held_out]
    assert len(held_out) >= len(SHOPPER_QUERIES) // 5
    scripts = load_scripts()
    assert len(scripts) >= 40 and sum(s.held_out for s in scripts) >= len(scripts) // 5


async def test_the_ranker_clears_its_floors_in_every_category(
    feed: list[dict[str, Any]],
) -> None:
    index = ProductIndex(products_from_feed(feed), encoder=load_encoder())
    ranker = evaluate_by_category(index, SHOPPER_QUERIES)
    baseline = evaluate_by_category(index, SHOPPER_QUERIES, baseline=True)
    assert ranker["overall"].queries >= 150
    assert ranker["overall"].ndcg_at_5 >= OVERALL_NDCG_FLOOR
    assert ranker["overall"].recall_at_10 >= RECALL_FLOOR
    assert ranker["overall"].ndcg_at_5 > baseline["overall"].ndcg_at_5
    below = {c: s.ndcg_at_5 for c, s in ranker.items() if s.ndcg_at_5 < CATEGORY_NDCG_FLOOR}
    assert below == {}


async def test_the_scripted_conversations_end_as_scripted(stack: Platform) -> None:
    played = [await play(stack, script) for script in load_scripts()]
    failed = {p.script.id: p.differences for p in played if not p.ended_as_scripted}
    assert len(failed) <= len(played) * (1 - CONVERSATION_FLOOR), failed

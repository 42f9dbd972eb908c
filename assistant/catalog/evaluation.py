"""Offline evaluation of the ranker: graded judgments, nDCG@k and recall@k, ranker vs plain BM25.

Used by the evaluation test (quality floors) and `python -m benchmarks.recommendation`.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from statistics import mean

from assistant.catalog.index import ProductIndex
from assistant.dialogue.language import to_search_query, understand


@dataclass(frozen=True, slots=True)
class Judged:
    query: str
    relevant: dict[str, int]  # product title -> grade (1 relevant, 2 exactly what was asked)
    category: str = "all"
    held_out: bool = False


@dataclass(frozen=True, slots=True)
class Scores:
    ndcg_at_5: float
    recall_at_10: float
    queries: int


def load_queries(path: Path) -> list[Judged]:
    document = json.loads(path.read_text())
    return [
        Judged(
            q["query"],
            dict(q["relevant"]),
            category=q.get("category", "all"),
            held_out=bool(q.get("held_out", False)),
        )
        for q in document["queries"]
    ]


def ndcg_at(ranked: Sequence[str], judged: Mapping[str, int], k: int) -> float:
    """Normalised discounted cumulative gain with graded gains (2^g - 1)."""
    gain = sum((2 ** judged.get(t, 0) - 1) / math.log2(i + 2) for i, t in enumerate(ranked[:k]))
    ideal = sorted(judged.values(), reverse=True)[:k]
    best = sum((2**g - 1) / math.log2(i + 2) for i, g in enumerate(ideal))
    return gain / best if best else 0.0


def recall_at(ranked: Sequence[str], judged: Mapping[str, int], k: int) -> float:
    relevant = {t for t, g in judged.items() if g > 0}
    return len(relevant & set(ranked[:k])) / len(relevant) if relevant else 0.0


def ranked_titles(index: ProductIndex, text: str, *, baseline: bool = False) -> list[str]:
    """The top ten titles for a shopper's sentence: the assistant's pipeline or plain BM25."""
    if baseline:
        ids = index.plain_bm25(text, limit=10)
    else:
        ids = [m.product.id for m in index.search(to_search_query(understand(text)), limit=10)]
    titles = []
    for product_id in ids:
        product = index.product(product_id)
        if product is not None:
            titles.append(product.title)
    return titles


def evaluate(index: ProductIndex, queries: Sequence[Judged], *, baseline: bool = False) -> Scores:
    titles = {p.title for p in index.products}
    scored = []
    for judged in queries:
        relevant = {t: g for t, g in judged.relevant.items() if t in titles}
        if not relevant:
            continue
        ranked = ranked_titles(index, judged.query, baseline=baseline)
        scored.append((ndcg_at(ranked, relevant, 5), recall_at(ranked, relevant, 10)))
    return Scores(
        ndcg_at_5=mean(s[0] for s in scored) if scored else 0.0,
        recall_at_10=mean(s[1] for s in scored) if scored else 0.0,
        queries=len(scored),
    )


def evaluate_by_category(
    index: ProductIndex, queries: Sequence[Judged], *, baseline: bool = False
) -> dict[str, Scores]:
    """Scores per named category, and over all of them ("overall")."""
    categories = sorted({q.category for q in queries})
    report = {
        c: evaluate(index, [q for q in queries if q.category == c], baseline=baseline)
        for c in categories
    }
    report["overall"] = evaluate(index, queries, baseline=baseline)
    return report

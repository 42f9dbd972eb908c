"""Recommendation quality and speed: the assistant's ranker against plain BM25.

Quality: nDCG@5 and recall@10 by category on tests/assistant_eval/shopper_queries.json (152
shopper queries judged from the seeds, a held-out fifth reported apart from the tuning part), and
on the original tests/assistant_eval/queries.json, for the ranker (query understanding, field
weights, synonyms, typo correction, exclusions, filters, quality signals, dense embeddings) and
for a plain-BM25 baseline (the same tokens over the unweighted text, the raw query, no filters,
no quality). The catalog is fetched from a checkout started in-process on a temporary SQLite
file, as checkout serves it (ratings, reviews, tags and materials included).

Conversations: the 40 scripts of tests/assistant_eval/conversations.json played through the
assistant's chat API against the whole platform in-process (checkout over ACP, sandbox
payments and shops); success rate (tuning and held-out parts) and per-turn latency p50/p95,
with the baseline measured in the same run: each turn's time inside checkout (timed at the
assistant's HTTP client) and what is left, the assistant's own; process CPU per turn; each
checkout endpoint's p50/p95. On SQLite, and on PostgreSQL with --postgres-url.

Speed: p50/p95 latency of one search (understanding + retrieval + filters + ranking + reasons)
on a synthetic 100k-product catalog generated in-process, against plain BM25; then the same
40 scripts played with that catalog in the assistant's index beside the seeded one (per-turn
p50/p95 and the same split). Numbers are printed and written to
benchmarks/results/recommendation.json; nothing here asserts a timing.

Usage: ./dev bench recommendation [--products 100000] [--queries 400] [--seed 7]
       [--skip-speed] [--postgres-url postgresql+psycopg://postgres@127.0.0.1:5432/postgres]
"""

from __future__ import annotations

import argparse
import contextlib
import importlib.util
import json
import logging
import random
import re
import statistics
import tempfile
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx

from assistant.catalog.embeddings import load_encoder
from assistant.catalog.evaluation import Scores, evaluate, evaluate_by_category, load_queries
from assistant.catalog.index import ProductIndex
from assistant.catalog.products import products_from_feed
from assistant.dialogue.language import to_search_query, understand

ROOT = Path(__file__).resolve().parent.parent
QUERIES = ROOT / "tests" / "assistant_eval" / "queries.json"
SHOPPER_QUERIES = ROOT / "tests" / "assistant_eval" / "shopper_queries.json"
RESULTS = ROOT / "benchmarks" / "results" / "recommendation.json"

KINDS = {
    "Home & Living > Kitchen & Dining > Mugs": ["mug", "latte mug", "travel mug", "tea cup"],
    "Home & Living > Kitchen & Dining > Bowls": ["bowl", "serving bowl", "ramen bowl"],
    "Home & Living > Home Decor > Vases": ["vase", "bud vase", "moon jar"],
    "Home & Living > Home Decor > Candles": ["candle", "soy candle", "pillar candle"],
    "Jewelry > Rings": ["ring", "band", "signet ring"],
    "Jewelry > Earrings": ["earrings", "hoops", "studs"],
    "Apparel > Tops > T-Shirts": ["tee", "t-shirt", "long sleeve tee"],
    "Apparel > Tops > Hoodies & Sweatshirts": ["hoodie", "sweatshirt", "zip hoodie"],
    "Apparel > Footwear > Running Shoes": ["running shoe", "trail shoe", "trainer"],
    "Apparel > Accessories > Socks": ["socks", "crew socks", "hiking socks"],
    "Home > Living Room > Throw Blankets": ["throw", "blanket", "knit throw"],
    "Home > Bedroom > Bedding": ["duvet cover", "sheet set", "pillowcase"],
    "Art & Collectibles > Prints > Art Prints": ["art print", "poster", "linocut print"],
}
MATERIALS = ["stoneware", "porcelain", "linen", "cotton", "merino wool", "sterling silver"]
MATERIALS += ["14k gold", "soy wax", "recycled nylon", "waxed canvas", "bamboo", "oak"]
ADJECTIVES = ["speckled", "hammered", "classic", "minimal", "rustic", "handmade", "cozy"]
ADJECTIVES += ["lightweight", "heavyweight", "vintage", "modern", "organic", "waffle", "ribbed"]
COLOURS = ["Charcoal", "Oatmeal", "Sky Blue", "Navy", "Forest Green", "Terracotta", "White"]
COLOURS += ["Black", "Blush Pink", "Mustard", "Sage Green", "Indigo"]
SIZES = ["S", "M", "L", "XL"]
FILLER = ["made", "in", "small", "batches", "with", "care", "for", "everyday", "use", "gifting"]
SYNTHETIC_QUERIES = [
    "blue stoneware mug under $40",
    "merino wool socks size M",
    "sterling silver ring",
    "cozy linen throw blanket",
    "cheap soy candle",
    "organic cotton tee in navy size L",
    "running shoes",
    "gift for my sister who loves pottery",
    "waxed canvas backpack",
    "art print between 20 and 60 dollars",
    "only in stock hoodie in forest green",
    "vintage vase",
]


def seeded_feed() -> list[dict[str, Any]]:
    """The catalog as checkout serves it: a checkout app on a temporary SQLite file."""
    from fastapi.testclient import TestClient

    from checkout.app import create_app
    from checkout.settings import Settings

    with tempfile.TemporaryDirectory() as folder:
        settings = Settings(
            database_url=f"sqlite:///{folder}/bench.db",
            agent_api_key="agent_bench_key_01",
            background_jobs=False,
        )
        headers = {"Authorization": "Bearer agent_bench_key_01", "API-Version": "2026-04-17"}
        products: list[dict[str, Any]] = []
        with TestClient(create_app(settings)) as client:
            cursor: str | None = None
            while True:
                params: dict[str, Any] = {"limit": 100}
                if cursor:
                    params["cursor"] = cursor
                page = client.get("/catalog/products", params=params, headers=headers).json()
                products.extend(page["products"])
                cursor = page.get("next_cursor")
                if not cursor:
                    return products


def synthetic_feed(count: int, rng: random.Random, *, first: int = 0) -> list[dict[str, Any]]:
    """`count` synthetic products numbered from `first` (so a large catalog can be made in parts)."""
    feed = []
    categories = list(KINDS)
    for number in range(first, first + count):
        category = rng.choice(categories)
        kind = rng.choice(KINDS[category])
        material = rng.choice(MATERIALS)
        title = f"{rng.choice(ADJECTIVES).title()} {material.title()} {kind.title()}"
        words = [f"A {rng.choice(ADJECTIVES)} {kind} in {material},", *rng.sample(FILLER, 6)]
        description = " ".join([*words, rng.choice(ADJECTIVES), rng.choice(MATERIALS)])
        price = rng.randrange(800, 25000, 100)
        colours = rng.sample(COLOURS, rng.randint(1, 3))
        sizes = rng.sample(SIZES, rng.randint(1, 3)) if "Apparel" in category else [None]
        variants = []
        for colour in colours:
            for size in sizes:
                options = [{"name": "Color", "value": colour}]
                if size:
                    options.append({"name": "Size", "value": size})
                stock = rng.choice([0, 1, 2, 5, 20, 40])
                variants.append(
                    {
                        "id": f"var_syn_{number}_{colour}_{size}",
                        "title": " / ".join(o["value"] for o in options),
                        "price": {"amount": price, "currency": "USD"},
                        "available_quantity": stock,
                        "availability": {"available": stock > 0},
                        "variant_options": options,
                        "seller": {"name": f"Shop {number % 500}"},
                        "categories": [{"value": category, "taxonomy": "merchant"}],
                    }
                )
        feed.append(
            {
                "id": f"prd_syn_{number}",
                "merchant_id": f"mch_syn_{number % 500}",
                "title": title,
                "description": {"plain": description},
                "variants": variants,
                "rating": round(rng.uniform(3.5, 5.0), 1),
                "review_count": rng.randint(0, 800),
            }
        )
    return feed


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(int(share * len(ordered)), len(ordered) - 1)]


def quality(feed: list[dict[str, Any]], *, dense: bool = False) -> dict[str, dict[str, float]]:
    judged = load_queries(QUERIES)
    encoder = load_encoder() if dense else None
    index = ProductIndex(products_from_feed(feed), encoder=encoder)

    def row(scores: Scores) -> dict[str, float]:
        return {
            "ndcg_at_5": round(scores.ndcg_at_5, 4),
            "recall_at_10": round(scores.recall_at_10, 4),
            "queries": scores.queries,
        }

    return {
        "ranker": row(evaluate(index, judged)),
        "plain_bm25": row(evaluate(index, judged, baseline=True)),
    }


def _row(scores: Scores) -> dict[str, float]:
    return {
        "ndcg_at_5": round(scores.ndcg_at_5, 4),
        "recall_at_10": round(scores.recall_at_10, 4),
        "queries": scores.queries,
    }


def quality_by_category(feed: list[dict[str, Any]]) -> dict[str, Any]:
    """The shopper set by category, tuning and held-out parts apart, ranker against plain BM25."""
    judged = load_queries(SHOPPER_QUERIES)
    index = ProductIndex(products_from_feed(feed), encoder=load_encoder())
    report: dict[str, Any] = {}
    for part, held_out in (("tuning", False), ("held_out", True)):
        chosen = [q for q in judged if q.held_out == held_out]
        ranker = evaluate_by_category(index, chosen)
        baseline = evaluate_by_category(index, chosen, baseline=True)
        report[part] = {
            category: {"ranker": _row(ranker[category]), "plain_bm25": _row(baseline[category])}
            for category in ranker
        }
    return report


class CheckoutMeter:
    """Time spent inside checkout, measured at the assistant's HTTP client to checkout.

    Checkout runs in-process (ASGI), so a call's time is checkout's own request handling plus
    the in-process transport; the rest of a turn is the assistant's.
    """

    def __init__(self) -> None:
        self.total_ms = 0.0
        self.by_endpoint: dict[str, list[float]] = {}

    def attach(self, client: httpx.AsyncClient) -> None:
        client.event_hooks["request"].append(self._started)
        client.event_hooks["response"].append(self._answered)

    async def _started(self, request: httpx.Request) -> None:
        request.extensions["bench_started"] = time.perf_counter()

    async def _answered(self, response: httpx.Response) -> None:
        request = response.request
        elapsed = (time.perf_counter() - request.extensions["bench_started"]) * 1000
        self.total_ms += elapsed
        path = "/".join(
            "{id}" if re.search(r"\d", part) else part for part in request.url.path.split("/")
        )
        self.by_endpoint.setdefault(f"{request.method} {path}", []).append(elapsed)

    def read(self) -> float:
        return self.total_ms


def _spread(values: list[float]) -> dict[str, float]:
    return {
        "p50": round(statistics.median(values), 2) if values else 0.0,
        "p95": round(percentile(values, 0.95), 2) if values else 0.0,
        "count": len(values),
    }


def conversations(
    extra_feed: list[dict[str, Any]] | None = None, database_url: str | None = None
) -> dict[str, Any]:
    """Every script played through the chat API on the whole platform, in-process.

    With `extra_feed`, the assistant's index holds those products beside the seeded catalog
    (checkout sells only the seeded ones), to time turns against a large catalog. The database
    is a temporary SQLite file unless `database_url` names an empty one.
    """
    import anyio

    from tests.assistant.shopper import platform
    from tests.assistant_eval.conversations import Played, load_scripts, play

    meter = CheckoutMeter()

    async def run() -> list[Played]:
        with tempfile.TemporaryDirectory() as folder:
            url = database_url or f"sqlite:///{folder}/conversations.db"
            async with platform(url) as stack:
                if extra_feed:
                    service = stack.service
                    products = [*service.index.products, *products_from_feed(extra_feed)]
                    # The benchmark swaps the index in place of a catalog refresh from checkout.
                    service._index = ProductIndex(products, encoder=service.encoder)
                meter.attach(stack.service.checkout.http)
                return [
                    await play(stack, script, checkout_meter=meter.read)
                    for script in load_scripts()
                ]

    logging.disable(logging.INFO)  # the platform logs every request at INFO
    try:
        played = anyio.run(run)
    finally:
        logging.disable(logging.NOTSET)
    turns = [ms for p in played for ms in p.turn_ms]
    report: dict[str, Any] = {}
    for part, held_out in (("tuning", False), ("held_out", True)):
        chosen = [p for p in played if p.script.held_out == held_out]
        report[part] = {
            "scripts": len(chosen),
            "ended_as_scripted": sum(p.ended_as_scripted for p in chosen),
            "success_rate": round(sum(p.ended_as_scripted for p in chosen) / len(chosen), 4),
        }
    # Only the tuning part's failures are shown: the held-out scripts are counted, never read.
    report["tuning_failures"] = {
        p.script.id: p.differences[:2]
        for p in played
        if not p.ended_as_scripted and not p.script.held_out
    }
    report["turn_ms_p50"] = round(statistics.median(turns), 2)
    report["turn_ms_p95"] = round(percentile(turns, 0.95), 2)
    report["turns"] = len(turns)
    # Turns answered by the assistant alone (search, references, questions) apart from turns
    # that call checkout over ACP (sessions, delegate_payment, complete).
    for name, wanted in (("assistant_only", False), ("calling_checkout", True)):
        chosen = [
            ms
            for p in played
            for ms, c in zip(p.turn_ms, p.at_checkout, strict=True)
            if c == wanted
        ]
        report[f"{name}_turn_ms_p50"] = round(statistics.median(chosen), 2)
        report[f"{name}_turn_ms_p95"] = round(percentile(chosen, 0.95), 2)
        report[f"{name}_turns"] = len(chosen)
    # The baseline measured in the same run: each turn's time inside checkout, and what is
    # left of the turn once checkout's share is taken away (the assistant's own work).
    in_checkout = [ms for p in played for ms in p.checkout_ms]
    own = [t - c for p in played for t, c in zip(p.turn_ms, p.checkout_ms, strict=True)]
    report["per_turn_cpu_ms"] = _spread([ms for p in played for ms in p.cpu_ms])
    report["per_turn_in_checkout_ms"] = _spread(in_checkout)
    report["per_turn_assistant_own_ms"] = _spread(own)
    report["checkout_endpoints_ms"] = {
        name: _spread(values) for name, values in sorted(meter.by_endpoint.items())
    }
    return report


def speed(feed: list[dict[str, Any]], queries: int, rng: random.Random) -> dict[str, float]:
    started = time.perf_counter()
    index = ProductIndex(products_from_feed(feed))
    built = time.perf_counter() - started
    texts = SYNTHETIC_QUERIES + [j.query for j in load_queries(QUERIES)]
    sample = [rng.choice(texts) for _ in range(queries)]
    for text in texts[:5]:  # warm-up
        index.search(to_search_query(understand(text)))
    ranker, baseline = [], []
    for text in sample:
        begin = time.perf_counter()
        index.search(to_search_query(understand(text)), limit=5)
        ranker.append((time.perf_counter() - begin) * 1000)
        begin = time.perf_counter()
        index.plain_bm25(text, limit=5)
        baseline.append((time.perf_counter() - begin) * 1000)
    return {
        "products": len(feed),
        "variants": sum(len(p["variants"]) for p in feed),
        "queries": queries,
        "build_seconds": round(built, 2),
        "ranker_p50_ms": round(statistics.median(ranker), 2),
        "ranker_p95_ms": round(percentile(ranker, 0.95), 2),
        "plain_bm25_p50_ms": round(statistics.median(baseline), 2),
        "plain_bm25_p95_ms": round(percentile(baseline, 0.95), 2),
    }


@contextlib.contextmanager
def fresh_postgres_database(server_url: str) -> Iterator[str]:
    """An empty database of its own on the PostgreSQL server at `server_url`, dropped after."""
    from sqlalchemy import create_engine, text

    name = f"acp_bench_{uuid.uuid4().hex[:12]}"
    admin = create_engine(server_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield server_url.rsplit("/", 1)[0] + f"/{name}"
    finally:
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def print_turns(catalog: str, c: dict[str, Any]) -> None:
    print(f"  per turn on {catalog}: p50 {c['turn_ms_p50']} ms  p95 {c['turn_ms_p95']} ms")
    for name in ("assistant_only", "calling_checkout"):
        print(
            f"    {name:<17} p50 {c[name + '_turn_ms_p50']} ms  p95 {c[name + '_turn_ms_p95']} ms"
            f"  ({c[name + '_turns']} turns)"
        )
    for name, label in (
        ("per_turn_cpu_ms", "process CPU"),
        ("per_turn_in_checkout_ms", "inside checkout"),
        ("per_turn_assistant_own_ms", "assistant's own"),
    ):
        print(f"    {label:<17} p50 {c[name]['p50']} ms  p95 {c[name]['p95']} ms")
    slowest = sorted(c["checkout_endpoints_ms"].items(), key=lambda kv: -kv[1]["p95"])[:4]
    print(
        "    checkout calls:   "
        + ", ".join(
            f"{name} p50 {v['p50']}/p95 {v['p95']} ms (n={v['count']})" for name, v in slowest
        )
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--products", type=int, default=100_000)
    parser.add_argument("--queries", type=int, default=400)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--skip-speed", action="store_true", help="quality and conversations only")
    parser.add_argument(
        "--postgres-url",
        default=None,
        help="also play the conversations on a fresh database on this PostgreSQL server",
    )
    args = parser.parse_args()

    feed = seeded_feed()
    report: dict[str, Any] = {
        "evaluation_set": str(QUERIES.relative_to(ROOT)),
        "quality_today": quality(feed),
    }
    if importlib.util.find_spec("wordllama") is not None:  # EMBEDDINGS=true, when installed
        report["quality_today_with_embeddings"] = quality(feed, dense=True)
    print(f"Quality on {report['quality_today']['ranker']['queries']} judged queries:")
    for name in [k for k in report if k.startswith("quality")]:
        for system, scores in report[name].items():
            print(
                f"  {name:<30} {system:<11} nDCG@5 {scores['ndcg_at_5']:.3f}  "
                f"recall@10 {scores['recall_at_10']:.3f}"
            )
    report["by_category"] = quality_by_category(feed)
    for part, table in report["by_category"].items():
        print(f"Shopper queries, {part} part (nDCG@5 / recall@10, ranker vs plain BM25):")
        for category, rows in table.items():
            r, b = rows["ranker"], rows["plain_bm25"]
            print(
                f"  {category:<17} {r['ndcg_at_5']:.3f} / {r['recall_at_10']:.3f}   "
                f"BM25 {b['ndcg_at_5']:.3f} / {b['recall_at_10']:.3f}   ({r['queries']} queries)"
            )
    report["conversations"] = conversations()
    c = report["conversations"]
    for part in ("tuning", "held_out"):
        print(
            f"Conversations, {part}: {c[part]['ended_as_scripted']}/{c[part]['scripts']} ended "
            f"as scripted ({c[part]['success_rate']:.0%})"
        )
    print_turns("the seeded catalog", c)
    if args.postgres_url:
        with fresh_postgres_database(args.postgres_url) as url:
            report["conversations_postgres"] = conversations(database_url=url)
        print_turns("the seeded catalog, on PostgreSQL", report["conversations_postgres"])
    if args.skip_speed:
        RESULTS.parent.mkdir(parents=True, exist_ok=True)
        RESULTS.write_text(json.dumps(report, indent=2) + "\n")
        return
    rng = random.Random(args.seed)
    large = synthetic_feed(args.products, rng)
    report["speed"] = speed(large, args.queries, rng)
    s = report["speed"]
    print(
        f"Speed on {s['products']:,} synthetic products ({s['variants']:,} variants), "
        f"index built in {s['build_seconds']} s:"
    )
    print(f"  ranker      p50 {s['ranker_p50_ms']} ms  p95 {s['ranker_p95_ms']} ms")
    print(f"  plain BM25  p50 {s['plain_bm25_p50_ms']} ms  p95 {s['plain_bm25_p95_ms']} ms")
    report["conversations_large_catalog"] = conversations(extra_feed=large)
    big = report["conversations_large_catalog"]
    print_turns(f"the seeded catalog plus {len(large):,} synthetic products", big)
    print(
        "  (scripts are judged against the seeded catalog, so synthetic products may outrank "
        f"them: {big['tuning']['ended_as_scripted'] + big['held_out']['ended_as_scripted']}/"
        f"{big['tuning']['scripts'] + big['held_out']['scripts']} ended as scripted)"
    )
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(report, indent=2) + "\n")
    print(f"Wrote {RESULTS.relative_to(ROOT)}")


if __name__ == "__main__":
    main()

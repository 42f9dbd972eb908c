"""Memory of one served worker (checkout and the assistant) holding a large catalog, and search speed.

Writes `--products` synthetic products (benchmarks.recommendation's generator: titles,
descriptions, categories, colours, sizes, ratings) straight into a fresh database's catalog
tables, in parts, so 100,000 take seconds rather than a platform sync's minutes; the server adds
the seeded demo catalog at start-up as usual. Then serves it with `agentic-checkout serve` on a
free port, waits until the assistant's start-up log line says the catalog is indexed, and reads
the worker's VmRSS and VmHWM from /proc; asks for `--refreshes` index refreshes in a row (the old
and the new index live side by side until each swap) and reads them after each, so a worker whose
memory grows with every refresh shows it. The baseline, measured in the same run, is the same
server on the seeded catalog alone.

Search throughput, per worker: searches per second of the assistant's ranker in this process
(understanding + retrieval + filters + ranking + reasons, one thread) over the judged shopper
queries, on the seeded catalog and on the large one as the server serves it; and chat turns per
second through the served chat API with a few concurrent clients.

Usage: python -m benchmarks.worker_memory [--products 100000] [--database-url URL] [--clients 4]
       [--refreshes 3] [--skip-search]
Prints a table and writes benchmarks/results/worker_memory.json; nothing here asserts a timing.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import os
import random
import re
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import create_engine, insert

from assistant.catalog.embeddings import load_encoder
from assistant.catalog.evaluation import load_queries
from assistant.catalog.index import ProductIndex
from assistant.catalog.products import products_from_feed
from assistant.dialogue.language import to_search_query, understand
from benchmarks.recommendation import SHOPPER_QUERIES, seeded_feed, synthetic_feed
from checkout.store.db import upgrade_schema
from checkout.store.rows import MerchantRow, ProductRow, VariantRow
from tests.servers import free_port

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "benchmarks" / "results" / "worker_memory.json"
CLI = str(Path(sys.executable).parent / "agentic-checkout")
AGENT_KEY, OPERATOR_KEY = "agent_demo_key", "operator_demo_key"
PART = 5_000
STARTED = re.compile(r"assistant\.started .*products=(\d+)")
READY_CEILING_SECONDS = 900.0


def write_synthetic_catalog(url: str, products: int, seed: int = 7) -> None:
    """`products` synthetic products with their merchants and variants, written in parts."""
    upgrade_schema(url)
    engine = create_engine(url)
    now = datetime.now(UTC)
    rng = random.Random(seed)
    merchants: set[str] = set()
    with engine.begin() as connection:
        for first in range(0, products, PART):
            feed = synthetic_feed(min(PART, products - first), rng, first=first)
            new = sorted({p["merchant_id"] for p in feed} - merchants)
            if new:
                connection.execute(insert(MerchantRow), [_merchant(m, now) for m in new])
                merchants.update(new)
            connection.execute(insert(ProductRow), [_product(p, now) for p in feed])
            connection.execute(
                insert(VariantRow),
                [_variant(v, p["id"], p["merchant_id"], now) for p in feed for v in p["variants"]],
            )
    engine.dispose()


def _merchant(merchant_id: str, now: datetime) -> dict[str, Any]:
    return {
        "id": merchant_id,
        "name": f"Shop {merchant_id.rsplit('_', 1)[-1]}",
        "platform": "shopify",
        "shop_ref": f"{merchant_id}.myshopify.com",
        "currency": "usd",
        "country": "US",
        "links": {},
        "shipping": {},
        "commission_bps": 200,
        "commission_category_bps": {},
        "commission_fixed": 0,
        "commission_version": 1,
        "status": "active",
        "payment_status": "payable",
        "created_at": now,
    }


def _product(raw: dict[str, Any], now: datetime) -> dict[str, Any]:
    first = raw["variants"][0]
    return {
        "id": raw["id"],
        "merchant_id": raw["merchant_id"],
        "title": raw["title"],
        "description": raw["description"]["plain"],
        "category": first["categories"][0]["value"],
        "tags": [],
        "material": None,
        "rating": raw["rating"],
        "review_count": raw["review_count"],
        "digital": False,
        "url": None,
        "images": [],
        "active": True,
        "updated_at": now,
    }


def _variant(
    raw: dict[str, Any], product_id: str, merchant_id: str, now: datetime
) -> dict[str, Any]:
    return {
        "id": raw["id"],
        "product_id": product_id,
        "merchant_id": merchant_id,
        "title": raw["title"],
        "options": {o["name"]: o["value"] for o in raw["variant_options"]},
        "price": raw["price"]["amount"],
        "currency": "usd",
        "inventory": raw["available_quantity"],
        "active": True,
        "updated_at": now,
    }


@dataclass
class Worker:
    pid: int
    base_url: str
    products: int

    def memory_mib(self) -> dict[str, float]:
        """VmRSS (resident now) and VmHWM (the most it was resident), in MiB."""
        status = Path(f"/proc/{self.pid}/status").read_text()
        values = dict(re.findall(r"^(VmRSS|VmHWM):\s+(\d+) kB", status, re.MULTILINE))
        return {name: round(int(kb) / 1024, 1) for name, kb in values.items()}


@contextmanager
def served(database_url: str, folder: Path) -> Iterator[Worker]:
    """`agentic-checkout serve` (one worker) on `database_url`, once its assistant has indexed."""
    port = free_port()
    log_path = folder / f"serve-{port}.log"
    env = {
        **os.environ,
        "DATABASE_URL": database_url,
        # One build at start-up and the one this benchmark asks for, none on a timer.
        "CATALOG_REFRESH_SECONDS": "0",
        "LOG_LEVEL": "INFO",
    }
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            [CLI, "serve", "--port", str(port)],
            env=env,
            cwd=folder,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    try:
        deadline = time.monotonic() + READY_CEILING_SECONDS
        while not (found := STARTED.search(log_path.read_text(errors="replace"))):
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(log_path.read_text(errors="replace")[-3000:])
            time.sleep(0.2)
        yield Worker(process.pid, f"http://127.0.0.1:{port}", int(found.group(1)))
    finally:
        process.terminate()
        process.wait(timeout=60)


def measure_worker(worker: Worker, refreshes: int) -> dict[str, Any]:
    """Memory after start-up, then after each of `refreshes` index refreshes in a row: a
    worker's memory should settle, not grow with every refresh."""
    started = worker.memory_mib()
    seconds, after = [], []
    for _ in range(refreshes):
        began = time.perf_counter()
        refreshed = httpx.post(
            f"{worker.base_url}/assistant/index/refresh",
            headers={"Authorization": f"Bearer {OPERATOR_KEY}"},
            timeout=READY_CEILING_SECONDS,
        )
        refreshed.raise_for_status()
        seconds.append(round(time.perf_counter() - began, 1))
        after.append(worker.memory_mib())
    return {
        "products_indexed": worker.products,
        "after_start_mib": started,
        "refresh_seconds": seconds,
        "after_each_refresh_mib": after,
    }


def served_feed(base_url: str) -> list[dict[str, Any]]:
    """The catalog as the served checkout pages it to the assistant."""
    headers = {"Authorization": f"Bearer {AGENT_KEY}", "API-Version": "2026-04-17"}
    products: list[dict[str, Any]] = []
    cursor: str | None = None
    with httpx.Client(base_url=base_url, headers=headers, timeout=60) as http:
        while True:
            params: dict[str, Any] = {"limit": 100, **({"cursor": cursor} if cursor else {})}
            page = http.get("/catalog/products", params=params).json()
            products.extend(page["products"])
            cursor = page.get("next_cursor")
            if not cursor:
                return products


def ranker_throughput(index: ProductIndex, texts: list[str], seconds: float) -> float:
    """Searches per second, one thread, cycling through the queries for about `seconds`."""
    for text in texts[:5]:  # warm-up (caches, the encoder's first call)
        index.search(to_search_query(understand(text)))
    done, began = 0, time.perf_counter()
    while time.perf_counter() - began < seconds:
        index.search(to_search_query(understand(texts[done % len(texts)])))
        done += 1
    return round(done / (time.perf_counter() - began), 1)


async def chat_throughput(base_url: str, texts: list[str], clients: int, seconds: float) -> float:
    """Chat turns per second through the served API, `clients` conversations at once, each
    sending the queries in turn for about `seconds`."""
    async with httpx.AsyncClient(base_url=f"{base_url}/assistant", timeout=600) as http:
        done = 0

        async def shopper(first: int, until: float) -> None:
            nonlocal done
            opened = (await http.post("/conversations")).json()
            auth = {"Authorization": f"Bearer {opened['token']}"}
            position = first
            while time.perf_counter() < until:
                answer = await http.post(
                    f"/conversations/{opened['id']}/messages",
                    json={"text": texts[position % len(texts)]},
                    headers=auth,
                )
                answer.raise_for_status()
                done += 1
                position += clients

        await shopper(0, time.perf_counter())  # warm-up: one turn
        done, began = 0, time.perf_counter()
        await asyncio.gather(*(shopper(i, began + seconds) for i in range(clients)))
        return round(done / (time.perf_counter() - began), 1)


def search_speed(
    feed: list[dict[str, Any]], base_url: str, clients: int, seconds: float
) -> dict[str, Any]:
    texts = [judged.query for judged in load_queries(SHOPPER_QUERIES)]
    index = ProductIndex(products_from_feed(feed), encoder=load_encoder())
    del feed[:]  # only the index is needed from here on
    return {
        "queries": len(texts),
        "ranker_searches_per_second": ranker_throughput(index, texts, seconds),
        "chat_turns_per_second": asyncio.run(chat_throughput(base_url, texts, clients, seconds)),
        "clients": clients,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--products", type=int, default=100_000)
    parser.add_argument(
        "--database-url",
        default=None,
        help="an already prepared large catalog (default: write one)",
    )
    parser.add_argument("--clients", type=int, default=4)
    parser.add_argument("--seconds", type=float, default=20.0, help="per throughput measurement")
    parser.add_argument("--refreshes", type=int, default=3, help="index refreshes in a row")
    parser.add_argument("--skip-search", action="store_true", help="memory only")
    args = parser.parse_args()
    logging.getLogger("httpx").setLevel(logging.WARNING)  # one line per chat request otherwise

    report: dict[str, Any] = {}
    with tempfile.TemporaryDirectory(prefix="acp-worker-memory-") as directory:
        folder = Path(directory)
        large_url = args.database_url
        if large_url is None:
            large_url = f"sqlite:///{folder / 'large.db'}"
            began = time.perf_counter()
            write_synthetic_catalog(large_url, args.products)
            report["catalog_written_seconds"] = round(time.perf_counter() - began, 1)
        for name, url in (("seeded", f"sqlite:///{folder / 'seeded.db'}"), ("large", large_url)):
            with served(url, folder) as worker:
                report[name] = measure_worker(worker, max(args.refreshes, 1))
                print_memory(name, report[name])
                if not args.skip_search:
                    feed = seeded_feed() if name == "seeded" else served_feed(worker.base_url)
                    report[name]["search"] = search_speed(
                        feed, worker.base_url, args.clients, args.seconds
                    )
                    print_search(report[name]["search"])
    seeded, large = report["seeded"]["after_start_mib"], report["large"]["after_start_mib"]
    report["large_to_seeded_rss"] = round(large["VmRSS"] / seeded["VmRSS"], 2)
    print(f"VmRSS with the large catalog / with the seeded one: {report['large_to_seeded_rss']}x")
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(report, indent=2) + "\n")
    print(f"Wrote {RESULTS.relative_to(ROOT)}")


def print_memory(name: str, row: dict[str, Any]) -> None:
    start = row["after_start_mib"]
    refreshes = ", ".join(
        f"{m['VmRSS']:.0f} ({m['VmHWM']:.0f})" for m in row["after_each_refresh_mib"]
    )
    print(
        f"{name:<7} {row['products_indexed']:>7,} products indexed: VmRSS {start['VmRSS']:.0f} MiB "
        f"(VmHWM {start['VmHWM']:.0f}); after each of {len(row['refresh_seconds'])} refreshes "
        f"(about {max(row['refresh_seconds'])} s each) VmRSS {refreshes} MiB",
        flush=True,
    )


def print_search(s: dict[str, Any]) -> None:
    print(
        f"        ranker {s['ranker_searches_per_second']} searches/s (one thread, "
        f"{s['queries']} shopper queries); chat API {s['chat_turns_per_second']} turns/s "
        f"({s['clients']} clients)",
        flush=True,
    )


if __name__ == "__main__":
    main()

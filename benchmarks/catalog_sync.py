"""Catalog sync of a large synthetic Shopify-style store through the adapter and its sandbox.

Measures, in one run on one database: the adapter alone paging through the whole catalog
(the baseline: reading the platform, writing nothing) and the platform's full sync (the same
pages, mapped and upserted into our catalog). Reports products per second for each, their
ratio, and the process's peak resident memory (ru_maxrss) before and after each phase.

Usage: python -m benchmarks.catalog_sync [--products 100000] [--database-url URL]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import resource
import shutil
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

import httpx

from checkout.flows.sync_catalog import sync_catalog
from checkout.store.db import Database, create_database_engine, upgrade_schema
from checkout.store.rows import MerchantRow
from merchant_adapters.sandbox.shopify import ShopifySandbox, create_shopify_sandbox_app
from merchant_adapters.shopify import ShopifyAdapter

ROOT = Path(__file__).resolve().parent.parent
DOMAIN = "bench-store.myshopify.com"


def peak_rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


async def run(products: int, url: str) -> dict[str, object]:
    upgrade_schema(url)
    database = Database(create_database_engine(url))
    sandbox = ShopifySandbox(database.engine)
    started = time.perf_counter()
    sandbox.generate_synthetic(DOMAIN, products=products, variants_per_product=2)
    generated = time.perf_counter() - started
    transport = httpx.ASGITransport(app=create_shopify_sandbox_app(sandbox))
    async with httpx.AsyncClient(
        transport=transport, base_url="http://sandbox", timeout=60
    ) as http:
        adapter = ShopifyAdapter(
            http,
            shop_domain=DOMAIN,
            access_token=ShopifySandbox.DEMO_ACCESS_TOKEN,
            webhook_secret=ShopifySandbox.DEMO_WEBHOOK_SECRET,
            base_url=f"http://sandbox/{DOMAIN}",
        )
        rss_start = peak_rss_mib()
        started = time.perf_counter()
        cursor, read = None, 0
        while True:
            page = await adapter.list_catalog(cursor=cursor, page_size=250)
            read += len(page.products)
            cursor = page.next_cursor
            if cursor is None:
                break
        adapter_seconds = time.perf_counter() - started
        rss_after_read = peak_rss_mib()

        merchant = MerchantRow(
            id="mch_bench",
            name="Bench",
            platform="shopify",
            shop_ref=DOMAIN,
            currency="usd",
            country="US",
            links={},
            shipping={},
            commission_bps=200,
            platform_shop_id=DOMAIN,
            created_at=datetime.now(UTC),
        )
        with database.write() as db:
            db.add(merchant)
        started = time.perf_counter()
        counts = await sync_catalog(
            database, adapter, merchant, full=True, clock=lambda: datetime.now(UTC), page_size=250
        )
        sync_seconds = time.perf_counter() - started
        rss_after_sync = peak_rss_mib()
    database.dispose()
    return {
        "products": products,
        "generated_seconds": round(generated, 1),
        "adapter_only": {
            "products": read,
            "seconds": round(adapter_seconds, 1),
            "products_per_second": round(read / adapter_seconds, 1),
        },
        "full_sync": {
            **counts.as_dict(),
            "seconds": round(sync_seconds, 1),
            "products_per_second": round(counts.created / sync_seconds, 1),
        },
        "sync_to_adapter_ratio": round(
            (counts.created / sync_seconds) / (read / adapter_seconds), 3
        ),
        "peak_rss_mib": {
            "before": round(rss_start, 1),
            "after_adapter_pass": round(rss_after_read, 1),
            "after_sync": round(rss_after_sync, 1),
        },
    }


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--products", type=int, default=100_000)
    parser.add_argument("--database-url", default=None, help="default: a fresh SQLite file")
    parser.add_argument(
        "--output", type=Path, default=ROOT / "benchmarks" / "results" / "catalog_sync.json"
    )
    args = parser.parse_args()
    workdir = Path(tempfile.mkdtemp(prefix="acp-sync-bench-"))
    try:
        report = asyncio.run(
            run(args.products, args.database_url or f"sqlite:///{workdir / 'sync.db'}")
        )
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(report, indent=2))
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()

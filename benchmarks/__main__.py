"""Checkout throughput and latency against a running server, beside a bare FastAPI endpoint.

Both servers run as separate uvicorn processes with the same settings (one worker, httptools),
and the same asyncio load generator drives them with the same number of concurrent clients:

  bare      POST /bare on benchmarks/bare_app.py (parse JSON, answer JSON)
  create    POST /checkout_sessions alone
  flow      create -> update (address) -> delegate_payment -> complete, per client in a loop

Reported: requests or flows per second, p50/p99 latency per endpoint, and create/bare ratio.
Usage: ./dev bench [--clients 16] [--seconds 10] [--database-url postgresql+psycopg://...]
       ./dev bench recommendation [--products 100000] ...  (the assistant: quality, per-turn latency)
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from collections import defaultdict
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parent.parent
KEY = "agent_bench_key_0001"
HEADERS = {"Authorization": f"Bearer {KEY}", "API-Version": "2026-04-17"}
ADDRESS = {
    "name": "Ada Lovelace",
    "email": "ada@example.com",
    "address": {
        "name": "Ada Lovelace",
        "line_one": "1 Chat Road",
        "city": "San Francisco",
        "state": "CA",
        "country": "US",
        "postal_code": "94131",
    },
}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class Server:
    process: subprocess.Popen[bytes]
    url: str

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait(timeout=20)


def start_server(app: str, env: dict[str, str]) -> Server:
    port = free_port()
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "uvicorn",
            app,
            "--factory",
            "--port",
            str(port),
            "--log-level",
            "warning",
            "--no-access-log",
            "--http",
            "httptools",
            "--loop",
            "asyncio",
        ],
        env={**os.environ, **env},
        cwd=ROOT,
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            if httpx.post(f"{url}/bare", json={}).status_code in (201, 404, 405):
                return Server(process, url)
        except httpx.HTTPError:
            time.sleep(0.1)
    process.kill()
    raise RuntimeError(f"{app} did not start")


def bench_seeds(directory: Path) -> Path:
    """The demo catalog with deep stock, so flows measure checkout rather than sold-out items."""
    for path in (ROOT / "seeds").glob("*.json"):
        document = json.loads(path.read_text())
        for product in document["products"]:
            for variant in product["variants"]:
                variant["inventory"] = 10_000_000
        (directory / path.name).write_text(json.dumps(document))
    return directory


@dataclass
class Recorder:
    latencies: dict[str, list[float]] = field(default_factory=lambda: defaultdict(list))
    errors: dict[str, int] = field(default_factory=lambda: defaultdict(int))

    async def timed(
        self, name: str, call: Awaitable[httpx.Response], expect: int
    ) -> httpx.Response:
        started = time.perf_counter()
        response = await call
        self.latencies[name].append(time.perf_counter() - started)
        if response.status_code != expect:
            self.errors[f"{name}:{response.status_code}"] += 1
        return response


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000


async def drive(
    clients: int,
    seconds: float,
    step: Callable[[httpx.AsyncClient, Recorder], Awaitable[None]],
    base_url: str,
) -> tuple[int, float, Recorder]:
    recorder = Recorder()
    done = 0
    limits = httpx.Limits(max_connections=clients, max_keepalive_connections=clients)
    async with httpx.AsyncClient(base_url=base_url, limits=limits, timeout=60) as client:
        for _ in range(2):  # warm-up, not measured
            await step(client, Recorder())
        deadline = time.perf_counter() + seconds
        started = time.perf_counter()

        async def worker() -> None:
            nonlocal done
            while time.perf_counter() < deadline:
                await step(client, recorder)
                done += 1

        await asyncio.gather(*(worker() for _ in range(clients)))
        elapsed = time.perf_counter() - started
    return done, elapsed, recorder


def variants(base_url: str) -> list[str]:
    """Checkout item ids of physical variants, as an agent finds them: from the catalog API."""
    ids: list[str] = []
    cursor = None
    with httpx.Client(base_url=base_url, headers=HEADERS, timeout=30) as client:
        while True:
            params = {"limit": 100, **({"cursor": cursor} if cursor else {})}
            page = client.get("/catalog/products", params=params).json()
            ids += [
                v["id"]
                for p in page["products"]
                for v in p["variants"]
                if v["available_quantity"] > 0 and "Digital" not in p["title"]
            ]
            cursor = page["next_cursor"]
            if not cursor:
                return ids


async def bare_step(client: httpx.AsyncClient, recorder: Recorder) -> None:
    body = {"line_items": [{"id": "var_x"}], "currency": "usd", "capabilities": {}}
    await recorder.timed("bare", client.post("/bare", json=body), 201)


def create_body(variant: str) -> dict[str, Any]:
    return {
        "line_items": [{"id": variant, "quantity": 1}],
        "currency": "usd",
        "capabilities": {"interventions": {"supported": ["3ds"]}},
    }


def post(client: httpx.AsyncClient, path: str, body: Any) -> Awaitable[httpx.Response]:
    return client.post(path, json=body, headers={**HEADERS, "Idempotency-Key": uuid.uuid4().hex})


def steps(
    catalog: list[str],
) -> tuple[Callable[..., Awaitable[None]], Callable[..., Awaitable[None]]]:
    counter = iter(range(10**12))

    async def create_step(client: httpx.AsyncClient, recorder: Recorder) -> None:
        variant = catalog[next(counter) % len(catalog)]
        await recorder.timed(
            "create", post(client, "/checkout_sessions", create_body(variant)), 201
        )

    async def flow_step(client: httpx.AsyncClient, recorder: Recorder) -> None:
        variant = catalog[next(counter) % len(catalog)]
        created = await recorder.timed(
            "create", post(client, "/checkout_sessions", create_body(variant)), 201
        )
        session_id = created.json()["id"]
        updated = await recorder.timed(
            "update",
            post(client, f"/checkout_sessions/{session_id}", {"fulfillment_details": ADDRESS}),
            200,
        )
        session = updated.json()
        total = next(t["amount"] for t in session["totals"] if t["type"] == "total")
        merchant = session["capabilities"]["payment"]["handlers"][0]["config"]["merchant_id"]
        token = await recorder.timed(
            "delegate_payment",
            post(
                client,
                "/agentic_commerce/delegate_payment",
                {
                    "payment_method": {
                        "type": "card",
                        "card_number_type": "fpan",
                        "number": "4242424242424242",
                        "display_card_funding_type": "credit",
                        "metadata": {},
                    },
                    "allowance": {
                        "reason": "one_time",
                        "max_amount": total,
                        "currency": "usd",
                        "checkout_session_id": session_id,
                        "merchant_id": merchant,
                        "expires_at": "2099-01-01T00:00:00Z",
                    },
                    "risk_signals": [],
                    "metadata": {},
                },
            ),
            201,
        )
        await recorder.timed(
            "complete",
            post(
                client,
                f"/checkout_sessions/{session_id}/complete",
                {
                    "payment_data": {
                        "handler_id": "card_tokenized",
                        "instrument": {
                            "type": "card",
                            "credential": {"type": "spt", "token": token.json()["id"]},
                        },
                    }
                },
            ),
            200,
        )

    return create_step, flow_step


def summary(name: str, count: int, elapsed: float, recorder: Recorder, unit: str) -> dict[str, Any]:
    result: dict[str, Any] = {
        "phase": name,
        unit: count,
        "seconds": round(elapsed, 2),
        f"{unit}_per_second": round(count / elapsed, 1),
        "endpoints": {},
    }
    for endpoint, values in recorder.latencies.items():
        result["endpoints"][endpoint] = {
            "requests": len(values),
            "p50_ms": round(percentile(values, 0.5), 2),
            "p99_ms": round(percentile(values, 0.99), 2),
        }
    if recorder.errors:
        result["unexpected_statuses"] = dict(recorder.errors)
    return result


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--clients", type=int, default=16)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--database-url", default=None, help="default: a fresh SQLite file")
    parser.add_argument(
        "--output", type=Path, default=ROOT / "benchmarks" / "results" / "checkout.json"
    )
    args = parser.parse_args()

    workdir = Path(tempfile.mkdtemp(prefix="acp-bench-"))
    seeds = bench_seeds(Path(tempfile.mkdtemp(prefix="acp-seeds-")))
    env = {
        "DATABASE_URL": args.database_url or f"sqlite:///{workdir / 'bench.db'}",
        "AGENT_API_KEY": KEY,
        "SEEDS_DIR": str(seeds),
        "PUBLIC_BASE_URL": "http://bench.local",
    }
    results: list[dict[str, Any]] = []
    try:
        bare = start_server("benchmarks.bare_app:create_app", {})
        try:
            results.append(
                summary(
                    "bare",
                    *asyncio.run(drive(args.clients, args.seconds, bare_step, bare.url)),
                    unit="requests",
                )
            )
        finally:
            bare.stop()
        checkout = start_server("checkout.app:create_app", env)
        try:
            create_step, flow_step = steps(variants(checkout.url))
            results.append(
                summary(
                    "create",
                    *asyncio.run(drive(args.clients, args.seconds, create_step, checkout.url)),
                    unit="requests",
                )
            )
            results.append(
                summary(
                    "flow",
                    *asyncio.run(drive(args.clients, args.seconds, flow_step, checkout.url)),
                    unit="flows",
                )
            )
        finally:
            checkout.stop()
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
        shutil.rmtree(seeds, ignore_errors=True)

    bare_rps = results[0]["requests_per_second"]
    create_rps = results[1]["requests_per_second"]
    report = {
        "when": datetime.now(UTC).isoformat(),
        "clients": args.clients,
        "seconds": args.seconds,
        "database": "postgresql" if args.database_url else "sqlite",
        "cpus": os.cpu_count(),
        "results": results,
        "create_to_bare_ratio": round(create_rps / bare_rps, 3),
    }
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(report, indent=2))
    print(f"{'phase':<8} {'rate':>12}  endpoint p50/p99 ms")
    for result in results:
        rate = next(v for k, v in result.items() if k.endswith("_per_second"))
        unit = "flows/s" if result["phase"] == "flow" else "req/s"
        latencies = ", ".join(
            f"{name} {e['p50_ms']}/{e['p99_ms']}" for name, e in result["endpoints"].items()
        )
        print(f"{result['phase']:<8} {rate:>8} {unit:<7} {latencies}")
        if "unexpected_statuses" in result:
            print(f"         unexpected statuses: {result['unexpected_statuses']}")
    print(
        f"create / bare = {report['create_to_bare_ratio']}  (database: {report['database']}, "
        f"{args.clients} clients, {args.seconds:.0f} s per phase; full report: {args.output})"
    )


if __name__ == "__main__":
    if sys.argv[1:2] == ["recommendation"]:
        from benchmarks import recommendation

        sys.argv = [f"{sys.argv[0]} recommendation", *sys.argv[2:]]
        recommendation.main()
    else:
        main()

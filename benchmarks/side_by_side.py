"""The side-by-side checkout benchmark: this service beside a bare FastAPI POST, round after round.

Every server is its own uvicorn process with the same settings (httptools, asyncio loop, the same
number of workers). Single requests are driven by `wrk` when it is on PATH (a C load generator
that is not the bottleneck here); without it by several client processes. Whole purchases are
driven by several client processes, each a bounded asyncio+httpx loop, because a purchase is four
dependent requests. The bare baseline is measured in every round beside each figure: the bare
POST by the same load generator, and a "bare purchase" of four bare POSTs by the same purchase
driver, so each ratio compares like with like. Phases are interleaved and rounds repeated so
machine noise hits every side, and each figure carries the 1-minute load average at its end.

Figures (concurrency c):
  create/s at c=8 and c=32                    POST /checkout_sessions, each with its own key
  purchases/s at c=8 and c=32                 create -> update -> delegate_payment -> complete,
                                              from a feed merchant (checkout alone), and from
                                              the Etsy-style and Shopify-style sandbox shops
  create p99 at c=64, with the error count
  UCP create/s and UCP purchases/s at c=8    the same checkout core through the UCP binding:
                                              create -> update -> tokenize -> complete

Usage: ./dev bench [--quick] [--rounds 3] [--seconds 8] [--workers 1] [--database-url URL]
                   [--peer URL --peer-item ID] [--driver auto|wrk|python]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections import defaultdict
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx

from benchmarks.checkout_load import (
    ADDRESS,
    HEADERS,
    KEY,
    bench_seeds,
    create_body,
    free_port,
    percentile,
)

ROOT = Path(__file__).resolve().parent.parent
OPERATOR_KEY = "operator_bench_key_0001"
CLIENT_PROCESSES = 2

WRK_SCRIPT = """
local items = {%(items)s}
local counter = 0
local thread_number = 0
function setup(thread)
  thread_number = thread_number + 1
  thread:set("tid", thread_number)
end
function request()
  counter = counter + 1
  local body = %(body)s
  local headers = {%(headers)s}
  headers["Content-Type"] = "application/json"
  headers["Idempotency-Key"] = "%(nonce)s-" .. tid .. "-" .. counter
  return wrk.format("POST", "%(path)s", headers, body)
end
function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    "WRK {\\"requests\\": %%d, \\"micros\\": %%d, \\"p50\\": %%d, \\"p99\\": %%d, " ..
    "\\"errors\\": %%d}\\n",
    summary.requests, summary.duration, latency:percentile(50), latency:percentile(99),
    e.connect + e.read + e.write + e.status + e.timeout))
end
"""


@dataclass
class Figure:
    """One measured point: a rate, latencies and errors, with the load average when it ended."""

    rate: float
    p50_ms: float
    p99_ms: float
    errors: int
    load: float


@dataclass
class Server:
    process: subprocess.Popen[bytes]
    url: str

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.process.kill()


def start_server(app: str, env: dict[str, str], workers: int, source: Path = ROOT) -> Server:
    port = free_port()
    command = [
        sys.executable, "-m", "uvicorn", app, "--factory", "--port", str(port),
        "--log-level", "warning", "--no-access-log", "--http", "httptools", "--loop", "asyncio",
    ]  # fmt: skip
    if workers > 1:
        command += ["--workers", str(workers)]
    # `python -m` puts the working directory first on the path: the code served is `source`'s.
    process = subprocess.Popen(command, env={**os.environ, **env}, cwd=source)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        try:
            httpx.get(f"{url}/", timeout=5)
            return Server(process, url)
        except httpx.HTTPError:
            time.sleep(0.2)
    process.kill()
    raise RuntimeError(f"{app} did not start")


# --- what each protocol sends ----------------------------------------------------------------

ITEM_MARK = "ITEM"
UCP_MERCHANT = "bench_flowers"
CARD = {
    "type": "card",
    "card_number_type": "fpan",
    "number": "4242424242424242",
    "display_card_funding_type": "credit",
    "metadata": {},
}
UCP_SHIPPING = "std-ship"


@dataclass(frozen=True)
class Create:
    """How a checkout is opened: the path, the agent's headers (no key) and the body for an item."""

    path: str
    headers: dict[str, str]
    body: Callable[[str], dict[str, Any]]


def ucp_create_body(item: str) -> dict[str, Any]:
    return {
        "currency": "USD",
        "line_items": [{"item": {"id": item}, "quantity": 1}],
        "buyer": {"email": "ada@example.com", "first_name": "Ada"},
    }


def ucp_agent(profile: str) -> dict[str, str]:
    """The UCP-Agent header of an agent whose profile asks for no order events (see bare_app)."""
    return {"UCP-Agent": f'profile="{profile}"'}


BARE_CREATE = Create("/bare", {}, create_body)
ACP_CREATE = Create("/checkout_sessions", HEADERS, create_body)


def ucp_create(bare_url: str) -> Create:
    return Create("/ucp/checkout-sessions", ucp_agent(f"{bare_url}/agent-profile"), ucp_create_body)


UCP_DESTINATION = {
    "fulfillment": {
        "methods": [
            {
                "type": "shipping",
                "destinations": [
                    {
                        "id": "home",
                        "street_address": "1 Chat Road",
                        "address_locality": "San Francisco",
                        "address_region": "CA",
                        "postal_code": "94131",
                        "address_country": "US",
                    }
                ],
                "selected_destination_id": "home",
                "groups": [{"selected_option_id": UCP_SHIPPING}],
            }
        ]
    }
}


def ucp_merchant_directory(directory: Path) -> Path:
    """A UCP data folder (the conformance suite's format) of twenty bouquets with deep stock."""
    directory.mkdir(parents=True, exist_ok=True)
    products = ["id,title,price,image_url"] + [
        f"bench_bouquet_{n},Bench bouquet {n},{2000 + n},https://example.com/b{n}.jpg"
        for n in range(20)
    ]
    inventory = ["product_id,quantity"] + [f"bench_bouquet_{n},10000000" for n in range(20)]
    shipping = [
        "id,country_code,service_level,price,title",
        f"{UCP_SHIPPING},default,standard,500,Standard Shipping",
    ]
    for name, rows in (
        ("products.csv", products),
        ("inventory.csv", inventory),
        ("shipping_rates.csv", shipping),
    ):
        (directory / name).write_text("\n".join(rows) + "\n")
    return directory


def load_ucp_merchant(env: dict[str, str], directory: Path, source: Path) -> list[str]:
    """Load the UCP merchant the way an operator does, with `agentic-checkout ucp load-merchant`."""
    subprocess.run(
        [sys.executable, "-c", "from marketplace.cli import main; main()", "ucp", "load-merchant",
         str(ucp_merchant_directory(directory)), "--merchant-id", UCP_MERCHANT,
         "--name", "Bench Flowers"],
        env={**os.environ, **env}, cwd=source, check=True, capture_output=True,
    )  # fmt: skip
    return [f"bench_bouquet_{n}" for n in range(20)]


# --- single requests -------------------------------------------------------------------------


def lua_string(text: str) -> str:
    return "'" + text.replace("\\", "\\\\").replace("'", "\\'") + "'"


def wrk_figure(url: str, create: Create, items: list[str], clients: int, seconds: float) -> Figure:
    """POST a create at a fixed concurrency with wrk; bodies name items in turn, keys are unique."""
    template = json.dumps(create.body(ITEM_MARK))
    before, after = template.split(f'"{ITEM_MARK}"')
    if items:
        body = f"{lua_string(before)} .. '\"' .. items[(counter % #items) + 1] .. '\"' .. {lua_string(after)}"
    else:
        body = lua_string(json.dumps(create.body("var_x")))
    script = WRK_SCRIPT % {
        "items": ", ".join(lua_string(item) for item in items),
        "body": body,
        "headers": ", ".join(
            f"[{lua_string(k)}] = {lua_string(v)}" for k, v in create.headers.items()
        ),
        "nonce": uuid.uuid4().hex[:12],
        "path": create.path,
    }
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as handle:
        handle.write(script)
    try:
        threads = min(2, clients)
        completed = subprocess.run(
            ["wrk", "-t", str(threads), "-c", str(clients), "-d", f"{max(1, round(seconds))}s",
             "--timeout", "30s", "-s", handle.name, url],
            capture_output=True, text=True, check=True,
        )  # fmt: skip
    finally:
        os.unlink(handle.name)
    line = next(row for row in completed.stdout.splitlines() if row.startswith("WRK "))
    result = json.loads(line[4:])
    return Figure(
        rate=result["requests"] / (result["micros"] / 1e6),
        p50_ms=result["p50"] / 1000,
        p99_ms=result["p99"] / 1000,
        errors=result["errors"],
        load=os.getloadavg()[0],
    )


# --- client processes: single requests without wrk, and whole purchases ----------------------


@dataclass
class Tally:
    done: int = 0
    latencies: list[float] = field(default_factory=list)
    errors: dict[str, int] = field(default_factory=lambda: defaultdict(int))


async def expect(
    tally: Tally,
    client: httpx.AsyncClient,
    path: str,
    body: Any,
    status: int,
    headers: dict[str, str] = HEADERS,
    method: str = "POST",
) -> httpx.Response | None:
    response = await client.request(
        method, path, json=body, headers={**headers, "Idempotency-Key": uuid.uuid4().hex}
    )
    if response.status_code != status:
        tally.errors[f"{path.split('/')[-1]}:{response.status_code}"] += 1
        return None
    return response


async def acp_purchase(tally: Tally, client: httpx.AsyncClient, item: str) -> bool:
    """create -> update -> delegate_payment -> complete, as an ACP agent buys."""
    created = await expect(tally, client, "/checkout_sessions", create_body(item), 201)
    if created is None:
        return False
    session_id = created.json()["id"]
    path = f"/checkout_sessions/{session_id}"
    updated = await expect(tally, client, path, {"fulfillment_details": ADDRESS}, 200)
    if updated is None:
        return False
    session = updated.json()
    total = next(t["amount"] for t in session["totals"] if t["type"] == "total")
    handler = session["capabilities"]["payment"]["handlers"][0]
    allowance = {
        "reason": "one_time",
        "max_amount": total,
        "currency": session["currency"],
        "checkout_session_id": session_id,
        "merchant_id": handler["config"]["merchant_id"],
        "expires_at": "2099-01-01T00:00:00Z",
    }
    delegated = await expect(
        tally,
        client,
        "/agentic_commerce/delegate_payment",
        {"payment_method": CARD, "allowance": allowance, "risk_signals": [], "metadata": {}},
        201,
    )
    if delegated is None:
        return False
    credential = {"type": "spt", "token": delegated.json()["id"]}
    payment = {
        "handler_id": handler["id"],
        "instrument": {"type": "card", "credential": credential},
    }
    return (
        await expect(tally, client, f"{path}/complete", {"payment_data": payment}, 200) is not None
    )


async def ucp_purchase(tally: Tally, client: httpx.AsyncClient, item: str, profile: str) -> bool:
    """create -> update (where to ship, how) -> tokenize the card -> complete, as a UCP agent buys:
    the same four dependent requests as an ACP purchase."""
    agent = ucp_agent(profile)
    path = "/ucp/checkout-sessions"
    created = await expect(tally, client, path, ucp_create_body(item), 201, agent)
    if created is None:
        return False
    checkout_id = created.json()["id"]
    updated = await expect(
        tally, client, f"{path}/{checkout_id}", UCP_DESTINATION, 200, agent, method="PUT"
    )
    if updated is None:
        return False
    card = {key: CARD[key] for key in ("type", "card_number_type", "number")}
    tokenized = await expect(
        tally,
        client,
        "/ucp/tokenize",
        {"credential": card, "binding": {"checkout_id": checkout_id}},
        200,
        agent,
    )
    if tokenized is None:
        return False
    instrument = {
        "id": "instr_1",
        "handler_id": "mock_payment_handler",
        "type": "card",
        "brand": "Visa",
        "last_digits": "4242",
        "credential": {"type": "token", "token": tokenized.json()["token"]},
    }
    completed = await expect(
        tally,
        client,
        f"{path}/{checkout_id}/complete",
        {"payment_data": instrument, "risk_signals": {}},
        200,
        agent,
    )
    return completed is not None


async def bare_purchase(tally: Tally, client: httpx.AsyncClient, item: str) -> bool:
    """The baseline of a purchase: four bare POSTs, one after another."""
    for _ in range(4):
        if await expect(tally, client, "/bare", create_body(item), 201, {}) is None:
            return False
    return True


def drive_process(
    url: str,
    kind: str,
    items: list[str],
    clients: int,
    seconds: float,
    offset: int,
    create: Create = ACP_CREATE,
    profile: str = "",
) -> Tally:
    """One client process: `clients` concurrent loops of `kind` ("create" or a purchase)."""

    async def once(client: httpx.AsyncClient, tally: Tally, item: str) -> object:
        if kind == "create":
            return await expect(tally, client, create.path, create.body(item), 201, create.headers)
        if kind == "bare_purchase":
            return await bare_purchase(tally, client, item)
        if kind == "ucp_purchase":
            return await ucp_purchase(tally, client, item, profile)
        return await acp_purchase(tally, client, item)

    async def run() -> Tally:
        tally = Tally()
        limits = httpx.Limits(max_connections=clients, max_keepalive_connections=clients)
        counter = iter(range(offset, 10**12, 1))
        async with httpx.AsyncClient(base_url=url, limits=limits, timeout=60) as client:
            deadline = time.perf_counter() + seconds

            async def loop() -> None:
                while time.perf_counter() < deadline:
                    item = items[next(counter) % len(items)] if items else "var_x"
                    started = time.perf_counter()
                    if await once(client, tally, item):
                        tally.done += 1
                        tally.latencies.append(time.perf_counter() - started)

            await asyncio.gather(*(loop() for _ in range(clients)))
        return tally

    return asyncio.run(run())


def processes_figure(
    pool: ProcessPoolExecutor,
    url: str,
    kind: str,
    items: list[str],
    clients: int,
    seconds: float,
    create: Create = ACP_CREATE,
    profile: str = "",
) -> Figure:
    shares = [
        clients // CLIENT_PROCESSES + (i < clients % CLIENT_PROCESSES)
        for i in range(CLIENT_PROCESSES)
    ]
    started = time.perf_counter()
    futures = [
        pool.submit(drive_process, url, kind, items, share, seconds, i * 7919, create, profile)
        for i, share in enumerate(shares)
        if share
    ]
    tallies = [future.result() for future in futures]
    elapsed = max(seconds, time.perf_counter() - started - 0.05)
    latencies = [value for tally in tallies for value in tally.latencies]
    return Figure(
        rate=sum(t.done for t in tallies) / elapsed,
        p50_ms=percentile(latencies, 0.5) if latencies else 0.0,
        p99_ms=percentile(latencies, 0.99) if latencies else 0.0,
        errors=sum(sum(t.errors.values()) for t in tallies),
        load=os.getloadavg()[0],
    )


# --- setting up the shops --------------------------------------------------------------------


def feed_merchant(url: str) -> list[str]:
    """A merchant on no platform with a small feed: purchases from it are checkout alone."""
    operator = {"Authorization": f"Bearer {OPERATOR_KEY}"}
    with httpx.Client(base_url=url, headers=operator, timeout=60) as client:
        created = client.post(
            "/merchants", json={"name": "Bench Paper Co", "platform": "feed", "currency": "usd"}
        )
        created.raise_for_status()
        merchant = created.json()["id"]
        feed = [
            {
                "id": f"bench-{n}",
                "title": f"Bench notebook {n}",
                "description": {"plain": "A5, 160 pages."},
                "variants": [
                    {
                        "id": f"bench-{n}-v",
                        "title": "Black",
                        "price": {"amount": 1200 + n, "currency": "usd"},
                    }
                ],
            }
            for n in range(20)
        ]
        client.post(f"/merchants/{merchant}/feed", json=feed).raise_for_status()
    return variants(url, merchant)


def variants(url: str, merchant_id: str) -> list[str]:
    """Checkout item ids of a merchant's physical variants, as an agent finds them."""
    ids: list[str] = []
    cursor = None
    with httpx.Client(base_url=url, headers=HEADERS, timeout=60) as client:
        while True:
            params: dict[str, Any] = {"limit": 100, "merchant_id": merchant_id}
            if cursor:
                params["cursor"] = cursor
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


def shops(url: str) -> dict[str, list[str]]:
    return {
        "feed": feed_merchant(url),
        "etsy": variants(url, "mch_clay_and_kiln"),
        "shopify": variants(url, "mch_northwind_supply"),
    }


# --- the rounds ------------------------------------------------------------------------------


@dataclass
class Phase:
    name: str
    server: str  # "bare", "checkout", "before" (--compare-with) or "peer"
    kind: str  # "single", "ucp_single", "purchase", "bare_purchase", "ucp_purchase"
    shop: str  # which item list
    clients: int
    baseline: str | None  # the phase this one is divided by


def plan(peer: bool, before: bool) -> list[Phase]:
    phases = _plan(peer)
    if not before:
        return phases
    # The earlier code's figure right after this code's, against the same baseline.
    compared: list[Phase] = []
    for phase in phases:
        compared.append(phase)
        if phase.server == "checkout" and not phase.kind.startswith("ucp"):
            compared.append(
                Phase(f"{phase.name} before", "before", phase.kind, phase.shop, phase.clients,
                      phase.baseline)
            )  # fmt: skip
    return compared


def _plan(peer: bool) -> list[Phase]:
    phases: list[Phase] = []
    for c in (8, 32):
        phases += [
            Phase(f"bare POST c={c}", "bare", "single", "", c, None),
            Phase(f"create c={c}", "checkout", "single", "feed", c, f"bare POST c={c}"),
            Phase(f"UCP create c={c}", "checkout", "ucp_single", "ucp", c, f"bare POST c={c}"),
        ]
        if peer:
            phases.append(
                Phase(f"peer create c={c}", "peer", "single", "peer", c, f"bare POST c={c}")
            )
    for c in (8, 32):
        phases.append(Phase(f"bare purchase c={c}", "bare", "bare_purchase", "", c, None))
        for shop in ("feed", "etsy", "shopify"):
            phases.append(
                Phase(
                    f"purchase {shop} c={c}",
                    "checkout",
                    "purchase",
                    shop,
                    c,
                    f"bare purchase c={c}",
                )
            )
        phases.append(
            Phase(
                f"purchase UCP c={c}", "checkout", "ucp_purchase", "ucp", c, f"bare purchase c={c}"
            )
        )
        if peer:
            phases.append(
                Phase(f"peer purchase c={c}", "peer", "purchase", "peer", c, f"bare purchase c={c}")
            )
    phases += [
        Phase("bare POST c=64", "bare", "single", "", 64, None),
        Phase("create c=64", "checkout", "single", "feed", 64, "bare POST c=64"),
    ]
    return phases


def measure(
    phase: Phase,
    urls: dict[str, str],
    items: dict[str, dict[str, list[str]]],
    seconds: float,
    use_wrk: bool,
    pool: ProcessPoolExecutor,
) -> Figure:
    url = urls[phase.server]
    shop_items = items.get(phase.server, {}).get(phase.shop, [])
    profile = f"{urls['bare']}/agent-profile"
    if phase.kind in ("single", "ucp_single"):
        create = ACP_CREATE
        if phase.server == "bare":
            create = BARE_CREATE
        elif phase.kind == "ucp_single":
            create = ucp_create(urls["bare"])
        if use_wrk:
            return wrk_figure(url, create, shop_items, phase.clients, seconds)
        return processes_figure(pool, url, "create", shop_items, phase.clients, seconds, create)
    return processes_figure(
        pool, url, phase.kind, shop_items, phase.clients, seconds, profile=profile
    )


def report(
    phases: list[Phase], figures: dict[str, list[Figure]], driver: str, args: argparse.Namespace
) -> str:
    lines = [
        f"{'figure':<30} {'rate/s (median, all rounds)':<34} {'x bare':>7} "
        f"{'p50 ms':>8} {'p99 ms':>8} {'errors':>6}  load avg",
    ]
    medians = {name: statistics.median(f.rate for f in values) for name, values in figures.items()}
    for phase in phases:
        values = figures[phase.name]
        rates = "/".join(f"{f.rate:.1f}" for f in values)
        ratio = f"{medians[phase.name] / medians[phase.baseline]:.3f}" if phase.baseline else "1"
        loads = "/".join(f"{f.load:.2f}" for f in values)
        p50 = statistics.median(f.p50_ms for f in values)
        p99 = max(f.p99_ms for f in values)
        lines.append(
            f"{phase.name:<30} {medians[phase.name]:>7.1f} ({rates})"[:65].ljust(65)
            + f" {ratio:>7} {p50:>8.1f} {p99:>8.1f} {sum(f.errors for f in values):>6}  {loads}"
        )
    lines.append(
        f"single requests by {driver}; purchases by {CLIENT_PROCESSES} client processes "
        f"(asyncio+httpx); {args.rounds} round(s) of {args.seconds:g} s per phase, interleaved; "
        f"{args.workers} uvicorn worker(s) per server; database "
        f"{'postgresql' if args.database_url else 'sqlite'}; {os.cpu_count()} CPUs. "
        "p99 is the worst round's; x bare divides medians of the same rounds."
    )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--quick", action="store_true", help="one round of 2 s phases (~1 min)")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--seconds", type=float, default=8.0)
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--database-url", default=None, help="default: a fresh SQLite file")
    parser.add_argument("--driver", choices=("auto", "wrk", "python"), default="auto")
    parser.add_argument("--peer", default=None, help="another ACP server's base URL")
    parser.add_argument("--peer-item", default=None, help="an item id the peer sells")
    parser.add_argument(
        "--compare-with",
        type=Path,
        default=None,
        help="another checkout of this repository (e.g. a worktree of an earlier commit): "
        "its service is measured beside this one in the same rounds",
    )
    parser.add_argument(
        "--only", default=None, help="run only the figures whose name contains this text"
    )
    parser.add_argument(
        "--output", type=Path, default=ROOT / "benchmarks" / "results" / "checkout.json"
    )
    args = parser.parse_args(argv)
    if args.quick:
        args.rounds, args.seconds = 1, 2.0
    if args.peer and not args.peer_item:
        parser.error("--peer needs --peer-item")
    use_wrk = args.driver == "wrk" or (args.driver == "auto" and shutil.which("wrk") is not None)
    driver = "wrk" if use_wrk else f"{CLIENT_PROCESSES} client processes (asyncio+httpx)"

    workdir = Path(tempfile.mkdtemp(prefix="acp-bench-"))
    seeds = bench_seeds(Path(tempfile.mkdtemp(prefix="acp-seeds-")))
    env = {
        "DATABASE_URL": args.database_url or f"sqlite:///{workdir / 'bench.db'}",
        "AGENT_API_KEY": KEY,
        "OPERATOR_API_KEY": OPERATOR_KEY,
        "SEEDS_DIR": str(seeds),
        "PUBLIC_BASE_URL": "http://bench.local",
        # The sandbox shops are on by default only on SQLite; the figures compare both databases.
        "MERCHANT_SANDBOX": "true",
        "UCP_MERCHANT_ID": UCP_MERCHANT,
    }
    phases = plan(args.peer is not None, args.compare_with is not None)
    if args.only:
        wanted = {p.name for p in phases if args.only in p.name}
        wanted |= {p.baseline for p in phases if p.name in wanted and p.baseline}
        phases = [p for p in phases if p.name in wanted]
    figures: dict[str, list[Figure]] = defaultdict(list)
    servers: list[Server] = []
    try:
        bare = start_server("benchmarks.bare_app:create_app", {}, args.workers)
        servers.append(bare)
        ucp_items = load_ucp_merchant(env, workdir / "ucp-merchant", ROOT)
        checkout = start_server("checkout.app:create_app", env, args.workers)
        servers.append(checkout)
        urls = {"bare": bare.url, "checkout": checkout.url, "peer": args.peer or ""}
        items = {
            "checkout": {**shops(checkout.url), "ucp": ucp_items},
            "peer": {"peer": [args.peer_item or ""]},
        }
        if args.compare_with:
            before_env = {**env, "DATABASE_URL": f"sqlite:///{workdir / 'before.db'}"}
            before_env.pop("UCP_MERCHANT_ID")
            if args.database_url:
                before_env["DATABASE_URL"] = args.database_url
            before = start_server(
                "checkout.app:create_app", before_env, args.workers, args.compare_with.resolve()
            )
            servers.append(before)
            urls["before"] = before.url
            items["before"] = shops(before.url)
        with ProcessPoolExecutor(CLIENT_PROCESSES) as pool:
            for phase in phases:  # warm-up, not measured
                measure(phase, urls, items, 1.0, use_wrk, pool)
            for round_number in range(args.rounds):
                for phase in phases:
                    figure = measure(phase, urls, items, args.seconds, use_wrk, pool)
                    figures[phase.name].append(figure)
                    print(
                        f"round {round_number + 1} {phase.name:<30} {figure.rate:8.1f}/s "
                        f"p99 {figure.p99_ms:7.1f} ms errors {figure.errors} "
                        f"load {figure.load:.2f}",
                        flush=True,
                    )
    finally:
        for server in servers:
            server.stop()
        shutil.rmtree(workdir, ignore_errors=True)
        shutil.rmtree(seeds, ignore_errors=True)

    table = report(phases, figures, driver, args)
    print(table)
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(
        json.dumps(
            {
                "when": datetime.now(UTC).isoformat(),
                "driver": driver,
                "rounds": args.rounds,
                "seconds": args.seconds,
                "workers": args.workers,
                "database": "postgresql" if args.database_url else "sqlite",
                "cpus": os.cpu_count(),
                "figures": {name: [vars(f) for f in values] for name, values in figures.items()},
                "table": table.splitlines(),
            },
            indent=2,
        )
    )

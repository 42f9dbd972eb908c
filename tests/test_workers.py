"""Several workers and several instances, for real: `agentic-checkout serve --workers 2` twice,
started together against one fresh PostgreSQL database, as an operator would run it.

Start-up work is done once (no crash, the demo shops onboarded once), every worker writes the
application's log lines (JSON, with the request id), and the background jobs of four worker
processes deliver each order event once.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import create_engine, text

from tests.conftest import new_postgres_database
from tests.servers import free_port
from tests.support import CLAY, NORTHWIND, Agent, fulfillment, pick
from tests.test_cli import CLEAN_ENV, CLI

pytestmark = [pytest.mark.slow, pytest.mark.postgres]
DEMO_AGENT_KEY = "agent_demo_key"
# Bounds on waiting for processes on a shared, loaded machine (never asserted on as timings).
START_WAIT_SECONDS = 360
EVENT_WAIT_SECONDS = 120


@pytest.fixture
def fresh_postgres() -> Iterator[str]:
    with new_postgres_database("acp_workers") as url:
        yield url


@dataclass
class Instance:
    url: str
    process: subprocess.Popen[bytes]
    log_path: Path

    def records(self) -> list[dict[str, Any]]:
        found = []
        for line in self.log_path.read_text(errors="replace").splitlines():
            try:
                found.append(json.loads(line))
            except ValueError:
                found.append({"event": line, "level": "RAW"})
        return found

    def events(self, prefix: str) -> list[dict[str, Any]]:
        return [r for r in self.records() if str(r.get("event", "")).startswith(prefix)]


def _start(database_url: str, directory: Path, name: str) -> Instance:
    port = free_port()
    log_path = directory / f"{name}.log"
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            [CLI, "serve", "--workers", "2", "--port", str(port)],
            cwd=directory,
            env={
                **CLEAN_ENV,
                "DATABASE_URL": database_url,
                # The demo shops are what the instances race to onboard; on PostgreSQL the
                # sandboxes are off unless asked for.
                "MERCHANT_SANDBOX": "true",
                "LOG_FORMAT": "json",
                "OUTBOX_POLL_SECONDS": "0.2",
            },
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    return Instance(f"http://127.0.0.1:{port}", process, log_path)


def _wait(
    condition: Callable[[], bool], what: str, instances: list[Instance], seconds: float
) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        if time.monotonic() > deadline:
            logs = "\n".join(i.log_path.read_text(errors="replace")[-3000:] for i in instances)
            raise AssertionError(f"{what} did not happen\n{logs}")
        time.sleep(0.5)


@pytest.fixture
def two_instances(fresh_postgres: str, tmp_path: Path) -> Iterator[list[Instance]]:
    instances = [_start(fresh_postgres, tmp_path, name) for name in ("first", "second")]
    try:
        for instance in instances:
            _wait(
                lambda i=instance: len(i.events("Application startup complete")) >= 2,
                "both workers of an instance starting",
                instances,
                START_WAIT_SECONDS,
            )
        yield instances
    finally:
        for instance in instances:
            instance.process.terminate()
        for instance in instances:
            instance.process.wait(timeout=60)


def _buy(base_url: str, variant: str, request_id: str) -> str:
    with httpx.Client(base_url=base_url, timeout=60) as client:
        agent = Agent(client, key=DEMO_AGENT_KEY)  # type: ignore[arg-type]
        created = agent.create(variant, fulfillment_details=fulfillment())
        assert created.status_code == 201, created.text
        session = created.json()
        token = agent.delegate(session).json()["id"]
        completed = client.post(
            f"/checkout_sessions/{session['id']}/complete",
            json={
                "payment_data": {
                    "handler_id": "card_tokenized",
                    "instrument": {"type": "card", "credential": {"type": "spt", "token": token}},
                }
            },
            headers=agent.headers(str(uuid.uuid4()), **{"Request-Id": request_id}),
        )
        assert completed.status_code == 200, completed.text
        return str(completed.json()["order"]["id"])


def _variants(base_url: str) -> list[str]:
    products = httpx.get(
        f"{base_url}/catalog/products?limit=100",
        headers={"Authorization": f"Bearer {DEMO_AGENT_KEY}"},
        timeout=60,
    ).json()["products"]
    return [
        variant["id"]
        for product in products
        for variant in product["variants"]
        if variant["available_quantity"] >= 5 and product["merchant_id"] in (CLAY, NORTHWIND)
    ]


def test_two_instances_of_two_workers_start_on_a_fresh_database_and_onboard_the_shops_once(
    two_instances: list[Instance], fresh_postgres: str
) -> None:
    for instance in two_instances:
        assert instance.process.poll() is None, instance.log_path.read_text()[-3000:]
        crashes = [r for r in instance.records() if "died" in str(r.get("event"))]
        errors = [r for r in instance.records() if r.get("level") in ("ERROR", "CRITICAL")]
        assert not crashes and not errors, (crashes + errors)[:3]
    onboarded = sum(len(i.events("sandbox.merchant_onboarded")) for i in two_instances)
    assert onboarded == 2  # the two demo shops, by whichever worker came first
    engine = create_engine(fresh_postgres)
    with engine.connect() as connection:
        merchants = connection.execute(text("SELECT id FROM merchants ORDER BY id")).scalars().all()
    engine.dispose()
    assert merchants == sorted([CLAY, NORTHWIND])
    for instance in two_instances:
        assert _variants(instance.url), "each instance serves the catalog"


def test_every_worker_logs_sales_with_their_request_id_and_each_order_event_goes_out_once(
    two_instances: list[Instance],
) -> None:
    variants = _variants(two_instances[0].url)
    orders = {}
    for index in range(6):  # spread over both instances, and over their workers
        request_id = f"req_workers_{index}_{uuid.uuid4().hex[:8]}"
        instance = two_instances[index % 2]
        orders[_buy(instance.url, variants[index % len(variants)], request_id)] = request_id

    placed = [r for i in two_instances for r in i.events("checkout.order_placed")]
    assert {r["request_id"] for r in placed} == set(orders.values())
    assert len({r["process"] for r in placed}) >= 2, "sales were logged by more than one worker"

    def delivered() -> list[str]:
        lines = [r["event"] for i in two_instances for r in i.events("webhook.delivered")]
        return [order for line in lines for order in orders if f"order={order}" in line]

    _wait(
        lambda: set(delivered()) == set(orders),
        "order events delivered",
        two_instances,
        EVENT_WAIT_SECONDS,
    )
    time.sleep(2)  # a second claimant, if there were one, would deliver again within its poll
    assert sorted(delivered()) == sorted(orders), "each order_create delivered exactly once"


RECOVERY_WORKER = """
import asyncio, json, pathlib, sys
from datetime import timedelta
from checkout.app import create_app
from checkout.flows.purchase.recovery import recover_purchases
from tests.conftest import make_settings

app = create_app(make_settings(sys.argv[1], load_seeds=False))
go = pathlib.Path(sys.argv[2])

async def main():
    async with app.router.lifespan_context(app):
        print("ready", flush=True)
        while not go.exists():
            await asyncio.sleep(0.01)
        completion = app.state.services.completion
        report = await recover_purchases(completion, older_than=timedelta(minutes=1))
        print(json.dumps(report), flush=True)

asyncio.run(main())
"""


@pytest.mark.parametrize("backend", ["postgres"], indirect=True)
def test_two_processes_recovering_at_once_carry_on_a_stalled_purchase_once(
    agent: Agent, database_url: str, tmp_path: Path
) -> None:
    from tests.test_merchant_platforms import _begin  # a purchase begun and then abandoned

    session, _ = _begin(agent, pick(NORTHWIND))  # as a process killed after step one leaves it
    engine = create_engine(database_url)
    with engine.begin() as connection:  # ... ten minutes ago
        connection.execute(text("UPDATE purchases SET updated_at = now() - interval '10 minutes'"))
    engine.dispose()
    go = tmp_path / "go"
    workers = [
        subprocess.Popen(
            [sys.executable, "-c", RECOVERY_WORKER, database_url, str(go)],
            cwd=Path(__file__).resolve().parent.parent,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(2)
    ]
    try:
        for worker in workers:
            assert worker.stdout is not None
            assert worker.stdout.readline().strip() == "ready", worker.stderr
        go.touch()  # both sweep at the same moment
        outputs = [worker.communicate(timeout=EVENT_WAIT_SECONDS) for worker in workers]
        assert all(worker.returncode == 0 for worker in workers), [err for _, err in outputs]
        reports = [json.loads(out.strip().splitlines()[-1]) for out, _ in outputs]
    finally:
        for worker in workers:
            if worker.poll() is None:
                worker.kill()
    assert sum(r["completed"] + r["unwound"] for r in reports) == 1, reports
    assert agent.get(str(session["id"])).json()["status"] == "completed"
    engine = create_engine(database_url)
    with engine.connect() as connection:
        orders = connection.execute(text("SELECT count(*) FROM orders")).scalar_one()
        captured = connection.execute(
            text("SELECT count(*) FROM payments WHERE status = 'succeeded'")
        ).scalar_one()
    engine.dispose()
    assert (orders, captured) == (1, 1)

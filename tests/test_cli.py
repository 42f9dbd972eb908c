"""The command line as a user meets it: serve on an empty directory, and db upgrade."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import httpx
import pytest
from sqlalchemy import create_engine, inspect

from tests.servers import free_port, wait_until_healthy

pytestmark = pytest.mark.slow
CLI = str(Path(sys.executable).parent / "agentic-checkout")
CLEAN_ENV = {
    k: v
    for k, v in os.environ.items()
    if k
    not in {
        "DATABASE_URL",
        "AGENT_API_KEY",
        "OPERATOR_API_KEY",
        "ORDER_WEBHOOK_URL",
        "ORDER_WEBHOOK_SECRET",
        "PAYMENT_PROVIDER",
        "SEEDS_DIR",
    }
}


def test_serve_with_no_configuration_starts_on_sqlite_and_says_which_defaults_it_used(
    tmp_path: Path,
) -> None:
    port = free_port()
    log_path = tmp_path / "serve.log"
    with log_path.open("w") as log:
        server = subprocess.Popen(
            [CLI, "serve", "--port", str(port)],
            cwd=tmp_path,
            env=CLEAN_ENV,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        try:
            wait_until_healthy(f"http://127.0.0.1:{port}", server, log_path)
            catalog = httpx.get(
                f"http://127.0.0.1:{port}/catalog/products?limit=100",
                headers={"Authorization": "Bearer agent_demo_key"},
            )
            assert catalog.status_code == 200
            assert len({p["merchant_id"] for p in catalog.json()["products"]}) == 2
        finally:
            server.terminate()
            server.wait(timeout=60)
    output = log_path.read_text()
    assert "DATABASE_URL=sqlite:///./agentic_checkout.db" in output
    assert "AGENT_API_KEY=agent_demo_key (demo key)" in output
    assert output.count("sandbox.merchant_onboarded") == 2  # both demo shops, through the sandboxes
    assert (tmp_path / "agentic_checkout.db").exists()


def test_db_upgrade_creates_the_schema(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'fresh.db'}"
    result = subprocess.run(
        [CLI, "db", "upgrade"],
        env={**CLEAN_ENV, "DATABASE_URL": url},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    engine = create_engine(url)
    tables = set(inspect(engine).get_table_names())
    engine.dispose()
    assert {"checkout_sessions", "orders", "idempotency_records", "outbox_events"} <= tables


def test_demo_plays_a_whole_conversation_on_the_embedded_default(tmp_path: Path) -> None:
    result = subprocess.run(
        [CLI, "demo"], cwd=tmp_path, env=CLEAN_ENV, capture_output=True, text=True, timeout=180
    )
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.count("placed with") >= 2  # one order from each demo merchant
    assert "declined" in result.stdout
    assert "commission earned by the platform: $" in result.stdout

"""What the checkout benchmarks share: the agent's key and headers, the bodies, seeds with deep stock."""

from __future__ import annotations

import json
import socket
from pathlib import Path
from typing import Any

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


def bench_seeds(directory: Path) -> Path:
    """The demo catalog with deep stock, so purchases measure checkout rather than sold-out items."""
    for path in (ROOT / "seeds").glob("*.json"):
        document = json.loads(path.read_text())
        for product in document["products"]:
            for variant in product["variants"]:
                variant["inventory"] = 10_000_000
        (directory / path.name).write_text(json.dumps(document))
    return directory


def create_body(variant: str) -> dict[str, Any]:
    return {
        "line_items": [{"id": variant, "quantity": 1}],
        "currency": "usd",
        "capabilities": {"interventions": {"supported": ["3ds"]}},
    }


def percentile(values: list[float], q: float) -> float:
    """The q-quantile of seconds, in milliseconds."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000

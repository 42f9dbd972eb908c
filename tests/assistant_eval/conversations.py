"""Playing the scripted conversations (conversations.json) and checking how each one ended.

A script's end state is read from checkout through its public API, not from the assistant's
replies: every order placed during the conversation, its checkout session's merchant, line items
(title, options, quantity) and shipping address. A script succeeds when those match exactly.
Used by the evaluation test (a success-rate floor) and `python -m benchmarks.recommendation`.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tests.assistant.shopper import Platform
from tests.support import AGENT_KEY

SCRIPTS = Path(__file__).resolve().parent / "conversations.json"
ACP = {"Authorization": f"Bearer {AGENT_KEY}", "API-Version": "2026-04-17"}


@dataclass(frozen=True, slots=True)
class Script:
    id: str
    about: str
    turns: list[str]
    orders: list[dict[str, Any]]
    held_out: bool


@dataclass
class Played:
    script: Script
    ended_as_scripted: bool
    differences: list[str] = field(default_factory=list)
    turn_ms: list[float] = field(default_factory=list)
    # Per turn: whether the reply carried checkout's state or an order (the turn called checkout).
    at_checkout: list[bool] = field(default_factory=list)
    # Per turn: milliseconds spent inside checkout's own request handling (when metered).
    checkout_ms: list[float] = field(default_factory=list)
    # Per turn: CPU time of the whole process (assistant and checkout), steadier than wall
    # time on a busy machine.
    cpu_ms: list[float] = field(default_factory=list)


def load_scripts(path: Path = SCRIPTS) -> list[Script]:
    document = json.loads(path.read_text())
    return [
        Script(c["id"], c["about"], list(c["turns"]), list(c["expect"]["orders"]), c["held_out"])
        for c in document["conversations"]
    ]


async def _placed(stack: Platform, order_ids: list[str]) -> list[dict[str, Any]]:
    """Each order as checkout holds it: merchant, lines (title, options, quantity), address."""
    placed = []
    for order_id in order_ids:
        order = await stack.order(order_id)
        answer = await stack.http.get(
            f"/checkout_sessions/{order['checkout_session_id']}", headers=ACP
        )
        session = answer.json()
        handlers = session.get("capabilities", {}).get("payment", {}).get("handlers", [])
        address = (session.get("fulfillment_details") or {}).get("address") or {}
        lines = []
        for line in order["line_items"]:
            title, _, options = line["title"].partition(" (")
            lines.append(
                {
                    "title": title,
                    "options": [o.strip() for o in options.rstrip(")").split("/") if o.strip()],
                    "quantity": line["quantity"]["ordered"],
                }
            )
        placed.append(
            {
                "merchant": handlers[0]["config"]["merchant_id"] if handlers else None,
                "lines": lines,
                "address": address,
            }
        )
    return placed


def _same_order(expected: dict[str, Any], placed: dict[str, Any]) -> bool:
    if expected["merchant"] != placed["merchant"]:
        return False
    # Only the options the shopper named are checked: "size 8" leaves the colour to the shop.
    lines = list(placed["lines"])
    if len(lines) != len(expected["items"]):
        return False
    for item in expected["items"]:
        line = next(
            (
                line
                for line in lines
                if line["title"] == item["title"]
                and line["quantity"] == item["quantity"]
                and set(item["options"]) <= set(line["options"])
            ),
            None,
        )
        if line is None:
            return False
        lines.remove(line)
    address = placed["address"]
    for key, value in expected.get("address", {}).items():
        if str(address.get(key, "")).strip().lower() != str(value).strip().lower():
            return False
    return True


async def play(
    stack: Platform, script: Script, *, checkout_meter: Callable[[], float] | None = None
) -> Played:
    """Play one script; `checkout_meter` (milliseconds spent in checkout so far) splits turns."""
    shopper = await stack.shopper().start()
    order_ids: list[str] = []
    turn_ms: list[float] = []
    at_checkout: list[bool] = []
    checkout_ms: list[float] = []
    cpu_ms: list[float] = []
    for text in script.turns:
        in_checkout = checkout_meter() if checkout_meter else 0.0
        started, cpu = time.perf_counter(), time.process_time()
        response = await shopper.send(text)
        turn_ms.append((time.perf_counter() - started) * 1000)
        cpu_ms.append((time.process_time() - cpu) * 1000)
        checkout_ms.append((checkout_meter() if checkout_meter else 0.0) - in_checkout)
        if response.status_code != 200:
            failure = [f"{text!r} answered {response.status_code}"]
            return Played(script, False, failure, turn_ms, [*at_checkout, False], checkout_ms)
        body = response.json()
        order_ids.extend(body["orders_placed"])
        kinds = {p["type"] for p in body["reply"]["parts"]}
        at_checkout.append(bool(kinds & {"checkout", "order"}) or bool(body["orders_placed"]))
    placed = await _placed(stack, order_ids)
    unmatched = list(placed)
    differences = []
    for expected in script.orders:
        match = next((p for p in unmatched if _same_order(expected, p)), None)
        if match is None:
            differences.append(f"expected order not placed: {expected}")
        else:
            unmatched.remove(match)
    differences += [f"unexpected order: {p}" for p in unmatched]
    return Played(script, not differences, differences, turn_ms, at_checkout, checkout_ms, cpu_ms)

"""LLM mode plays all the scripted conversations to the same end states as the offline agent.

respx stands in for OpenAI's HTTP API and nothing else: the assistant, its tools, checkout, the
payment and shop sandboxes are all real. The "model" follows a recorded transcript per script
(tests/assistant_eval/llm_transcripts.json, written by hand from each shopper turn): per turn,
the rounds of tool calls a model makes. It knows only what is in the request it receives, so
variant ids and search positions are read from the tool results in that request, and the
transcript has the model call pay (or complete_authentication) on every turn after the card is
typed unless the shopper cancels, so only code can hold it to the shopper's clear yes. Each
response is checked against the openai SDK's own `ChatCompletion` type (in `completion`). The
end state is checked as for the offline agent: the orders as checkout holds them.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import httpx
import pytest
import respx

from tests.assistant.shopper import Platform
from tests.assistant.test_llm_mode import completion, llm_stack, openai_api
from tests.assistant_eval.conversations import SCRIPTS, Script, load_scripts, play

__all__ = ["llm_stack", "openai_api"]  # fixtures used by the tests below
pytestmark = pytest.mark.anyio
TRANSCRIPTS = SCRIPTS.parent / "llm_transcripts.json"
Round = list[list[Any]]  # [[tool name, arguments], ...]


class TranscriptGap(Exception):
    """The transcript asks for something the model could not have read in its request."""


def load_transcripts(path: Path = TRANSCRIPTS) -> dict[str, list[list[Round]]]:
    transcripts: dict[str, list[list[Round]]] = json.loads(path.read_text())["transcripts"]
    return transcripts


def _tool_results(messages: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Tool results of the current turn, oldest first (earlier turns reach the model as text)."""
    since = max(i for i, m in enumerate(messages) if m["role"] == "user")
    return [json.loads(m["content"]) for m in messages[since:] if m["role"] == "tool"]


def _position(title: str, seen: list[dict[str, Any]]) -> int:
    searched = [r for r in seen if "results" in r]
    if not searched:
        raise TranscriptGap("no search results to pick a position from")
    for result in searched[-1]["results"]:
        if title is None or result["title"] == title:
            return int(result["position"])
    raise TranscriptGap(f"{title!r} is not in the search results")


def _variant(title: str | None, options: list[str], seen: list[dict[str, Any]]) -> str:
    opened = [r for r in seen if "variants" in r]
    if not opened:
        raise TranscriptGap("no product was opened")
    product = opened[-1]
    if title is not None and product["title"] != title:
        raise TranscriptGap(f"opened {product['title']!r}, not {title!r}")
    for variant in product["variants"]:
        values = {v.strip().lower() for v in variant["title"].split("/")}
        if {o.lower() for o in options} <= values:
            return str(variant["variant_id"])
    raise TranscriptGap(f"{product['title']!r} has no variant {options}")


def _resolve(value: Any, seen: list[dict[str, Any]]) -> Any:
    if isinstance(value, dict):
        if "$position" in value:
            return _position(value["$position"], seen)
        if "$variant" in value:
            title, *options = value["$variant"]
            return _variant(title, options, seen)
        return {k: _resolve(v, seen) for k, v in value.items()}
    return value


def _words_for(seen: list[dict[str, Any]]) -> str:
    """What the model says once a round's results are back (later turns read it as history)."""
    last = seen[-1] if seen else {}
    if last.get("results"):
        found = "; ".join(
            f"{r['position']}. {r['title']} ({r['variant']}) {r['price']}" for r in last["results"]
        )
        return f"Here is what I found: {found}."
    if "added" in last:
        return f"Added {last['added']} to your cart."
    if last.get("sessions"):
        totals = ", ".join(
            f"{s['merchant']}: {next(t['display_text'] for t in s['totals'] if t['type'] == 'total')}"
            for s in last["sessions"]
            if s.get("totals")
        )
        return f"Checkout's totals: {totals}. Shall I place the order?"
    if "orders" in last:
        return "Your order is placed." if last["orders"] else "Nothing to report yet."
    return str(last.get("message") or last.get("error") or "Okay.")


class ScriptedModel:
    """The fake model's HTTP handler for one script: reads the request, answers from the transcript.

    It keeps what it could not do (`gaps`) and how many rounds of calls it made (`served`), so
    a script cannot pass with its transcript half-used.
    """

    def __init__(self, turns: list[list[Round]]) -> None:
        self.turns = turns
        self.started = 0  # shopper turns seen: a request ending in the shopper's message
        self.served = 0
        self.gaps: list[str] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        messages = json.loads(request.content)["messages"]
        if messages[-1]["role"] == "user":
            self.started += 1
        turn = self.started - 1
        since = max(i for i, m in enumerate(messages) if m["role"] == "user")
        done = sum(m["role"] == "assistant" and bool(m.get("tool_calls")) for m in messages[since:])
        rounds = self.turns[turn] if turn < len(self.turns) else []
        seen = _tool_results(messages)
        if done >= len(rounds):
            return completion(content=_words_for(seen))
        try:
            calls = [(name, _resolve(args, seen)) for name, args in rounds[done]]
        except TranscriptGap as gap:
            self.gaps.append(f"turn {turn + 1}: {gap}")
            return completion(content=f"I could not do that ({gap}).")
        self.served += 1
        return completion(calls=calls)  # completion() checks it against the SDK's type


def test_every_script_has_a_transcript_turn_for_each_shopper_turn() -> None:
    transcripts = load_transcripts()
    scripts = load_scripts()
    assert sorted(transcripts) == sorted(s.id for s in scripts)
    for script in scripts:
        assert len(transcripts[script.id]) == len(script.turns), script.id


async def test_the_llm_mode_ends_every_script_as_the_offline_agent_does(
    llm_stack: Platform, openai_api: respx.Router
) -> None:
    scripts: dict[str, Script] = {s.id: s for s in load_scripts()}
    route = openai_api.post("/chat/completions")
    failed = {}
    for script_id, turns in load_transcripts().items():
        model = ScriptedModel(turns)
        route.side_effect = model
        played = await play(llm_stack, scripts[script_id])
        rounds = sum(len(turn) for turn in turns)
        if not played.ended_as_scripted or model.gaps or model.served != rounds:
            failed[script_id] = [*played.differences, *model.gaps, f"{model.served}/{rounds}"]
    assert failed == {}

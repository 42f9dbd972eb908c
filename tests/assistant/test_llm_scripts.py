"""LLM mode plays the same scripted conversations to the same end states as the offline agent.

respx stands in for OpenAI: for each shopper turn of a script the "model" makes the tool calls a
sensible model would make (written here by hand, per turn), and greedily tries `pay` or
`complete_authentication` on every later turn too, so only code can hold it to the shopper's
clear yes. Checkout is real; the end state is checked as for the offline agent (orders as
checkout holds them). Only tuning-part scripts are used.
"""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest
import respx

from assistant.service import AssistantService
from tests.assistant.shopper import Platform
from tests.assistant.test_llm_mode import ADDRESS, completion, llm_stack, openai_api
from tests.assistant_eval.conversations import Script, load_scripts, play

__all__ = ["llm_stack", "openai_api"]  # fixtures used by the tests below
pytestmark = pytest.mark.anyio
Call = tuple[str, dict[str, Any]]


def variant_id(service: AssistantService, title: str, *options: str) -> str:
    product = next(p for p in service.index.products if p.title == title)
    variant = next(
        v for v in product.variants if all(o in [value for _, value in v.options] for o in options)
    )
    return variant.id


def scripted_calls(service: AssistantService) -> dict[str, list[list[Call]]]:
    """Per script, per shopper turn: the tool calls the model makes."""
    ship = [("update_checkout", {"shipping_address": ADDRESS})]
    pay: list[Call] = [("pay", {})]
    mug = variant_id(service, "Cobalt Blue Drip Glaze Mug", "Cobalt Blue")
    candle = variant_id(service, "Lavender & Chamomile Soy Candle", "12 oz")
    small_candle = variant_id(service, "Lavender & Chamomile Soy Candle", "8 oz")
    vase = variant_id(service, "Porcelain Bud Vase")
    socks = variant_id(service, "Merino Wool Hiking Socks", "M")
    return {
        "conv-01": [
            [("search_products", {"query": "ceramic mug", "max_price": 40})],
            [],
            [("add_to_cart", {"variant_id": mug, "quantity": 1}), ("create_checkout", {})],
            ship,
            pay,
            pay,
        ],
        "conv-04": [
            [("search_products", {"query": "scented soy candle"})],
            [],
            [("add_to_cart", {"variant_id": candle, "quantity": 1}), ("create_checkout", {})],
            ship,
            pay,
            pay,
            [("complete_authentication", {})],
        ],
        "conv-05": [
            [("search_products", {"query": "porcelain bud vase"})],
            [("add_to_cart", {"variant_id": vase, "quantity": 1}), ("create_checkout", {})],
            ship,
            pay,
            pay,
            pay,
            pay,
        ],
        "conv-06": [
            [("search_products", {"query": "ceramic mug", "colour": "blue"})],
            [("add_to_cart", {"variant_id": mug, "quantity": 1}), ("create_checkout", {})],
            ship,
            pay,
            pay,
            pay,
        ],
        "conv-12": [
            [("search_products", {"query": "merino hiking socks", "size": "M"})],
            [("add_to_cart", {"variant_id": socks, "quantity": 1})],
            [("search_products", {"query": "lavender candle", "size": "8 oz"})],
            [("add_to_cart", {"variant_id": small_candle, "quantity": 1})],
            [("remove_from_cart", {"variant_id": socks})],
            [("create_checkout", {})],
            ship,
            pay,
            pay,
        ],
    }


def model_for(calls: list[list[Call]]) -> Any:
    def reply(request: httpx.Request) -> httpx.Response:
        messages = json.loads(request.content)["messages"]
        if messages[-1]["role"] == "tool":
            return completion(content="Done.")
        turn = sum(m["role"] == "user" for m in messages) - 1
        planned = calls[turn] if turn < len(calls) else [("pay", {})]
        return completion(calls=planned) if planned else completion(content="Which one?")

    return reply


async def test_the_llm_mode_ends_the_scripts_as_the_offline_agent_does(
    llm_stack: Platform, openai_api: respx.Router
) -> None:
    scripts: dict[str, Script] = {s.id: s for s in load_scripts() if not s.held_out}
    route = openai_api.post("/chat/completions")
    failed = {}
    for script_id, calls in scripted_calls(llm_stack.service).items():
        route.side_effect = model_for(calls)
        played = await play(llm_stack, scripts[script_id])
        if not played.ended_as_scripted:
            failed[script_id] = played.differences
    assert failed == {}

"""LLM mode: the model drives through tools; respx mocks only the OpenAI HTTP API, checkout is real."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
import respx
from openai.types.chat import ChatCompletion

from assistant.catalog.query import SearchQuery
from assistant.service import AssistantService
from tests.assistant.shopper import (
    BASE,
    Platform,
    Shopper,
    assistant_settings,
    order_count,
    orders,
    platform,
    text_of,
)

pytestmark = pytest.mark.anyio
OPENAI = "https://api.openai.test/v1"
ADDRESS = {
    "name": "Ada Lovelace",
    "line_one": "1234 Chat Road",
    "city": "San Francisco",
    "state": "CA",
    "postal_code": "94131",
    "country": "US",
}


def completion(
    *, content: str | None = None, calls: list[tuple[str, dict[str, Any]]] | None = None
) -> httpx.Response:
    message: dict[str, Any] = {"role": "assistant", "content": content}
    if calls:
        message["tool_calls"] = [
            {
                "id": f"call_{i}_{name}",
                "type": "function",
                "function": {"name": name, "arguments": json.dumps(args)},
            }
            for i, (name, args) in enumerate(calls)
        ]
    body = {
        "id": "chatcmpl-test",
        "object": "chat.completion",
        "created": 1_780_000_000,
        "model": "gpt-4.1-mini",
        "choices": [
            {
                "index": 0,
                "message": message,
                "finish_reason": "tool_calls" if calls else "stop",
            }
        ],
        "usage": {"prompt_tokens": 10, "completion_tokens": 10, "total_tokens": 20},
    }
    # The fake answers only what the SDK itself accepts as a chat completion.
    ChatCompletion.model_validate(body)
    return httpx.Response(200, json=body)


@pytest.fixture
def openai_api() -> respx.Router:
    return respx.Router(assert_all_called=False, base_url=OPENAI)


@pytest.fixture
async def llm_stack(
    database_url: str, openai_api: respx.Router, anyio_backend: str
) -> AsyncIterator[Platform]:
    transport = httpx.MockTransport(openai_api.async_handler)
    async with httpx.AsyncClient(transport=transport) as openai_http:
        service = AssistantService(
            assistant_settings(database_url, openai_api_key="sk-test", openai_base_url=OPENAI),
            openai_http_client=openai_http,
        )
        async with platform(database_url, service=service) as running:
            yield running


def sent_to_openai(openai_api: respx.Router) -> list[dict[str, Any]]:
    return [json.loads(call.request.content) for call in openai_api.calls]


def tool_results(body: dict[str, Any]) -> list[dict[str, Any]]:
    return [json.loads(m["content"]) for m in body["messages"] if m["role"] == "tool"]


async def test_a_scripted_model_buys_through_checkout_and_code_enforces_the_confirmation(
    llm_stack: Platform, openai_api: respx.Router
) -> None:
    [mug] = llm_stack.service.index.search(SearchQuery(text="cobalt blue drip glaze mug"), limit=1)
    route = openai_api.post("/chat/completions")
    route.side_effect = [
        completion(calls=[("search_products", {"query": "ceramic mug", "colour": "blue"})]),
        completion(calls=[("add_to_cart", {"variant_id": mug.variant.id, "quantity": 1})]),
        completion(
            calls=[
                ("create_checkout", {}),
                ("update_checkout", {"shipping_address": ADDRESS, "shipping": "express"}),
            ]
        ),
        completion(calls=[("pay", {})]),
        completion(content="Your total is ready. Type a card and confirm to place the order."),
        completion(calls=[("pay", {})]),
        completion(content="Done! Your order is placed."),
        completion(calls=[("order_status", {})]),
        completion(content="It's confirmed."),
    ]
    shopper = await Shopper(llm_stack.http).start()

    first = await shopper.say("I'd like a blue ceramic mug, ship it express to Ada in SF")
    assert orders(first) == []
    assert order_count(llm_stack.database_url) == 0
    refused = tool_results(sent_to_openai(openai_api)[4])[-1]
    assert refused["refused"] == "confirmation_required"
    kinds = {p["type"] for p in first["reply"]["parts"]}
    assert {"product_cards", "checkout"} <= kinds

    paid = await shopper.say(
        "pay with 4242 4242 4242 4242 exp 12/30 cvc 123 - yes, place the order"
    )
    [order] = orders(paid)
    assert text_of(paid) == "Done! Your order is placed."
    assert (await llm_stack.order(order["order_id"]))["status"] == "confirmed"

    status = await shopper.say("where is it?")
    assert text_of(status) == "It's confirmed."
    for body in sent_to_openai(openai_api):
        dumped = json.dumps(body)
        assert "4242424242424242" not in dumped and "4242 4242 4242 4242" not in dumped
    assert sent_to_openai(openai_api)[0]["tools"][0]["function"]["name"] == "search_products"


async def test_when_the_model_is_unreachable_the_offline_agent_answers(
    llm_stack: Platform, openai_api: respx.Router
) -> None:
    openai_api.post("/chat/completions").mock(return_value=httpx.Response(503))
    shopper = await Shopper(llm_stack.http).start()
    answer = await shopper.say("scented candle")
    assert "offline mode" in text_of(answer)
    assert any(p["type"] == "product_cards" for p in answer["reply"]["parts"])


def test_llm_mode_is_off_without_a_key() -> None:
    service = AssistantService(assistant_settings("sqlite://", openai_api_key=None))
    assert service.mode == "offline" and BASE


def greedy_model(variant_id: str) -> Any:
    """A model that tries to pay on every shopper message, whatever the shopper said: the
    confirmation rule has to hold in code, not in the model's judgement."""

    def reply(request: httpx.Request) -> httpx.Response:
        messages = json.loads(request.content)["messages"]
        if messages[-1]["role"] == "tool":
            return completion(content="Okay.")
        if sum(m["role"] == "user" for m in messages) == 1:
            return completion(
                calls=[
                    ("add_to_cart", {"variant_id": variant_id, "quantity": 1}),
                    ("create_checkout", {}),
                    ("update_checkout", {"shipping_address": ADDRESS}),
                    ("pay", {}),
                ]
            )
        return completion(calls=[("pay", {})])

    return reply


async def test_a_model_that_always_pays_is_held_to_the_shoppers_clear_yes(
    llm_stack: Platform, openai_api: respx.Router
) -> None:
    from tests.assistant.test_money_needs_a_clear_yes import A_CLEAR_YES, NOT_A_YES

    [vase] = llm_stack.service.index.search(SearchQuery(text="porcelain bud vase"), limit=1)
    openai_api.post("/chat/completions").side_effect = greedy_model(vase.variant.id)
    wrong = []
    for reply, paid in [(r, False) for r in NOT_A_YES[::3]] + [(r, True) for r in A_CLEAR_YES[::3]]:
        shopper = await Shopper(llm_stack.http).start()
        before = order_count(llm_stack.database_url)
        first = await shopper.say(
            "the porcelain bud vase please, pay with 4242 4242 4242 4242 12/30 123"
        )
        assert first["orders_placed"] == []
        answer = await shopper.say(reply)
        placed = order_count(llm_stack.database_url) - before
        if placed != int(paid) or len(answer["orders_placed"]) != int(paid):
            wrong.append((reply, placed))
    assert wrong == []


async def test_tool_arguments_of_the_wrong_shape_come_back_to_the_model_as_an_error(
    llm_stack: Platform, openai_api: respx.Router
) -> None:
    route = openai_api.post("/chat/completions")
    route.side_effect = [
        completion(calls=[("search_products", {"query": "porcelain bud vase"})]),
        completion(calls=[("show_product", {"position": {"index": 1}})]),
        completion(content="Sorry, let me try that again."),
    ]
    shopper = await Shopper(llm_stack.http).start()

    answer = await shopper.say("show me the bud vase")

    assert text_of(answer) == "Sorry, let me try that again."
    [*_, last] = sent_to_openai(openai_api)
    assert tool_results(last)[-1] == {"error": "bad arguments for show_product: TypeError"}

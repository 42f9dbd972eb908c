"""The LLM agent: an OpenAI model drives the conversation through the shopping tools.

The SDK's `AsyncOpenAI` is built once with an injected httpx client (so tests mock only the
OpenAI edge). If the model cannot be reached the turn falls back to the offline agent.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any, cast

import httpx

from assistant.dialogue.agent import OfflineAgent
from assistant.dialogue.language import Understanding
from assistant.llm.tools import TOOLS, ToolBox
from assistant.shopping.turn import Turn

log = logging.getLogger("assistant.llm")
# How much of the conversation the model sees (older turns live in the stored state).
HISTORY_FOR_LLM = 20

MAX_ROUNDS = 8
SYSTEM_PROMPT = """You are a shopping assistant on an agentic-commerce platform.
Find products with search_products and quote only what the tools return: never invent
products, prices, stock or totals. To buy: add_to_cart, create_checkout, update_checkout with
the shopper's address and shipping choice, show checkout's totals and ask the shopper to
confirm. Call pay only after the shopper confirms in a new message; the card they typed is
masked for you and held by the tools. If pay reports 3-D Secure, ask the shopper to approve in
their bank app, then call complete_authentication. Explain declines plainly. Be brief."""


class LlmAgent:
    def __init__(
        self,
        *,
        api_key: str,
        model: str,
        base_url: str | None,
        http_client: httpx.AsyncClient | None,
        tools: ToolBox,
        fallback: OfflineAgent,
    ) -> None:
        # Imported here: the SDK takes about half a second to import, and only a deployment
        # with an OpenAI key builds this agent.
        import openai

        self.unavailable = openai.APIError
        self.client = openai.AsyncOpenAI(
            api_key=api_key,
            base_url=base_url,
            # The SDK accepts an httpx (legacy) client as well as its own httpx2 one.
            http_client=cast(Any, http_client),
            max_retries=1,
            timeout=60.0,
        )
        self.model = model
        self.tools = tools
        self.fallback = fallback

    async def close(self) -> None:
        await self.client.close()

    async def respond(
        self, turn: Turn, u: Understanding, history: Sequence[tuple[str, str]]
    ) -> None:
        messages: list[dict[str, Any]] = [{"role": "system", "content": SYSTEM_PROMPT}]
        for role, text in history[-HISTORY_FOR_LLM:]:
            messages.append({"role": "assistant" if role != "user" else "user", "content": text})
        messages.append({"role": "user", "content": turn.text})
        try:
            for _round in range(MAX_ROUNDS):
                completion = await self.client.chat.completions.create(
                    model=self.model, messages=cast(Any, messages), tools=cast(Any, TOOLS)
                )
                message = completion.choices[0].message
                calls = [c for c in message.tool_calls or [] if c.type == "function"]
                if not calls:
                    turn.reply.say(message.content or "")
                    return
                messages.append(
                    {
                        "role": "assistant",
                        "content": message.content,
                        "tool_calls": [
                            {
                                "id": c.id,
                                "type": "function",
                                "function": {
                                    "name": c.function.name,
                                    "arguments": c.function.arguments,
                                },
                            }
                            for c in calls
                        ],
                    }
                )
                for call in calls:
                    log.info("llm.tool name=%s turn=%s", call.function.name, turn.turn_id)
                    result = await self.tools.call(
                        turn, call.function.name, call.function.arguments
                    )
                    messages.append({"role": "tool", "tool_call_id": call.id, "content": result})
            turn.reply.say("Sorry, I went round in circles there. Could you say that again?")
        except self.unavailable as exc:
            log.warning("llm.unavailable error=%s", type(exc).__name__)
            turn.reply.say("(The language model is unavailable; answering in offline mode.)")
            await self.fallback.respond(turn, u)

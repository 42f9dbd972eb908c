"""The reply as server-sent events: text deltas and structured parts as it forms, then done."""

from __future__ import annotations

import json
from typing import Any

import pytest

from tests.assistant.shopper import Platform, Shopper

pytestmark = pytest.mark.anyio


def events(body: str) -> list[tuple[str, Any]]:
    parsed = []
    for block in body.strip().split("\n\n"):
        lines = dict(line.split(": ", 1) for line in block.splitlines())
        parsed.append((lines["event"], json.loads(lines["data"])))
    return parsed


async def stream(shopper: Shopper, text: str, key: str | None = None) -> list[tuple[str, Any]]:
    response = await shopper.http.post(
        f"/assistant/conversations/{shopper.conversation_id}/messages/stream",
        json={"text": text},
        headers={**shopper.auth, **({"Idempotency-Key": key} if key else {})},
    )
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/event-stream")
    return events(response.text)


async def test_a_search_streams_text_then_product_cards_then_done(shopper: Shopper) -> None:
    sent = await stream(shopper, "scented candle under $30")
    kinds = [kind for kind, _ in sent]
    assert kinds[-1] == "done" and "delta" in kinds and "part" in kinds
    cards = next(data for kind, data in sent if kind == "part" and data["type"] == "product_cards")
    assert cards["cards"] and all(c["price"]["amount"] <= 3000 for c in cards["cards"])
    text = "".join(data["text"] for kind, data in sent if kind == "delta")
    history = await shopper.history()
    assert history["messages"][-1]["text"] == text
    assert sent[-1][1]["turn_id"] == history["messages"][-1]["turn_id"]


async def test_a_streamed_message_sent_again_replays_the_stored_turn(shopper: Shopper) -> None:
    first = await stream(shopper, "wool beanie", key="k-1")
    again = await stream(shopper, "wool beanie", key="k-1")
    assert again[-1][1]["replayed"] is True
    assert again[-1][1]["turn_id"] == first[-1][1]["turn_id"]
    assert len((await shopper.history())["messages"]) == 2


async def test_streaming_to_an_unknown_conversation_is_a_404(
    stack: Platform, shopper: Shopper
) -> None:
    answer = await stack.http.post(
        "/assistant/conversations/conv_nope/messages/stream",
        json={"text": "hi"},
        headers=shopper.auth,
    )
    assert answer.status_code == 404
    assert answer.json()["code"] == "conversation_not_found"

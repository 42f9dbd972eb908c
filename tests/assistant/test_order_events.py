"""Order webhooks from checkout: signed, applied once, and told to the conversation."""

from __future__ import annotations

import json
import time
from typing import Any

import pytest

from tests.assistant.shopper import (
    ADDRESS,
    VISA,
    Platform,
    Shopper,
    orders,
    pay_with,
    signed,
    text_of,
)

pytestmark = pytest.mark.anyio
WEBHOOK = "/assistant/webhooks/order_events"


async def place_order(shopper: Shopper) -> dict[str, Any]:
    await shopper.say("blue ceramic mug")
    await shopper.say(f"buy the first one and ship to {ADDRESS}")
    await shopper.say(pay_with(VISA))
    [order] = orders(await shopper.say("yes, place the order"))
    return order


def event(order: dict[str, Any]) -> bytes:
    return json.dumps({"type": "order_update", "data": order}).encode()


@pytest.mark.parametrize(
    "signature",
    [
        None,
        "t=1,v1=deadbeef",
        signed(b"another body"),
        signed(b"{}", secret="whsec_someone_else"),
        signed(b"{}", at=int(time.time()) - 301),
    ],
    ids=["missing", "garbage", "other-body", "wrong-secret", "too-old"],
)
async def test_an_event_without_a_valid_signature_is_refused_with_401(
    stack: Platform, signature: str | None
) -> None:
    headers = {"Merchant-Signature": signature} if signature else {}
    answer = await stack.http.post(WEBHOOK, content=b"{}", headers=headers)
    assert answer.status_code == 401
    assert answer.json()["type"] == "invalid_request"
    assert answer.json()["code"] == "invalid_signature"


async def test_checkout_events_reach_the_conversation_and_where_is_my_order_says_shipped(
    stack: Platform, shopper: Shopper
) -> None:
    order = await place_order(shopper)
    assert await stack.deliver_order_events() == 1
    await stack.ship(order["order_id"])
    assert await stack.deliver_order_events() == 1

    events = [m for m in (await shopper.history())["messages"] if m["role"] == "event"]
    assert [e["text"].split(" order")[0] for e in events] == ["Checkout confirmed", "Good news:"]
    assert "shipped with USPS, tracking 9400111899223" in events[1]["text"]

    status = await shopper.say("where is my order?")
    assert "is shipped" in text_of(status) and "9400111899223" in text_of(status)


async def test_a_redelivered_event_is_applied_once(stack: Platform, shopper: Shopper) -> None:
    order = await place_order(shopper)
    body = event(await stack.order(order["order_id"]))
    headers = {"Merchant-Signature": signed(body), "Request-Id": "evt_same"}
    first = await stack.http.post(WEBHOOK, content=body, headers=headers)
    again = await stack.http.post(WEBHOOK, content=body, headers=headers)
    same_content = await stack.http.post(
        WEBHOOK, content=body, headers={"Merchant-Signature": signed(body), "Request-Id": "evt_x"}
    )
    assert first.json() == {"received": True, "duplicate": False}
    assert again.json() == same_content.json() == {"received": True, "duplicate": True}
    events = [m for m in (await shopper.history())["messages"] if m["role"] == "event"]
    assert len(events) == 1


async def test_an_event_for_an_order_it_does_not_know_is_acknowledged(stack: Platform) -> None:
    body = json.dumps({"type": "order_create", "data": {"id": "ord_elsewhere"}}).encode()
    answer = await stack.http.post(
        WEBHOOK, content=body, headers={"Merchant-Signature": signed(body)}
    )
    assert answer.status_code == 200 and answer.json()["received"] is True


async def test_where_is_my_order_before_any_order_says_so(shopper: Shopper) -> None:
    answer = await shopper.say("where is my order?")
    assert "haven't placed an order" in text_of(answer)

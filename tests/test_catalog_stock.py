"""The catalog's stock after a sell-out race: it follows what the merchant's platform answered."""

from __future__ import annotations

from starlette.types import Message, Receive, Scope, Send

from tests.platform_support import platform_stock, sandboxes_of, storefront_sale
from tests.support import NORTHWIND, Agent, pick


def catalog_quantity(agent: Agent, variant_id: str) -> int:
    page = agent.client.get(
        "/catalog/products?limit=100&merchant_id=" + NORTHWIND, headers=agent.headers()
    ).json()
    return next(
        v["available_quantity"]
        for p in page["products"]
        for v in p["variants"]
        if v["id"] == variant_id
    )


def test_a_unit_sold_in_the_merchants_store_at_the_last_moment_is_not_back_in_the_catalog(
    agent: Agent,
) -> None:
    variant = pick(NORTHWIND, min_stock=3)
    session = agent.ready_session(variant)
    token = agent.delegate(session).json()["id"]
    left = platform_stock(agent.client, variant)
    assert left
    adapter, rival = storefront_sale(agent.client, variant, left, reference="rival")
    sandboxes = sandboxes_of(agent.client)
    platform = sandboxes.app.target
    assert platform is not None
    raced: list[bool] = []

    async def storefront_wins_the_race(scope: Scope, receive: Receive, send: Send) -> None:
        # Between checkout's stock check and its order, the store sells every unit left.
        assert platform is not None
        body = b""
        if scope["type"] == "http" and scope["method"] == "POST":
            message = await receive()
            body = message.get("body", b"")
            if b"orderCreate" in body and b"rival" not in body and not raced:
                raced.append(True)
                await adapter.place_order(rival)

        async def replay() -> Message:
            return {"type": "http.request", "body": body, "more_body": False}

        await platform(scope, replay if body else receive, send)

    sandboxes.app.target = storefront_wins_the_race
    try:
        response = agent.complete(session["id"], token)
    finally:
        sandboxes.app.target = platform
    assert raced, "the order reached the platform"
    assert response.status_code == 400, response.text
    assert response.json()["code"] == "out_of_stock"
    assert platform_stock(agent.client, variant) == 0
    assert catalog_quantity(agent, variant) == 0



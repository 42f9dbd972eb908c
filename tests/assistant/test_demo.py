"""The demo conversation, played against the whole platform in-process."""

from __future__ import annotations

import httpx
import pytest

from assistant.demo import run_demo
from tests.assistant.shopper import BASE, Platform

pytestmark = pytest.mark.anyio


async def test_the_demo_buys_from_both_merchants_after_a_decline(stack: Platform) -> None:
    printed: list[str] = []
    result = await run_demo(BASE, transport=httpx.ASGITransport(app=stack.app), out=printed.append)
    assert {o.merchant_id for o in result.orders} == {"mch_clay_and_kiln", "mch_northwind_supply"}
    for order in result.orders:
        at_checkout = await stack.order(order.order_id)
        assert (
            next(t["amount"] for t in at_checkout["totals"] if t["type"] == "total") == order.total
        )
    said = " ".join(text for who, text in result.transcript if who == "assistant")
    assert "declined" in said and "Nothing was charged" in said
    assert any(line.startswith("Orders placed") for line in printed)
    assert result.commission is None

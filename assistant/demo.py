"""The demo: one shopper conversation played against a running stack, transcript and orders printed.

    result = await run_demo("http://127.0.0.1:8000")    # assistant at /assistant, checkout at /

It searches, refines, buys from each demo merchant, has a card declined and retries with a good
one, then asks where the orders are. `DemoResult.orders` carries what the platform engineer needs
to report the commission earned (`DemoResult.commission` is left for that).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import httpx

from assistant.money import format_money

SCRIPT = (
    "Hi! I'm looking for a handmade ceramic mug under $40",
    "only the blue ones",
    "buy the first one",
    "Ship to Ada Lovelace, 1234 Chat Road, San Francisco, CA 94131, ada@example.com",
    "pay with 4000 0000 0000 0002 exp 12/30 cvc 123",
    "yes, place the order",
    "pay with 4242 4242 4242 4242 exp 12/30 cvc 123",
    "yes, place the order",
    "Now I need merino wool hiking socks, size M",
    "buy two of the first one with express shipping",
    "pay with 4242 4242 4242 4242 exp 12/30 cvc 123",
    "yes, place the order",
    "where is my order?",
)


@dataclass(frozen=True, slots=True)
class DemoOrder:
    order_id: str
    order_number: str
    checkout_session_id: str
    merchant_id: str
    merchant_name: str
    total: int
    currency: str


@dataclass
class DemoResult:
    conversation_id: str
    transcript: list[tuple[str, str]] = field(default_factory=list)
    orders: list[DemoOrder] = field(default_factory=list)
    # The platform's take on these orders, filled in by whoever can read checkout's ledger.
    commission: dict[str, Any] | None = None


class DemoFailed(RuntimeError):
    pass


async def run_demo(
    base_url: str,
    *,
    transport: httpx.AsyncBaseTransport | None = None,
    out: Callable[[str], None] = print,
) -> DemoResult:
    async with httpx.AsyncClient(base_url=base_url, transport=transport, timeout=60) as http:
        created = await http.post("/assistant/conversations")
        if created.status_code != 201:
            raise DemoFailed(f"could not start a conversation: {created.status_code}")
        result = DemoResult(conversation_id=created.json()["id"])
        # The conversation's token opens it, and only it.
        http.headers["Authorization"] = f"Bearer {created.json()['token']}"
        out(f"Conversation {result.conversation_id}\n")
        for number, text in enumerate(SCRIPT, start=1):
            answer = await http.post(
                f"/assistant/conversations/{result.conversation_id}/messages",
                json={"text": text},
                headers={"Idempotency-Key": f"demo-{result.conversation_id}-{number}"},
            )
            if answer.status_code != 200:
                raise DemoFailed(f"message {number} answered {answer.status_code}: {answer.text}")
            turn = answer.json()
            reply = turn["reply"]["text"]
            result.transcript += [("shopper", text), ("assistant", reply)]
            out(f"shopper:   {text}")
            out("assistant: " + reply.replace("\n", "\n           ") + "\n")
            for part in turn["reply"]["parts"]:
                if part["type"] == "order":
                    result.orders += [_order(o) for o in part["orders"] if o.get("order_number")]
        placed = {o.order_id: o for o in result.orders}
        result.orders = list(placed.values())
        out("Orders placed:")
        for order in result.orders:
            out(
                f"  {order.order_number}  {order.merchant_name:<22} "
                f"{format_money(order.total, order.currency):>10}  ({order.order_id})"
            )
        return result


def _order(order: dict[str, Any]) -> DemoOrder:
    return DemoOrder(
        order_id=order["order_id"],
        order_number=order["order_number"],
        checkout_session_id=order["checkout_session_id"],
        merchant_id=order["merchant"]["id"],
        merchant_name=order["merchant"]["name"],
        total=int(order["total"]["amount"]),
        currency=order["total"]["currency"],
    )


def main() -> None:
    """`python -m assistant.demo [BASE_URL]` against a stack that is already running."""
    import asyncio
    import sys

    base_url = sys.argv[1] if len(sys.argv) > 1 else "http://127.0.0.1:8000"
    asyncio.run(run_demo(base_url))


if __name__ == "__main__":
    main()

"""Questions that are not searches: delivery options and cost, returns, and comparisons.

Answers come from what the platform says, never from invented text: an open checkout's own
fulfillment options (with checkout's amounts), otherwise the shops' published policy links
from the catalog feed.
"""

from __future__ import annotations

from assistant.catalog.index import ProductIndex
from assistant.catalog.reasons import rating_phrase, stock_phrase
from assistant.money import format_money
from assistant.shopping.browse import shown_items
from assistant.shopping.purchase import PurchaseDesk
from assistant.shopping.replies import total_of
from assistant.shopping.turn import Turn


def _shops(turn: Turn, index: ProductIndex) -> dict[str, dict[str, str]]:
    """The shops this conversation is about (cart, else shown items, else every shop), each with
    its policy links by type."""
    merchant_ids = [line.merchant_id for line in turn.state.cart] or [
        item.merchant_id for item in turn.state.shown
    ]
    shops: dict[str, dict[str, str]] = {}
    for shop in index.shops:
        if merchant_ids and shop.merchant_id not in merchant_ids:
            continue
        if shop.name not in shops:
            shops[shop.name] = dict(shop.policies)
    return shops


async def answer_delivery(turn: Turn, desk: PurchaseDesk, index: ProductIndex) -> None:
    sessions = await desk.refresh(turn) if await desk.open_purchases(turn) else []
    lines = []
    for row, session in sessions:
        options = [o for o in session.get("fulfillment_options", []) if o["type"] == "shipping"]
        listed = ", ".join(f"{o['title']} {format_money(total_of(o))}" for o in options)
        if listed:
            lines.append(f"{row.merchant_name}: {listed}")
    if lines:
        turn.reply.say(
            "Delivery for your checkout, as the shops quote it: " + "; ".join(lines) + ". "
            "Say 'express shipping' or 'standard shipping' to choose."
        )
        return
    shops = _shops(turn, index)
    links = [
        f"{name}: {p['shipping_policy']}" for name, p in shops.items() if "shipping_policy" in p
    ]
    turn.reply.say(
        "Each shop sets its own delivery options and prices (usually standard and express); I "
        "show the exact choices and cost from checkout as soon as something is in your checkout."
        + (" Shipping policies: " + "; ".join(links) + "." if links else "")
    )


def answer_returns(turn: Turn, index: ProductIndex) -> None:
    shops = _shops(turn, index)
    links = [f"{name}: {p['return_policy']}" for name, p in shops.items() if "return_policy" in p]
    if not links:
        turn.reply.say("I don't have a return policy from these shops; their support can help.")
        return
    turn.reply.say(
        "Returns are handled by each shop under its own policy: " + "; ".join(links) + "."
    )


def compare_shown(turn: Turn, index: ProductIndex, positions: list[int]) -> None:
    """Side by side from what the shops publish: material, price, rating and reviews, stock.

    The catalog has no durability or warmth figures, so the answer says what it can compare
    rather than guessing which "lasts longer".
    """
    lines = []
    for position, product, variant in shown_items(turn, index, positions):
        bits = [format_money(variant.price, variant.currency)]
        if product.material:
            bits.append(product.material)
        rating = rating_phrase(product)
        if rating:
            bits.append(rating)
        bits.append(stock_phrase(variant))
        lines.append(f"{position + 1}. {product.title}: {', '.join(bits)}")
    if len(lines) < 2:
        turn.reply.say("Show me two items first (a search), then ask me to compare them.")
        return
    turn.reply.say(
        "Side by side, from what the shops publish (they don't give durability or warmth "
        "figures, so ratings and materials are the best guide):\n" + "\n".join(lines)
    )
    turn.reply.suggest("Buy the first one", "Buy the second one")

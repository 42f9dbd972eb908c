"""Searching, showing and carting products: the catalog side of a conversation."""

from __future__ import annotations

from collections.abc import Iterator

from assistant.catalog.index import Match, ProductIndex
from assistant.catalog.products import Product, Variant
from assistant.catalog.query import SearchQuery
from assistant.catalog.reasons import rating_phrase, stock_phrase
from assistant.catalog.text import STOPWORDS, stem, words
from assistant.money import format_money
from assistant.shopping.replies import cart_part, product_card, product_cards
from assistant.shopping.state import CartLine, ShownItem
from assistant.shopping.turn import Turn

PAGE = 5


def remember_shown(turn: Turn, items: list[tuple[Product, Variant]]) -> None:
    turn.state.shown = [
        ShownItem(
            product_id=p.id,
            variant_id=v.id,
            title=p.title,
            variant_title=v.title if v.options else "",
            price=v.price,
            currency=v.currency,
            merchant_id=p.merchant_id,
            merchant_name=p.merchant_name,
        )
        for p, v in items
    ]
    turn.state.focus = [0] if len(items) == 1 else []
    turn.state.chosen = []


def search(turn: Turn, index: ProductIndex, query: SearchQuery, limit: int = PAGE) -> list[Match]:
    matches = index.search(query, limit=limit)
    turn.state.query = query
    if matches:
        remember_shown(turn, [(m.product, m.variant) for m in matches])
        if named_by(query.text, matches):
            # "porcelain bud vase": the shopper named one product, so "buy it" means it.
            turn.state.focus = [0]
        turn.reply.add(product_cards(matches))
    return matches


def named_by(text: str, matches: list[Match]) -> bool:
    """Whether the query names the top result alone: all its words are in that title only."""
    wanted = {stem(w) for w in words(text) if w not in STOPWORDS}
    if len(wanted) < 2 or not matches:
        return False
    titles = [
        {stem(w) for w in words(" ".join([m.product.title, m.product.material or "", *values]))}
        for m in matches
        for values in [[value for v in m.product.variants for _, value in v.options]]
    ]
    return wanted <= titles[0] and not any(wanted <= t for t in titles[1:])


def describe_match(position: int, match: Match) -> str:
    p, v = match.product, match.variant
    variant = f" ({v.title})" if v.options else ""
    return f"{position}. {p.title}{variant} from {p.merchant_name}, {format_money(v.price)}"


def shown_items(
    turn: Turn, index: ProductIndex, positions: list[int]
) -> Iterator[tuple[int, Product, Variant]]:
    """The shown items at these positions that the catalog still sells, with their position."""
    for position in positions:
        hit = index.variant(turn.state.shown[position].variant_id)
        if hit is not None:
            yield position, hit[0], hit[1]


def detail(turn: Turn, index: ProductIndex, positions: list[int]) -> list[tuple[Product, Variant]]:
    """Show the chosen shown items in full (description, options, stock) and focus on them."""
    found: list[tuple[Product, Variant]] = []
    cards = []
    for position, product, variant in shown_items(turn, index, positions):
        found.append((product, variant))
        card = product_card(product, variant, position=position + 1)
        card["description"] = product.description
        card["variants"] = [
            {
                "variant_id": v.id,
                "title": v.title,
                "price": format_money(v.price, v.currency),
                "availability": stock_phrase(v),
            }
            for v in product.variants
        ]
        cards.append(card)
        rating = rating_phrase(product)
        options = ", ".join(
            f"{name.lower()}s: {', '.join(product.option_values(name))}"
            for name in dict.fromkeys(n for v in product.variants for n, _ in v.options)
            if len(product.option_values(name)) > 1
        )
        turn.reply.say(
            f"{product.title} from {product.merchant_name}: {format_money(variant.price)}"
            f"{', ' + rating if rating else ''}, {stock_phrase(variant)}. {product.description}"
            + (f" Available {options}." if options else "")
        )
    if cards:
        turn.reply.add({"type": "product_cards", "cards": cards})
    turn.state.focus = list(positions)
    return found


def add_to_cart(turn: Turn, product: Product, variant: Variant, quantity: int) -> CartLine:
    line = turn.state.cart_line(variant.id)
    if line is None:
        line = CartLine(
            variant_id=variant.id,
            product_id=product.id,
            merchant_id=product.merchant_id,
            merchant_name=product.merchant_name,
            title=product.title,
            variant_title=variant.title if variant.options else "",
            quantity=quantity,
            unit_amount=variant.price,
            currency=variant.currency,
        )
        turn.state.cart.append(line)
    else:
        line.quantity = quantity
        line.unit_amount = variant.price
    return line


def remove_from_cart(turn: Turn, variant_ids: set[str]) -> list[CartLine]:
    removed = [line for line in turn.state.cart if line.variant_id in variant_ids]
    turn.state.cart = [line for line in turn.state.cart if line.variant_id not in variant_ids]
    return removed


def show_cart(turn: Turn) -> None:
    if not turn.state.cart:
        turn.reply.say("Your cart is empty.")
        return
    lines = "; ".join(
        f"{line.quantity} x {line.label} ({line.merchant_name}, {format_money(line.unit_amount)})"
        for line in turn.state.cart
    )
    turn.reply.say(f"In your cart: {lines}.")
    turn.reply.add(cart_part(turn.state.cart))

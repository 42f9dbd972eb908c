"""Choosing among shown items and their variants for the offline agent: which item a message
means (or a question naming the candidates), which variant its words pick, whether a size must
still be asked, and whether the stock allows the quantity."""

from __future__ import annotations

import re

from assistant.catalog.filters import SIZE_OPTIONS, choose_variant
from assistant.catalog.index import ProductIndex
from assistant.catalog.products import Product, Variant
from assistant.catalog.query import SearchQuery
from assistant.dialogue.language import Understanding, understand
from assistant.dialogue.pointing import named_options, option_choice, point
from assistant.dialogue.references import shown_positions
from assistant.shopping.turn import Turn


def pointed_positions(index: ProductIndex, turn: Turn, u: Understanding) -> list[int]:
    pointing = point(turn.state, index, u)
    if pointing.positions:
        return pointing.positions
    return [] if pointing.ambiguous else shown_positions(turn.state, index, u)


def ask_which(turn: Turn, shown: list[int]) -> None:
    names = [f"the {turn.state.shown[p].title}" for p in shown]
    turn.reply.say(f"Which one: {', '.join(names[:-1])} or {names[-1]}?")
    turn.reply.suggest(*(turn.state.shown[p].title for p in shown))


def choose_options(
    index: ProductIndex, turn: Turn, chosen_positions: list[int], u: Understanding
) -> None:
    """Options named with the reference ("the white bath sheet") pick the shown variant."""
    for position in chosen_positions:
        item = turn.state.shown[position]
        product = index.product(item.product_id)
        if product is None:
            continue
        chosen = option_choice(product, u.text)
        if chosen is None and (u.colour or u.size):
            chosen = choose_variant(product, SearchQuery(colour=u.colour, size=u.size))
        if chosen is not None:
            turn.state.shown[position] = item.model_copy(
                update={
                    "variant_id": chosen.id,
                    "variant_title": chosen.title if chosen.options else "",
                    "price": chosen.price,
                }
            )
            turn.state.chosen = sorted({*turn.state.chosen, position})


def pending_named(index: ProductIndex, turn: Turn, u: Understanding) -> bool:
    pending = turn.state.pending
    product = index.product(pending.product_id) if pending else None
    return bool(product and pending and pending.option in named_options(product, u.text))


def variant_for(turn: Turn, product: Product, shown_variant: Variant, u: Understanding) -> Variant:
    named = option_choice(product, u.text, shown_variant)
    if named is not None:
        return named
    position = next(
        (i for i, s in enumerate(turn.state.shown) if s.variant_id == shown_variant.id), -1
    )
    if position in turn.state.chosen:
        return shown_variant
    previous = turn.state.query or SearchQuery()
    colour = u.colour or previous.colour
    size = u.size or previous.size
    if not (colour or size):
        return shown_variant
    chosen = choose_variant(product, SearchQuery(colour=colour, size=size))
    return chosen or shown_variant


def needs_size(turn: Turn, product: Product, u: Understanding, variant: Variant) -> str | None:
    if u.size or (turn.state.query and turn.state.query.size):
        return None
    position = next((i for i, s in enumerate(turn.state.shown) if s.variant_id == variant.id), -1)
    named = named_options(product, u.text)
    for name in SIZE_OPTIONS:
        if position in turn.state.chosen or any(n.lower() == name for n in named):
            return None
        values = product.option_values(name)
        if len(values) > 1:
            return next(n for v in product.variants for n, _ in v.options if n.lower() == name)
    return None


def stock_ok(turn: Turn, product: Product, variant: Variant, quantity: int) -> bool:
    if not variant.in_stock:
        others = [v.title for v in product.variants if v.in_stock and v.options]
        turn.reply.say(
            f"{product.title} ({variant.title}) is sold out."
            + (f" Still available: {', '.join(others)}." if others else "")
        )
        return False
    if variant.available_quantity < quantity:
        turn.reply.say(
            f"Only {variant.available_quantity} of {product.title} left; you asked for {quantity}."
        )
        return False
    return True


def compared(index: ProductIndex, turn: Turn, u: Understanding) -> list[int]:
    """The shown items a comparison names ("the plaid throw or the linen one"), else the focus,
    else the first two shown."""
    named: list[int] = []
    for piece in re.split(r"\bor\b|\bvs\.?|\bversus\b|\band\b|,", u.text):
        part = understand(piece)
        if part.product_words or part.ordinals or part.colour:
            for position in point(turn.state, index, part).positions:
                if position not in named:
                    named.append(position)
    if len(named) >= 2:
        return named
    if len(turn.state.focus) >= 2:
        return list(turn.state.focus)
    return named if named else [0, 1]

"""Edits to the cart in the shopper's words: swap a variant, change or add to a quantity, and
find the line a removal means ("drop the scarf, keep the socks")."""

from __future__ import annotations

import re

from assistant.catalog.index import ProductIndex
from assistant.catalog.text import fold, stem, words
from assistant.dialogue.language import Understanding
from assistant.dialogue.pointing import fragment_words, option_choice
from assistant.shopping.state import CartLine
from assistant.shopping.turn import Turn

SWAP = re.compile(
    r"\b(?:make\s+(?:it|that|them|those)|change\s+(?:it|that|them)?\s*to|switch\s+(?:it\s+|that\s+)?"
    r"to|swap\s+(?:it|that)?\s*(?:for|to)|instead|rather)\b"
)
KEEP = re.compile(r"\b(?:but\s+)?keep\b.*$")


def _named_line(turn: Turn, u: Understanding, text: str | None = None) -> CartLine | None:
    """The cart line a message names by a fragment of its title, else the last one added."""
    cart = turn.state.cart
    if not cart:
        return None
    fragment = [stem(w) for w in words(text)] if text is not None else fragment_words(u)
    if fragment:
        named = [line for line in cart if set(fragment) & {stem(w) for w in words(line.label)}]
        if len(named) == 1:
            return named[0]
    return cart[-1]


def swap_variant(turn: Turn, index: ProductIndex, u: Understanding) -> CartLine | None:
    """ "Make it sky blue", "switch to the large": the same product in the option named."""
    if not turn.state.cart or not SWAP.search(fold(u.text)):
        return None
    line = _named_line(turn, u)
    hit = index.variant(line.variant_id) if line else None
    if line is None or hit is None:
        return None
    product, current = hit
    wanted = option_choice(product, u.text)
    if wanted is None or wanted.id == current.id:
        return None
    # Options not named in the message stay as they were (swapping colour keeps the size).
    keep = {n: v for n, v in current.options}
    for name, value in wanted.options:
        keep[name] = value
    exact = next(
        (v for v in product.variants if all(v.option(n) == val for n, val in keep.items())),
        wanted,
    )
    line.variant_id = exact.id
    line.variant_title = exact.title if exact.options else ""
    line.unit_amount = exact.price
    return line


def change_quantity(turn: Turn, u: Understanding) -> CartLine | None:
    """ "Make it four" sets a line's quantity; "two more of those" adds to it."""
    if not u.quantity or not turn.state.cart:
        return None
    line = _named_line(turn, u)
    if line is None:
        return None
    line.quantity = line.quantity + u.quantity if u.more else u.quantity
    return line


def removal_targets(turn: Turn, u: Understanding) -> set[str]:
    """Variant ids of the cart lines a removal names; what it says to keep is never among them."""
    cart = turn.state.cart
    said = KEEP.sub(" ", fold(u.text))
    fragment = {stem(w) for w in words(said) if stem(w) in {stem(x) for x in fragment_words(u)}}
    if fragment:
        overlap = {
            line.variant_id: len(fragment & {stem(w) for w in words(line.label)}) for line in cart
        }
        best = max(overlap.values(), default=0)
        if best:
            return {variant for variant, count in overlap.items() if count == best}
    if len(cart) == 1 or u.pronoun:
        return {cart[-1].variant_id} if cart else set()
    return set()

"""Which shown item a message points at, and which variant of it: the reading of "which one".

By position ("the second one"), by attribute ("the green one", "the striped one"), by price
("the cheaper of the two"), by a fragment of its name ("the scarf", "the fleece one"), or by a
pronoun when one item is in focus. When two items fit equally, the answer lists both so the
agent can ask, naming them. `assistant.dialogue.references` uses it; the agent acts on it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from assistant.catalog.index import ProductIndex
from assistant.catalog.products import Product, Variant
from assistant.catalog.text import FILLER, STOPWORDS, fold, stem, words
from assistant.dialogue.language import Understanding
from assistant.shopping.state import ConversationState, ShownItem

CHEAPER = re.compile(r"\b(?:cheaper|cheapest|less\s+expensive|least\s+expensive|lower\s+priced)\b")
DEARER = re.compile(r"\b(?:more\s+expensive|pricier|priciest|most\s+expensive|fancier)\b")
OF_TWO = re.compile(r"\bof\s+(?:the\s+)?(?:two|2|both)\b")
# Words that say how, not which: never part of a name fragment.
POINTING_WORDS = frozenset(
    [
        "the",
        "one",
        "ones",
        "version",
        "kind",
        "pair",
        "pairs",
        "please",
        "thanks",
        "ok",
        "okay",
        "actually",
        "instead",
        "size",
        "make",
        "change",
        "switch",
        "swap",
        "keep",
        "drop",
        "remove",
        "add",
        "cart",
        "basket",
        "two",
        "both",
        "them",
        "of",
        "take",
        "ill",
        "em",
    ]
)
UNITS = [(re.compile(r"\b(\d+(?:\.\d+)?)\s*(?:inch(?:es)?|in\.|\"|'')"), r"\1 in")]


@dataclass
class Pointing:
    positions: list[int] = field(default_factory=list)
    ambiguous: list[int] = field(default_factory=list)


def normalised(text: str) -> str:
    """Folded text with units written one way ("18 inch" and 18" both read "18 in")."""
    folded = fold(text)
    for pattern, replacement in UNITS:
        folded = pattern.sub(replacement, folded)
    return f" {' '.join(words(folded))} "


def option_choice(product: Product, text: str) -> Variant | None:
    """The variant whose option values the message names most ("white bath sheet", "18 in")."""
    said = normalised(text)
    best: list[tuple[int, Variant]] = []
    for variant in product.variants:
        named = sum(1 for _, value in variant.options if f" {' '.join(words(value))} " in said)
        if named:
            best.append((named, variant))
    if not best:
        return None
    top = max(n for n, _ in best)
    chosen = [v for n, v in best if n == top]
    return min(chosen, key=lambda v: (not v.in_stock, v.price))


def named_options(product: Product, text: str) -> set[str]:
    """The option names (Size, Color...) whose values the message mentions."""
    said = normalised(text)
    return {
        name
        for variant in product.variants
        for name, value in variant.options
        if f" {' '.join(words(value))} " in said
    }


def _describing(item: ShownItem, product: Product | None) -> set[str]:
    text = item.title + " " + item.variant_title
    if product is not None:
        text += " " + " ".join(f"{n} {value}" for v in product.variants for n, value in v.options)
        text += " " + " ".join(product.tags)
    return {stem(w) for w in words(text)}


def fragment_words(u: Understanding) -> list[str]:
    return [
        stem(w)
        for w in u.product_words
        if w not in POINTING_WORDS and w not in FILLER and w not in STOPWORDS
    ]


def _by_price(shown: list[ShownItem], candidates: list[int], text: str) -> list[int]:
    if CHEAPER.search(text):
        return [min(candidates, key=lambda i: (shown[i].price, i))]
    if DEARER.search(text):
        return [max(candidates, key=lambda i: (shown[i].price, -i))]
    return []


def point(state: ConversationState, index: ProductIndex, u: Understanding) -> Pointing:
    shown = state.shown
    if not shown:
        return Pointing()
    if u.ordinals:
        positions = [len(shown) - 1 if n == -1 else n - 1 for n in u.ordinals]
        return Pointing([p for p in positions if 0 <= p < len(shown)])
    if u.all_shown:
        both = "both" in fold(u.text)
        return Pointing(list(range(min(len(shown), 2 if both else len(shown)))))
    text = fold(u.text)
    candidates = list(range(len(shown)))
    fragment = fragment_words(u)
    if u.pronoun and state.focus and not u.colour_reference:
        # "I'll take it with the 18 inch chain": the pronoun points; the rest is options.
        return Pointing(list(state.focus))
    if fragment:
        described = [_describing(item, index.product(item.product_id)) for item in shown]
        full = [i for i in candidates if set(fragment) <= described[i]]
        if not full:
            return Pointing()
        candidates = full
    if u.colour and (u.colour_reference or fragment or not u.has_budget):
        coloured = [i for i in candidates if _has_colour(index, shown[i], u.colour)]
        if coloured:
            candidates = coloured
        elif not fragment:
            return Pointing()
    if OF_TWO.search(text) and not fragment:
        candidates = [i for i in candidates if i < 2]
    priced = _by_price(shown, candidates, text)
    if priced:
        return Pointing(priced)
    if not fragment and not (u.colour and u.colour_reference):
        if state.focus:
            return Pointing(list(state.focus))
        return Pointing([0]) if len(shown) == 1 else Pointing()
    if len(candidates) == 1:
        return Pointing(candidates)
    focused = [i for i in candidates if i in state.focus]
    if len(focused) == 1:
        return Pointing(focused)
    asked = _closest_to_search(state, index, candidates)
    if len(asked) == 1:
        return Pointing(asked)
    return Pointing(ambiguous=candidates[:3])


def _closest_to_search(
    state: ConversationState, index: ProductIndex, candidates: list[int]
) -> list[int]:
    """The candidates sharing the most words with the search that showed them: "the blue one"
    after "a ceramic mug" is the blue mug, not the blue earrings shown below it."""
    if state.query is None or not state.query.text:
        return candidates
    wanted = {stem(w) for w in words(state.query.text)}
    overlap = {
        i: len(wanted & _describing(state.shown[i], index.product(state.shown[i].product_id)))
        for i in candidates
    }
    best = max(overlap.values(), default=0)
    return [i for i in candidates if overlap[i] == best]


def _has_colour(index: ProductIndex, item: ShownItem, colour: str) -> bool:
    product = index.product(item.product_id)
    if product is None:
        return False
    values = " ".join(value for v in product.variants for _, value in v.options)
    return stem(colour) in {stem(w) for w in words(values + " " + item.title)}

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


LARGER = re.compile(r"\b(?:larger|bigger|largest|biggest|longer|taller)\b")
SMALLER = re.compile(r"\b(?:smaller|smallest|shorter|littler|tinier)\b")
SIZE_ORDER = ["xxs", "xs", "s", "small", "m", "medium", "l", "large", "xl", "xxl"]


def size_rank(value: str) -> float:
    """Where an option value sits from small to large: its number ("16 oz", "US 9", "14 in"),
    else its place among S, M, L, XL."""
    number = re.search(r"\d+(?:\.\d+)?", value)
    if number:
        return float(number.group(0))
    word = fold(value).strip()
    return float(SIZE_ORDER.index(word)) if word in SIZE_ORDER else -1.0


def relative_size(product: Product, text: str, current: Variant | None = None) -> Variant | None:
    """ "The larger size", "the smaller one": the biggest or smallest in-stock size."""
    folded = fold(text)
    larger, smaller = LARGER.search(folded), SMALLER.search(folded)
    if not (larger or smaller):
        return None
    sized = [
        (size_rank(value), v)
        for v in product.variants
        for name, value in v.options
        if v.in_stock
        and fold(name) in ("size", "chain length", "ring size")
        and size_rank(value) >= 0
    ]
    if not sized:
        return None
    target = (max if larger else min)(rank for rank, _ in sized)
    fitting = [v for rank, v in sized if rank == target]
    # The same colour (and other options) as the one looked at, where the shop has it.
    kept = {n: v for n, v in current.options} if current else {}
    return max(
        fitting, key=lambda v: (sum(v.option(n) == val for n, val in kept.items()), -v.price)
    )


def option_choice(product: Product, text: str, current: Variant | None = None) -> Variant | None:
    """The variant whose option values the message names most ("white bath sheet", "18 in"),
    or the larger or smaller size when the message asks for one."""
    relative = relative_size(product, text, current)
    if relative is not None:
        return relative
    said = normalised(text)
    said_stems = {stem(w) for w in said.split()}
    best: list[tuple[int, Variant]] = []
    for variant in product.variants:
        named = sum(_named(value, said, said_stems) for _, value in variant.options)
        if named:
            best.append((named, variant))
    if not best:
        return None
    top = max(n for n, _ in best)
    chosen = [v for n, v in best if n == top]
    return min(chosen, key=lambda v: (not v.in_stock, v.price))


def _named(value: str, said: str, said_stems: set[str]) -> int:
    """How strongly a message names an option value: the whole value ("12 oz", "bath sheet")
    counts most; a long word of it alone ("striped" for "Mixed Stripe") counts once."""
    if f" {' '.join(words(value))} " in said:
        return 10
    return sum(1 for w in words(value) if len(w) >= 4 and _covers(stem(w), said_stems))


def named_options(product: Product, text: str) -> set[str]:
    """The option names (Size, Color...) whose values the message mentions, or the size when it
    asks for the larger or smaller one."""
    said = normalised(text)
    said_stems = {stem(w) for w in said.split()}
    named = {
        name
        for variant in product.variants
        for name, value in variant.options
        if _named(value, said, said_stems)
    }
    relative = relative_size(product, text)
    if relative is not None:
        named |= {name for name, _ in relative.options}
    return named


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


def _covers(word: str, described: set[str]) -> bool:
    """A fragment word names an item when it is one of its words or shares a long stem with one
    ("striped" and "Stripe")."""
    return word in described or any(
        len(d) >= 4 and len(word) >= 4 and (d.startswith(word) or word.startswith(d))
        for d in described
    )


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
    fragment = [w for w in fragment_words(u) if not LARGER.search(w) and not SMALLER.search(w)]
    if u.pronoun and state.focus and not u.colour_reference:
        # "I'll take it with the 18 inch chain": the pronoun points; the rest is options.
        return Pointing(list(state.focus))
    if fragment:
        described = [_describing(item, index.product(item.product_id)) for item in shown]
        full = [i for i in candidates if all(_covers(w, described[i]) for w in fragment)]
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

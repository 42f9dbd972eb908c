"""Deterministic understanding of a shopper's message: what they want done, and with what.

`understand(text)` returns an `Understanding`: the acts ("buy", "confirm", "order_status"...),
the product words left for search, and the entities (budget, colour, size, material, quantity,
references to shown items, shipping choice, address, email). It knows nothing of the catalog or
the conversation; `assistant.dialogue.agent` decides what the message means in context.
Spans are consumed as they are recognised, so "$40" is a budget and never a product word.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from assistant.catalog.query import SearchQuery
from assistant.catalog.text import COLOURS, FILLER, STOPWORDS, fold
from assistant.dialogue.addresses import find_address, find_email, find_name
from assistant.dialogue.vocabulary import (
    ACTS,
    AMOUNT,
    CHAT_WORDS,
    COLOUR_WORDS,
    COMPOUND_COLOURS,
    COUNT,
    MASKED,
    MATERIAL_WORDS,
    NUMBER_WORDS,
    ORDINAL,
    ORDINALS,
    SIZE_NAMES,
    SIZE_WORD,
    rx,
)
from assistant.money import to_minor

# "the fleece one", "the espresso cups", "that scarf": a shown item named, not a new search.
DEFINITE = re.compile(
    r"^\s*(?:(?:ok|okay|hmm|actually|so),?\s+)?(?:the|that|this|those|these)\s+\S"
    r"|\b(?:the|that|this)\s+(?:\w+\s+){0,3}?(?:one|ones)\b"
)


@dataclass
class Understanding:
    text: str
    acts: set[str] = field(default_factory=set)
    product_words: list[str] = field(default_factory=list)
    min_price: int | None = None
    max_price: int | None = None
    prefer_cheap: bool = False
    cheaper: bool = False
    cheapest: bool = False
    colour: str | None = None
    colour_reference: bool = False
    size: str | None = None
    material: str | None = None
    in_stock_only: bool = False
    ordinals: list[int] = field(default_factory=list)
    all_shown: bool = False
    pronoun: bool = False
    quantity: int | None = None
    more: bool = False
    exclude: list[str] = field(default_factory=list)
    sort: str | None = None
    definite: bool = False
    shipping: str | None = None
    address: dict[str, Any] | None = None
    email: str | None = None
    name: str | None = None

    @property
    def has_budget(self) -> bool:
        return self.min_price is not None or self.max_price is not None

    @property
    def has_refinement(self) -> bool:
        return bool(
            self.has_budget
            or self.cheaper
            or self.cheapest
            or self.prefer_cheap
            or (self.colour and not self.colour_reference)
            or self.size
            or self.material
            or self.in_stock_only
            or "show_more" in self.acts
        )

    @property
    def references(self) -> bool:
        return bool(self.ordinals or self.all_shown or self.pronoun or self.colour_reference)


class _Text:
    """The folded message, with recognised spans blanked out as they are consumed."""

    def __init__(self, text: str) -> None:
        self.value = " " + fold(text) + " "

    def take(self, pattern: re.Pattern[str] | str, *, first: bool = True) -> list[re.Match[str]]:
        """Find the pattern (the first match, or every match) and blank what it matched."""
        compiled = pattern if isinstance(pattern, re.Pattern) else rx(pattern)
        matches = []
        for match in compiled.finditer(self.value):
            matches.append(match)
            if first:
                break
        for match in reversed(matches):
            start, end = match.span()
            self.value = self.value[:start] + " " * (end - start) + self.value[end:]
        return matches

    def has(self, pattern: str) -> bool:
        return rx(pattern).search(self.value) is not None


def _count(word: str) -> int | None:
    word = word.strip().lower()
    if word.isdigit():
        return int(word)
    return NUMBER_WORDS.get(word)


def _prices(t: _Text, u: Understanding) -> None:
    both = t.take(
        rf"\b(?:between|from)\s+{AMOUNT}\s+(?:and|to|-)\s+{AMOUNT}"
        rf"|\${AMOUNT[3:]}\s*(?:-|to)\s*{AMOUNT}|\b(\d{{1,5}})\s*(?:-|to)\s*(\d{{1,5}})\s*"
        r"(?:dollars|bucks|usd)\b"
    )
    if both:
        values = [g for g in both[0].groups() if g]
        low, high = to_minor(values[0]), to_minor(values[1])
        if low is not None and high is not None:
            u.min_price, u.max_price = min(low, high), max(low, high)
    upper = t.take(
        rf"\b(?:under|below|less\s+than|cheaper\s+than|no\s+more\s+than|not\s+more\s+than"
        rf"|up\s+to|at\s+most|max(?:imum)?(?:\s+of)?|within)\s+{AMOUNT}|<\s*{AMOUNT}"
    )
    if upper:
        value = next(g for g in upper[0].groups() if g)
        u.max_price = to_minor(value)
    lower = t.take(
        r"\b(?:over|above|more\s+than|at\s+least|starting\s+at)\s+(?:\$\s?(\d{1,6}(?:\.\d{1,2})?)"
        r"|(\d{1,6}(?:\.\d{1,2})?)\s?(?:dollars|bucks|usd))"
    )
    if lower:
        value = next(g for g in lower[0].groups() if g)
        u.min_price = to_minor(value)
    around = t.take(r"\b(?:around|about|roughly|approximately|~)\s*\$\s?(\d{1,6}(?:\.\d{1,2})?)")
    if around:
        centre = to_minor(around[0].group(1)) or 0
        u.min_price, u.max_price = centre * 3 // 4, centre * 5 // 4
    if t.take(r"\bcheapest\b"):
        u.cheapest = True
    if t.take(r"\bcheaper\b|\bless\s+expensive\b|\blower[- ]priced?\b|\bmore\s+affordable\b"):
        u.cheaper = True
    if t.take(r"\b(?:cheap|inexpensive|affordable|budget|low[- ]cost|not\s+too\s+expensive)\b"):
        u.prefer_cheap = True


def _shipping(t: _Text, u: Understanding) -> None:
    if t.take(
        r"\b(?:with\s+)?(?:express|expedited|overnight|next[- ]day|fastest|faster|quick(?:est)?)"
        r"(?:\s+(?:shipping|delivery|option))?\b"
    ):
        u.shipping = "express"
    elif t.take(
        r"\b(?:with\s+)?(?:standard|regular|normal|cheapest|slow(?:er)?|free)\s+"
        r"(?:shipping|delivery)\b"
    ):
        u.shipping = "standard"


def _quantity(t: _Text, u: Understanding) -> None:
    more = t.take(rf"\b{COUNT}\s+more\b(?:\s+of\s+(?:them|those|these|it|that|this)\b)?")
    if more:
        u.quantity, u.more = _count(more[0].group(1)), True
        return
    patterns = [
        rf"\b{COUNT}\s+of\s+(?:them|those|these|it|each|that|this)\b",
        rf"\b{COUNT}\s+of(?=\s+(?:the|that|this|my)\b)",
        r"\b(?:qty|quantity)\s*(?:of|:|to)?\s*(\d{1,2})\b",
        r"\bmake\s+(?:it|that|them)\s+(\d{1,2}|" + "|".join(NUMBER_WORDS) + r")\b",
        r"(?<![\d.])(\d{1,2})\s?x(?!\s?\d)(?!\w)|(?<![\d\s])(?<!\d\s)\bx\s?(\d{1,2})\b",
        rf"\b{COUNT}\s+(?:pairs?|units?|pieces?|pcs)\b",
    ]
    for pattern in patterns:
        found = t.take(pattern)
        if found:
            u.quantity = _count(next(g for g in found[0].groups() if g))
            return
    # "buy 2 mugs": the number is a quantity, the verb stays for the acts.
    verb = rx(
        rf"\b(?:buy|get|add|order|take|want|need|purchase)\s+{COUNT}\b"
        r"(?!\s*(?:oz|in\b|inch|mm|cm|%|dollars|bucks|stars|\$))"
    ).search(t.value)
    if verb:
        start, end = verb.span(1)
        u.quantity = _count(verb.group(1))
        t.value = t.value[:start] + " " * (end - start) + t.value[end:]


def _references(t: _Text, u: Understanding) -> None:
    for match in t.take(
        rf"\b(?:the\s+)?(?:{ORDINAL})(?:\s+(?:one|two|three|item|product|result|option|ones?))?\b",
        first=False,
    ):
        word = next(w for w in match.group(0).split() if w.lower() in ORDINALS)
        after = match.group(0).split()[-1]
        position = ORDINALS[word.lower()]
        if position == 1 and after in ("two", "three"):
            u.ordinals.extend(range(1, (2 if after == "two" else 3) + 1))
        elif position not in u.ordinals:
            u.ordinals.append(position)
    for match in t.take(r"\b(?:number|no\.|#|option|item|result)\s*(\d{1,2})\b", first=False):
        u.ordinals.append(int(match.group(1)))
    if t.take(r"\bboth\b|\ball\s+(?:of\s+)?(?:them|those|these|three|four|five|the\s+above)\b"):
        u.all_shown = True
    if t.take(r"\b(?:it|them|that\s+one|this\s+one|those|these|that|this)\b"):
        u.pronoun = True


def _colour(t: _Text, u: Understanding) -> None:
    names = "|".join(re.escape(c) for c in COMPOUND_COLOURS + COLOUR_WORDS)
    reference = None
    if not t.has(r"\b(?:only|just)\b"):
        reference = t.take(rf"\bthe\s+({names})\s+(?:one|version|colou?r|variant)\b")
    found = reference or t.take(
        rf"\b(?:in|only|just)?\s*(?:the\s+)?({names})(?:\s+(?:ones?|colou?r(?:ed)?|version))?\b"
    )
    if not found:
        return
    name = found[0].group(1).lower()
    u.colour = name if name in COLOURS else name.split()[-1]
    u.colour_reference = bool(reference)


def _size(t: _Text, u: Understanding) -> None:
    patterns = [
        (rf"\bsize\s+(?:us\s*)?(\d{{1,2}}(?:\.5)?|{SIZE_WORD})\b", None),
        (r"\bus\s*(\d{1,2}(?:\.5)?)\b", None),
        (
            rf"\bin\s+(?:a\s+|an\s+)?({SIZE_WORD})(?:\s+size)?\b"
            r"(?!\s+(?!please|thanks|too|instead|one|ones|size)\w)",
            None,
        ),
        (rf"\b({SIZE_WORD})\s+size\b", None),
        (r",\s*(small|medium|large|extra large|xs|xl|xxl)\s*(?=,|$|\s+(?:please|thanks)\b)", None),
        (r"\b(xxs|xs|xl|xxl)\b", None),
        (r"\b(\d{1,2})\s?(?:oz|ounces?)\b", "{} oz"),
        (r"\b(a3|a4)\b", None),
        (r"\b(queen|king)(?:[- ]size)?\b", None),
        (r"\b(\d{2})\s?x\s?(\d{2})\b", "{} x {}"),
    ]
    for pattern, shape in patterns:
        found = t.take(pattern)
        if found:
            groups = [g for g in found[0].groups() if g]
            value = shape.format(*groups) if shape else groups[0]
            value = SIZE_NAMES.get(value.lower(), value)
            u.size = value.upper() if value.isalpha() and len(value) <= 3 else value
            return


def _material(t: _Text, u: Understanding) -> None:
    for name in MATERIAL_WORDS:
        if t.has(rf"\b{re.escape(name)}\b"):
            u.material = "ceramic" if name == "pottery" else name
            return


def _stock(t: _Text, u: Understanding) -> None:
    if t.take(
        r"\b(?:only|just)\s+(?:the\s+)?(?:ones\s+)?(?:that\s+are\s+)?(?:in\s+stock|available)\b"
        r"|\bin[- ]stock(?:\s+only)?\b|\bavailable\s+now\b|\bhide\s+(?:the\s+)?"
        r"(?:sold\s+out|out\s+of\s+stock)\b"
    ):
        u.in_stock_only = True


# "nothing leather", "any colour but grey", "no glass", "a mug that isn't blue": what to leave out.
EXCLUSION = re.compile(
    r"\b(?:any\s+colou?r\s+but|anything\s+but|except(?:\s+for)?|but\s+not|not\s+for"
    r"|(?:that|which|thats)\s+(?:is|are)?\s*(?:nt|not)|(?:is|are)nt|nothing|without(?:\s+any)?"
    r"|no(?!\s+(?:more|longer|later|problem|thanks|thank))|not(?!\s+(?:too|more|yet|now|sure)\b))"
    r"\s+(?:(?:in|made\s+of|made\s+from|a|an|any|from|with|for)\s+)?([a-z]+(?:\s+(?:blue|green|white"
    r"|black|grey|gray|pink|silver|gold|wool|cotton))?)\b"
)
NOT_CANCEL = re.compile(r"\b(?:dont|do\s+not|never|not)\s+(?:cancel|abort)\b")
# "the best rated", "most popular", "most expensive": an order, not a filter.
SORTS = [
    ("rating", r"\b(?:best|highest|top)[- ](?:rated|reviewed|ranked)\b|\bbest\s+reviews\b"),
    ("popular", r"\bmost\s+(?:popular|reviewed|loved)\b|\bbest[- ]sell(?:ing|er)s?\b"),
    ("price_desc", r"\b(?:most|more)\s+expensive\b|\bpriciest\b|\bfanciest\b"),
    ("price", r"\b(?:least\s+expensive|most\s+affordable|lowest\s+price[d]?)\b"),
]


def _exclusions(t: _Text, u: Understanding) -> None:
    for match in t.take(EXCLUSION, first=False):
        word = match.group(1).strip()
        if word and word not in STOPWORDS:
            u.exclude.append(word)


def _sorts(t: _Text, u: Understanding) -> None:
    for name, pattern in SORTS:
        if t.take(pattern):
            u.sort = name
            return


def understand(text: str) -> Understanding:
    """Read one (already card-masked) shopper message."""
    u = Understanding(text=text)
    u.definite = bool(DEFINITE.search(fold(text)))
    address, span = find_address(text)
    remaining = text if span is None else text[: span[0]] + " " + text[span[1] :]
    u.address = address
    u.email = find_email(remaining)
    u.name = find_name(remaining)
    if u.email:
        remaining = remaining.replace(u.email, " ")
    remaining = MASKED.sub(" ", remaining)
    t = _Text(remaining)
    t.take(r"\b(?:pay|paying)\s+(?:with|using|by)\b|\b(?:use|using)\s+(?:my\s+)?card\b")
    t.take(r"\bmy\s+name\s+is\s+[a-z' -]+")
    _sorts(t, u)
    _prices(t, u)
    _shipping(t, u)
    _size(t, u)
    _quantity(t, u)
    for act, pattern in ACTS:
        if t.take(pattern, first=False):
            u.acts.add(act)
    if NOT_CANCEL.search(fold(text)):
        u.acts.discard("cancel")  # "don't cancel" keeps the checkout
    _exclusions(t, u)
    _stock(t, u)
    _colour(t, u)
    _references(t, u)
    _material(t, u)
    if u.address or u.email:
        u.acts.add("details_given")
    words = re.findall(r"[a-z0-9][a-z0-9'-]*", t.value)
    kept = (w.strip("'-") for w in words)
    u.product_words = [
        w
        for w in kept
        if len(w) > 1 and not w.isdigit() and w not in FILLER | STOPWORDS | CHAT_WORDS
    ]
    return u


def to_search_query(u: Understanding) -> SearchQuery:
    """A fresh product search from a message: its product words and the filters it named."""
    return SearchQuery(
        text=" ".join(u.product_words),
        min_price=u.min_price,
        max_price=u.max_price,
        colour=None if u.colour_reference else u.colour,
        size=u.size,
        material=u.material,
        in_stock_only=u.in_stock_only,
        prefer_cheap=u.prefer_cheap,
        sort="price" if u.cheapest else (u.sort or "relevance"),
        exclude=tuple(u.exclude),
    )

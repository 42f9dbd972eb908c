"""What a message refers to in the conversation so far: shown items, and the last search.

`shown_positions` resolves "the second one", "both", "the blue one", "that mug", "it";
`refine` turns "cheaper", "in blue", "only in stock", "show more" into the next search.
"""

from __future__ import annotations

from assistant.catalog.filters import choose_variant
from assistant.catalog.index import ProductIndex
from assistant.catalog.query import SearchQuery
from assistant.catalog.text import stem, words
from assistant.dialogue.language import Understanding
from assistant.shopping.browse import PAGE
from assistant.shopping.state import ConversationState


def shown_positions(state: ConversationState, index: ProductIndex, u: Understanding) -> list[int]:
    """Indexes into `state.shown` the message points at (empty when it points at nothing)."""
    shown = state.shown
    if u.ordinals:
        positions = [len(shown) - 1 if n == -1 else n - 1 for n in u.ordinals]
        return [p for p in positions if 0 <= p < len(shown)]
    if u.all_shown:
        return list(range(min(len(shown), 2 if "both" in u.text.lower() else len(shown))))
    if u.colour_reference and u.colour:
        query = SearchQuery(colour=u.colour)
        return [
            i
            for i, item in enumerate(shown)
            if (p := index.product(item.product_id)) and choose_variant(p, query)
        ][:1]
    if u.product_words:
        nouns = {stem(w) for w in u.product_words}
        matching = [
            i for i, item in enumerate(shown) if nouns & {stem(w) for w in words(item.title)}
        ]
        focused = [i for i in state.focus if i in matching]
        return (focused or matching)[:1]
    if state.focus:
        return list(state.focus)
    return [0] if len(shown) == 1 else []


def refine(state: ConversationState, u: Understanding) -> SearchQuery:
    """The last search with this message's changes ("cheaper" means below the shown price)."""
    previous = state.query or SearchQuery()
    changes: dict[str, object] = {"offset": 0}
    if u.min_price is not None:
        changes["min_price"] = u.min_price
    if u.max_price is not None:
        changes["max_price"] = u.max_price
    if u.cheaper and state.shown:
        focus = state.focus[0] if state.focus else 0
        changes["max_price"] = state.shown[focus].price - 1
    if u.cheapest:
        changes["sort"] = "price"
    if u.prefer_cheap:
        changes["prefer_cheap"] = True
    if u.colour and not u.colour_reference:
        changes["colour"] = u.colour
    if u.size:
        changes["size"] = u.size
    if u.material:
        changes["material"] = u.material
    if u.in_stock_only:
        changes["in_stock_only"] = True
    if "show_more" in u.acts:
        changes["offset"] = previous.offset + PAGE
    return previous.model_copy(update=changes)

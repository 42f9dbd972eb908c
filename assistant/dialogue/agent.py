"""The offline agent: decides what an understood message means in this conversation, and acts.

Priority, highest first: order status; returns and delivery questions; a 3-D Secure approval
in progress; cancel; the cart (show, remove, swap a variant); buying or carting referenced
items; quantities; a confirmation; a typed card; delivery details; a shown item named ("the
fleece one"); search and refinement; details of a shown item; small talk; and otherwise an
honest "I didn't get that" with choices. Which item and variant a message means is read in
`assistant.dialogue.selection`; money moves only on `assistant.dialogue.consent`'s clear yes.
"""

from __future__ import annotations

from collections.abc import Callable

from assistant.catalog.filters import choose_variant
from assistant.catalog.index import ProductIndex
from assistant.catalog.query import SearchQuery
from assistant.dialogue.addresses import one_line
from assistant.dialogue.cart_edits import change_quantity, removal_targets, swap_variant
from assistant.dialogue.consent import Answer, bank_approval
from assistant.dialogue.language import Understanding, to_search_query
from assistant.dialogue.pointing import point
from assistant.dialogue.references import refine
from assistant.dialogue.selection import (
    ask_which,
    choose_options,
    compared,
    needs_size,
    pending_named,
    pointed_positions,
    stock_ok,
    variant_for,
)
from assistant.money import format_money
from assistant.shopping import browse
from assistant.shopping.purchase import PurchaseDesk
from assistant.shopping.questions import answer_delivery, answer_returns, compare_shown
from assistant.shopping.state import PendingChoice
from assistant.shopping.turn import Turn

CHOICES = (
    "search ('a ceramic mug under $40')",
    "refine ('cheaper', 'in blue', 'only in stock', 'show more')",
    "buy ('buy the second one')",
    "ask 'where is my order?'",
)
STARTERS = ("Ceramic mugs under $40", "Running shoes size 9", "Where is my order?")


class OfflineAgent:
    def __init__(self, index: Callable[[], ProductIndex], desk: PurchaseDesk) -> None:
        self.index = index
        self.desk = desk

    async def respond(self, turn: Turn, u: Understanding) -> None:
        details_changed = self._take_details(turn, u)
        opened = await self.desk.open_purchases(turn)
        pure_confirm = turn.confirmed

        if "order_status" in u.acts:
            await self.desk.order_status(turn)
            return
        if "returns" in u.acts and not u.product_words:
            answer_returns(turn, self.index())
            return
        if "delivery" in u.acts and not turn.card:
            await answer_delivery(turn, self.desk, self.index())
            return
        if any(p.status == "authentication_required" for p in opened):
            answer = bank_approval(turn.text)
            if answer is Answer.YES:
                await self.desk.approve(turn, approved=True)
            elif answer is Answer.NO:
                await self.desk.approve(turn, approved=False)
            else:
                turn.reply.say(
                    "Nothing has been charged. Your bank is waiting for you to approve the payment "
                    "(3-D Secure). Approve it in your banking app, then tell me 'I approved it', "
                    "or say cancel."
                )
                turn.reply.suggest("I approved it", "Cancel")
            return
        if "cancel" in u.acts:
            await self.desk.cancel(turn)
            return
        if "compare" in u.acts and len(turn.state.shown) >= 2 and not u.has_budget:
            compare_shown(turn, self.index(), compared(self.index(), turn, u))
            return
        if "totals" in u.acts and opened and not u.product_words:
            # "Is that with tax?": checkout's own breakdown again; the question is not a yes.
            await self._checkout(turn, sync=False)
            return
        if "show_cart" in u.acts:
            browse.show_cart(turn)
            return
        if "remove" in u.acts:
            await self._remove(turn, u, bool(opened))
            return
        if turn.state.pending and (u.size or u.ordinals or pending_named(self.index(), turn, u)):
            await self._pending_choice(turn, u)
            return
        swapped = swap_variant(turn, self.index(), u)
        if swapped is not None:
            turn.reply.say(f"Changed to {swapped.quantity} x {swapped.label}.")
            if opened:
                await self._checkout(turn)
            return
        if u.acts & {"buy", "add", "checkout"}:
            await self._buy_or_add(turn, u, bool(opened))
            return
        if not (u.product_words and not u.more) and (line := change_quantity(turn, u)):
            turn.reply.say(f"Updated: {line.quantity} x {line.label}.")
            if opened:
                await self._checkout(turn)
            return
        if pure_confirm and opened:
            if details_changed:
                # "yes, but express": the totals change, so they are shown again first.
                await self._checkout(turn, sync=False)
            else:
                await self.desk.pay(turn)
            return
        if turn.card is not None:
            await self._card_given(turn, bool(opened), details_changed)
            return
        if details_changed and opened:
            await self._checkout(turn, sync=False)
            return
        if details_changed:
            self._details_noted(turn)
            return
        if turn.state.shown and u.definite and not u.has_budget:
            pointing = point(turn.state, self.index(), u)
            if pointing.ambiguous:
                ask_which(turn, pointing.ambiguous)
                return
            if pointing.positions:
                choose_options(self.index(), turn, pointing.positions, u)
                browse.detail(turn, self.index(), pointing.positions)
                turn.reply.suggest("Buy it", "Show me something else")
                return
        if await self._search(turn, u):
            return
        if u.references and turn.state.shown:
            positions = pointed_positions(self.index(), turn, u)
            if positions:
                browse.detail(turn, self.index(), positions)
                turn.reply.suggest("Buy it", "Show me something else")
                return
        if pure_confirm:
            turn.reply.say(
                "There's nothing waiting for a yes right now. What are you shopping for?"
            )
            return
        if u.acts & {"greet", "help", "thanks"}:
            self._small_talk(turn, u)
            return
        self._not_understood(turn, u)

    def _take_details(self, turn: Turn, u: Understanding) -> bool:
        changed = False
        state = turn.state
        if u.address:
            address = dict(u.address)
            name = u.name or (state.shipping_address or {}).get("name")
            if not address.get("name") and name:
                address["name"] = name
            state.shipping_address = address
            changed = True
        elif u.name and state.shipping_address:
            state.shipping_address = {**state.shipping_address, "name": u.name}
            changed = True
        if u.email and u.email != state.email:
            state.email = u.email
            changed = True
        if u.shipping and u.shipping != state.shipping_choice:
            state.shipping_choice = u.shipping
            changed = True
        if turn.card is not None:
            state.card_label = turn.card.label
        return changed

    def _details_noted(self, turn: Turn) -> None:
        address = turn.state.shipping_address
        if address and not address.get("name"):
            turn.reply.say("Whose name should go on the parcel? Say 'my name is ...'.")
            return
        bits = []
        if address:
            bits.append(f"shipping to {one_line(address)}")
        if turn.state.shipping_choice:
            bits.append(f"{turn.state.shipping_choice} shipping")
        if turn.state.email:
            bits.append(f"receipts to {turn.state.email}")
        turn.reply.say(f"Noted: {', '.join(bits)}. What would you like to buy?")

    async def _card_given(self, turn: Turn, opened: bool, details_changed: bool) -> None:
        assert turn.card is not None
        if not turn.card.luhn_valid:
            turn.reply.say(
                "That card number doesn't look right (it fails the check digit). "
                "Could you type it again?"
            )
            return
        if not opened:
            turn.reply.say(
                f"Got it, the {turn.card.label} (I keep only the last four digits). "
                "What would you like to buy?"
            )
            return
        if details_changed or not turn.totals_confirmable:
            sessions = await self.desk.refresh(turn)
            if not self.desk.present(turn, sessions):
                return
        self.desk.ask_for_payment(turn)

    async def _checkout(self, turn: Turn, *, sync: bool = True) -> None:
        sessions = await (self.desk.sync(turn) if sync else self.desk.refresh(turn))
        if not sessions:
            turn.reply.say("Your cart is empty, so there is nothing to check out.")
            return
        if self.desk.present(turn, sessions):
            if turn.state.shipping_address:
                turn.reply.say(f"Shipping to {one_line(turn.state.shipping_address)}.")
            self.desk.ask_for_payment(turn)

    async def _buy_or_add(self, turn: Turn, u: Understanding, opened: bool) -> None:
        index = self.index()
        buying = bool(u.acts & {"buy", "checkout"})
        bare_checkout = u.acts & {"checkout"} and not (
            u.ordinals or u.product_words or u.pronoun or u.all_shown or u.definite
        )
        if bare_checkout and turn.state.cart:
            # "checkout" is about the cart, not the item last looked at.
            await self._checkout(turn)
            return
        positions = pointed_positions(self.index(), turn, u) if turn.state.shown else []
        if not positions and turn.state.shown:
            pointing = point(turn.state, index, u)
            if pointing.ambiguous:
                ask_which(turn, pointing.ambiguous)
                return
        if not positions and u.product_words and not (u.pronoun and turn.state.focus):
            if await self._search(turn, u, force=True):
                turn.reply.say("Which one would you like? Say 'buy the first one', for example.")
            return
        if not positions and buying and turn.state.cart:
            await self._checkout(turn)
            return
        if not positions:
            if turn.state.shown:
                turn.reply.say(
                    "Which one? Say 'the first one', 'the second one' and so on, or 'both'."
                )
            else:
                turn.reply.say("Tell me what you're looking for first, e.g. 'a blue mug'.")
            return
        added = []
        for position in positions:
            item = turn.state.shown[position]
            hit = index.variant(item.variant_id)
            if hit is None:
                turn.reply.say(f"{item.title} is no longer in the catalog.")
                continue
            product, variant = hit
            variant = variant_for(turn, product, variant, u)
            size_option = needs_size(turn, product, u, variant)
            if size_option and len(positions) == 1:
                turn.state.pending = PendingChoice(
                    product_id=product.id,
                    option=size_option,
                    quantity=u.quantity or 1,
                    then_buy=buying,
                )
                others = {n: val for n, val in variant.options if n != size_option}
                values = [
                    f"{v.option(size_option)}{'' if v.in_stock else ' (sold out)'}"
                    for v in product.variants
                    if all(v.option(n) == val for n, val in others.items())
                ]
                turn.reply.say(
                    f"Which {size_option.lower()} would you like for the {product.title}? "
                    f"Options: {', '.join(dict.fromkeys(values))}."
                )
                return
            if not stock_ok(turn, product, variant, u.quantity or 1):
                continue
            browse.add_to_cart(turn, product, variant, u.quantity or 1)
            added.append(
                f"{u.quantity or 1} x {product.title}"
                + (f" ({variant.title})" if variant.options else "")
            )
        if not added:
            return
        turn.state.focus = positions
        if buying or opened:
            turn.reply.say(f"Adding {', '.join(added)} to a checkout.")
            await self._checkout(turn)
        else:
            turn.reply.say(f"Added {', '.join(added)} to your cart.")
            turn.reply.suggest("Checkout", "Show my cart", "Show me something else")

    async def _pending_choice(self, turn: Turn, u: Understanding) -> None:
        pending = turn.state.pending
        assert pending is not None
        product = self.index().product(pending.product_id)
        turn.state.pending = None
        if product is None:
            turn.reply.say("That product is no longer in the catalog.")
            return
        shown = next((s for s in turn.state.shown if s.product_id == product.id), None)
        base = product.variant(shown.variant_id) if shown else None
        query = SearchQuery(
            size=u.size, colour=u.colour or (turn.state.query or SearchQuery()).colour
        )
        variant = choose_variant(product, query)
        if variant is None and base is not None:
            variant = choose_variant(product, SearchQuery(size=u.size))
        if variant is None:
            sizes = ", ".join(product.option_values(pending.option))
            turn.state.pending = pending
            turn.reply.say(f"{product.title} doesn't come in {u.size}. Sizes: {sizes}.")
            return
        quantity = u.quantity or pending.quantity
        if not stock_ok(turn, product, variant, quantity):
            return
        browse.add_to_cart(turn, product, variant, quantity)
        label = f"{quantity} x {product.title} ({variant.title})"
        if pending.then_buy or await self.desk.open_purchases(turn):
            turn.reply.say(f"Adding {label} to a checkout.")
            await self._checkout(turn)
        else:
            turn.reply.say(f"Added {label} to your cart.")

    async def _remove(self, turn: Turn, u: Understanding, opened: bool) -> None:
        targets: set[str] = set()
        if u.ordinals and turn.state.shown:
            targets = {
                turn.state.shown[p].variant_id for p in pointed_positions(self.index(), turn, u)
            }
        else:
            targets = removal_targets(turn, u)
        removed = browse.remove_from_cart(turn, targets)
        if not removed:
            turn.reply.say("I couldn't tell which item to remove.")
            browse.show_cart(turn)
            return
        turn.reply.say(f"Removed {', '.join(line.label for line in removed)}.")
        if opened:
            if turn.state.cart:
                await self._checkout(turn)
            else:
                await self.desk.sync(turn)
                turn.reply.say("Your cart is empty now, so I closed the checkout.")

    async def _search(self, turn: Turn, u: Understanding, *, force: bool = False) -> bool:
        index = self.index()
        known = [w for w in u.product_words if index.knows(w)]
        if u.product_words and not known:
            if force or not u.references:
                turn.reply.say(
                    f"I couldn't find anything for '{' '.join(u.product_words)}' in the catalog. "
                    "I only show products the shops actually list."
                )
                turn.reply.suggest("Ceramic mugs under $40", "Running shoes size 9", "Candles")
                return True
            return False
        if known and not (u.references and not force and pointed_positions(self.index(), turn, u)):
            query = to_search_query(u)
        elif u.has_refinement and turn.state.query is not None and not u.colour_reference:
            query = refine(turn.state, u)
        elif u.has_refinement and not u.references and not u.colour_reference:
            query = to_search_query(u)
        else:
            return False
        matches = browse.search(turn, index, query)
        if not matches:
            more = " No more results." if query.offset else ""
            turn.reply.say(
                f"Nothing in the catalog matches {query.describe()}.{more} "
                "Try a wider budget, another colour, or different words."
            )
            turn.reply.suggest("Show me everything in stock", "Cheaper", "Something else")
            return True
        lines = "\n".join(
            browse.describe_match(i + 1, m) + f" ({'; '.join(m.reasons)})"
            for i, m in enumerate(matches)
        )
        opening = "More" if query.offset else "Here's what I found"
        turn.reply.say(f"{opening} for {query.describe()}:\n{lines}")
        turn.reply.suggest(
            "Tell me more about the first one", "Buy the first one", "Cheaper", "Only in stock"
        )
        return True

    def _small_talk(self, turn: Turn, u: Understanding) -> None:
        if "thanks" in u.acts:
            turn.reply.say("You're welcome! Anything else I can find for you?")
            return
        turn.reply.say(
            "Hi! I can find products across the shops on this platform and buy them for you "
            "right here. Tell me what you're after, with a budget or colour if you like."
        )
        turn.reply.suggest(*STARTERS[:2])

    def _not_understood(self, turn: Turn, u: Understanding) -> None:
        heard = f" ('{turn.text}')" if len(turn.text) < 80 else ""
        turn.reply.say(
            f"Sorry, I didn't understand that{heard}. You can " + "; ".join(CHOICES) + "."
        )
        if turn.state.totals_shown:
            total = format_money(turn.state.totals_shown.amount)
            turn.reply.say(f"Your checkout of {total} is waiting: say 'yes, place the order'.")
        turn.reply.suggest(*STARTERS)

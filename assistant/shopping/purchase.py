"""Checkout through ACP: a session per merchant, delivery details, totals, payment, orders.

Everything said about money comes from checkout's answers (totals, messages, orders), never
from the catalog snapshot. Payment needs an explicit confirmation in a turn after the totals
were shown; `pay()` checks it itself, whoever calls it (the offline agent or the LLM's tool).
"""

from __future__ import annotations

from typing import Any

import anyio

from assistant.acp import errors
from assistant.acp.client import CheckoutClient
from assistant.dialogue.cards import CardVault
from assistant.money import format_money
from assistant.shopping.orders import report_orders
from assistant.shopping.payment import (
    authentication_result,
    buyer_of,
    complete_session,
    record_order,
)
from assistant.shopping.replies import checkout_part, order_part, selected_option, total_of
from assistant.shopping.state import CartLine, TotalsShown
from assistant.shopping.turn import Turn
from assistant.store.conversations import OPEN_PURCHASE, ConversationStore
from assistant.store.rows import PurchaseRow

STATUS = {
    "not_ready_for_payment": "open",
    "ready_for_payment": "ready",
    "authentication_required": "authentication_required",
    "complete_in_progress": "open",
    "in_progress": "open",
    "completed": "completed",
    "canceled": "canceled",
    "expired": "expired",
}


def fingerprint(sessions: list[dict[str, Any]]) -> str:
    return ",".join(sorted(f"{s['id']}:{total_of(s)}" for s in sessions))


def shipping_address(turn: Turn) -> dict[str, Any] | None:
    address = turn.state.shipping_address
    if not address or not address.get("name"):
        return None
    details: dict[str, Any] = {"name": address["name"], "address": address}
    if turn.state.email:
        details["email"] = turn.state.email
    return details


class PurchaseDesk:
    def __init__(self, checkout: CheckoutClient, store: ConversationStore, vault: CardVault):
        self.checkout = checkout
        self.store = store
        self.vault = vault

    async def open_purchases(self, turn: Turn) -> list[PurchaseRow]:
        return [row for row in await self.all_purchases(turn) if row.status in OPEN_PURCHASE]

    async def all_purchases(self, turn: Turn) -> list[PurchaseRow]:
        if turn.purchases is None:
            turn.purchases = await anyio.to_thread.run_sync(
                self.store.purchases, turn.conversation_id
            )
        return list(turn.purchases)

    async def store_purchase(self, turn: Turn, row: PurchaseRow) -> None:
        """Write one purchase row, and keep the turn's own list of purchases current."""
        await anyio.to_thread.run_sync(self.store.save_purchase, row)
        if turn.purchases is not None and all(
            p.checkout_session_id != row.checkout_session_id for p in turn.purchases
        ):
            turn.purchases.append(row)

    async def save(self, row: PurchaseRow, session: dict[str, Any], turn: Turn) -> None:
        row.status = STATUS.get(str(session.get("status")), row.status)
        row.total = total_of(session)
        row.currency = str(session.get("currency", row.currency))
        row.updated_at = turn.now
        order = session.get("order")
        if order:
            row.order_id = order["id"]
            row.order_number = order.get("order_number")
            row.order_status = order.get("status")
            row.permalink_url = order.get("permalink_url")
        await self.store_purchase(turn, row)

    def _details_update(self, turn: Turn, session: dict[str, Any]) -> dict[str, Any]:
        changes: dict[str, Any] = {}
        details = shipping_address(turn)
        if details and session.get("fulfillment_details") != details:
            changes["fulfillment_details"] = details
        choice = turn.state.shipping_choice
        options = [o for o in session.get("fulfillment_options", []) if o["type"] == "shipping"]
        if choice and options:
            wanted = next(
                (o for o in options if choice in (o["id"] + o.get("title", "")).lower()), None
            )
            if wanted and selected_option(session) != wanted["id"]:
                changes["selected_fulfillment_options"] = [
                    {"type": "shipping", "option_id": wanted["id"], "item_ids": []}
                ]
        return changes

    async def sync(self, turn: Turn) -> list[tuple[PurchaseRow, dict[str, Any]]]:
        """Make checkout's sessions match the cart: one per merchant, with the delivery details."""
        by_merchant: dict[str, list[CartLine]] = {}
        for line in turn.state.cart:
            by_merchant.setdefault(line.merchant_id, []).append(line)
        opened = {row.merchant_id: row for row in await self.open_purchases(turn)}
        result: list[tuple[PurchaseRow, dict[str, Any]]] = []
        for merchant_id, stale in opened.items():
            if merchant_id not in by_merchant:
                await self._cancel(turn, stale)
        for merchant_id, lines in by_merchant.items():
            items = [{"id": line.variant_id, "quantity": line.quantity} for line in lines]
            existing = opened.get(merchant_id)
            if existing is None:
                session = await self.checkout.create_session(
                    items,
                    key=turn.key("create", merchant_id),
                    fulfillment_details=shipping_address(turn),
                )
                row = PurchaseRow(
                    checkout_session_id=session["id"],
                    conversation_id=turn.conversation_id,
                    merchant_id=merchant_id,
                    merchant_name=lines[0].merchant_name,
                    status="open",
                    currency=session.get("currency", "usd"),
                    created_at=turn.now,
                    updated_at=turn.now,
                )
            else:
                row = existing
                session = await self.checkout.get_session(row.checkout_session_id)
                current = [
                    (i.get("variant_id") or i["item"]["id"], i["quantity"])
                    for i in session.get("line_items", [])
                ]
                if current != [(i["id"], i["quantity"]) for i in items]:
                    session = await self.checkout.update_session(
                        row.checkout_session_id,
                        {"line_items": items},
                        key=turn.key("items", row.checkout_session_id),
                    )
            changes = self._details_update(turn, session)
            if changes:
                session = await self.checkout.update_session(
                    row.checkout_session_id, changes, key=turn.key("update", session["id"])
                )
            await self.save(row, session, turn)
            result.append((row, session))
        return result

    async def refresh(self, turn: Turn) -> list[tuple[PurchaseRow, dict[str, Any]]]:
        """The open sessions as checkout has them now, with any new delivery details applied."""
        result = []
        for row in await self.open_purchases(turn):
            session = await self.checkout.get_session(row.checkout_session_id)
            changes = self._details_update(turn, session)
            if changes and session.get("status") in ("not_ready_for_payment", "ready_for_payment"):
                session = await self.checkout.update_session(
                    row.checkout_session_id, changes, key=turn.key("update", session["id"])
                )
            await self.save(row, session, turn)
            if row.status in OPEN_PURCHASE:
                result.append((row, session))
        return result

    def present(self, turn: Turn, sessions: list[tuple[PurchaseRow, dict[str, Any]]]) -> bool:
        """Show checkout's totals; True when every session is ready and a confirmation may follow."""
        if not sessions:
            return False
        turn.reply.add(checkout_part([(row.merchant_name, s) for row, s in sessions]))
        lines = []
        for row, session in sessions:
            currency = session.get("currency", "usd")
            shipping = next(
                (
                    o
                    for o in session.get("fulfillment_options", [])
                    if o["id"] == selected_option(session)
                ),
                None,
            )
            ship = (
                f", {shipping['title'].lower()} shipping {format_money(total_of(shipping))}"
                if shipping
                else ""
            )
            tax = total_of(session, "tax")
            lines.append(
                f"{row.merchant_name}: items {format_money(total_of(session, 'subtotal'), currency)}"
                f"{ship}, tax {format_money(tax, currency)}, total "
                f"{format_money(total_of(session), currency)}"
            )
        grand = sum(total_of(s) for _, s in sessions)
        currency = sessions[0][1].get("currency", "usd")
        summary = "; ".join(lines)
        if len(sessions) > 1:
            summary += (
                f". That is {len(sessions)} orders, one per shop, paid together: "
                f"{format_money(grand, currency)} in all"
            )
        turn.reply.say(f"Checkout says: {summary}.")
        problems = [
            m["content"]
            for _, s in sessions
            for m in s.get("messages", [])
            if m.get("type") == "error" and m.get("content")
        ]
        ready = all(s.get("status") == "ready_for_payment" for _, s in sessions)
        if ready:
            shown = fingerprint([s for _, s in sessions])
            before = turn.state.totals_shown
            # The same totals shown again keep the turn they were first shown in.
            if before is None or before.fingerprint != shown:
                turn.state.totals_shown = TotalsShown(
                    turn=turn.state.turn, fingerprint=shown, amount=grand, currency=currency
                )
        else:
            turn.state.totals_shown = None
            needs_address = any(
                "fulfillment_details" in (m.get("param") or "")
                for _, s in sessions
                for m in s.get("messages", [])
            )
            address = turn.state.shipping_address
            if address and not address.get("name"):
                turn.reply.say("Whose name should go on the parcel? Say 'my name is ...'.")
            elif needs_address or not address:
                turn.reply.say(
                    "Where should it go? Give me the recipient's name and a US address, for "
                    "example: Ada Lovelace, 1234 Chat Road, San Francisco, CA 94131."
                )
                turn.reply.suggest("Ship to Ada Lovelace, 1234 Chat Road, San Francisco, CA 94131")
            elif problems:
                turn.reply.say("Before paying: " + " ".join(problems))
        return ready

    def ask_for_payment(self, turn: Turn) -> None:
        card = turn.card or self.vault.get(turn.conversation_id)
        if card is None:
            express = (
                ""
                if turn.state.shipping_choice == "express"
                else (" You can also ask for express shipping first.")
            )
            turn.reply.say(
                "To pay, type a card, for example: pay with 4242 4242 4242 4242 exp 12/30 "
                "cvc 123 (test cards only; I mask the number straight away and never store it)."
                + express
            )
            turn.reply.suggest(
                "Pay with 4242 4242 4242 4242 exp 12/30 cvc 123", "Use express shipping"
            )
            return
        shown = turn.state.totals_shown
        total = format_money(shown.amount, shown.currency) if shown else "the total above"
        turn.reply.say(
            f"I'll charge {total} to the {card.label}. Shall I place the order? "
            "Say 'yes, place the order' to confirm."
        )
        turn.reply.suggest("Yes, place the order", "Use express shipping", "Cancel")

    async def pay(self, turn: Turn) -> list[dict[str, Any]]:
        """Delegate the card and complete every open session, only after an explicit confirmation.

        Returns the orders placed in this turn.
        """
        opened = await self.open_purchases(turn)
        if not opened:
            placed = [p for p in await self.all_purchases(turn) if p.order_id]
            if placed:
                numbers = ", ".join(p.order_number or p.order_id or "" for p in placed)
                turn.reply.say(
                    f"Your order is already placed ({numbers}); there is nothing more to pay."
                )
            else:
                turn.reply.say("There is nothing to pay for yet. Tell me what you'd like to buy.")
            return []
        if any(p.status == "authentication_required" for p in opened):
            turn.reply.say(
                "Your bank is still waiting for you to approve the payment in its app. "
                "Tell me once you've approved it, or say cancel."
            )
            return []
        if not (turn.confirmed and turn.totals_confirmable):
            sessions = await self.refresh(turn)
            if self.present(turn, sessions):
                self.ask_for_payment(turn)
            return []
        card = turn.card or self.vault.get(turn.conversation_id)
        if card is None:
            turn.reply.say(
                "I need a card before I can place the order. For your safety I don't keep card "
                "numbers, so please type it (test cards only)."
            )
            turn.reply.suggest("Pay with 4242 4242 4242 4242 exp 12/30 cvc 123")
            return []
        sessions = [
            (row, await self.checkout.get_session(row.checkout_session_id)) for row in opened
        ]
        shown = turn.state.totals_shown
        not_ready = [(r, s) for r, s in sessions if s.get("status") != "ready_for_payment"]
        if not_ready or shown is None or fingerprint([s for _, s in sessions]) != shown.fingerprint:
            return await self._totals_moved(turn, sessions)
        orders: list[dict[str, Any]] = []
        for row, session in sessions:
            order = await complete_session(self, turn, row, session, card)
            if order is None:
                break
            orders.append(order)
        await self._after_orders(turn, orders)
        return orders

    async def _totals_moved(
        self, turn: Turn, sessions: list[tuple[PurchaseRow, dict[str, Any]]]
    ) -> list[dict[str, Any]]:
        changed = [
            m["content"]
            for _, s in sessions
            for m in s.get("messages", [])
            if m.get("code") in ("price_change", "out_of_stock", "quantity_exceeded")
        ]
        refreshed = []
        for row, session in sessions:
            if session.get("status") in ("ready_for_payment", "not_ready_for_payment"):
                # An update tells checkout the buyer has now seen the current prices.
                session = await self.checkout.update_session(
                    row.checkout_session_id, {}, key=turn.key("review", row.checkout_session_id)
                )
            await self.save(row, session, turn)
            refreshed.append((row, session))
        turn.reply.say(
            "Something changed since I showed you the total, so I haven't charged anything. "
            + " ".join(changed)
        )
        if self.present(turn, refreshed):
            turn.reply.say("Shall I place the order at the new total?")
            turn.reply.suggest("Yes, place the order", "Cancel")
        return []

    async def _after_orders(self, turn: Turn, orders: list[dict[str, Any]]) -> None:
        if orders:
            turn.reply.add(order_part(orders))
            for order in orders:
                turn.reply.say(
                    f"Order {order['order_number']} placed with {order['merchant']['name']}: "
                    f"{order['total']['display']} charged to the {order['paid_with']}."
                )
        remaining = await self.open_purchases(turn)
        if not remaining:
            turn.state.totals_shown = None
            self.vault.forget(turn.conversation_id)
            if orders:
                turn.reply.say("I'll tell you here when it ships. Anything else?")
                turn.reply.suggest("Where is my order?", "Show me something else")
        elif orders:
            sessions = await self.refresh(turn)
            turn.reply.say("Still to pay:")
            self.present(turn, sessions)

    async def approve(self, turn: Turn, approved: bool) -> list[dict[str, Any]]:
        """Finish a 3-D Secure payment the shopper approved (or gave up on) in their bank app."""
        waiting = [
            p for p in await self.open_purchases(turn) if p.status == "authentication_required"
        ]
        if not waiting:
            turn.reply.say("No payment is waiting for your bank's approval.")
            return []
        if approved and not turn.bank_approved:
            # Whoever calls this (the offline agent or a model's tool), only the shopper's own
            # clear words finish a 3-D Secure payment.
            turn.reply.say(
                "Nothing has been charged. Tell me once you've approved the payment in your bank's "
                "app, or say cancel."
            )
            return []
        orders: list[dict[str, Any]] = []
        for row in waiting:
            sid = row.checkout_session_id
            result = authentication_result() if approved else {"outcome": "canceled"}
            try:
                session = await self.checkout.complete(
                    sid,
                    row.payment_token or "",
                    key=turn.key("authenticate", sid),
                    buyer=buyer_of(turn),
                    authentication_result=result,
                )
            except errors.CheckoutProblem as problem:
                await self.save(row, await self.checkout.get_session(sid), turn)
                turn.reply.say(
                    f"{row.merchant_name}: the payment was not completed ({problem.message}). "
                    "Nothing was charged; your checkout is still open if you want to try another "
                    "card."
                )
                turn.reply.suggest("Pay with 4242 4242 4242 4242 exp 12/30 cvc 123", "Cancel")
                return orders
            orders.append(await record_order(self, turn, row, session))
        card = self.vault.get(turn.conversation_id)
        ready = [p for p in await self.open_purchases(turn) if p.status == "ready"]
        if ready and card is not None:
            # The confirmation covered every shop's order; finish the others with the same card.
            for row in ready:
                session = await self.checkout.get_session(row.checkout_session_id)
                order = await complete_session(self, turn, row, session, card)
                if order is None:
                    break
                orders.append(order)
        await self._after_orders(turn, orders)
        return orders

    async def _cancel(self, turn: Turn, row: PurchaseRow) -> None:
        try:
            session = await self.checkout.cancel_session(
                row.checkout_session_id,
                key=turn.key("cancel", row.checkout_session_id),
                reason="other",
            )
        except errors.CheckoutProblem:
            session = await self.checkout.get_session(row.checkout_session_id)
        await self.save(row, session, turn)

    async def cancel(self, turn: Turn) -> None:
        opened = await self.open_purchases(turn)
        for row in opened:
            await self._cancel(turn, row)
        had_cart = bool(turn.state.cart)
        turn.state.cart = []
        turn.state.totals_shown = None
        self.vault.forget(turn.conversation_id)
        if opened:
            turn.reply.say("Done: I canceled the checkout. Nothing was charged.")
        elif had_cart:
            turn.reply.say("I've emptied your cart.")
        elif any(p.order_id for p in await self.all_purchases(turn)):
            turn.reply.say(
                "Your order is already placed, so I can't cancel it here; the shop's support "
                "contact is on the order page."
            )
        else:
            turn.reply.say("There's nothing to cancel.")
        turn.reply.suggest("Show me something else")

    async def order_status(self, turn: Turn) -> list[dict[str, Any]]:
        return await report_orders(self, turn)

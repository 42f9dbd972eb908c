"""Paying one checkout session: a delegated token for exactly its total, then complete.

Declines, 3-D Secure, stock gone and price changes are explained here in plain words, each
with a way forward; nothing in this module decides whether the shopper confirmed
(`PurchaseDesk.pay` does, before it calls `complete_session`).
"""

from __future__ import annotations

import uuid
from typing import TYPE_CHECKING, Any

from assistant.acp import errors
from assistant.dialogue.cards import Card
from assistant.money import format_money
from assistant.shopping.replies import total_of
from assistant.shopping.turn import Turn
from assistant.store.rows import PurchaseRow

if TYPE_CHECKING:
    from assistant.shopping.purchase import PurchaseDesk


def merchant_for_payment(session: dict[str, Any]) -> str:
    handlers = session.get("capabilities", {}).get("payment", {}).get("handlers", [])
    return str(handlers[0]["config"]["merchant_id"])


def authentication_result() -> dict[str, Any]:
    """What the issuer's 3-D Secure flow returns once the shopper approved in their bank app.

    The offline assistant has no issuer to talk to; it reports the approval the shopper
    described, in the shape ACP's `authentication_result` takes.
    """
    return {
        "outcome": "authenticated",
        "outcome_details": {
            "three_ds_cryptogram": "AAIBBYNoEwAAACcKhAJkdQAAAAA=",
            "electronic_commerce_indicator": "05",
            "transaction_id": str(uuid.uuid4()),
            "version": "2.2.0",
        },
    }


async def complete_session(
    desk: PurchaseDesk, turn: Turn, row: PurchaseRow, session: dict[str, Any], card: Card
) -> dict[str, Any] | None:
    """Delegate the card for exactly this session's total and complete it; explain a refusal."""
    sid = row.checkout_session_id
    amount, currency = total_of(session), session.get("currency", "usd")
    try:
        token = await desk.checkout.delegate_payment(
            card.as_payment_method(),
            session_id=sid,
            merchant_id=merchant_for_payment(session),
            amount=amount,
            currency=currency,
            key=turn.key("delegate", sid),
            now=turn.now,
        )
        row.payment_token, row.card_last4 = token, card.last4
        completed = await desk.checkout.complete(
            sid, token, key=turn.key("complete", sid), buyer=buyer_of(turn)
        )
    except errors.CardRejected:
        desk.vault.forget(turn.conversation_id)
        turn.reply.say(
            f"The payment service refused the {card.label}: this sandbox takes Stripe test "
            "cards only (for example 4242 4242 4242 4242). Nothing was charged."
        )
        turn.reply.suggest("Pay with 4242 4242 4242 4242 exp 12/30 cvc 123")
        return None
    except errors.PaymentDeclined as problem:
        desk.vault.forget(turn.conversation_id)
        await desk.save(row, await desk.checkout.get_session(sid), turn)
        reason = problem.message.replace("Nothing was charged.", "").strip()
        turn.reply.say(
            f"{row.merchant_name}: the {card.label} was declined ({reason}). "
            "Nothing was charged and your checkout is still open. Try another card, "
            "e.g. 4242 4242 4242 4242."
        )
        turn.reply.suggest("Pay with 4242 4242 4242 4242 exp 12/30 cvc 123", "Cancel")
        return None
    except errors.AuthenticationRequired:
        row.status = "authentication_required"
        await desk.store_purchase(turn, row)
        turn.reply.say(
            f"{row.merchant_name}: your bank wants to confirm this {format_money(amount)} "
            "payment with 3-D Secure. Open your banking app and approve it, then tell me "
            "'I approved it' and I'll finish the order (or say cancel). Nothing is charged "
            "until then."
        )
        turn.reply.suggest("I approved it", "Cancel")
        return None
    except (errors.OutOfStock, errors.PriceChanged) as problem:
        refreshed = await desk.checkout.get_session(sid)
        await desk.save(row, refreshed, turn)
        turn.reply.say(
            f"{row.merchant_name}: {problem.message} Nothing was charged."
            + (
                " Remove that item or pick another, then we can try again."
                if isinstance(problem, errors.OutOfStock)
                else " Here is the new total."
            )
        )
        if isinstance(problem, errors.PriceChanged) and desk.present(turn, [(row, refreshed)]):
            turn.reply.suggest("Yes, place the order", "Cancel")
        return None
    except errors.CheckoutProblem as problem:
        turn.reply.say(
            f"{row.merchant_name}: checkout could not take the payment ({problem.message}). "
            "Nothing was charged; you can try again."
        )
        return None
    return await record_order(desk, turn, row, completed)


def buyer_of(turn: Turn) -> dict[str, Any] | None:
    if not turn.state.email:
        return None
    name = (turn.state.shipping_address or {}).get("name", "")
    buyer: dict[str, Any] = {"email": turn.state.email}
    if name:
        buyer["first_name"] = name.split()[0]
    return buyer


async def record_order(
    desk: PurchaseDesk, turn: Turn, row: PurchaseRow, session: dict[str, Any]
) -> dict[str, Any]:
    await desk.save(row, session, turn)
    order = session["order"]
    turn.placed_orders.append(order["id"])
    turn.state.cart = [line for line in turn.state.cart if line.merchant_id != row.merchant_id]
    return {
        "order_id": order["id"],
        "order_number": order.get("order_number"),
        "checkout_session_id": row.checkout_session_id,
        "merchant": {"id": row.merchant_id, "name": row.merchant_name},
        "status": order.get("status"),
        "total": {
            "amount": total_of(session),
            "currency": session.get("currency", "usd"),
            "display": format_money(total_of(session), session.get("currency", "usd")),
        },
        "permalink_url": order.get("permalink_url"),
        "paid_with": f"card ending {row.card_last4}" if row.card_last4 else None,
    }

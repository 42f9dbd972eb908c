"""What Stripe tells us by webhook: payments settling, refunds, disputes, merchants' accounts.

Events land in an inbox keyed by Stripe's event id, so a redelivery does nothing. Delivery is at
least once and in any order: an event about something we have not recorded yet (a dispute on an
order still being finished) stays in the inbox unprocessed and is applied again later by
replay_deferred_events; an account.updated re-reads the account, so an old event cannot undo a
newer state. The flow reads the provider-neutral events of payments.events; Stripe's payload
shapes are read into them by payments.stripe_webhooks.payment_event.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

import anyio
from sqlmodel import Session

from checkout.domain import ledger
from checkout.domain.purchase import PaymentStatus, PurchaseState
from checkout.flows.order_events import queue_order_event
from checkout.flows.payment_accounts import apply_account_status
from checkout.flows.purchase.saga import Completion, carry_on
from checkout.flows.refund_order import Refunding, settle_refund
from checkout.payments.events import (
    AccountChanged,
    ChargeRefunded,
    ChargeSources,
    DisputeChanged,
    DisputeStage,
    PaymentAnswered,
    RefundChanged,
)
from checkout.payments.provider import (
    AccountStatus,
    ConnectedAccounts,
    PaymentRefused,
    PaymentUnavailable,
    Refund,
    RefundStatus,
)
from checkout.payments.stripe_webhooks import StripeEvent, payment_event
from checkout.store.db import Database
from checkout.store.ids import new_id
from checkout.store.inboxes import StripeEvents
from checkout.store.ledger import Ledger
from checkout.store.merchants import Merchants
from checkout.store.orders import Orders
from checkout.store.payments import Payments
from checkout.store.purchases import Purchases
from checkout.store.refunds import Refunds
from checkout.store.rows import (
    MerchantRow,
    OrderRow,
    PaymentRow,
    PurchaseRow,
    RefundRow,
    StripeEventRow,
)

log = logging.getLogger("checkout.stripe_events")
DEFERRED = "deferred"


@dataclass(frozen=True, slots=True)
class StripeInbox:
    database: Database
    completion: Completion
    refunding: Refunding
    accounts: ConnectedAccounts
    clock: Callable[[], datetime]


async def handle_stripe_event(inbox: StripeInbox, event: StripeEvent) -> str:
    """Apply a verified event once; returns what was done, for the log and the response."""
    fresh = await anyio.to_thread.run_sync(_receive, inbox.database, event, inbox.clock())
    if not fresh:
        return "duplicate"
    return await _process(inbox, event)


async def replay_deferred_events(inbox: StripeInbox) -> int:
    """Apply again the events that arrived before what they refer to."""

    def pending() -> list[StripeEventRow]:
        with inbox.database.read() as db:
            return list(StripeEvents(db).unprocessed())

    applied = 0
    for row in await anyio.to_thread.run_sync(pending):
        event = StripeEvent(row.id, row.type, row.created, row.account, row.payload)
        if await _process(inbox, event) != DEFERRED:
            applied += 1
    return applied


def _receive(database: Database, event: StripeEvent, now: datetime) -> bool:
    """Put the event in the inbox; False when it was already processed."""
    with database.write() as db:
        return StripeEvents(db).receive(
            event.id,
            type=event.type,
            account=event.account,
            payload=event.data,
            created=event.created,
            now=now,
        )


async def _process(inbox: StripeInbox, event: StripeEvent) -> str:
    try:
        outcome = await _apply(inbox, event)
    except PaymentUnavailable:
        outcome = DEFERRED
    if outcome != DEFERRED:

        def done() -> None:
            with inbox.database.write() as db:
                StripeEvents(db).processed(event.id, outcome, inbox.clock())

        await anyio.to_thread.run_sync(done)
    log.info("stripe.event id=%s type=%s outcome=%s", event.id, event.type, outcome)
    return outcome


async def _apply(inbox: StripeInbox, event: StripeEvent) -> str:
    happened = payment_event(event)
    if isinstance(happened, AccountChanged):
        return await _account_updated(inbox, happened)
    if isinstance(happened, PaymentAnswered):
        return await _payment_intent(inbox, happened.provider_payment_id)
    if isinstance(happened, RefundChanged):
        # What Stripe has given back of the fee so far is what a settled refund books.
        payment_intent = happened.paid_with.provider_payment_id
        returned = (
            await inbox.completion.provider.commission_returned(payment_intent)
            if payment_intent and happened.status == "succeeded"
            else None
        )
        return await anyio.to_thread.run_sync(_refund_event, inbox, happened, returned)
    if isinstance(happened, ChargeRefunded):
        # Since API 2022-11-15 a Charge carries no `refunds` (and a webhook cannot expand it):
        # each refund settles from its own refund.created / refund.updated event.
        return "refunds settle from refund events"
    if isinstance(happened, DisputeChanged):
        return await _dispute(inbox, happened)
    return "ignored"


async def _account_updated(inbox: StripeInbox, changed: AccountChanged) -> str:
    account_id = changed.account_id

    def merchant() -> MerchantRow | None:
        with inbox.database.read() as db:
            return Merchants(db).with_payment_account(account_id)

    found = await anyio.to_thread.run_sync(merchant)
    if found is None:
        return "no such merchant"
    # Events come in any order: the account as it is now decides, never the event's snapshot.
    # Stripe not answering defers the event (PaymentUnavailable propagates to _process).
    status: AccountStatus | str
    if changed.disconnected:
        status = "the merchant disconnected its Stripe account from the platform"
    else:
        try:
            status = await inbox.accounts.account_status(account_id)
        except PaymentRefused as exc:
            status = f"Stripe refuses access to the merchant's account ({exc})"

    def save() -> str:
        with inbox.database.write() as db:
            row = Merchants(db).get(found.id, for_update=True)
            assert row is not None
            if isinstance(status, str):
                changed = (row.payment_status, row.payment_status_reason) != ("pending", status)
                row.payment_status, row.payment_status_reason = "pending", status
            else:
                changed = apply_account_status(row, status)
            db.add(row)
            return f"merchant {row.payment_status}" + ("" if changed else " (unchanged)")

    return await anyio.to_thread.run_sync(save)


async def _payment_intent(inbox: StripeInbox, payment_intent_id: str) -> str:
    """Our saga captures and decides by itself; an event only wakes a purchase that is waiting
    for an answer it lost (the retry is keyed, so it cannot charge twice)."""

    def waiting() -> tuple[PurchaseRow, MerchantRow] | None:
        with inbox.database.read() as db:
            return Purchases(db).paid_by(payment_intent_id)

    found = await anyio.to_thread.run_sync(waiting)
    if found is None:
        return "no such payment"
    purchase, merchant = found
    if (
        purchase.state not in (PurchaseState.AUTHORIZING, PurchaseState.PLACED)
        or purchase.attempts == 0
    ):
        return f"purchase {purchase.state}"
    outcome = await carry_on(inbox.completion, purchase, merchant)
    return "purchase unwound" if outcome.refusal else "purchase completed"


def _order_for_charge(db: Session, sources: ChargeSources) -> OrderRow | None:
    """The order a charge or dispute is about, locked; None while it is not recorded yet."""
    payment_intent, charge = sources.provider_payment_id, sources.charge_id
    payments = Payments(db)
    lookups: list[Callable[[], PaymentRow | None]] = []
    if payment_intent:
        lookups.append(lambda: payments.with_provider_id(payment_intent))
    if charge:
        lookups.append(lambda: payments.with_charge(charge))
    for lookup in lookups:
        payment = lookup()
        if payment is not None and payment.status == PaymentStatus.SUCCEEDED:
            return Orders(db).paid_by(payment.id)
    return None


def _refund_event(inbox: StripeInbox, changed: RefundChanged, returned: int | None) -> str:
    """A refund as Stripe reports it: ours settles; one made outside the platform (the
    Dashboard) is recorded once it succeeded, with the fee Stripe gave back with it and with
    the merchant's share taken back only when Stripe reversed the transfer."""
    now = inbox.clock()
    stripe_id = changed.refund_id
    with inbox.database.write() as db:
        refund = Refunds(db).by_provider_id(stripe_id)
        if refund is None and changed.our_refund_id:
            refund = Refunds(db).get(changed.our_refund_id)
        if refund is not None:
            return f"refund {_settle_from_stripe(db, refund, changed, returned, now)}"
        if changed.status != "succeeded":
            return f"refund made in Stripe is {changed.status}"
        order = _order_for_charge(db, changed.paid_with)
        if order is None:
            return DEFERRED
        amount = min(changed.amount, order.total_amount - order.amount_refunded)
        refund = RefundRow(
            id=new_id("rfd"),
            order_id=order.id,
            amount=amount,
            commission_amount=0,
            currency=order.currency,
            reason="refunded in Stripe",
            source="stripe",
            status="pending",
            created_at=now,
            updated_at=now,
        )
        Refunds(db).add(refund)
        settle_refund(
            db,
            refund.id,
            Refund(stripe_id, RefundStatus.SUCCEEDED, 0, returned),
            now,
            merchant_paid=changed.merchant_share_reversed,
        )
        return f"refund of {amount} made in Stripe recorded"


def _settle_from_stripe(
    db: Session,
    refund: RefundRow,
    changed: RefundChanged,
    returned: int | None,
    now: datetime,
) -> str:
    """Settle a pending refund of ours as Stripe now reports it; returns its status."""
    status = changed.settled
    if status is None or refund.status != "pending":
        return refund.status
    result = Refund(changed.refund_id, status, 0, returned)
    return settle_refund(db, refund.id, result, now).status


async def _dispute(inbox: StripeInbox, dispute: DisputeChanged) -> str:
    """Disputes on destination charges move the PLATFORM's money: Stripe withdraws the amount
    and its fee from the platform's balance; the platform takes the amount back from the
    merchant by reversing the transfer, and pays it back if the merchant wins. An inquiry
    (`warning_*`) moves nothing."""
    dispute_id, status = dispute.dispute_id, dispute.status

    def book(movements: list[ledger.Movement] | None, key: str) -> tuple[str, str] | None:
        """Record under the order's lock; (order id, payment intent) or None if not recorded."""
        with inbox.database.write() as db:
            order = _order_for_charge(db, dispute.paid_with)
            if order is None:
                return None
            payment = Payments(db).get(order.payment_id)
            assert payment is not None and payment.provider_payment_id is not None
            if movements and Ledger(db).record(
                movements,
                key=key,
                merchant_id=order.merchant_id,
                order_id=order.id,
                currency=order.currency,
                reference=dispute_id,
                occurred_at=inbox.clock(),
            ):
                queue_order_event(db, "order_update", order, inbox.clock())
            return order.id, payment.provider_payment_id

    def has(key: str) -> bool:
        with inbox.database.read() as db:
            return Ledger(db).has(key)

    def recovered() -> int:
        with inbox.database.read() as db:
            rows = Ledger(db).movement(f"dispute:{dispute_id}:recovered:transfer_reversal")
            return sum(r.amount for r in rows if r.account == ledger.Account.PLATFORM.value)

    if dispute.stage in (DisputeStage.OPENED, DisputeStage.CLOSED):
        found = await anyio.to_thread.run_sync(book, None, "")
        if found is None:
            return DEFERRED
        return f"dispute {status}" + (": an inquiry moves no money" if dispute.inquiry else "")

    if dispute.stage is DisputeStage.FUNDS_WITHDRAWN:
        amount, fee = dispute.withdrawn
        movements = ledger.dispute_withdrawn(amount=amount, fee=fee)
        found = await anyio.to_thread.run_sync(book, movements, f"dispute:{dispute_id}")
        if found is None:
            return DEFERRED
        if await anyio.to_thread.run_sync(has, f"dispute:{dispute_id}:recovered:transfer_reversal"):
            return f"dispute of {amount} withdrawn (already recovered)"
        # PaymentUnavailable defers the event; the key makes the reversal happen once.
        taken = await inbox.completion.provider.recover_from_merchant(
            found[1], amount, idempotency_key=f"{dispute_id}:recover"
        )
        await anyio.to_thread.run_sync(
            book, ledger.transfer_reversal(amount=taken), f"dispute:{dispute_id}:recovered"
        )
        return f"dispute of {amount} withdrawn (fee {fee}), {taken} recovered from the merchant"

    if dispute.stage is DisputeStage.FUNDS_REINSTATED:
        amount, fee = dispute.reinstated
        movements = ledger.dispute_reinstated(amount=amount, fee_returned=max(0, -fee))
        found = await anyio.to_thread.run_sync(book, movements, f"dispute-won:{dispute_id}")
        if found is None:
            return DEFERRED
        owed = await anyio.to_thread.run_sync(recovered)
        if owed <= 0 or await anyio.to_thread.run_sync(
            has, f"dispute-won:{dispute_id}:repaid:transfer"
        ):
            return f"dispute of {amount} reinstated"
        paid = await inbox.completion.provider.pay_merchant(
            found[1], owed, idempotency_key=f"{dispute_id}:repay"
        )
        await anyio.to_thread.run_sync(
            book, ledger.transfer(amount=paid), f"dispute-won:{dispute_id}:repaid"
        )
        return f"dispute of {amount} reinstated, {paid} paid back to the merchant"
    return "ignored"

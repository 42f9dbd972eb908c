"""Refunding an order, in full or in part, with the commission given back in proportion.

    open_refund    one transaction: lock the order, check what is left to refund, record the
                   refund as pending with its commission share
    (the provider refunds between the steps, idempotent on the refund's id, no row locked)
    settle_refund  one transaction: the provider's answer; a refund that went through moves the
                   ledger, updates the order and queues `order_update` with the adjustment

A refund the provider has not confirmed stays pending and is asked again with the same key (by a
retried request or by retry_pending_refunds), so it is never made twice; Stripe's
`charge.refunded` webhook settles it too.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

import anyio
from sqlmodel import Session

from checkout.domain import ledger
from checkout.domain.commission import commission_refund
from checkout.domain.errors import InvalidRequest, NotFound, ServiceUnavailable
from checkout.flows.order_events import queue_order_event
from checkout.payments.provider import (
    PaymentOperations,
    PaymentRefused,
    PaymentUnavailable,
    Refund,
    RefundRequest,
    RefundStatus,
)
from checkout.store.db import Database
from checkout.store.ids import new_id
from checkout.store.ledger import Ledger
from checkout.store.orders import Orders
from checkout.store.payments import Payments
from checkout.store.refunds import Refunds
from checkout.store.rows import OrderRow, RefundRow

log = logging.getLogger("checkout.refunds")


@dataclass(frozen=True, slots=True)
class Refunding:
    database: Database
    provider: PaymentOperations
    clock: Callable[[], datetime]
    key_retention: timedelta = timedelta(hours=24)  # how long a request key names one refund


def _refundable(db: Session, order: OrderRow) -> int:
    pending = sum(r.amount for r in Refunds(db).of_order(order.id) if r.status == "pending")
    return order.total_amount - order.amount_refunded - pending


def open_refund(
    db: Session,
    order_id: str,
    *,
    amount: int | None,
    reason: str | None,
    source: str,
    now: datetime,
    refund_id: str | None = None,
) -> RefundRow:
    orders = Orders(db)
    order = orders.get(order_id, for_update=True)
    if order is None:
        raise NotFound(f"Order '{order_id}' does not exist.", code="order_not_found")
    refundable = _refundable(db, order)
    amount = refundable if amount is None else amount
    if refundable <= 0:
        raise InvalidRequest(
            "This order has nothing left to refund.", param="$.amount", code="order_fully_refunded"
        )
    if not 0 < amount <= refundable:
        raise InvalidRequest(
            f"A refund of this order is between 1 and {refundable} (minor units).",
            param="$.amount",
            code="refund_exceeds_charge",
        )
    already = order.total_amount - refundable
    share = commission_refund(
        commission=order.commission_amount,
        charged=order.total_amount,
        refunded_before=already,
        refund=amount,
    )
    refund = RefundRow(
        id=refund_id or new_id("rfd"),
        order_id=order.id,
        amount=amount,
        commission_amount=share,
        currency=order.currency,
        reason=reason,
        source=source,
        status="pending",
        created_at=now,
        updated_at=now,
    )
    Refunds(db).add(refund)
    return refund


def refund_request(db: Session, refund: RefundRow) -> RefundRequest:
    order = Orders(db).get(refund.order_id)
    assert order is not None
    payment = Payments(db).get(order.payment_id)
    assert payment is not None and payment.provider_payment_id is not None
    return RefundRequest(
        idempotency_key=f"{refund.id}:refund",
        payment_id=payment.provider_payment_id,
        amount=refund.amount,
        currency=refund.currency,
        application_fee_refund=refund.commission_amount,
        reason=refund.reason,
        metadata={"order_id": order.id, "refund_id": refund.id},
    )


def settle_refund(
    db: Session, refund_id: str, result: Refund, now: datetime, *, merchant_paid: bool = True
) -> RefundRow:
    """Record the provider's answer once; the ledger and the order move only on success.

    `merchant_paid` is False for a refund that did not reverse the merchant's transfer (made in
    Stripe's Dashboard without it): Stripe took it all from the platform's balance.
    """
    refund = Refunds(db).get(refund_id)
    assert refund is not None
    order = Orders(db).get(refund.order_id, for_update=True)
    assert order is not None
    # Read again under the order's lock, past the session's cache: another settlement may have
    # committed in between.
    db.refresh(refund)
    if refund.status != "pending":
        return refund
    refund.provider_refund_id = result.refund_id
    refund.updated_at = now
    if result.status is RefundStatus.PENDING:
        db.add(refund)
        return refund
    if result.status is RefundStatus.FAILED:
        refund.status = "failed"
        db.add(refund)
        queue_order_event(db, "order_update", order, now)
        log.warning("refund.failed order=%s refund=%s", order.id, refund.id)
        return refund
    refund.status = "succeeded"
    # What the provider actually gave back of its fee is what moved; our rule is the request.
    # Its running total, when known, is the sure figure: a retried or outside refund cannot
    # make it count twice or not at all.
    given_back = result.application_fee_refunded
    if result.application_fee_refunded_total is not None:
        given_back = result.application_fee_refunded_total - order.commission_refunded
    refund.commission_amount = max(0, min(given_back, refund.amount))
    db.add(refund)
    movements = (
        ledger.refund(
            amount=refund.amount,
            commission_refunded=refund.commission_amount,
            fee_returned=result.processing_fee_returned,
        )
        if merchant_paid
        else ledger.refund_by_platform(
            amount=refund.amount, commission_refunded=refund.commission_amount
        )
    )
    Ledger(db).record(
        movements,
        key=f"refund:{refund.id}",
        merchant_id=order.merchant_id,
        order_id=order.id,
        currency=order.currency,
        reference=result.refund_id,
        occurred_at=now,
    )
    order.amount_refunded += refund.amount
    order.commission_refunded += refund.commission_amount
    order.updated_at = now
    Orders(db).save(order)
    queue_order_event(db, "order_update", order, now)
    log.info(
        "refund.succeeded order=%s refund=%s amount=%d commission=%d",
        order.id,
        refund.id,
        refund.amount,
        refund.commission_amount,
    )
    return refund


async def send_refund(ctx: Refunding, refund_id: str) -> RefundRow:
    """Ask the provider for a pending refund (again, with the same key) and record its answer."""

    def read() -> RefundRequest:
        with ctx.database.read() as db:
            refund = Refunds(db).get(refund_id)
            assert refund is not None
            return refund_request(db, refund)

    request = await anyio.to_thread.run_sync(read)
    try:
        result = await ctx.provider.refund(request)
    except PaymentUnavailable as exc:
        raise ServiceUnavailable(
            "The payment provider is not answering; the refund is recorded as pending and is "
            "retried with the same key, so it is made once."
        ) from exc
    except PaymentRefused as exc:
        result = Refund(refund_id="", status=RefundStatus.FAILED, application_fee_refunded=0)
        log.warning("refund.refused refund=%s error=%s", refund_id, exc)

    def record() -> RefundRow:
        with ctx.database.write() as db:
            return settle_refund(db, refund_id, result, ctx.clock())

    settled = await anyio.to_thread.run_sync(record)
    if settled.status == "failed":
        raise InvalidRequest(
            "The payment provider refused the refund; nothing was refunded.", code="refund_failed"
        )
    return settled


async def refund_order(
    ctx: Refunding,
    order_id: str,
    *,
    amount: int | None,
    reason: str | None,
    source: str,
    request_key: str | None = None,
) -> RefundRow:
    """Open the refund and ask the provider for it.

    With a `request_key` (the caller's Idempotency-Key) the refund's id comes from the key, so
    a retry after a lost answer asks the provider for the same refund again instead of making
    a second one; a key reused after the retention window starts the next id in its sequence.
    """

    def open_() -> RefundRow:
        with ctx.database.write() as db:
            refund_id = None
            if request_key is not None:
                found = _keyed_refund(db, order_id, request_key, ctx.clock() - ctx.key_retention)
                if isinstance(found, RefundRow):
                    return found
                refund_id = found
            return open_refund(
                db,
                order_id,
                amount=amount,
                reason=reason,
                source=source,
                now=ctx.clock(),
                refund_id=refund_id,
            )

    refund = await anyio.to_thread.run_sync(open_)
    if refund.status == "pending" and refund.provider_refund_id is None:
        return await send_refund(ctx, refund.id)
    return refund


def _keyed_refund(db: Session, order_id: str, key: str, kept_since: datetime) -> RefundRow | str:
    """The refund this key already made (within retention), or the id a new one takes."""
    generation = 0
    while True:
        seed = f"{order_id}:{key}:{generation}"
        refund_id = "rfd_" + hashlib.sha256(seed.encode()).hexdigest()[:24]
        existing = Refunds(db).get(refund_id)
        if existing is None:
            return refund_id
        if existing.created_at > kept_since:
            return existing
        generation += 1


async def retry_pending_refunds(ctx: Refunding) -> int:
    """Ask again for refunds whose answer was lost; the key makes each one happen once."""

    def pending() -> list[str]:
        with ctx.database.read() as db:
            return [r.id for r in Refunds(db).pending() if r.provider_refund_id is None]

    done = 0
    for refund_id in await anyio.to_thread.run_sync(pending):
        try:
            await send_refund(ctx, refund_id)
            done += 1
        except (ServiceUnavailable, InvalidRequest):
            continue
    return done

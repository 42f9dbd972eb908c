"""Periodically carry on what a crashed or abandoned request left half-done: purchases, holds
to release, refunds whose answer was lost, Stripe events that came before what they refer to."""

from __future__ import annotations

import asyncio
import logging
from datetime import timedelta

from checkout.flows.purchase.recovery import recover_purchases
from checkout.flows.purchase.saga import Completion
from checkout.flows.refund_order import Refunding, retry_pending_refunds
from checkout.flows.stripe_events import StripeInbox, replay_deferred_events
from checkout.jobs import run_every

log = logging.getLogger("checkout.jobs")

# Longer than an idempotency lease, so a request still working on a purchase is left alone.
GRACE = timedelta(seconds=60)


async def run_forever(
    ctx: Completion,
    refunding: Refunding,
    inbox: StripeInbox,
    stop: asyncio.Event,
    every_seconds: float = 30.0,
) -> None:
    async def recover() -> None:
        report = await recover_purchases(ctx, older_than=GRACE)
        if any(report.values()):
            log.info("purchases.recovered %s", report)
        refunds = await retry_pending_refunds(refunding)
        if refunds:
            log.info("refunds.retried count=%d", refunds)
        events = await replay_deferred_events(inbox)
        if events:
            log.info("stripe.events_replayed count=%d", events)

    await run_every(every_seconds, recover, stop, name="purchases.recovery")

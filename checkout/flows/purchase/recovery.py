"""Carrying on what a crashed or abandoned request left half-done: purchases stuck between steps
and holds whose release the provider has not confirmed (run by checkout.jobs.purchases)."""

from __future__ import annotations

import logging
from datetime import timedelta

import anyio

from checkout.domain.errors import ServiceUnavailable
from checkout.domain.purchase import UNFINISHED
from checkout.flows.purchase.saga import Completion, carry_on, release_hold
from checkout.store.payments import Payments
from checkout.store.purchases import Purchases
from checkout.store.rows import MerchantRow, PurchaseRow

log = logging.getLogger("checkout.flows")


async def recover_purchases(ctx: Completion, *, older_than: timedelta) -> dict[str, int]:
    """Carry on purchases a crashed or abandoned request left half-done; release stray holds."""

    def stale() -> tuple[list[tuple[PurchaseRow, MerchantRow]], list[str]]:
        now = ctx.clock()
        cutoff = now - older_than
        with ctx.database.write() as db:
            purchases = Purchases(db)
            rows = purchases.left_since(UNFINISHED, cutoff)
            # One claimant per purchase, across workers and hosts: touching it makes it fresh,
            # so another worker's sweep (and a retried complete) leaves it to this one.
            claimed = [(p, merchant) for p, merchant in rows if purchases.claim(p, now)]
            holds = Payments(db).to_release()
        return claimed, holds

    report = {"completed": 0, "unwound": 0, "pending": 0}
    purchases, holds = await anyio.to_thread.run_sync(stale)
    for purchase, merchant in purchases:
        try:
            outcome = await carry_on(ctx, purchase, merchant)
        except ServiceUnavailable:
            report["pending"] += 1
            continue
        report["unwound" if outcome.refusal else "completed"] += 1
        log.info(
            "checkout.purchase_recovered session=%s result=%s",
            purchase.session_id,
            "unwound" if outcome.refusal else "completed",
        )
    for payment_id in holds:
        await release_hold(ctx, payment_id)
    return report

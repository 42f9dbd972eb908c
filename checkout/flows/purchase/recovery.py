"""Carrying on what a crashed or abandoned request left half-done: purchases stuck between steps
and holds whose release the provider has not confirmed (run by checkout.jobs.purchases)."""

from __future__ import annotations

import logging
from datetime import timedelta

import anyio
from sqlalchemy import update
from sqlmodel import col, select

from checkout.domain.errors import ServiceUnavailable
from checkout.domain.purchase import UNFINISHED
from checkout.flows.purchase.saga import Completion, carry_on, release_hold
from checkout.flows.purchase.settlement import holds_to_release
from checkout.store.rows import MerchantRow, PurchaseRow

log = logging.getLogger("checkout.flows")


async def recover_purchases(ctx: Completion, *, older_than: timedelta) -> dict[str, int]:
    """Carry on purchases a crashed or abandoned request left half-done; release stray holds."""

    def stale() -> tuple[list[tuple[PurchaseRow, MerchantRow]], list[str]]:
        now = ctx.clock()
        cutoff = now - older_than
        with ctx.database.write() as db:
            rows = db.exec(
                select(PurchaseRow, MerchantRow)
                .join(MerchantRow, col(MerchantRow.id) == col(PurchaseRow.merchant_id))
                .where(
                    col(PurchaseRow.state).in_([state.value for state in UNFINISHED]),
                    col(PurchaseRow.updated_at) <= cutoff,
                )
                .with_for_update(skip_locked=True, of=PurchaseRow)
            ).all()
            # One claimant per purchase, across workers and hosts: touching it makes it fresh,
            # so another worker's sweep (and a retried complete) leaves it to this one.
            claimed = []
            for purchase, merchant in rows:
                taken = db.execute(
                    update(PurchaseRow)
                    .where(
                        col(PurchaseRow.id) == purchase.id,
                        col(PurchaseRow.updated_at) == purchase.updated_at,
                    )
                    .values(updated_at=now)
                )
                if taken.rowcount == 1:  # type: ignore[attr-defined]
                    claimed.append((purchase, merchant))
            holds = [payment_id for payment_id, _ in holds_to_release(db)]
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

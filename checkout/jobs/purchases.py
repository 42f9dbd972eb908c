"""Periodically finish or unwind purchases that a crashed or abandoned complete left half-done."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from datetime import timedelta

from checkout.flows.complete_checkout import Completion, recover_purchases

log = logging.getLogger("checkout.jobs")

# Longer than an idempotency lease, so a request still working on a purchase is left alone.
GRACE = timedelta(seconds=60)


async def run_forever(ctx: Completion, stop: asyncio.Event, every_seconds: float = 30.0) -> None:
    while not stop.is_set():
        try:
            report = await recover_purchases(ctx, older_than=GRACE)
            if any(report.values()):
                log.info("purchases.recovered %s", report)
        except Exception:
            log.exception("purchases.recovery_failed")
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), timeout=every_seconds)

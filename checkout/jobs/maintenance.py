"""Periodic upkeep: expire sessions past their time, forget idempotency keys past retention."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from datetime import datetime

import anyio

from checkout.jobs import run_every
from checkout.store.db import Database
from checkout.store.idempotency import IdempotencyRecords
from checkout.store.sessions import CheckoutSessions

log = logging.getLogger("checkout.maintenance")


def expire_sessions(database: Database, now: datetime) -> int:
    with database.write() as db:
        return CheckoutSessions(db).expire_due(now)


async def run_forever(
    database: Database,
    idempotency: IdempotencyRecords,
    clock: Callable[[], datetime],
    stop: asyncio.Event,
    every_seconds: float = 60.0,
) -> None:
    async def sweep() -> None:
        expired = await anyio.to_thread.run_sync(expire_sessions, database, clock())
        purged = await anyio.to_thread.run_sync(idempotency.purge, clock())
        if expired or purged:
            log.info("maintenance.swept sessions_expired=%d keys_purged=%d", expired, purged)

    await run_every(every_seconds, sweep, stop, name="maintenance")

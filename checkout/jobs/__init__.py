"""Background work: order webhooks from the outbox, upkeep, recovery; and the loop they share."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable


async def run_every(
    seconds: float, step: Callable[[], Awaitable[object]], stop: asyncio.Event, *, name: str
) -> None:
    """Run `step` now and then every `seconds` until `stop`; a failing step is logged and the
    loop carries on (it must outlive a bad moment of the database or a provider)."""
    log = logging.getLogger("checkout.jobs")
    while not stop.is_set():
        try:
            await step()
        except Exception:
            log.exception("%s.failed", name)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), timeout=seconds)

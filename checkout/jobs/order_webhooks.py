"""Delivers outbox order events to the agent's receiver, signed, with retries and backoff.

Signature: `Merchant-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256(secret, "{t}.{body}")>`.
Events are claimed with a lease, so several workers can run this loop against one database
and a worker that dies mid-delivery hands its events back when the lease runs out.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import logging
import random
from collections.abc import Callable
from datetime import datetime, timedelta

import anyio
import httpx

from checkout.jobs import run_every
from checkout.protocol.render import iso
from checkout.store.db import Database
from checkout.store.outbox import Outbox
from checkout.store.rows import OutboxEventRow

log = logging.getLogger("checkout.webhooks")
MAX_BACKOFF_SECONDS = 300


def signature(secret: str, timestamp: int, body: bytes) -> str:
    digest = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()
    return f"t={timestamp},v1={digest}"


def backoff(attempts: int) -> timedelta:
    """1 s, 2 s, 4 s ... capped at five minutes, with +-10% jitter so retries do not align."""
    seconds = min(2 ** max(attempts - 1, 0), MAX_BACKOFF_SECONDS)
    return timedelta(seconds=seconds * random.uniform(0.9, 1.1))


class OrderWebhookSender:
    def __init__(
        self,
        database: Database,
        client: httpx.AsyncClient,
        *,
        url: str | None,
        secret: str,
        max_attempts: int,
        clock: Callable[[], datetime],
        lease: timedelta = timedelta(seconds=60),
    ) -> None:
        self.database = database
        self.client = client
        self.url = url
        self.secret = secret
        self.max_attempts = max_attempts
        self.clock = clock
        self.lease = lease

    def _claim(self) -> list[OutboxEventRow]:
        with self.database.write() as db:
            return Outbox(db).claim_due(self.clock(), limit=50, lease=self.lease)

    def _record(self, event: OutboxEventRow, error: str | None) -> None:
        now = self.clock()
        attempts = event.attempts + 1
        with self.database.write() as db:
            outbox = Outbox(db)
            if error is None:
                outbox.delivered(event.id, now, attempts)
            else:
                outbox.retry_later(
                    event.id,
                    attempts=attempts,
                    next_attempt_at=now + backoff(attempts),
                    error=error,
                    give_up=attempts >= self.max_attempts,
                    now=now,
                )

    async def _deliver(self, event: OutboxEventRow) -> str | None:
        assert self.url is not None
        body = event.payload.encode()
        now = self.clock()
        headers = {
            "Content-Type": "application/json",
            "Merchant-Signature": signature(self.secret, int(now.timestamp()), body),
            "Request-Id": event.id,
            "Timestamp": iso(now),
        }
        try:
            response = await self.client.post(self.url, content=body, headers=headers)
        except httpx.HTTPError as exc:
            return f"{type(exc).__name__}: {exc}"
        if 200 <= response.status_code < 300:
            return None
        return f"HTTP {response.status_code}"

    async def run_once(self) -> int:
        """Deliver what is due now; returns how many events were attempted."""
        if not self.url:
            return 0
        events = await anyio.to_thread.run_sync(self._claim)
        for event in events:
            error = await self._deliver(event)
            if error is None:
                log.info(
                    "webhook.delivered event=%s type=%s order=%s",
                    event.id,
                    event.event_type,
                    event.order_id,
                )
            else:
                log.warning(
                    "webhook.failed event=%s attempt=%d error=%s",
                    event.id,
                    event.attempts + 1,
                    error,
                )
            await anyio.to_thread.run_sync(self._record, event, error)
        return len(events)

    async def run_forever(self, stop: asyncio.Event, poll_seconds: float) -> None:
        await run_every(poll_seconds, self.run_once, stop, name="webhook.loop")

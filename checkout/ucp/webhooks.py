"""Order events to UCP platforms, from the outbox written with each order change: the webhook
URL comes from the order capability's config in the agent's profile; each event carries the
full order as it is when sent, signed (order.md, "Order Event Webhook"); failures are retried."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

import anyio
import httpx
import orjson

from checkout.jobs import run_every
from checkout.jobs.order_webhooks import backoff
from checkout.store.db import Database
from checkout.store.outbox import UCP_EVENT_PREFIX, Outbox
from checkout.store.rows import OutboxEventRow
from checkout.ucp.signing import SigningKey

log = logging.getLogger("checkout.ucp")
ORDER_CAPABILITY = "dev.ucp.shopping.order"
PROFILE_TTL_SECONDS = 60.0
# The order's profile and its document in the version its agent speaks; None: nobody to tell.
Render = Callable[[str], tuple[str | None, dict[str, Any]] | None]


def webhook_url_of(profile: dict[str, Any]) -> str | None:
    """The order capability's webhook_url: a list of capabilities (2026-01-11) or a registry
    keyed by name (2026-04-08)."""
    capabilities = (profile.get("ucp") or {}).get("capabilities") or []
    if isinstance(capabilities, dict):
        entries = capabilities.get(ORDER_CAPABILITY) or []
    else:
        entries = [c for c in capabilities if c.get("name") == ORDER_CAPABILITY]
    for entry in entries:
        url = (entry.get("config") or {}).get("webhook_url")
        if isinstance(url, str) and url.startswith(("http://", "https://")):
            return url
    return None


class OrderEventSender:
    def __init__(
        self,
        database: Database,
        client: httpx.AsyncClient,
        key: SigningKey,
        *,
        business_id: str,
        max_attempts: int,
        clock: Callable[[], datetime],
        lease: timedelta = timedelta(seconds=60),
    ) -> None:
        self.database = database
        self.client = client
        self.key = key
        self.business_id = business_id
        self.max_attempts = max_attempts
        self.clock = clock
        self.lease = lease
        self.render: Render | None = None
        self._profiles: dict[str, tuple[str | None, float]] = {}

    async def _webhook_url(self, profile: str) -> str | None:
        """From the profile, read again after PROFILE_TTL_SECONDS (profiles may be cached)."""
        cached = self._profiles.get(profile)
        if cached is not None and cached[1] > time.monotonic():
            return cached[0]
        response = await self.client.get(profile)
        response.raise_for_status()
        url = webhook_url_of(response.json())
        if len(self._profiles) > 1000:
            self._profiles.clear()
        self._profiles[profile] = (url, time.monotonic() + PROFILE_TTL_SECONDS)
        return url

    def _claim(self) -> list[OutboxEventRow]:
        with self.database.write() as db:
            return Outbox(db).claim_due(self.clock(), limit=50, lease=self.lease, ucp=True)

    def _record(self, event: OutboxEventRow, error: str | None) -> None:
        now, attempts = self.clock(), event.attempts + 1
        with self.database.write() as db:
            if error is None:
                Outbox(db).delivered(event.id, now, attempts)
            else:
                Outbox(db).retry_later(
                    event.id,
                    attempts=attempts,
                    next_attempt_at=now + backoff(attempts),
                    error=error,
                    give_up=attempts >= self.max_attempts,
                    now=now,
                )

    async def _deliver(self, event: OutboxEventRow) -> str | None:
        assert self.render is not None
        rendered = await anyio.to_thread.run_sync(self.render, event.order_id)
        if rendered is None or not (rendered[0] or "").startswith(("http://", "https://")):
            return None  # no agent profile to tell: nothing to deliver
        profile, order = rendered
        assert profile is not None
        body = orjson.dumps(
            {
                "event_type": event.event_type.removeprefix(UCP_EVENT_PREFIX),
                "checkout_id": order["checkout_id"],
                "order": order,
            }
        )
        headers = {
            "Content-Type": "application/json",
            "Request-Signature": self.key.detached_jws(body),
            "Request-Id": event.id,
            "UCP-Business": self.business_id,
        }
        try:
            url = await self._webhook_url(profile)
            if url is None:
                return None  # the platform asked for no order events
            response = await self.client.post(url, content=body, headers=headers)
        except (httpx.HTTPError, ValueError) as exc:
            self._profiles.pop(profile, None)
            return f"{type(exc).__name__}: {exc}"
        return None if response.status_code < 300 else f"HTTP {response.status_code}"

    async def run_once(self) -> int:
        """Deliver what is due now; returns how many events were attempted."""
        if self.render is None:
            return 0
        events = await anyio.to_thread.run_sync(self._claim)
        for event in events:
            error = await self._deliver(event)
            if error is not None:
                log.warning(
                    "ucp.webhook_failed event=%s attempt=%d error=%s",
                    event.id,
                    event.attempts + 1,
                    error,
                )
            await anyio.to_thread.run_sync(self._record, event, error)
        return len(events)

    async def run_forever(self, stop: asyncio.Event, poll_seconds: float) -> None:
        await run_every(poll_seconds, self.run_once, stop, name="ucp.webhook.loop")

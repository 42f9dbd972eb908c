"""The Shopify sandbox's webhook outbox: queued in a change's transaction, POSTed signed later."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import Any

import anyio.to_thread
import httpx
from sqlalchemy import Connection, Engine, Row, select, update

from merchant_adapters.sandbox.shopify.schemas import API_VERSION
from merchant_adapters.sandbox.shopify.tables import webhooks
from merchant_adapters.sandbox.transactions import write_transaction
from merchant_adapters.signatures import hmac_sha256_base64

WEBHOOK_ATTEMPTS = 8  # Shopify retries a failing delivery 8 times, then gives up


class WebhookOutbox:
    """Deliveries kept in the database, so a failed one is retried by the next call."""

    def __init__(
        self,
        engine: Engine,
        *,
        webhook_client: httpx.AsyncClient | None,
        clock: Callable[[], datetime],
        secret: str,
    ) -> None:
        self._engine = engine
        self._webhook_client = webhook_client  # None: webhooks are queued, never delivered
        self._clock = clock
        self._secret = secret
        self._delivery_lock = asyncio.Lock()

    def queue(
        self, conn: Connection, shop: Row[Any], topic: str, payload: Mapping[str, Any]
    ) -> None:
        if not shop.webhook_url:
            return  # Shopify sends nothing to a shop without subscriptions
        conn.execute(
            webhooks.insert().values(
                shop_domain=shop.domain,
                url=shop.webhook_url,
                topic=topic,
                webhook_id=str(uuid.uuid4()),
                triggered_at=self._clock().astimezone(UTC).isoformat(),
                body=json.dumps(payload, separators=(",", ":")),
                delivered=False,
                attempts=0,
            )
        )

    async def deliver_pending(self) -> int:
        """POST the queued webhooks, signed as Shopify signs them; returns how many were accepted.

        Explicit and awaitable so tests are deterministic; the app calls it after each change.
        A failed delivery stays queued for the next call, up to Shopify's 8 attempts.
        """
        if self._webhook_client is None:
            return 0
        async with self._delivery_lock:
            pending = await anyio.to_thread.run_sync(self._pending_webhooks)
            accepted = 0
            for row in pending:
                body = row.body.encode()
                signature = hmac_sha256_base64(self._secret.encode(), body)
                headers = {
                    "Content-Type": "application/json",
                    "X-Shopify-Topic": row.topic,
                    "X-Shopify-Hmac-Sha256": signature.decode(),
                    "X-Shopify-Shop-Domain": row.shop_domain,
                    "X-Shopify-Webhook-Id": row.webhook_id,
                    "X-Shopify-Event-Id": row.webhook_id,
                    "X-Shopify-API-Version": API_VERSION,
                    "X-Shopify-Triggered-At": row.triggered_at,
                }
                try:
                    response = await self._webhook_client.post(
                        row.url, content=body, headers=headers
                    )
                    ok = response.is_success
                except httpx.HTTPError:
                    ok = False
                await anyio.to_thread.run_sync(self._record_delivery, row.id, ok)
                accepted += ok
            return accepted

    def _pending_webhooks(self) -> list[Row[Any]]:
        with self._engine.connect() as conn:
            return list(
                conn.execute(
                    select(webhooks)
                    .where(webhooks.c.delivered.is_(False), webhooks.c.attempts < WEBHOOK_ATTEMPTS)
                    .order_by(webhooks.c.id)
                ).all()
            )

    def _record_delivery(self, webhook_id: int, ok: bool) -> None:
        with write_transaction(self._engine) as conn:
            conn.execute(
                update(webhooks)
                .where(webhooks.c.id == webhook_id)
                .values(delivered=ok, attempts=webhooks.c.attempts + 1)
            )

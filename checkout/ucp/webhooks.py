"""Order events to the platform: the webhook URL comes from the order capability's config in
the platform's profile; each event carries the full order and is signed."""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Any

import httpx
import orjson

from checkout.ucp.signing import SigningKey

log = logging.getLogger("checkout.ucp")
ORDER_CAPABILITY = "dev.ucp.shopping.order"
RETRY_DELAYS = (0.2, 1.0, 5.0, 30.0)
PROFILE_TTL_SECONDS = 60.0


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


class OrderEvents:
    def __init__(self, client: httpx.AsyncClient, key: SigningKey, business_id: str) -> None:
        self.client = client
        self.key = key
        self.business_id = business_id
        self._tasks: set[asyncio.Task[None]] = set()
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

    async def _deliver(self, profile: str, event: dict[str, Any]) -> None:
        body = orjson.dumps(event)
        headers = {
            "Content-Type": "application/json",
            "Request-Signature": self.key.detached_jws(body),
            "UCP-Business": self.business_id,
        }
        for attempt, delay in enumerate((0.0, *RETRY_DELAYS)):
            await asyncio.sleep(delay)
            try:
                url = await self._webhook_url(profile)
                if url is None:
                    log.info("ucp.webhook_skipped profile=%s no order webhook_url", profile)
                    return
                response = await self.client.post(url, content=body, headers=headers)
                if response.status_code < 300:
                    return
                log.warning(
                    "ucp.webhook_refused status=%s attempt=%d", response.status_code, attempt
                )
            except (httpx.HTTPError, ValueError) as exc:
                self._profiles.pop(profile, None)
                log.warning(
                    "ucp.webhook_failed profile=%s error=%r attempt=%d", profile, exc, attempt
                )

    def send(self, profile: str | None, event_type: str, order: dict[str, Any]) -> None:
        """Deliver in the background: the agent's answer does not wait for its own receiver."""
        if not profile or not profile.startswith(("http://", "https://")):
            return
        event = {"event_type": event_type, "checkout_id": order["checkout_id"], "order": order}
        task = asyncio.get_running_loop().create_task(self._deliver(profile, event))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def drain(self) -> None:
        for task in list(self._tasks):
            task.cancel()

"""The Etsy sandbox's webhook deliveries, signed as Standard Webhooks (Etsy's, run by Svix)."""

from __future__ import annotations

import base64
import json
import logging
import uuid
from collections.abc import Callable

import httpx

from merchant_adapters.sandbox.etsy.schemas import Json, WebhookDelivery
from merchant_adapters.signatures import hmac_sha256_base64, standard_webhooks_content

logger = logging.getLogger("merchant_adapters.sandbox.etsy")


async def deliver(
    client: httpx.AsyncClient | None,
    webhook_secret: str,
    clock: Callable[[], int],
    url: str | None,
    payload: Json,
) -> WebhookDelivery | None:
    """Sign as Standard Webhooks (what Etsy's Svix-run delivery does) and POST once."""
    if url is None or client is None:
        return None
    body = json.dumps(payload, separators=(",", ":")).encode()
    message_id, stamp = f"msg_{uuid.uuid4().hex}", str(clock())
    key = base64.b64decode(webhook_secret.removeprefix("whsec_"))
    signature = hmac_sha256_base64(key, standard_webhooks_content(message_id, stamp, body))
    headers = {
        "content-type": "application/json",
        "webhook-id": message_id,
        "webhook-timestamp": stamp,
        "webhook-signature": f"v1,{signature.decode()}",
    }
    status: int | None = None
    try:
        response = await client.post(url, content=body, headers=headers, timeout=5.0)
        status = response.status_code
    except httpx.HTTPError as exc:
        logger.warning("sandbox.etsy.webhook_failed url=%s error=%s", url, type(exc).__name__)
    return WebhookDelivery(url=url, headers=headers, body=body, status_code=status)

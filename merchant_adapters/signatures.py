"""The HMAC-SHA256 webhook signatures both platforms use, shared by the adapters and sandboxes."""

from __future__ import annotations

import base64
import hashlib
import hmac


def hmac_sha256_base64(key: bytes, message: bytes) -> bytes:
    """Base64 of HMAC-SHA256(key, message): Shopify's X-Shopify-Hmac-Sha256 and the v1 signature
    of Standard Webhooks (Etsy's) are both this, over different messages."""
    return base64.b64encode(hmac.new(key, message, hashlib.sha256).digest())


def standard_webhooks_content(message_id: str, timestamp: str, body: bytes) -> bytes:
    """What Standard Webhooks signs: "{webhook-id}.{webhook-timestamp}." then the raw body."""
    return f"{message_id}.{timestamp}.".encode() + body

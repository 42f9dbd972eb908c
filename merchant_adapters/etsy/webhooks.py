"""Etsy webhooks: Standard Webhooks signatures checked over the raw body, events mapped."""

from __future__ import annotations

import base64
import binascii
import hmac
import json
import re
from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any

from merchant_adapters import PlatformEvent, Tracking, WebhookInvalid
from merchant_adapters.etsy.transport import Json
from merchant_adapters.signatures import hmac_sha256_base64, standard_webhooks_content

WEBHOOK_TOLERANCE_SECONDS = 300
_RECEIPT = re.compile(r"/receipts/(\d+)")
_LISTING = re.compile(r"/listings/(\d+)")


def webhook_key(webhook_secret: str) -> bytes:
    try:
        return base64.b64decode(webhook_secret.removeprefix("whsec_"), validate=True)
    except binascii.Error as exc:
        raise ValueError("webhook_secret must be 'whsec_' followed by base64") from exc


def verify_standard_webhook(
    key: bytes, clock: Callable[[], datetime], headers: Mapping[str, str], body: bytes
) -> tuple[str, Json]:
    """Verify a Standard Webhooks delivery (Etsy's, via Svix); returns its id and JSON object."""
    header = {name.lower(): value for name, value in headers.items()}
    event_id = header.get("webhook-id", "")
    stamp = header.get("webhook-timestamp", "")
    signatures = header.get("webhook-signature", "")
    if not (event_id and stamp and signatures):
        raise WebhookInvalid("Missing webhook-id, webhook-timestamp or webhook-signature")
    if not stamp.isdigit():
        raise WebhookInvalid("webhook-timestamp is not a unix time")
    if abs(clock().timestamp() - int(stamp)) > WEBHOOK_TOLERANCE_SECONDS:
        raise WebhookInvalid("webhook-timestamp is more than 5 minutes away from now")
    expected = hmac_sha256_base64(key, standard_webhooks_content(event_id, stamp, body))
    # Several space-separated "v1,<sig>" entries appear while a secret is being rotated.
    if not any(
        version == "v1" and hmac.compare_digest(sig.encode(), expected)
        for version, _, sig in (part.partition(",") for part in signatures.split())
    ):
        raise WebhookInvalid("No webhook-signature matches")
    try:
        payload = json.loads(body)
    except ValueError as exc:
        raise WebhookInvalid("Webhook body is not JSON") from exc
    if not isinstance(payload, dict):
        raise WebhookInvalid("Webhook body is not a JSON object")
    return event_id, payload


def etsy_event(shop_id: str, event_id: str, payload: dict[str, Any]) -> PlatformEvent:
    # One Etsy app signs for every shop that installed it: an event for another shop must
    # reach that shop's adapter, never this one.
    if payload.get("shop_id") is not None and str(payload["shop_id"]) != shop_id:
        raise WebhookInvalid(f"Webhook is for Etsy shop {payload['shop_id']}, not this one")
    event_type = payload.get("event_type")
    resource = str(payload.get("resource_url") or "")
    receipt = _RECEIPT.search(resource)
    reference = payload.get("x_sandbox_reference")
    common: dict[str, Any] = {
        "event_id": event_id,
        "platform_order_id": receipt.group(1) if receipt else None,
        "reference": str(reference) if reference else None,
        "raw": payload,
    }
    if event_type == "order.shipped":
        found = payload.get("x_sandbox_tracking")  # the sandbox's; Etsy sends none
        tracking = None
        if isinstance(found, dict) and found.get("tracking_number"):
            tracking = Tracking(
                carrier=str(found.get("carrier") or ""),
                tracking_number=str(found["tracking_number"]),
                tracking_url=found.get("tracking_url"),
            )
        return PlatformEvent(kind="order_fulfilled", tracking=tracking, **common)
    if event_type == "order.canceled":
        return PlatformEvent(kind="order_canceled", **common)
    if event_type == "x_sandbox.listing_updated":  # the sandbox's; Etsy has no listing events
        listing = payload.get("listing_id")
        if listing is None and (found_listing := _LISTING.search(resource)):
            listing = found_listing.group(1)
        return PlatformEvent(
            kind="product_updated",
            platform_product_id=str(listing) if listing else None,
            **common,
        )
    return PlatformEvent(kind="other", **common)

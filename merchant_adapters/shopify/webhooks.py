"""Shopify webhooks: the X-Shopify-Hmac-Sha256 check over the raw body, and topics mapped to events."""

from __future__ import annotations

import hmac
import json
from collections.abc import Mapping, Sequence
from typing import Any

from merchant_adapters import PlatformEvent, Tracking, WebhookInvalid
from merchant_adapters.signatures import hmac_sha256_base64


def parse_shopify_webhook(
    secrets: Sequence[str], headers: Mapping[str, str], body: bytes
) -> PlatformEvent:
    """Verify the signature against any of `secrets`, then map the topic to a PlatformEvent."""
    normalised = {key.lower(): value for key, value in headers.items()}
    signature = normalised.get("x-shopify-hmac-sha256") or normalised.get("shopify-hmac-sha256")
    if not signature:
        raise WebhookInvalid("missing X-Shopify-Hmac-Sha256")
    if not any(
        hmac.compare_digest(hmac_sha256_base64(secret.encode(), body), signature.strip().encode())
        for secret in secrets
    ):
        raise WebhookInvalid("X-Shopify-Hmac-Sha256 does not match the body")
    try:
        payload = json.loads(body)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise WebhookInvalid("the webhook body is not JSON") from exc
    event_id = normalised.get("x-shopify-webhook-id")
    if not isinstance(payload, dict) or not event_id:
        raise WebhookInvalid("not a Shopify webhook (no object body or no X-Shopify-Webhook-Id)")
    topic = normalised.get("x-shopify-topic", "")
    if not _body_fits_topic(topic, payload):
        # The HMAC covers the body, not the topic header: a signed body re-sent under another
        # topic must not become that event.
        raise WebhookInvalid(f"the body is not what the topic {topic[:64]!r} describes")
    return _event(topic, event_id, payload)


def _resource(payload: Mapping[str, Any]) -> str | None:
    """Which Shopify resource a REST webhook body is, from its GID or its telltale fields."""
    gid = payload.get("admin_graphql_api_id")
    if isinstance(gid, str) and gid.startswith("gid://shopify/"):
        return gid.removeprefix("gid://shopify/").split("/", 1)[0]
    if "line_items" in payload or "order_number" in payload:
        return "Order"
    if "myshopify_domain" in payload or "plan_name" in payload:
        return "Shop"
    if "variants" in payload:
        return "Product"
    return None


def _body_fits_topic(topic: str, payload: Mapping[str, Any]) -> bool:
    resource = _resource(payload)
    if topic.startswith("orders/"):
        if resource != "Order":
            return False
        if topic == "orders/cancelled":
            return bool(payload.get("cancelled_at"))
        if topic == "orders/fulfilled":
            return payload.get("fulfillment_status") == "fulfilled" or bool(
                payload.get("fulfillments")
            )
        return True
    if topic == "products/delete":
        # Shopify sends only the id: a full product body (an update's) is not a deletion.
        return resource is None and "title" not in payload
    if topic.startswith("products/"):
        return resource in ("Product", None)
    if topic == "app/uninstalled":
        return resource in ("Shop", None) and bool(
            payload.get("myshopify_domain") or payload.get("domain")
        )
    return True


def _gid(kind: str, payload: Mapping[str, Any]) -> str | None:
    if payload.get("admin_graphql_api_id"):
        return str(payload["admin_graphql_api_id"])
    return f"gid://shopify/{kind}/{payload['id']}" if payload.get("id") is not None else None


def _reference(order: Mapping[str, Any]) -> str | None:
    tags = order.get("tags") or ""
    for tag in tags.split(",") if isinstance(tags, str) else tags:
        if str(tag).strip().startswith("acp:"):
            return str(tag).strip().removeprefix("acp:")
    identifier = order.get("source_identifier")
    return str(identifier) if identifier else None


def _tracking(order: Mapping[str, Any]) -> Tracking | None:
    for fulfillment in order.get("fulfillments") or []:
        number = fulfillment.get("tracking_number") or next(
            iter(fulfillment.get("tracking_numbers") or []), None
        )
        if number:
            url = fulfillment.get("tracking_url") or next(
                iter(fulfillment.get("tracking_urls") or []), None
            )
            return Tracking(fulfillment.get("tracking_company") or "", str(number), url)
    return None


def _event(topic: str, event_id: str, payload: dict[str, Any]) -> PlatformEvent:
    if topic in ("products/create", "products/update"):
        return PlatformEvent(
            event_id, "product_updated", platform_product_id=_gid("Product", payload), raw=payload
        )
    if topic == "products/delete":
        return PlatformEvent(
            event_id, "product_deleted", platform_product_id=_gid("Product", payload), raw=payload
        )
    if topic == "orders/fulfilled":
        return PlatformEvent(
            event_id,
            "order_fulfilled",
            platform_order_id=_gid("Order", payload),
            reference=_reference(payload),
            tracking=_tracking(payload),
            raw=payload,
        )
    if topic == "orders/cancelled":
        return PlatformEvent(
            event_id,
            "order_canceled",
            platform_order_id=_gid("Order", payload),
            reference=_reference(payload),
            raw=payload,
        )
    if topic == "app/uninstalled":
        return PlatformEvent(event_id, "credentials_revoked", raw=payload)
    return PlatformEvent(event_id, "other", raw=payload)

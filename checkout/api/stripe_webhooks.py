"""Stripe's webhooks: verified against the endpoint secrets, then handed to the inbox."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import Response

from checkout.api.acp.openapi import CLIENT_ERRORS
from checkout.api.deps import ClockDep, SettingsDep, StripeInboxDep
from checkout.api.problems import json_document
from checkout.domain.errors import InvalidRequest
from checkout.flows.stripe_events import handle_stripe_event
from checkout.payments.stripe_webhooks import StripeSignatureInvalid, verify_stripe_event

router = APIRouter(tags=["webhooks"])


@router.post(
    "/webhooks/stripe",
    operation_id="receiveStripeEvent",
    responses=CLIENT_ERRORS,
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {"application/json": {"schema": {"type": "object"}}},
        }
    },
)
async def receive_stripe_event(
    request: Request, clock: ClockDep, settings: SettingsDep, stripe_inbox: StripeInboxDep
) -> Response:
    """One endpoint for the platform's and the Connect endpoint's events (either secret signs)."""
    secrets = settings.stripe_webhook_secrets
    if not secrets:
        raise InvalidRequest(
            "Stripe webhooks are not configured here (STRIPE_WEBHOOK_SECRET).",
            code="webhooks_not_configured",
        )
    payload = await request.body()
    try:
        event = verify_stripe_event(
            payload,
            request.headers.get("stripe-signature"),
            secrets,
            now=clock(),
            tolerance_seconds=settings.stripe_webhook_tolerance_seconds,
        )
    except StripeSignatureInvalid as exc:
        raise InvalidRequest(
            f"The Stripe-Signature is not valid: {exc}.", code="invalid_signature"
        ) from exc
    outcome = await handle_stripe_event(stripe_inbox, event)
    return json_document({"received": True, "event": event.id, "outcome": outcome})

"""Incoming merchant-platform webhooks: verified by the merchant's adapter, then applied once."""

from __future__ import annotations

import anyio
from fastapi import APIRouter, Request
from fastapi.responses import Response

from checkout.api.acp.openapi import CLIENT_ERRORS, ERRORS
from checkout.api.deps import ClockDep, DatabaseDep, PlatformsDep, RefundingDep
from checkout.api.problems import json_document
from checkout.domain.errors import NotFound, Unauthenticated
from checkout.flows.platform_events import handle_platform_event
from checkout.store.merchants import Merchants
from checkout.store.rows import MerchantRow
from merchant_adapters import WebhookInvalid

router = APIRouter(tags=["webhooks"])


@router.post(
    "/webhooks/platforms/{merchant_id}",
    operation_id="receivePlatformWebhook",
    responses=CLIENT_ERRORS | {503: ERRORS[500]},
)
async def receive_platform_webhook(
    merchant_id: str,
    request: Request,
    database: DatabaseDep,
    clock: ClockDep,
    platforms: PlatformsDep,
    refunding: RefundingDep,
) -> Response:
    def load() -> MerchantRow | None:
        with database.read() as db:
            return Merchants(db).get(merchant_id)

    merchant = await anyio.to_thread.run_sync(load)
    if merchant is None or merchant.credentials is None:
        raise NotFound(f"No merchant '{merchant_id}' receives platform webhooks.")
    body = await request.body()
    try:
        event = platforms.for_merchant(merchant).parse_webhook(request.headers, body)
    except WebhookInvalid as exc:
        raise Unauthenticated(
            f"The webhook signature is not valid: {exc}", code="invalid_signature"
        ) from exc
    outcome = await handle_platform_event(
        database,
        platforms,
        merchant,
        event,
        refunding=refunding,
        clock=clock,
    )
    return json_document({"received": True, "outcome": outcome})

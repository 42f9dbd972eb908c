"""The PSP side of ACP delegated payment (sandbox vault): card in, single-use vt_ token out."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from fastapi.responses import Response
from sqlmodel import Session

from checkout.api.acp.openapi import ERRORS
from checkout.api.acp.versions import VersionedKeyDep
from checkout.api.deps import (
    AgentDep,
    ApiVersionDep,
    ClockDep,
    IdempotencyDep,
    ProviderDep,
    RawBodyDep,
)
from checkout.api.idempotency import run_idempotently
from checkout.flows.delegate_payment import delegate_payment
from checkout.protocol import render
from checkout.protocol.requests import DelegatePaymentRequest
from checkout.protocol.responses import DelegatePaymentResponse

router = APIRouter(tags=["delegate_payment"])
PATH = "/agentic_commerce/delegate_payment"


@router.post(
    PATH,
    status_code=201,
    operation_id="delegatePayment",
    responses={
        201: {"model": DelegatePaymentResponse, "description": "The vault token."},
        **ERRORS,
    },
)
async def delegate_payment_token(
    body: DelegatePaymentRequest,
    agent: AgentDep,
    _version: ApiVersionDep,
    key: VersionedKeyDep,
    raw: RawBodyDep,
    idempotency: IdempotencyDep,
    clock: ClockDep,
    provider: ProviderDep,
) -> Response:
    def work(db: Session) -> tuple[int, dict[str, Any]]:
        token = delegate_payment(
            db,
            body,
            agent_id=agent,
            idempotency_key=key,
            provider=provider,
            now=clock(),
        )
        return 201, {
            "id": token.id,
            "created": render.iso(token.created),
            "metadata": token.metadata,
        }

    return await run_idempotently(
        idempotency, agent_id=agent, path=PATH, key=key, raw=raw, work=work
    )

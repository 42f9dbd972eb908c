"""The PSP side of ACP delegated payment (sandbox vault): card in, single-use vt_ token out."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from fastapi.responses import Response
from sqlmodel import Session

from checkout.api.acp.openapi import ERRORS
from checkout.api.acp.posts import AcpPostDep, acp_post_headers
from checkout.api.deps import ProviderDep
from checkout.flows.delegate_payment import delegate_payment
from checkout.protocol import render
from checkout.protocol.requests import DelegatePaymentRequest
from checkout.protocol.responses import DelegatePaymentResponse

router = APIRouter(tags=["delegate_payment"])
PATH = "/agentic_commerce/delegate_payment"


@router.post(
    PATH,
    status_code=201,
    openapi_extra=acp_post_headers(),
    operation_id="delegatePayment",
    responses={
        201: {"model": DelegatePaymentResponse, "description": "The vault token."},
        **ERRORS,
    },
)
async def delegate_payment_token(
    body: DelegatePaymentRequest, post: AcpPostDep, provider: ProviderDep
) -> Response:
    def work(db: Session) -> tuple[int, dict[str, Any]]:
        token = delegate_payment(
            db,
            body,
            agent_id=post.agent,
            idempotency_key=post.key,
            provider=provider,
            now=post.clock(),
        )
        return 201, {
            "id": token.id,
            "created": render.iso(token.created),
            "metadata": token.metadata,
        }

    return await post.run(PATH, work)

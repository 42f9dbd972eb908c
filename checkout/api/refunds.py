"""Refunds, for the operator: refund an order in full or in part, list an order's refunds."""

from __future__ import annotations

from typing import Any, Literal

import anyio
from fastapi import APIRouter
from fastapi.responses import Response
from pydantic import Field

from checkout.api.acp.openapi import CLIENT_ERRORS, ERRORS
from checkout.api.deps import (
    DatabaseDep,
    IdempotencyDep,
    IdempotencyKeyDep,
    OperatorDep,
    RawBodyDep,
    RefundingDep,
)
from checkout.api.idempotency import run_idempotently_async
from checkout.api.problems import json_document
from checkout.domain.errors import NotFound
from checkout.flows.order_events import order_document
from checkout.flows.refund_order import refund_order
from checkout.protocol.render import iso
from checkout.protocol.requests import Strict
from checkout.store.orders import Orders
from checkout.store.refunds import Refunds
from checkout.store.rows import RefundRow

# The OpenAPI tag stays "money", as it was when refunds and the ledger shared a module.
router = APIRouter(tags=["money"])


class RefundCreateRequest(Strict):
    amount: int | None = Field(
        default=None, ge=1, description="Minor units; omitted means whatever is left to refund."
    )
    reason: Literal["duplicate", "fraudulent", "requested_by_customer"] | None = None


def refund_view(refund: RefundRow) -> dict[str, Any]:
    return {
        "id": refund.id,
        "order_id": refund.order_id,
        "amount": refund.amount,
        "commission_refunded": refund.commission_amount,
        "currency": refund.currency,
        "status": refund.status,
        "reason": refund.reason,
        "source": refund.source,
        "provider_refund_id": refund.provider_refund_id,
        "created_at": iso(refund.created_at),
    }


@router.post(
    "/orders/{order_id}/refunds",
    status_code=201,
    operation_id="refundOrder",
    responses={503: ERRORS[500], **CLIENT_ERRORS},
)
async def post_refund(
    order_id: str,
    body: RefundCreateRequest,
    _operator: OperatorDep,
    key: IdempotencyKeyDep,
    raw: RawBodyDep,
    idempotency: IdempotencyDep,
    database: DatabaseDep,
    refunding: RefundingDep,
) -> Response:
    """Refund an order in full or in part; the commission goes back in proportion. The
    Idempotency-Key names the refund, so a retry after a 503 never makes a second one."""
    path = f"/orders/{order_id}/refunds"

    async def work(keep: Any) -> tuple[int, dict[str, Any]]:
        refund = await refund_order(
            refunding,
            order_id,
            amount=body.amount,
            reason=body.reason,
            source="operator",
            request_key=key,
        )

        def view() -> dict[str, Any]:
            with database.read() as db:
                order = Orders(db).get(order_id)
                assert order is not None
                return {**refund_view(refund), "order": order_document(db, order)}

        return 201, await anyio.to_thread.run_sync(view)

    return await run_idempotently_async(
        idempotency, agent_id="operator", path=path, key=key, raw=raw, work=work
    )


@router.get("/orders/{order_id}/refunds", operation_id="listRefunds", responses=CLIENT_ERRORS)
def list_refunds(order_id: str, _operator: OperatorDep, database: DatabaseDep) -> Response:
    with database.read() as db:
        if Orders(db).get(order_id) is None:
            raise NotFound(f"Order '{order_id}' does not exist.", code="order_not_found")
        refunds = Refunds(db).of_order(order_id)
    return json_document({"order_id": order_id, "refunds": [refund_view(r) for r in refunds]})

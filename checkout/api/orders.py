"""Orders: the agent reads an order by id; the operator records a shipment (which notifies the agent)."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import Response
from pydantic import BaseModel, Field

from checkout.api.acp.openapi import CLIENT_ERRORS
from checkout.api.deps import AgentDep, ClockDep, DatabaseDep, OperatorDep
from checkout.api.problems import json_document
from checkout.domain.errors import NotFound
from checkout.flows.fulfill_order import ship_order
from checkout.flows.order_events import order_document
from checkout.protocol.responses import Order
from checkout.store.orders import Orders
from checkout.store.sessions import CheckoutSessions

router = APIRouter(tags=["orders"])


class ShipmentRequest(BaseModel):
    carrier: str = Field(min_length=1, max_length=64)
    tracking_number: str = Field(min_length=1, max_length=128)
    tracking_url: str | None = Field(default=None, max_length=2048)


@router.get(
    "/orders/{order_id}",
    operation_id="getOrder",
    responses={200: {"model": Order, "description": "The full ACP Order."}, **CLIENT_ERRORS},
)
def get_order(order_id: str, agent: AgentDep, database: DatabaseDep) -> Response:
    with database.read() as db:
        order = Orders(db).get(order_id)
        if (
            order is None
            or CheckoutSessions(db).get(order.checkout_session_id, agent_id=agent) is None
        ):
            raise NotFound(f"Order '{order_id}' does not exist.", code="order_not_found")
        body = order_document(db, order)
    return json_document(body)


@router.post(
    "/orders/{order_id}/fulfillments",
    status_code=201,
    operation_id="shipOrder",
    responses={201: {"model": Order, "description": "The order, shipped."}, **CLIENT_ERRORS},
)
def record_shipment(
    order_id: str,
    body: ShipmentRequest,
    _operator: OperatorDep,
    database: DatabaseDep,
    clock: ClockDep,
) -> Response:
    with database.write() as db:
        order = ship_order(
            db,
            order_id,
            carrier=body.carrier,
            tracking_number=body.tracking_number,
            tracking_url=body.tracking_url,
            now=clock(),
        )
        document = order_document(db, order)
    return json_document(document, 201)

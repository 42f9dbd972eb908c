"""A merchant's own orders, with their money, and what it may do to them (refund, ship).

Every route takes the merchant's own key (or the operator's); an order of another merchant is
reported missing, exactly like one that does not exist.
"""

from __future__ import annotations

from datetime import date
from typing import Any, Literal

import anyio
from fastapi import APIRouter, Query
from fastapi.responses import Response
from pydantic import BaseModel, Field
from sqlmodel import Session

from checkout.api.acp.openapi import CLIENT_ERRORS, ERRORS
from checkout.api.deps import (
    ClockDep,
    DatabaseDep,
    IdempotencyDep,
    IdempotencyKeyDep,
    MerchantReaderDep,
    RawBodyDep,
    RefundingDep,
)
from checkout.api.documents import RefundView
from checkout.api.idempotency import run_idempotently_async
from checkout.api.ledger import whole_days
from checkout.api.orders import ShipmentRequest
from checkout.api.problems import json_document
from checkout.api.refunds import RefundCreateRequest, refund_view
from checkout.domain.errors import NotFound
from checkout.flows.fulfill_order import ship_order
from checkout.flows.order_events import order_document
from checkout.flows.refund_order import refund_order
from checkout.protocol.render import iso
from checkout.store.catalog import Catalog, merchant_or_missing
from checkout.store.ledger import Ledger
from checkout.store.orders import Orders
from checkout.store.rows import OrderRow

router = APIRouter(tags=["merchant orders"])

OrderStatus = Literal[
    "created", "confirmed", "manual_review", "processing", "shipped", "completed", "canceled"
]


class OrderMoney(BaseModel):
    """An order's money as the ledger booked it, in minor units of `currency`."""

    charged: int
    commission: int
    processor_fee: int = Field(description="The card processor's fee, which the platform pays.")
    refunded: int
    commission_refunded: int
    merchant_net: int = Field(description="What the merchant keeps of this order so far.")


class MerchantOrder(BaseModel):
    id: str
    order_number: str
    status: str
    currency: str
    items: int
    shipping: int
    tax: int
    total: int
    amount_refunded: int
    platform_order_id: str | None
    email: str | None
    created_at: str
    updated_at: str
    fulfillments: list[dict[str, Any]]
    money: OrderMoney


class MerchantOrderPage(BaseModel):
    merchant_id: str
    orders: list[MerchantOrder]
    total_count: int
    limit: int
    offset: int
    next_offset: int | None


class MerchantRefund(RefundView):
    order: dict[str, Any]


class MerchantCatalogVariant(BaseModel):
    id: str
    sku: str | None
    title: str
    price: int
    currency: str
    inventory: int
    active: bool
    updated_at: str


class MerchantCatalogProduct(BaseModel):
    id: str
    title: str
    active: bool
    updated_at: str
    variants: list[MerchantCatalogVariant]


class MerchantCatalog(BaseModel):
    merchant_id: str
    last_synced_at: str | None
    products: list[MerchantCatalogProduct]
    total_count: int
    limit: int
    offset: int
    next_offset: int | None


def order_money(db: Session, order: OrderRow) -> OrderMoney:
    rows = Ledger(db).of_order(order.id)

    def total(kind: str, account: str) -> int:
        return sum(r.amount for r in rows if r.kind == kind and r.account == account)

    return OrderMoney(
        charged=total("charge", "clearing"),
        commission=total("commission", "platform"),
        processor_fee=total("processing_fee", "processor")
        - total("processing_fee_return", "platform"),
        refunded=total("refund", "buyer"),
        commission_refunded=total("commission_refund", "clearing")
        + total("commission_refund", "merchant"),
        merchant_net=sum(r.amount for r in rows if r.account == "merchant"),
    )


def merchant_order(db: Session, order: OrderRow) -> MerchantOrder:
    return MerchantOrder(
        id=order.id,
        order_number=order.order_number,
        status=order.status,
        currency=order.currency,
        items=order.items_amount,
        shipping=order.fulfillment_amount,
        tax=order.tax_amount,
        total=order.total_amount,
        amount_refunded=order.amount_refunded,
        platform_order_id=order.platform_order_id,
        email=order.email,
        created_at=iso(order.created_at),
        updated_at=iso(order.updated_at),
        fulfillments=order.fulfillments,
        money=order_money(db, order),
    )


def _own_order(db: Session, merchant_id: str, order_id: str) -> OrderRow:
    order = Orders(db).get(order_id)
    if order is None or order.merchant_id != merchant_id:
        raise NotFound(f"Order '{order_id[:64]}' does not exist.", code="order_not_found")
    return order


@router.get(
    "/merchants/{merchant_id}/orders",
    operation_id="listMerchantOrders",
    response_model=MerchantOrderPage,
    responses=CLIENT_ERRORS,
)
def list_merchant_orders(
    merchant_id: str,
    _reader: MerchantReaderDep,
    database: DatabaseDep,
    status: OrderStatus | None = Query(default=None, description="Only orders in this status."),
    start: date | None = Query(default=None, alias="from", description="First day (UTC)."),
    end: date | None = Query(default=None, alias="to", description="Last day (UTC), included."),
    limit: int = Query(default=20, ge=1, le=200),
    offset: int = Query(default=0, ge=0, le=1_000_000),
) -> Response:
    """The merchant's orders, newest first, with each order's money from the ledger."""
    since, until = whole_days(start, end)
    with database.read() as db:
        merchant_or_missing(db, merchant_id)
        count, rows = Orders(db).of_merchant(
            merchant_id, status=status, since=since, until=until, limit=limit, offset=offset
        )
        page = MerchantOrderPage(
            merchant_id=merchant_id,
            orders=[merchant_order(db, row) for row in rows],
            total_count=count,
            limit=limit,
            offset=offset,
            next_offset=offset + limit if offset + limit < count else None,
        )
    return json_document(page.model_dump())


@router.post(
    "/merchants/{merchant_id}/orders/{order_id}/refunds",
    status_code=201,
    operation_id="refundMerchantOrder",
    response_model=MerchantRefund,
    responses={503: ERRORS[500], **CLIENT_ERRORS},
)
async def refund_merchant_order(
    merchant_id: str,
    order_id: str,
    body: RefundCreateRequest,
    reader: MerchantReaderDep,
    key: IdempotencyKeyDep,
    raw: RawBodyDep,
    database: DatabaseDep,
    refunding: RefundingDep,
    idempotency: IdempotencyDep,
) -> Response:
    """The merchant refunds its own order, in full or in part; the commission goes back in
    proportion. The Idempotency-Key names the refund, so a retry never makes a second one."""

    def check() -> None:
        with database.read() as db:
            _own_order(db, merchant_id, order_id)

    await anyio.to_thread.run_sync(check)
    path = f"/merchants/{merchant_id}/orders/{order_id}/refunds"

    async def work(keep: Any) -> tuple[int, dict[str, Any]]:
        refund = await refund_order(
            refunding,
            order_id,
            amount=body.amount,
            reason=body.reason,
            source="merchant" if reader != "operator" else "operator",
            request_key=key,
        )

        def view() -> dict[str, Any]:
            with database.read() as db:
                order = _own_order(db, merchant_id, order_id)
                return {**refund_view(refund), "order": order_document(db, order)}

        return 201, await anyio.to_thread.run_sync(view)

    return await run_idempotently_async(
        idempotency, agent_id=f"merchant:{merchant_id}", path=path, key=key, raw=raw, work=work
    )


@router.post(
    "/merchants/{merchant_id}/orders/{order_id}/fulfillments",
    status_code=201,
    operation_id="shipMerchantOrder",
    response_model=MerchantOrder,
    responses=CLIENT_ERRORS,
)
def ship_merchant_order(
    merchant_id: str,
    order_id: str,
    body: ShipmentRequest,
    _reader: MerchantReaderDep,
    database: DatabaseDep,
    clock: ClockDep,
) -> Response:
    """The merchant records that it shipped its order; the agent hears of it by webhook."""
    with database.write() as db:
        _own_order(db, merchant_id, order_id)
        order = ship_order(
            db,
            order_id,
            carrier=body.carrier,
            tracking_number=body.tracking_number,
            tracking_url=body.tracking_url,
            now=clock(),
        )
        shown = merchant_order(db, order)
    return json_document(shown.model_dump(), 201)


@router.get(
    "/merchants/{merchant_id}/products",
    operation_id="listMerchantProducts",
    response_model=MerchantCatalog,
    responses=CLIENT_ERRORS,
)
def list_merchant_products(
    merchant_id: str,
    _reader: MerchantReaderDep,
    database: DatabaseDep,
    limit: int = Query(default=50, ge=1, le=200),
    offset: int = Query(default=0, ge=0, le=1_000_000),
) -> Response:
    """The merchant's catalog as checkout holds it: each variant's price and stock, and when
    the platform was last read."""
    with database.read() as db:
        merchant = merchant_or_missing(db, merchant_id)
        count, products = Catalog(db).merchant_products(merchant_id, limit=limit, offset=offset)
        catalog = MerchantCatalog(
            merchant_id=merchant_id,
            last_synced_at=iso(merchant.last_synced_at) if merchant.last_synced_at else None,
            products=[
                MerchantCatalogProduct(
                    id=p.id,
                    title=p.title,
                    active=p.active,
                    updated_at=iso(p.updated_at),
                    variants=[
                        MerchantCatalogVariant(
                            id=v.id,
                            sku=v.sku,
                            title=v.title,
                            price=v.price,
                            currency=v.currency,
                            inventory=v.inventory,
                            active=v.active,
                            updated_at=iso(v.updated_at),
                        )
                        for v in variants
                    ],
                )
                for p, variants in products
            ],
            total_count=count,
            limit=limit,
            offset=offset,
            next_offset=offset + limit if offset + limit < count else None,
        )
    return json_document(catalog.model_dump())

"""Orders on the Etsy sandbox's /x-sandbox/ route: claimed all or nothing, canceled, shipped."""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from typing import Any

from sqlalchemy import Connection, Engine, insert, select, update
from sqlalchemy.exc import IntegrityError

from merchant_adapters.sandbox.etsy.catalog import refresh_state, shop_exists, value_pairs
from merchant_adapters.sandbox.etsy.schemas import (
    EtsyApiError,
    Json,
    OrderRequest,
    SandboxOrder,
    SandboxOrderLine,
)
from merchant_adapters.sandbox.etsy.tables import listings, next_ids, orders, products, shops
from merchant_adapters.sandbox.transactions import write_transaction

logger = logging.getLogger("merchant_adapters.sandbox.etsy")


def create_order(
    engine: Engine, clock: Callable[[], int], shop_id: int, body: OrderRequest
) -> tuple[int, Json]:
    """The /x-sandbox/ order route: idempotent on reference, all lines claimed or none."""
    wanted: dict[int, int] = {}
    for line in body.lines:
        wanted[line.product_id] = wanted.get(line.product_id, 0) + line.quantity
    now = clock()
    try:
        with write_transaction(engine) as conn:
            shop_exists(conn, shop_id)
            existing = order_row(conn, shop_id, reference=body.reference)
            if existing is not None:
                return 200, order_json(existing)
            order_id = next_ids(conn, "order", 1)
            found = conn.execute(
                select(products.c.product_id, products.c.listing_id, products.c.property_values)
                .join(listings, listings.c.listing_id == products.c.listing_id)
                .where(products.c.product_id.in_(wanted), listings.c.shop_id == shop_id)
            ).all()
            known = {row.product_id: row for row in found}
            if unknown := sorted(set(wanted) - set(known)):
                raise EtsyApiError(404, "Unknown product_id", product_ids=unknown)
            short = []
            for product_id in sorted(wanted):  # one lock order for every claim
                claim = (
                    update(products)
                    .where(
                        products.c.product_id == product_id,
                        products.c.is_enabled.is_(True),
                        products.c.quantity >= wanted[product_id],
                    )
                    .values(quantity=products.c.quantity - wanted[product_id])
                )
                if conn.execute(claim).rowcount != 1:
                    short.append(product_id)
            if short:  # raising inside the transaction rolls back every claim made
                listing_ids = sorted({known[p].listing_id for p in short})
                raise EtsyApiError(409, "out of stock", listing_ids=listing_ids, product_ids=short)
            lines = [
                {
                    "listing_id": known[p].listing_id,
                    "product_id": p,
                    "quantity": quantity,
                    "property_values": known[p].property_values,
                }
                for p, quantity in wanted.items()
            ]
            conn.execute(
                insert(orders).values(
                    order_id=order_id,
                    shop_id=shop_id,
                    reference=body.reference,
                    status="paid",
                    lines=lines,
                    detail=body.model_dump(exclude={"reference", "lines"}),
                    created_timestamp=now,
                )
            )
            refresh_state(conn, {line["listing_id"] for line in lines}, now)
            return 201, order_json(order_row(conn, shop_id, order_id=order_id))
    except IntegrityError:  # the same reference won a race: answer with its order
        with engine.connect() as conn:
            return 200, order_json(order_row(conn, shop_id, reference=body.reference))


def find_orders(engine: Engine, shop_id: int, reference: str) -> Json:
    with engine.connect() as conn:
        row = order_row(conn, shop_id, reference=reference)
    results = [] if row is None else [order_json(row)]
    return {"count": len(results), "results": results}


def cancel_order(
    engine: Engine, clock: Callable[[], int], shop_id: int, order_id: int, *, restock: bool
) -> Json:
    """Cancel an order, idempotently (a second cancel restocks nothing); not once shipped."""
    now = clock()
    with write_transaction(engine) as conn:
        row = order_row(conn, shop_id, order_id=order_id)
        if row is None:
            raise EtsyApiError(404, f"Order {order_id} not found")
        if row.status == "canceled":
            return order_json(row)
        if row.status == "shipped":
            raise EtsyApiError(409, "Order has already shipped")
        for line in row.lines if restock else []:
            _restock(conn, line)
        query = update(orders).where(orders.c.order_id == order_id).values(status="canceled")
        conn.execute(query)
        refresh_state(conn, {line["listing_id"] for line in row.lines}, now)
        return order_json(order_row(conn, shop_id, order_id=order_id))


def ship_order(
    engine: Engine,
    public_url: str,
    order_id: int,
    carrier: str,
    tracking_number: str,
    shop_id: int | None,
) -> tuple[str | None, Json]:
    """Mark an order shipped; returns the shop's webhook url and the order.shipped payload."""
    tracking = {"carrier": carrier, "tracking_number": tracking_number}
    with write_transaction(engine) as conn:
        row = conn.execute(select(orders).where(orders.c.order_id == order_id)).first()
        if row is None or (shop_id is not None and row.shop_id != shop_id):
            raise EtsyApiError(404, f"Order {order_id} not found")
        if row.status == "canceled":
            raise EtsyApiError(409, "Order was canceled")
        shipped = {"status": "shipped", "tracking": tracking}
        conn.execute(update(orders).where(orders.c.order_id == order_id).values(**shipped))
        query = select(shops.c.webhook_url).where(shops.c.shop_id == row.shop_id)
        url = conn.execute(query).scalar()
    return url, {
        "event_type": "order.shipped",
        "resource_url": f"{public_url}/shops/{row.shop_id}/receipts/{order_id}",
        "shop_id": row.shop_id,
        "x_sandbox_tracking": tracking,  # not Etsy's: Etsy sends only the resource_url
        "x_sandbox_reference": row.reference,
    }


def shop_orders(engine: Engine, shop_id: int) -> list[SandboxOrder]:
    query = select(orders).where(orders.c.shop_id == shop_id).order_by(orders.c.order_id)
    with engine.connect() as conn:
        rows = conn.execute(query).all()
    return [
        SandboxOrder(
            order_id=row.order_id,
            shop_id=row.shop_id,
            reference=row.reference,
            status=row.status,
            lines=tuple(
                SandboxOrderLine(line["listing_id"], line["product_id"], line["quantity"])
                for line in row.lines
            ),
            tracking=row.tracking,
        )
        for row in rows
    ]


def _restock(conn: Connection, line: Mapping[str, Any]) -> None:
    """Put a line back; if an inventory PUT renumbered its product, find it by its values."""
    query = select(products.c.product_id, products.c.property_values).where(
        products.c.listing_id == line["listing_id"]
    )
    candidates = conn.execute(query).all()
    matches = [r.product_id for r in candidates if r.product_id == line["product_id"]] or [
        r.product_id
        for r in candidates
        if value_pairs(r.property_values) == value_pairs(line["property_values"])
    ]
    if not matches:
        logger.warning("sandbox.etsy.restock_skipped product_id=%s", line["product_id"])
        return
    conn.execute(
        update(products)
        .where(products.c.product_id == matches[0])
        .values(quantity=products.c.quantity + line["quantity"])
    )


def order_row(
    conn: Connection,
    shop_id: int,
    *,
    reference: str | None = None,
    order_id: int | None = None,
) -> Any:
    query = select(orders).where(orders.c.shop_id == shop_id)
    if reference is not None:
        query = query.where(orders.c.reference == reference)
    if order_id is not None:
        query = query.where(orders.c.order_id == order_id)
    return conn.execute(query).first()


def order_json(row: Any) -> Json:
    return {
        "order_id": row.order_id,
        "name": f"SBX-{row.order_id}",
        "shop_id": row.shop_id,
        "reference": row.reference,
        "status": row.status,
        "lines": [
            {k: line[k] for k in ("listing_id", "product_id", "quantity")} for line in row.lines
        ],
        "tracking": row.tracking,
        "created_timestamp": row.created_timestamp,
        "x_sandbox": "Not an Etsy receipt: Etsy has no order-create API.",
    }

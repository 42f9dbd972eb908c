"""The query root fields (shop, products, product, nodes, orders), read from the sandbox tables."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Engine, Row, and_, or_, select

from merchant_adapters.sandbox.shopify.connections import (
    Paged,
    decode_cursor,
    encode_cursor,
    page_size,
    relay_connection,
    search_terms,
)
from merchant_adapters.sandbox.shopify.nodes import order_node, product_nodes, variant_node
from merchant_adapters.sandbox.shopify.parser import GraphQLError
from merchant_adapters.sandbox.shopify.tables import (
    format_time,
    numeric_id,
    orders,
    products,
    variants,
)


class QueryResolvers:
    """Each method answers one root field with the full object; the caller cuts it to the selection."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    @staticmethod
    def resolve_shop(shop: Row[Any], args: dict[str, Any]) -> dict[str, Any]:
        return {
            "__typename": "Shop",
            "id": f"gid://shopify/Shop/{shop.number}",
            "name": shop.name,
            "currencyCode": shop.currency,
            "myshopifyDomain": shop.domain,
        }

    def resolve_products(self, shop: Row[Any], args: dict[str, Any]) -> dict[str, Any]:
        first = page_size(args.get("first"))
        sort_key = args.get("sortKey") or "ID"
        if sort_key not in ("ID", "UPDATED_AT"):
            raise GraphQLError("The sandbox sorts products by ID or UPDATED_AT only", "BAD_REQUEST")
        sort_column = products.c.updated_at if sort_key == "UPDATED_AT" else products.c.id
        query = select(products).where(products.c.shop_domain == shop.domain)
        for name, op, value in search_terms(args.get("query"), {"status", "updated_at"}):
            if name == "status":
                query = query.where(products.c.status.in_([s.upper() for s in value.split(",")]))
                continue
            try:
                moment = format_time(datetime.fromisoformat(value))
            except ValueError as exc:
                raise GraphQLError(f"Invalid updated_at value {value!r}", "BAD_REQUEST") from exc
            column = products.c.updated_at
            comparisons = {
                ">": column > moment,
                ">=": column >= moment,
                "<": column < moment,
                "<=": column <= moment,
            }
            query = query.where(comparisons.get(op, column == moment))
        if args.get("after"):
            position = decode_cursor(args["after"])
            last_value = position.get("last_value")
            last_id = position.get("last_id")
            if sort_key == "UPDATED_AT":
                query = query.where(
                    or_(
                        sort_column > last_value,
                        and_(sort_column == last_value, products.c.id > last_id),
                    )
                )
            else:
                query = query.where(products.c.id > last_id)
        query = query.order_by(sort_column, products.c.id).limit(first + 1)
        with self._engine.connect() as conn:
            rows = conn.execute(query).all()
            page = rows[:first]
            nodes = product_nodes(conn, shop, page)
        cursors = [
            encode_cursor(
                {
                    "last_id": row.id,
                    "last_value": row.updated_at if sort_key == "UPDATED_AT" else row.id,
                }
            )
            for row in page
        ]
        return relay_connection(nodes, cursors, len(rows) > first, bool(args.get("after")))

    def resolve_product(self, shop: Row[Any], args: dict[str, Any]) -> dict[str, Any] | None:
        product_id = numeric_id(args.get("id"), "Product")
        with self._engine.connect() as conn:
            row = conn.execute(
                select(products).where(
                    products.c.id == product_id, products.c.shop_domain == shop.domain
                )
            ).first()
            return product_nodes(conn, shop, [row])[0] if row else None

    def resolve_nodes(self, shop: Row[Any], args: dict[str, Any]) -> list[dict[str, Any] | None]:
        ids = list(args.get("ids") or [])
        if len(ids) > 250:
            raise GraphQLError(
                f"The input array size of {len(ids)} is greater than the maximum allowed of 250.",
                "MAX_INPUT_SIZE_EXCEEDED",
            )
        found: dict[str, dict[str, Any]] = {}
        wanted = {
            kind: [
                n
                for gid in ids
                if (n := numeric_id(gid, kind)) is not None
                and str(gid).startswith(f"gid://shopify/{kind}/")
            ]
            for kind in ("Product", "ProductVariant", "Order")
        }
        with self._engine.connect() as conn:
            if wanted["ProductVariant"]:
                rows = conn.execute(
                    select(
                        variants,
                        products.c.title.label("product_title"),
                        products.c.handle,
                        products.c.status,
                    )
                    .join(products, products.c.id == variants.c.product_id)
                    .where(
                        variants.c.id.in_(wanted["ProductVariant"]),
                        variants.c.shop_domain == shop.domain,
                    )
                ).all()
                for row in rows:
                    stub = {
                        "__typename": "Product",
                        "id": f"gid://shopify/Product/{row.product_id}",
                        "title": row.product_title,
                        "handle": row.handle,
                    }
                    node = variant_node(row, shop.currency, row.status == "ACTIVE")
                    found[node["id"]] = {**node, "product": stub}
            if wanted["Product"]:
                rows = conn.execute(
                    select(products).where(
                        products.c.id.in_(wanted["Product"]), products.c.shop_domain == shop.domain
                    )
                ).all()
                for node in product_nodes(conn, shop, rows):
                    found[node["id"]] = node
            if wanted["Order"]:
                rows = conn.execute(
                    select(orders).where(
                        orders.c.id.in_(wanted["Order"]), orders.c.shop_domain == shop.domain
                    )
                ).all()
                for row in rows:
                    found[f"gid://shopify/Order/{row.id}"] = order_node(row)
        return [found.get(str(gid)) for gid in ids]

    def resolve_orders(self, shop: Row[Any], args: dict[str, Any]) -> dict[str, Any]:
        query = select(orders).where(orders.c.shop_domain == shop.domain)
        tags = [value for _, _, value in search_terms(args.get("query"), {"tag"})]
        for tag in tags:
            query = query.where(orders.c.tags.contains(tag, autoescape=True))
        with self._engine.connect() as conn:
            rows = conn.execute(query.order_by(orders.c.id)).all()
        # LIKE found candidates; a tag matches only whole.
        matching = [
            order_node(row)
            for row in rows
            if all(tag in {t.strip() for t in row.tags.split(",")} for tag in tags)
        ]
        return Paged(matching)(args)

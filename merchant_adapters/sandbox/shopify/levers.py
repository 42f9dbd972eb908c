"""What a merchant would do in the Shopify admin, as sandbox levers: fulfil an order, edit a product."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta

from sqlalchemy import Engine, func, select, update

from merchant_adapters.sandbox.shopify.nodes import order_payload, product_payload
from merchant_adapters.sandbox.shopify.outbox import WebhookOutbox
from merchant_adapters.sandbox.shopify.schemas import SandboxNotFound
from merchant_adapters.sandbox.shopify.tables import (
    FULFILLMENT,
    format_time,
    make_id,
    numeric_id,
    orders,
    products,
    shops,
    variants,
)
from merchant_adapters.sandbox.transactions import write_transaction


class MerchantLevers:
    """Changes made outside the Admin API that Shopify then reports by webhook."""

    def __init__(
        self, engine: Engine, clock: Callable[[], datetime], outbox: WebhookOutbox
    ) -> None:
        self._engine = engine
        self._clock = clock
        self._outbox = outbox

    def fulfill_order(
        self, order_gid: str, carrier: str, tracking_number: str, tracking_url: str | None = None
    ) -> None:
        """Mark the order fulfilled with one tracked shipment; queues orders/fulfilled."""
        order_id = numeric_id(order_gid, "Order")
        now = format_time(self._clock())
        with write_transaction(self._engine) as conn:
            order = conn.execute(select(orders).where(orders.c.id == order_id)).first()
            if order is None:
                raise SandboxNotFound(f"no sandbox order {order_gid}")
            if order.cancelled_at or order.fulfillments:
                raise ValueError(f"order {order_gid} is canceled or already fulfilled")
            shop = conn.execute(select(shops).where(shops.c.domain == order.shop_domain)).one()
            fulfillment_id = make_id(shop.number, FULFILLMENT, order.number)
            fulfillment = {
                "id": fulfillment_id,
                "admin_graphql_api_id": f"gid://shopify/Fulfillment/{fulfillment_id}",
                "order_id": order.id,
                "status": "success",
                "tracking_company": carrier,
                "tracking_number": tracking_number,
                "tracking_numbers": [tracking_number],
                "tracking_url": tracking_url,
                "tracking_urls": [tracking_url] if tracking_url else [],
                "created_at": now,
                "updated_at": now,
            }
            conn.execute(
                update(orders)
                .where(orders.c.id == order.id)
                .values(fulfillments=[fulfillment], updated_at=now)
            )
            order = conn.execute(select(orders).where(orders.c.id == order.id)).one()
            self._outbox.queue(conn, shop, "orders/fulfilled", order_payload(order))

    def update_product(
        self,
        product_gid: str,
        *,
        price: int | None = None,
        available: int | None = None,
        title: str | None = None,
    ) -> None:
        """Change a product (price and stock apply to all its variants); queues products/update."""
        product_id = numeric_id(product_gid, "Product")
        with write_transaction(self._engine) as conn:
            product = conn.execute(select(products).where(products.c.id == product_id)).first()
            if product is None:
                raise SandboxNotFound(f"no sandbox product {product_gid}")
            latest = conn.execute(
                select(func.max(products.c.updated_at)).where(
                    products.c.shop_domain == product.shop_domain
                )
            ).scalar_one()
            # Strictly after every earlier change, so `updated_at:>` finds it even in the same second.
            moment = max(self._clock(), datetime.fromisoformat(latest) + timedelta(seconds=1))
            changes = {
                key: value
                for key, value in (("price", price), ("available", available))
                if value is not None
            }
            if changes:
                conn.execute(
                    update(variants).where(variants.c.product_id == product.id).values(**changes)
                )
            conn.execute(
                update(products)
                .where(products.c.id == product.id)
                .values(title=title or product.title, updated_at=format_time(moment))
            )
            shop = conn.execute(select(shops).where(shops.c.domain == product.shop_domain)).one()
            product = conn.execute(select(products).where(products.c.id == product.id)).one()
            rows = conn.execute(
                select(variants)
                .where(variants.c.product_id == product.id)
                .order_by(variants.c.position)
            ).all()
            self._outbox.queue(
                conn, shop, "products/update", product_payload(product, rows, shop.currency)
            )

    def resolve_order(self, shop_domain: str, order_ref: str) -> str:
        """The GID of an order given as "#1001", "1001", a numeric id or a GID."""
        text = order_ref.removeprefix("#")
        condition = (
            orders.c.number == int(text)
            if text.isdigit() and len(text) < 10
            else orders.c.id == numeric_id(text, "Order")
        )
        with self._engine.connect() as conn:
            found = conn.execute(
                select(orders.c.id).where(orders.c.shop_domain == shop_domain, condition)
            ).scalar()
        if found is None:
            raise SandboxNotFound(f"no order {order_ref} in {shop_domain}")
        return f"gid://shopify/Order/{found}"

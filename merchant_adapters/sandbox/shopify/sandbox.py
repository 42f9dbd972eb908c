"""ShopifySandbox: the emulated shops behind one GraphQL endpoint, with levers for demos and tests."""

from __future__ import annotations

import hmac
import threading
import uuid
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import Any, ClassVar

import httpx
from sqlalchemy import Engine, Row, select, update

from merchant_adapters.sandbox.shopify.cost import (
    BUCKET,
    MAX_COST,
    MUTATION_COST,
    RESTORE_RATE,
    actual_cost,
    requested_cost,
)
from merchant_adapters.sandbox.shopify.levers import MerchantLevers
from merchant_adapters.sandbox.shopify.mutations import MutationResolvers
from merchant_adapters.sandbox.shopify.outbox import WebhookOutbox
from merchant_adapters.sandbox.shopify.parser import (
    Field,
    Fragment,
    GraphQLError,
    Parser,
    select_fields,
)
from merchant_adapters.sandbox.shopify.resolvers import QueryResolvers
from merchant_adapters.sandbox.shopify.schemas import (
    API_VERSION,
    FailureMode,
    SandboxLine,
    SandboxNotFound,
    SandboxOrder,
    SandboxResponse,
)
from merchant_adapters.sandbox.shopify.seeds import generate_synthetic, load_seed
from merchant_adapters.sandbox.shopify.tables import (
    metadata,
    numeric_id,
    orders,
    shops,
    variants,
)
from merchant_adapters.sandbox.transactions import write_transaction

INVALID_TOKEN = "[API] Invalid API key or access token (unrecognized login or wrong password)"


class ShopifySandbox:
    """Shops, catalog, orders and webhook deliveries of the emulator, kept in the database."""

    DEMO_ACCESS_TOKEN: ClassVar[str] = "shpat_sandbox_demo_token"  # valid for every sandbox shop
    DEMO_WEBHOOK_SECRET: ClassVar[str] = "shpss_sandbox_webhook_secret"

    def __init__(
        self,
        engine: Engine,
        *,
        webhook_client: httpx.AsyncClient | None = None,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self._engine = engine
        self._clock = clock
        # Failure injection is a per-process demo lever, so it lives in memory.
        self._failures: dict[str | None, tuple[FailureMode, int | None]] = {}
        self._failures_lock = threading.Lock()
        self._outbox = WebhookOutbox(
            engine, webhook_client=webhook_client, clock=clock, secret=self.DEMO_WEBHOOK_SECRET
        )
        self._levers = MerchantLevers(engine, clock, self._outbox)
        self._queries = QueryResolvers(engine)
        self._mutations = MutationResolvers(engine, clock, self._outbox)
        metadata.create_all(engine)

    # -- loading ---------------------------------------------------------------------------------

    @property
    def engine(self) -> Engine:
        return self._engine

    def load_seed(self, document: Mapping[str, Any]) -> str:
        """Load a seeds/*.json document of a Shopify merchant; returns its shop domain. Idempotent."""
        return load_seed(self._engine, self._clock, document)

    def generate_synthetic(
        self, shop_domain: str, products: int, variants_per_product: int = 2, seed: int = 0
    ) -> None:
        """Add `products` synthetic products (bulk inserts: 100,000 load in seconds)."""
        generate_synthetic(
            self._engine, self._clock, shop_domain, products, variants_per_product, seed
        )

    # -- levers for demos and tests --------------------------------------------------------------

    def subscribe(self, shop_domain: str, url: str) -> None:
        """Send every webhook topic the sandbox emits for the shop to `url`."""
        with write_transaction(self._engine) as conn:
            result = conn.execute(
                update(shops).where(shops.c.domain == shop_domain).values(webhook_url=url)
            )
            if result.rowcount == 0:
                raise SandboxNotFound(f"no sandbox shop {shop_domain}")

    def fail(
        self, mode: FailureMode, times: int | None = None, *, shop_domain: str | None = None
    ) -> None:
        """Answer the next `times` GraphQL requests (None: until fail("none")) with a failure.

        throttle: HTTP 200 THROTTLED; rate_limit: 429 Retry-After 1; outage: 503; revoked: 401.
        Without shop_domain it applies to every shop.
        """
        with self._failures_lock:
            if mode == "none" and shop_domain is None:
                self._failures.clear()
            elif mode == "none":
                self._failures.pop(shop_domain, None)
            else:
                self._failures[shop_domain] = (mode, times)

    def _take_failure(self, shop_domain: str) -> FailureMode | None:
        with self._failures_lock:
            for key in (shop_domain, None):
                if key not in self._failures:
                    continue
                mode, times = self._failures[key]
                if times is not None:
                    if times <= 1:
                        del self._failures[key]
                    else:
                        self._failures[key] = (mode, times - 1)
                return mode
        return None

    def fulfill_order(
        self, order_gid: str, carrier: str, tracking_number: str, tracking_url: str | None = None
    ) -> None:
        """Mark the order fulfilled with one tracked shipment; queues orders/fulfilled."""
        self._levers.fulfill_order(order_gid, carrier, tracking_number, tracking_url)

    def update_product(
        self,
        product_gid: str,
        *,
        price: int | None = None,
        available: int | None = None,
        title: str | None = None,
    ) -> None:
        """Change a product (price and stock apply to all its variants); queues products/update."""
        self._levers.update_product(product_gid, price=price, available=available, title=title)

    def resolve_order(self, shop_domain: str, order_ref: str) -> str:
        """The GID of an order given as "#1001", "1001", a numeric id or a GID."""
        return self._levers.resolve_order(shop_domain, order_ref)

    # -- read-only views for tests ---------------------------------------------------------------

    def orders(self, shop_domain: str) -> list[SandboxOrder]:
        with self._engine.connect() as conn:
            rows = conn.execute(
                select(orders).where(orders.c.shop_domain == shop_domain).order_by(orders.c.id)
            ).all()
        return [
            SandboxOrder(
                gid=f"gid://shopify/Order/{row.id}",
                name=f"#{row.number}",
                reference=row.source_identifier,
                email=row.email,
                tags=tuple(tag.strip() for tag in row.tags.split(",") if tag.strip()),
                currency=row.currency,
                total=row.total,
                lines=tuple(
                    SandboxLine(
                        f"gid://shopify/ProductVariant/{line['variant_id']}",
                        line["sku"],
                        line["quantity"],
                        line["price"],
                    )
                    for line in row.lines
                ),
                canceled=row.cancelled_at is not None,
                fulfilled=bool(row.fulfillments),
                shipping_address=row.shipping_address,
            )
            for row in rows
        ]

    def stock(self, variant_gid: str) -> int | None:
        with self._engine.connect() as conn:
            return conn.execute(
                select(variants.c.available).where(
                    variants.c.id == numeric_id(variant_gid, "ProductVariant")
                )
            ).scalar()

    # -- webhooks --------------------------------------------------------------------------------

    async def deliver_pending(self) -> int:
        """POST the queued webhooks, signed as Shopify signs them; returns how many were accepted.

        Explicit and awaitable so tests are deterministic; the app calls it after each change.
        A failed delivery stays queued for the next call, up to Shopify's 8 attempts.
        """
        return await self._outbox.deliver_pending()

    # -- the GraphQL endpoint --------------------------------------------------------------------

    def handle_graphql(
        self, shop_domain: str, access_token: str | None, payload: Any
    ) -> SandboxResponse:
        """One request to /{shop}/admin/api/{version}/graphql.json, as Shopify would answer it."""
        headers = {"X-Request-Id": str(uuid.uuid4()), "X-Shopify-API-Version": API_VERSION}
        with self._engine.connect() as conn:
            shop = conn.execute(select(shops).where(shops.c.domain == shop_domain)).first()
        if shop is None:
            return SandboxResponse(404, {"errors": "Not Found"}, headers)
        failure = self._take_failure(shop_domain)
        if failure == "outage":
            return SandboxResponse(503, {"errors": "Service Unavailable"}, headers)
        if failure == "rate_limit":
            message = "Exceeded the rate limit for this app and shop; retry after Retry-After."
            return SandboxResponse(429, {"errors": message}, {**headers, "Retry-After": "1"})
        if failure == "revoked" or not hmac.compare_digest(
            (access_token or "").encode(), self.DEMO_ACCESS_TOKEN.encode()
        ):
            return SandboxResponse(401, {"errors": INVALID_TOKEN}, headers)
        if not isinstance(payload, dict) or not isinstance(payload.get("query"), str):
            return SandboxResponse(
                400, {"errors": {"query": "Required parameter missing or invalid"}}, headers
            )
        variables = payload.get("variables") or {}
        if not isinstance(variables, dict):
            return SandboxResponse(400, {"errors": {"variables": "must be an object"}}, headers)
        try:
            kind, selections = Parser(payload["query"], variables).document()
            cost = (
                requested_cost(selections) if kind == "query" else MUTATION_COST * len(selections)
            )
        except GraphQLError as error:
            return SandboxResponse(200, {"errors": [error.body]}, headers)
        if failure == "throttle":
            # A nearly empty bucket: the adapter's wait works out at about one second.
            status = {
                "maximumAvailable": BUCKET,
                "currentlyAvailable": max(cost - RESTORE_RATE, 0.0),
                "restoreRate": RESTORE_RATE,
            }
            body = {
                "errors": [
                    {
                        "message": "Throttled",
                        "extensions": {
                            "code": "THROTTLED",
                            "documentation": "https://shopify.dev/api/usage/rate-limits",
                        },
                    }
                ],
                "extensions": {
                    "cost": {
                        "requestedQueryCost": cost,
                        "actualQueryCost": None,
                        "throttleStatus": status,
                    }
                },
            }
            return SandboxResponse(200, body, headers)
        if cost > MAX_COST:
            too_costly = GraphQLError(
                f"Query cost is {cost}, which exceeds the single query max cost limit ({MAX_COST}).",
                "MAX_COST_EXCEEDED",
                cost=cost,
                maxCost=MAX_COST,
            )
            return SandboxResponse(200, {"errors": [too_costly.body]}, headers)
        try:
            data = self._resolve(shop, kind, selections)
        except GraphQLError as error:
            return SandboxResponse(200, {"errors": [error.body], "data": None}, headers)
        actual = min(actual_cost(data), cost) if kind == "query" else cost
        extensions = {
            "cost": {
                "requestedQueryCost": cost,
                "actualQueryCost": actual,
                "throttleStatus": {
                    "maximumAvailable": BUCKET,
                    "currentlyAvailable": BUCKET - actual,
                    "restoreRate": RESTORE_RATE,
                },
            }
        }
        return SandboxResponse(
            200,
            {"data": data, "extensions": extensions},
            headers,
            webhooks_queued=kind == "mutation",
        )

    def _resolve(
        self, shop: Row[Any], kind: str, selections: list[Field | Fragment]
    ) -> dict[str, Any]:
        if kind == "subscription":
            raise GraphQLError("The Admin API has no subscriptions", "undefinedField")
        resolvers: dict[str, Callable[[Row[Any], dict[str, Any]], Any]] = (
            {
                "orderCreate": self._mutations.resolve_order_create,
                "orderCancel": self._mutations.resolve_order_cancel,
            }
            if kind == "mutation"
            else {
                "shop": self._queries.resolve_shop,
                "products": self._queries.resolve_products,
                "product": self._queries.resolve_product,
                "nodes": self._queries.resolve_nodes,
                "orders": self._queries.resolve_orders,
            }
        )
        data: dict[str, Any] = {}
        for selection in selections:
            if not isinstance(selection, Field) or selection.name not in resolvers:
                name = selection.name if isinstance(selection, Field) else "..."
                root = "Mutation" if kind == "mutation" else "QueryRoot"
                raise GraphQLError(
                    f"Field '{name}' doesn't exist on type '{root}' (in this sandbox)",
                    "undefinedField",
                )
            value = resolvers[selection.name](shop, selection.args)
            data[selection.key] = select_fields(value, selection.selections)
        return data

"""EtsySandbox: the emulator's state behind the Etsy Open API v3 routes, and its test levers.

Everything under /x-sandbox/ is a clearly non-Etsy extension (orders, failure injection, webhook
triggers): real Etsy has no order API. The tables (sandbox_etsy_*) are the emulator's own, made
with metadata.create_all; they are not the product's schema and have no migrations.
"""

from __future__ import annotations

import base64
import re
import threading
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

import anyio
import httpx
from sqlalchemy import Engine, func, select, update
from sqlalchemy.exc import IntegrityError

from merchant_adapters.sandbox.etsy import catalog, order_book
from merchant_adapters.sandbox.etsy.schemas import (
    EtsyApiError,
    FailureMode,
    Json,
    OrderRequest,
    PutInventory,
    SandboxOrder,
    WebhookDelivery,
)
from merchant_adapters.sandbox.etsy.seeds import insert_seed
from merchant_adapters.sandbox.etsy.tables import create_tables, listings, products, shops
from merchant_adapters.sandbox.etsy.webhooks import deliver

# Imported as modules: their functions share names with the methods that call them.
from merchant_adapters.sandbox.transactions import write_transaction

_KEY_ONLY = re.compile(r"^/v3/application/(openapi-ping|listings/\d+|shops/\d+)$")


def _utc_now() -> datetime:
    return datetime.now(UTC)


class EtsySandbox:
    """The emulator's state, kept in a database so a restarted process still knows its orders.

    The demo credentials below are public on purpose: the sandbox guards nothing of value.
    """

    API_KEY = "sandbox-keystring"
    SHARED_SECRET = "sandbox-shared-secret"
    ACCESS_TOKEN = "40000001.sandbox-access-token"  # any "{user_id}.sandbox-access-token" passes
    WEBHOOK_SECRET = "whsec_" + base64.b64encode(b"etsy-sandbox-webhook-secret-0001").decode()
    LIMIT_PER_SECOND = 10
    LIMIT_PER_DAY = 10_000

    def __init__(
        self,
        engine: Engine,
        *,
        webhook_client: httpx.AsyncClient | None = None,
        clock: Callable[[], datetime] = _utc_now,
        public_url: str = "http://localhost/sandbox/etsy/v3/application",
    ) -> None:
        self._engine = engine
        self._webhook_client = webhook_client
        self._clock = clock
        self._public_url = public_url.rstrip("/")
        # Injected failures and the request counters are test controls: process memory will do.
        self._guard = threading.Lock()
        self._failure: tuple[FailureMode, int | None] | None = None
        self._second = self._this_second = self._today = 0
        create_tables(engine)

    @property
    def engine(self) -> Engine:
        return self._engine

    # -- controls ---------------------------------------------------------------------------------

    def load_seed(self, document: Mapping[str, Any]) -> int:
        """Load a seeds/*.json document of an Etsy merchant; returns its shop_id. Idempotent."""
        merchant = document["merchant"]
        if merchant.get("platform") != "etsy":
            raise ValueError(f"{merchant.get('id')} is not an Etsy merchant")
        try:
            return insert_seed(self._engine, self._now, document)
        except IntegrityError:  # another worker loaded it at the same moment: take what it made
            return insert_seed(self._engine, self._now, document)

    def subscribe(self, shop_id: int, url: str) -> None:
        """Where the shop's webhooks go (on Etsy, registered in the developer portal)."""
        with write_transaction(self._engine) as conn:
            query = update(shops).where(shops.c.shop_id == shop_id).values(webhook_url=url)
            if conn.execute(query).rowcount != 1:
                raise EtsyApiError(404, f"Shop with id {shop_id} not found")

    def fail(self, mode: FailureMode, times: int | None = None) -> None:
        """Answer the next `times` API calls (every one while None) with this failure."""
        if mode not in ("rate_limit", "outage", "revoked"):
            raise ValueError(f"Unknown failure mode {mode!r}")
        with self._guard:
            self._failure = (mode, times)

    def recover(self) -> None:
        with self._guard:
            self._failure = None

    async def ship_order(
        self, order_id: int, carrier: str, tracking_number: str, *, shop_id: int | None = None
    ) -> WebhookDelivery | None:
        """Mark an order shipped, then deliver a signed order.shipped webhook (once, awaited)."""
        url, payload = await anyio.to_thread.run_sync(
            order_book.ship_order,
            self._engine,
            self._public_url,
            order_id,
            carrier,
            tracking_number,
            shop_id,
        )
        return await self._deliver(url, payload)

    async def update_listing(
        self,
        listing_id: int,
        *,
        price: int | None = None,
        quantity: int | None = None,
        title: str | None = None,
        product_id: int | None = None,
    ) -> WebhookDelivery | None:
        """A seller's edit (price in cents; every variant unless product_id), then a webhook.

        Its event type, x_sandbox.listing_updated, is not Etsy's: Etsy has no listing webhooks.
        """
        url, payload = await anyio.to_thread.run_sync(
            lambda: catalog.edit_listing(
                self._engine,
                self._now(),
                self._public_url,
                listing_id,
                price,
                quantity,
                title,
                product_id,
            )
        )
        return await self._deliver(url, payload)

    # -- read-only views for tests ------------------------------------------------------------------

    def orders(self, shop_id: int) -> list[SandboxOrder]:
        return order_book.shop_orders(self._engine, shop_id)

    def stock(self, listing_id: int, product_id: int) -> int | None:
        query = select(products.c.quantity).where(
            products.c.listing_id == listing_id, products.c.product_id == product_id
        )
        with self._engine.connect() as conn:
            found = conn.execute(query).scalar()
        return None if found is None else int(found)

    # -- the API the routes serve -------------------------------------------------------------------

    def admit(self, path: str, headers: Mapping[str, str]) -> dict[str, str]:
        """Count the call, apply an injected failure, check credentials; returns limit headers."""
        now = self._now()
        with self._guard:
            if now != self._second:
                self._second, self._this_second = now, 0
            self._this_second += 1
            self._today += 1
            limits = {
                "x-limit-per-second": str(self.LIMIT_PER_SECOND),
                "x-remaining-this-second": str(max(0, self.LIMIT_PER_SECOND - self._this_second)),
                "x-limit-per-day": str(self.LIMIT_PER_DAY),
                "x-remaining-today": str(max(0, self.LIMIT_PER_DAY - self._today)),
            }
            mode, times = self._failure or (None, None)
            if mode is not None:
                left = None if times is None else times - 1
                self._failure = None if left == 0 else (mode, left)
        if mode == "rate_limit":
            raise EtsyApiError(429, "You have exceeded your quota", headers={"retry-after": "1"})
        if mode == "outage":
            raise EtsyApiError(503, "Service Unavailable")
        key, _, secret = headers.get("x-api-key", "").partition(":")
        if not secret:
            raise EtsyApiError(403, "Shared secret is required in x-api-key header.")
        if (key, secret) != (self.API_KEY, self.SHARED_SECRET):
            raise EtsyApiError(403, "Invalid API key: should be 'keystring:shared_secret'.")
        authorization = headers.get("authorization")
        if mode == "revoked" or (authorization is None and not _KEY_ONLY.match(path)):
            raise EtsyApiError(401, "invalid_token", error_description="access token is revoked")
        if authorization is not None:
            scheme, _, token = authorization.partition(" ")
            user, _, rest = token.partition(".")
            if scheme.lower() != "bearer" or not user.isdigit() or rest != "sandbox-access-token":
                raise EtsyApiError(
                    401, "invalid_token", error_description="access token is invalid"
                )
        return limits

    def shop_json(self, shop_id: int) -> Json:
        active = select(func.count()).where(
            listings.c.shop_id == shop_id, listings.c.state == "active"
        )
        with self._engine.connect() as conn:
            row = conn.execute(select(shops).where(shops.c.shop_id == shop_id)).first()
            if row is None:
                raise EtsyApiError(404, f"Shop with id {shop_id} not found")
            active_count = conn.execute(active).scalar_one()
        return {
            "shop_id": row.shop_id,
            "shop_name": row.shop_name,
            "user_id": row.shop_id,
            "title": row.shop_name,
            "currency_code": row.currency_code,
            "url": f"https://www.etsy.com/shop/{row.shop_name}",
            "listing_active_count": active_count,
            "is_vacation": False,
            "create_date": row.created_timestamp,
            "created_timestamp": row.created_timestamp,
        }

    def listings_page(
        self, shop_id: int, *, state: str, limit: int, offset: int, includes: set[str]
    ) -> Json:
        self.shop_json(shop_id)
        where = (listings.c.shop_id == shop_id, listings.c.state == state)
        order = (listings.c.created_timestamp, listings.c.listing_id)
        with self._engine.connect() as conn:
            count = conn.execute(select(func.count()).where(*where)).scalar_one()
            query = select(listings).where(*where).order_by(*order).limit(limit).offset(offset)
            rows = conn.execute(query).mappings().all()
            return {"count": count, "results": catalog.render(conn, rows, includes)}

    def listing_json(self, listing_id: int, includes: set[str]) -> Json:
        with self._engine.connect() as conn:
            return catalog.render(conn, [catalog.listing_row(conn, listing_id)], includes)[0]

    def inventory_json(self, listing_id: int) -> Json:
        with self._engine.connect() as conn:
            return catalog.inventories(conn, [catalog.listing_row(conn, listing_id)])[listing_id]

    def inventories_json(self, listing_ids: Sequence[int]) -> Json:
        query = select(listings).where(listings.c.listing_id.in_(listing_ids))
        with self._engine.connect() as conn:
            results = catalog.render(conn, conn.execute(query).mappings().all(), {"inventory"})
        return {"count": len(results), "results": results}

    def replace_inventory(self, listing_id: int, body: PutInventory) -> Json:
        """updateListingInventory: a full replace that, as on Etsy, renumbers every product."""
        return catalog.replace_inventory(self._engine, self._now, listing_id, body)

    def create_order(self, shop_id: int, body: OrderRequest) -> tuple[int, Json]:
        """The /x-sandbox/ order route: idempotent on reference, all lines claimed or none."""
        return order_book.create_order(self._engine, self._now, shop_id, body)

    def find_orders(self, shop_id: int, reference: str) -> Json:
        return order_book.find_orders(self._engine, shop_id, reference)

    def cancel_order(self, shop_id: int, order_id: int, *, restock: bool) -> Json:
        """Cancel an order, idempotently (a second cancel restocks nothing); not once shipped."""
        return order_book.cancel_order(self._engine, self._now, shop_id, order_id, restock=restock)

    # -- internals ----------------------------------------------------------------------------------

    def _now(self) -> int:
        return int(self._clock().timestamp())

    async def _deliver(self, url: str | None, payload: Json) -> WebhookDelivery | None:
        return await deliver(self._webhook_client, self.WEBHOOK_SECRET, self._now, url, payload)

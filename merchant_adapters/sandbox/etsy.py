"""The Etsy-style sandbox: the Etsy Open API v3 endpoints EtsyAdapter calls, emulated locally.

Everything under /x-sandbox/ is a clearly non-Etsy extension (orders, failure injection, webhook
triggers): real Etsy has no order API. The tables (sandbox_etsy_*) are the emulator's own, made
with metadata.create_all; they are not the product's schema and have no migrations.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import logging
import re
import threading
import uuid
import zlib
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import ROUND_HALF_EVEN, Decimal
from typing import Any, Literal

import anyio
import httpx
from fastapi import APIRouter, Depends, FastAPI, Query, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Column,
    Connection,
    Engine,
    Float,
    Integer,
    MetaData,
    RowMapping,
    String,
    Table,
    Text,
    UniqueConstraint,
    delete,
    func,
    insert,
    select,
    update,
)
from sqlalchemy.exc import IntegrityError

logger = logging.getLogger(__name__)

Json = dict[str, Any]
FailureMode = Literal["rate_limit", "outage", "revoked"]

metadata = MetaData()
shops = Table(
    "sandbox_etsy_shops",
    metadata,
    Column("shop_id", BigInteger, primary_key=True, autoincrement=False),
    Column("shop_name", String(100), nullable=False, unique=True),
    Column("currency_code", String(3), nullable=False),
    Column("webhook_url", Text),
    Column("created_timestamp", BigInteger, nullable=False),
)
listings = Table(
    "sandbox_etsy_listings",
    metadata,
    Column("listing_id", BigInteger, primary_key=True, autoincrement=False),
    Column("shop_id", BigInteger, nullable=False, index=True),
    Column("seed_ref", String(100), nullable=False),
    Column("title", Text, nullable=False),
    Column("description", Text, nullable=False),
    Column("state", String(16), nullable=False),
    Column("url", Text),
    Column("listing_type", String(16), nullable=False),
    Column("tags", JSON, nullable=False),
    Column("materials", JSON, nullable=False),
    Column("images", JSON, nullable=False),
    Column("review_average", Float),  # the seed's rating: Etsy keeps reviews apart from listings
    Column("review_count", Integer, nullable=False),
    Column("taxonomy_path", JSON, nullable=False),
    Column("on_property", JSON, nullable=False),  # the four *_on_property arrays
    Column("created_timestamp", BigInteger, nullable=False),
    Column("last_modified_timestamp", BigInteger, nullable=False),
    Column("state_timestamp", BigInteger, nullable=False),
    UniqueConstraint("shop_id", "seed_ref"),
)
# A product and its one offering share a row: Etsy allows one offering per product.
products = Table(
    "sandbox_etsy_products",
    metadata,
    Column("product_id", BigInteger, primary_key=True, autoincrement=False),
    Column("offering_id", BigInteger, nullable=False, unique=True),
    Column("listing_id", BigInteger, nullable=False, index=True),
    Column("position", Integer, nullable=False),
    Column("sku", String(100), nullable=False),
    Column("property_values", JSON, nullable=False),
    Column("quantity", Integer, nullable=False),
    Column("is_enabled", Boolean, nullable=False),
    Column("amount", BigInteger, nullable=False),
    Column("divisor", Integer, nullable=False),
    Column("currency_code", String(3), nullable=False),
    Column("readiness_state_id", BigInteger),
)
orders = Table(
    "sandbox_etsy_orders",
    metadata,
    Column("order_id", BigInteger, primary_key=True, autoincrement=False),
    Column("shop_id", BigInteger, nullable=False),
    Column("reference", String(200), nullable=False),
    Column("status", String(16), nullable=False),  # paid, shipped, canceled
    Column("lines", JSON, nullable=False),
    Column("detail", JSON, nullable=False),
    Column("tracking", JSON),
    Column("created_timestamp", BigInteger, nullable=False),
    UniqueConstraint("shop_id", "reference"),
)
sequences = Table(
    "sandbox_etsy_sequences",
    metadata,
    Column("name", String(16), primary_key=True),
    Column("next_value", BigInteger, nullable=False),
)
# Deterministic ids in Etsy-like ranges; disjoint ranges keep a product id from passing for a
# listing id in a test.
SEQUENCE_STARTS = {
    "shop": 40000001,
    "listing": 4000000001,
    "product": 4100000001,
    "offering": 4200000001,
    "value": 4300000001,
    "image": 4400000001,
    "order": 4500000001,
}
CUSTOM_PROPERTY_IDS = (513, 514, 515)  # Etsy's ids for seller-named variation properties
ON_PROPERTY = (
    "price_on_property",
    "quantity_on_property",
    "sku_on_property",
    "readiness_state_on_property",
)
_KEY_ONLY = re.compile(r"^/v3/application/(openapi-ping|listings/\d+|shops/\d+)$")


def _utc_now() -> datetime:
    return datetime.now(UTC)


class EtsyApiError(Exception):
    """An Etsy-shaped error answer: {"error": ...} plus any extra fields."""

    def __init__(
        self, status: int, error: str, *, headers: Mapping[str, str] | None = None, **extra: Any
    ) -> None:
        super().__init__(error)
        self.status = status
        self.body: Json = {"error": error, **extra}
        self.headers = dict(headers or {})


class _PutShape(BaseModel):
    # Strict and closed: the GET shape (ids, is_deleted, scale_name, Money prices) is refused.
    model_config = ConfigDict(extra="forbid", strict=True)


class PutPropertyValue(_PutShape):
    property_id: int
    values: list[str] = Field(min_length=1, max_length=1)
    value_ids: list[int] = []
    property_name: str | None = None
    scale_id: int | None = None


class PutOffering(_PutShape):
    price: float = Field(gt=0)
    quantity: int = Field(ge=0)
    is_enabled: bool = True
    readiness_state_id: int | None = None


class PutProduct(_PutShape):
    sku: str = ""
    property_values: list[PutPropertyValue] = []
    offerings: list[PutOffering] = Field(min_length=1, max_length=1)


class PutInventory(_PutShape):
    """updateListingInventory's body as Etsy's OpenAPI document types it."""

    products: list[PutProduct] = Field(min_length=1)
    price_on_property: list[int] = []
    quantity_on_property: list[int] = []
    sku_on_property: list[int] = []
    readiness_state_on_property: list[int] = []


class OrderLine(BaseModel):
    listing_id: int
    product_id: int
    quantity: int = Field(gt=0)


class OrderRequest(BaseModel):
    """The /x-sandbox/ order route's body (not Etsy's; Etsy has no such route)."""

    reference: str = Field(min_length=1, max_length=200)
    lines: list[OrderLine] = Field(min_length=1)
    currency: str | None = None
    buyer_email: str | None = None
    buyer_name: str | None = None
    total_amount: int | None = None


class CancelRequest(BaseModel):
    restock: bool = True


class FailRequest(BaseModel):
    mode: FailureMode | None = None  # None clears the failure
    times: int | None = Field(default=None, ge=1)


class ShipRequest(BaseModel):
    carrier: str
    tracking_number: str


class ListingUpdate(BaseModel):
    price: int | None = Field(default=None, ge=1)  # cents
    quantity: int | None = Field(default=None, ge=0)
    title: str | None = None
    product_id: int | None = None


class WebhookSubscription(BaseModel):
    url: str


@dataclass(frozen=True, slots=True)
class SandboxOrderLine:
    listing_id: int
    product_id: int
    quantity: int


@dataclass(frozen=True, slots=True)
class SandboxOrder:
    order_id: int
    shop_id: int
    reference: str
    status: str  # paid, shipped, canceled
    lines: tuple[SandboxOrderLine, ...]
    tracking: Mapping[str, str] | None


@dataclass(frozen=True, slots=True)
class WebhookDelivery:
    url: str
    headers: Mapping[str, str]
    body: bytes
    status_code: int | None  # None when the receiver could not be reached


def _value_pairs(property_values: Iterable[Mapping[str, Any]]) -> list[tuple[int, str]]:
    return sorted((v["property_id"], str(v["values"][0])) for v in property_values)


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
        metadata.create_all(engine)
        for name, start in SEQUENCE_STARTS.items():
            try:
                with engine.begin() as conn:
                    query = select(sequences.c.name).where(sequences.c.name == name)
                    if conn.execute(query).first() is None:
                        conn.execute(insert(sequences).values(name=name, next_value=start))
            except IntegrityError:  # another worker started at the same moment
                pass

    # -- controls ---------------------------------------------------------------------------------

    def load_seed(self, document: Mapping[str, Any]) -> int:
        """Load a seeds/*.json document of an Etsy merchant; returns its shop_id. Idempotent."""
        merchant = document["merchant"]
        if merchant.get("platform") != "etsy":
            raise ValueError(f"{merchant.get('id')} is not an Etsy merchant")
        try:
            return self._load_seed(document)
        except IntegrityError:  # another worker loaded it at the same moment: take what it made
            return self._load_seed(document)

    def _load_seed(self, document: Mapping[str, Any]) -> int:
        merchant = document["merchant"]
        now, name = self._now(), str(merchant["shop_ref"])
        currency = str(merchant.get("currency") or "usd").upper()
        with self._engine.begin() as conn:
            shop_id = conn.execute(
                select(shops.c.shop_id).where(shops.c.shop_name == name)
            ).scalar()
            if shop_id is None:
                shop_id = self._next_ids(conn, "shop", 1)
                conn.execute(
                    insert(shops).values(
                        shop_id=shop_id,
                        shop_name=name,
                        currency_code=currency,
                        created_timestamp=now,
                    )
                )
            query = select(listings.c.seed_ref).where(listings.c.shop_id == shop_id)
            loaded = set(conn.execute(query).scalars())
            for product in document.get("products", []):
                if product["id"] not in loaded:
                    self._insert_listing(conn, shop_id, currency, product, now)
        return int(shop_id)

    def subscribe(self, shop_id: int, url: str) -> None:
        """Where the shop's webhooks go (on Etsy, registered in the developer portal)."""
        with self._engine.begin() as conn:
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
            self._ship, order_id, carrier, tracking_number, shop_id
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
            lambda: self._update_listing(listing_id, price, quantity, title, product_id)
        )
        return await self._deliver(url, payload)

    # -- read-only views for tests ------------------------------------------------------------------

    def orders(self, shop_id: int) -> list[SandboxOrder]:
        query = select(orders).where(orders.c.shop_id == shop_id).order_by(orders.c.order_id)
        with self._engine.connect() as conn:
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
            return {"count": count, "results": self._render(conn, rows, includes)}

    def listing_json(self, listing_id: int, includes: set[str]) -> Json:
        with self._engine.connect() as conn:
            return self._render(conn, [self._listing_row(conn, listing_id)], includes)[0]

    def inventory_json(self, listing_id: int) -> Json:
        with self._engine.connect() as conn:
            return self._inventories(conn, [self._listing_row(conn, listing_id)])[listing_id]

    def inventories_json(self, listing_ids: Sequence[int]) -> Json:
        query = select(listings).where(listings.c.listing_id.in_(listing_ids))
        with self._engine.connect() as conn:
            results = self._render(conn, conn.execute(query).mappings().all(), {"inventory"})
        return {"count": len(results), "results": results}

    def replace_inventory(self, listing_id: int, body: PutInventory) -> Json:
        """updateListingInventory: a full replace that, as on Etsy, renumbers every product."""
        combinations = [
            tuple(_value_pairs(p.model_dump()["property_values"])) for p in body.products
        ]
        if len(set(combinations)) != len(combinations):
            raise EtsyApiError(400, "Two products have the same property values")
        now = self._now()
        with self._engine.begin() as conn:
            row = self._listing_row(conn, listing_id)
            currency = conn.execute(
                select(shops.c.currency_code).where(shops.c.shop_id == row["shop_id"])
            ).scalar_one()
            conn.execute(delete(products).where(products.c.listing_id == listing_id))
            first_product = self._next_ids(conn, "product", len(body.products))
            first_offering = self._next_ids(conn, "offering", len(body.products))
            for position, item in enumerate(body.products):
                [offering] = item.offerings
                cents = Decimal(str(offering.price)) * 100
                conn.execute(
                    insert(products).values(
                        product_id=first_product + position,
                        offering_id=first_offering + position,
                        listing_id=listing_id,
                        position=position,
                        sku=item.sku,
                        property_values=[v.model_dump() for v in item.property_values],
                        quantity=offering.quantity,
                        is_enabled=offering.is_enabled,
                        amount=int(cents.quantize(Decimal(1), rounding=ROUND_HALF_EVEN)),
                        divisor=100,
                        currency_code=currency,
                        readiness_state_id=offering.readiness_state_id,
                    )
                )
            on_property = {name: getattr(body, name) for name in ON_PROPERTY}
            conn.execute(
                update(listings)
                .where(listings.c.listing_id == listing_id)
                .values(on_property=on_property, last_modified_timestamp=now)
            )
            self._refresh_state(conn, [listing_id], now)
            return self._inventories(conn, [self._listing_row(conn, listing_id)])[listing_id]

    def create_order(self, shop_id: int, body: OrderRequest) -> tuple[int, Json]:
        """The /x-sandbox/ order route: idempotent on reference, all lines claimed or none."""
        wanted: dict[int, int] = {}
        for line in body.lines:
            wanted[line.product_id] = wanted.get(line.product_id, 0) + line.quantity
        now = self._now()
        try:
            with self._engine.begin() as conn:
                self._shop_exists(conn, shop_id)
                existing = self._order_row(conn, shop_id, reference=body.reference)
                if existing is not None:
                    return 200, self._order_json(existing)
                order_id = self._next_ids(conn, "order", 1)
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
                    raise EtsyApiError(
                        409, "out of stock", listing_ids=listing_ids, product_ids=short
                    )
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
                self._refresh_state(conn, {line["listing_id"] for line in lines}, now)
                return 201, self._order_json(self._order_row(conn, shop_id, order_id=order_id))
        except IntegrityError:  # the same reference won a race: answer with its order
            with self._engine.connect() as conn:
                return 200, self._order_json(
                    self._order_row(conn, shop_id, reference=body.reference)
                )

    def find_orders(self, shop_id: int, reference: str) -> Json:
        with self._engine.connect() as conn:
            row = self._order_row(conn, shop_id, reference=reference)
        results = [] if row is None else [self._order_json(row)]
        return {"count": len(results), "results": results}

    def cancel_order(self, shop_id: int, order_id: int, *, restock: bool) -> Json:
        """Cancel an order, idempotently (a second cancel restocks nothing); not once shipped."""
        now = self._now()
        with self._engine.begin() as conn:
            row = self._order_row(conn, shop_id, order_id=order_id)
            if row is None:
                raise EtsyApiError(404, f"Order {order_id} not found")
            if row.status == "canceled":
                return self._order_json(row)
            if row.status == "shipped":
                raise EtsyApiError(409, "Order has already shipped")
            for line in row.lines if restock else []:
                self._restock(conn, line)
            query = update(orders).where(orders.c.order_id == order_id).values(status="canceled")
            conn.execute(query)
            self._refresh_state(conn, {line["listing_id"] for line in row.lines}, now)
            return self._order_json(self._order_row(conn, shop_id, order_id=order_id))

    # -- internals ----------------------------------------------------------------------------------

    def _now(self) -> int:
        return int(self._clock().timestamp())

    def _next_ids(self, conn: Connection, name: str, count: int) -> int:
        """Reserve `count` ids and return the first; the UPDATE locks the row before the read."""
        row = sequences.c.name == name
        bump = update(sequences).where(row).values(next_value=sequences.c.next_value + count)
        conn.execute(bump)
        return int(conn.execute(select(sequences.c.next_value).where(row)).scalar_one()) - count

    def _shop_exists(self, conn: Connection, shop_id: int) -> None:
        if conn.execute(select(shops.c.shop_id).where(shops.c.shop_id == shop_id)).first() is None:
            raise EtsyApiError(404, f"Shop with id {shop_id} not found")

    def _insert_listing(
        self, conn: Connection, shop_id: int, currency: str, seed: Mapping[str, Any], now: int
    ) -> None:
        variants = seed.get("variants") or []
        names = list(dict.fromkeys(name for v in variants for name in v.get("options", {})))
        property_ids = dict(zip(names, CUSTOM_PROPERTY_IDS, strict=False))
        pairs = list(dict.fromkeys((n, str(x)) for v in variants for n, x in v["options"].items()))
        first_value = self._next_ids(conn, "value", len(pairs))
        value_ids = {pair: first_value + i for i, pair in enumerate(pairs)}
        listing_id = self._next_ids(conn, "listing", 1)
        urls = list(seed.get("images") or [])
        first_image = self._next_ids(conn, "image", len(urls))
        images = [
            {
                "listing_id": listing_id,
                "listing_image_id": first_image + rank,
                "rank": rank + 1,
                **dict.fromkeys(("url_75x75", "url_170x135", "url_570xN", "url_fullxfull"), url),
                "alt_text": None,
            }
            for rank, url in enumerate(urls)
        ]
        used = list(property_ids.values())
        path = [part.strip() for part in str(seed.get("category") or "").split(">") if part.strip()]
        conn.execute(
            insert(listings).values(
                listing_id=listing_id,
                shop_id=shop_id,
                seed_ref=seed["id"],
                title=seed["title"],
                description=seed.get("description") or "",
                state="active",
                url=seed.get("url"),
                listing_type="download" if seed.get("digital") else "physical",
                tags=list(seed.get("tags") or []),
                materials=[seed["material"]] if seed.get("material") else [],
                images=images,
                review_average=seed.get("rating"),
                review_count=int(seed.get("review_count") or 0),
                taxonomy_path=path,
                on_property={name: used if name != ON_PROPERTY[3] else [] for name in ON_PROPERTY},
                created_timestamp=now,
                last_modified_timestamp=now,
                state_timestamp=now,
            )
        )
        first_product = self._next_ids(conn, "product", len(variants))
        first_offering = self._next_ids(conn, "offering", len(variants))
        for position, variant in enumerate(variants):
            values = [
                {
                    "property_id": property_ids[name],
                    "property_name": name,
                    "scale_id": None,
                    "value_ids": [value_ids[(name, str(value))]],
                    "values": [str(value)],
                }
                for name, value in variant.get("options", {}).items()
                if name in property_ids
            ]
            conn.execute(
                insert(products).values(
                    product_id=first_product + position,
                    offering_id=first_offering + position,
                    listing_id=listing_id,
                    position=position,
                    sku=str(variant.get("sku") or ""),
                    property_values=values,
                    quantity=int(variant["inventory"]),
                    is_enabled=True,
                    amount=int(variant["price"]),
                    divisor=100,
                    currency_code=currency,
                    readiness_state_id=None,
                )
            )
        self._refresh_state(conn, [listing_id], now)

    def _refresh_state(self, conn: Connection, listing_ids: Iterable[int], now: int) -> None:
        """As on Etsy, a listing with no stock left is sold_out; unlike Etsy (which wants a
        paid renewal), the sandbox makes it active again when stock comes back."""
        for listing_id in listing_ids:
            total = conn.execute(
                select(func.coalesce(func.sum(products.c.quantity), 0)).where(
                    products.c.listing_id == listing_id, products.c.is_enabled.is_(True)
                )
            ).scalar_one()
            old, new = ("active", "sold_out") if total == 0 else ("sold_out", "active")
            conn.execute(
                update(listings)
                .where(listings.c.listing_id == listing_id, listings.c.state == old)
                .values(state=new, state_timestamp=now)
            )

    def _restock(self, conn: Connection, line: Mapping[str, Any]) -> None:
        """Put a line back; if an inventory PUT renumbered its product, find it by its values."""
        query = select(products.c.product_id, products.c.property_values).where(
            products.c.listing_id == line["listing_id"]
        )
        candidates = conn.execute(query).all()
        matches = [r.product_id for r in candidates if r.product_id == line["product_id"]] or [
            r.product_id
            for r in candidates
            if _value_pairs(r.property_values) == _value_pairs(line["property_values"])
        ]
        if not matches:
            logger.warning("sandbox.etsy.restock_skipped product_id=%s", line["product_id"])
            return
        conn.execute(
            update(products)
            .where(products.c.product_id == matches[0])
            .values(quantity=products.c.quantity + line["quantity"])
        )

    def _listing_row(self, conn: Connection, listing_id: int) -> RowMapping:
        query = select(listings).where(listings.c.listing_id == listing_id)
        row = conn.execute(query).mappings().first()
        if row is None:
            raise EtsyApiError(404, f"Listing with id {listing_id} not found")
        return row

    def _inventories(self, conn: Connection, rows: Sequence[RowMapping]) -> dict[int, Json]:
        """getListingInventory's shape (products -> offerings, Money prices) per listing."""
        found: dict[int, list[Json]] = {row["listing_id"]: [] for row in rows}
        query = (
            select(products).where(products.c.listing_id.in_(found)).order_by(products.c.position)
        )
        for p in conn.execute(query):
            offering = {
                "offering_id": p.offering_id,
                "quantity": p.quantity,
                "is_enabled": p.is_enabled,
                "is_deleted": False,
                "price": {
                    "amount": p.amount,
                    "divisor": p.divisor,
                    "currency_code": p.currency_code,
                },
                "readiness_state_id": p.readiness_state_id,
            }
            found[p.listing_id].append(
                {
                    "product_id": p.product_id,
                    "sku": p.sku,
                    "is_deleted": False,
                    "property_values": [{**v, "scale_name": None} for v in p.property_values],
                    "offerings": [offering],
                }
            )
        return {
            row["listing_id"]: {"products": found[row["listing_id"]], **row["on_property"]}
            for row in rows
        }

    def _render(
        self, conn: Connection, rows: Sequence[RowMapping], includes: set[str]
    ) -> list[Json]:
        """Listings in getListingsByShop's shape; `includes` are lowercase association names."""
        inventories = self._inventories(conn, rows)
        rendered = []
        for row in rows:
            inventory = inventories[row["listing_id"]]
            offers = [o for p in inventory["products"] for o in p["offerings"] if o["is_enabled"]]
            cheapest = min(offers, key=lambda o: o["price"]["amount"], default=None)
            taxonomy = " > ".join(row["taxonomy_path"]).encode()
            listing = {
                "listing_id": row["listing_id"],
                "user_id": row["shop_id"],
                "shop_id": row["shop_id"],
                "title": row["title"],
                "description": row["description"],
                "state": row["state"],
                "quantity": sum(o["quantity"] for o in offers),
                "url": row["url"],
                "listing_type": row["listing_type"],
                "has_variations": any(p["property_values"] for p in inventory["products"]),
                "created_timestamp": row["created_timestamp"],
                "updated_timestamp": row["last_modified_timestamp"],
                "last_modified_timestamp": row["last_modified_timestamp"],
                "state_timestamp": row["state_timestamp"],
                "tags": row["tags"],
                "materials": row["materials"],
                "taxonomy_id": zlib.crc32(taxonomy) % 9000 + 1000,  # made up, but stable
                "taxonomy_path": row["taxonomy_path"],  # v2's field, not v3's: the seed category
                "who_made": "i_did",
                "is_supply": False,
                "price": cheapest["price"] if cheapest else None,
                "skus": [p["sku"] for p in inventory["products"] if p["sku"]],
                # Not Etsy's: v3 has no rating on a listing, only review records (getReviewsByShop).
                "x_sandbox_review_average": row["review_average"],
                "x_sandbox_review_count": row["review_count"],
            }
            if "images" in includes:
                listing["images"] = row["images"]
            if "inventory" in includes:
                listing["inventory"] = inventory
            rendered.append(listing)
        return rendered

    def _order_row(
        self,
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

    def _order_json(self, row: Any) -> Json:
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

    def _ship(
        self, order_id: int, carrier: str, tracking_number: str, shop_id: int | None
    ) -> tuple[str | None, Json]:
        tracking = {"carrier": carrier, "tracking_number": tracking_number}
        with self._engine.begin() as conn:
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
            "resource_url": f"{self._public_url}/shops/{row.shop_id}/receipts/{order_id}",
            "shop_id": row.shop_id,
            "x_sandbox_tracking": tracking,  # not Etsy's: Etsy sends only the resource_url
            "x_sandbox_reference": row.reference,
        }

    def _update_listing(
        self,
        listing_id: int,
        price: int | None,
        quantity: int | None,
        title: str | None,
        product_id: int | None,
    ) -> tuple[str | None, Json]:
        now = self._now()
        with self._engine.begin() as conn:
            row = self._listing_row(conn, listing_id)
            target = update(products).where(products.c.listing_id == listing_id)
            if product_id is not None:
                target = target.where(products.c.product_id == product_id)
            if price is not None:
                conn.execute(target.values(amount=price, divisor=100))
            if quantity is not None:
                conn.execute(target.values(quantity=quantity))
            edited: Json = {"last_modified_timestamp": now}
            if title is not None:
                edited["title"] = title
            conn.execute(
                update(listings).where(listings.c.listing_id == listing_id).values(**edited)
            )
            self._refresh_state(conn, [listing_id], now)
            query = select(shops.c.webhook_url).where(shops.c.shop_id == row["shop_id"])
            url = conn.execute(query).scalar()
        return url, {
            "event_type": "x_sandbox.listing_updated",  # not Etsy's: Etsy has no listing webhooks
            "resource_url": f"{self._public_url}/listings/{listing_id}",
            "shop_id": row["shop_id"],
            "listing_id": listing_id,
        }

    async def _deliver(self, url: str | None, payload: Json) -> WebhookDelivery | None:
        """Sign as Standard Webhooks (what Etsy's Svix-run delivery does) and POST once."""
        if url is None or self._webhook_client is None:
            return None
        body = json.dumps(payload, separators=(",", ":")).encode()
        message_id, stamp = f"msg_{uuid.uuid4().hex}", str(self._now())
        key = base64.b64decode(self.WEBHOOK_SECRET.removeprefix("whsec_"))
        digest = hmac.new(key, f"{message_id}.{stamp}.".encode() + body, hashlib.sha256).digest()
        headers = {
            "content-type": "application/json",
            "webhook-id": message_id,
            "webhook-timestamp": stamp,
            "webhook-signature": f"v1,{base64.b64encode(digest).decode()}",
        }
        status: int | None = None
        try:
            response = await self._webhook_client.post(
                url, content=body, headers=headers, timeout=5.0
            )
            status = response.status_code
        except httpx.HTTPError as exc:
            logger.warning("sandbox.etsy.webhook_failed url=%s error=%s", url, type(exc).__name__)
        return WebhookDelivery(url=url, headers=headers, body=body, status_code=status)


def _names(values: Sequence[str]) -> list[str]:
    """Query arrays arrive as `a,b` or as repeated parameters; accept both."""
    return [part.strip() for value in values for part in value.split(",") if part.strip()]


def _delivered(delivery: WebhookDelivery | None) -> Json:
    if delivery is None:
        return {"webhook": None}
    return {"webhook": {"url": delivery.url, "status_code": delivery.status_code}}


def create_etsy_sandbox_app(sandbox: EtsySandbox) -> FastAPI:
    """The emulator as an ASGI app serving /v3/application/...; mount it at /sandbox/etsy.

    Endpoints that touch the database are plain `def` (FastAPI runs them in its thread pool).
    The /x-sandbox/_control/ routes take no credentials: keep the sandbox off public hosts.
    """
    app = FastAPI(title="Etsy sandbox", openapi_url=None, docs_url=None, redoc_url=None)

    @app.exception_handler(EtsyApiError)
    async def etsy_error(request: Request, exc: EtsyApiError) -> JSONResponse:
        return JSONResponse(exc.body, status_code=exc.status, headers=exc.headers)

    @app.exception_handler(RequestValidationError)
    async def bad_input(request: Request, exc: RequestValidationError) -> JSONResponse:
        problems = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors())
        return JSONResponse({"error": f"Invalid input: {problems}"}, status_code=400)

    def admitted(request: Request, response: Response) -> None:
        path, root = request.url.path, request.scope.get("root_path", "")
        path = path[len(root) :] if root and path.startswith(root) else path
        response.headers.update(sandbox.admit(path, request.headers))

    api = APIRouter(prefix="/v3/application", dependencies=[Depends(admitted)])

    @api.get("/openapi-ping")
    def ping() -> Json:
        return {"application_id": 1}

    @api.get("/shops/{shop_id}")
    def get_shop(shop_id: int) -> Json:
        return sandbox.shop_json(shop_id)

    @api.get("/shops/{shop_id}/listings")
    def get_listings_by_shop(
        shop_id: int,
        state: str = "active",
        limit: int = Query(25, ge=1, le=100),
        offset: int = Query(0, ge=0),
        includes: list[str] = Query(default=[]),
    ) -> Json:
        wanted = {name.lower() for name in _names(includes)}
        return sandbox.listings_page(
            shop_id, state=state, limit=limit, offset=offset, includes=wanted
        )

    @api.get("/listings/batch/inventory")  # before /listings/{listing_id}, which would match it
    def get_listings_inventory_by_listing_ids(listing_ids: list[str] = Query(...)) -> Json:
        ids = _names(listing_ids)
        if not (0 < len(ids) <= 100 and all(i.isdigit() for i in ids)):
            raise EtsyApiError(400, "listing_ids must be 1 to 100 listing ids")
        return sandbox.inventories_json([int(i) for i in ids])

    @api.get("/listings/{listing_id}")
    def get_listing(listing_id: int, includes: list[str] = Query(default=[])) -> Json:
        return sandbox.listing_json(listing_id, {name.lower() for name in _names(includes)})

    @api.get("/listings/{listing_id}/inventory")
    def get_listing_inventory(listing_id: int) -> Json:
        return sandbox.inventory_json(listing_id)

    @api.put("/listings/{listing_id}/inventory")
    def update_listing_inventory(listing_id: int, body: PutInventory) -> Json:
        return sandbox.replace_inventory(listing_id, body)

    @api.post("/x-sandbox/shops/{shop_id}/orders")
    def create_order(shop_id: int, body: OrderRequest, response: Response) -> Json:
        response.status_code, order = sandbox.create_order(shop_id, body)
        return order

    @api.get("/x-sandbox/shops/{shop_id}/orders")
    def find_orders(shop_id: int, reference: str) -> Json:
        return sandbox.find_orders(shop_id, reference)

    @api.post("/x-sandbox/shops/{shop_id}/orders/{order_id}/cancel")
    def cancel_order(shop_id: int, order_id: int, body: CancelRequest | None = None) -> Json:
        return sandbox.cancel_order(shop_id, order_id, restock=body is None or body.restock)

    control = APIRouter(prefix="/v3/application/x-sandbox/_control")

    @control.post("/fail")
    def inject_failure(body: FailRequest) -> Json:
        if body.mode is None:
            sandbox.recover()
        else:
            sandbox.fail(body.mode, body.times)
        return body.model_dump()

    @control.post("/shops/{shop_id}/orders/{order_id}/ship")
    async def ship(shop_id: int, order_id: int, body: ShipRequest) -> Json:
        delivery = await sandbox.ship_order(
            order_id, body.carrier, body.tracking_number, shop_id=shop_id
        )
        return {"order_id": order_id, "status": "shipped", **_delivered(delivery)}

    @control.post("/listings/{listing_id}/update")
    async def edit_listing(listing_id: int, body: ListingUpdate) -> Json:
        delivery = await sandbox.update_listing(listing_id, **body.model_dump())
        return {"listing_id": listing_id, **_delivered(delivery)}

    @control.post("/shops/{shop_id}/webhooks")
    def subscribe(shop_id: int, body: WebhookSubscription) -> Json:
        sandbox.subscribe(shop_id, body.url)
        return {"shop_id": shop_id, "url": body.url}

    app.include_router(api)
    app.include_router(control)
    return app

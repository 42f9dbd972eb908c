"""A local emulator of Shopify's GraphQL Admin API (catalog, stock, orders, webhooks) for demos and tests.

It is not a GraphQL engine. A small parser reads the document the adapter sends, each root field
(shop, products, product, nodes, orders, orderCreate, orderCancel) is answered by a resolver, with
arguments taken from literals or `variables`, and the answer is cut down to the fields the query
selects, in Shopify's response shapes and with `extensions.cost`. A selected field the emulator
does not know is a GraphQL error, never a silent null.

State lives in the database, in the emulator's own tables (prefix `sandbox_shopify_`, created
with `metadata.create_all`): they emulate Shopify's storage and are not part of the product's
schema or its migrations. Demo credentials: every sandbox shop accepts
`ShopifySandbox.DEMO_ACCESS_TOKEN` and signs webhooks with `ShopifySandbox.DEMO_WEBHOOK_SECRET`.
The `/_control` routes are unauthenticated demo levers: never expose the sandbox publicly.
Talk to it with `merchant_adapters.shopify.ShopifyAdapter` (base_url = f"{mount}/{shop_domain}").
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import html
import json
import random
import re
import threading
import uuid
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal, InvalidOperation
from typing import Annotated, Any, ClassVar, Literal

import anyio.to_thread
import httpx
from fastapi import BackgroundTasks, Body, FastAPI, Header, Request
from fastapi.exception_handlers import request_validation_exception_handler
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel
from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Column,
    Connection,
    Engine,
    Index,
    Integer,
    MetaData,
    Row,
    String,
    Table,
    Text,
    UniqueConstraint,
    and_,
    func,
    or_,
    select,
    update,
)

FailureMode = Literal["none", "throttle", "rate_limit", "outage", "revoked"]
API_VERSION = "2026-10"
MAX_COST = 1000
BUCKET = 2000.0  # an Advanced plan bucket: 2000 points, 100 restored per second
RESTORE_RATE = 100.0
MUTATION_COST = 10
WEBHOOK_ATTEMPTS = 8  # Shopify retries a failing delivery 8 times, then gives up
INVALID_TOKEN = "[API] Invalid API key or access token (unrecognized login or wrong password)"
ZERO_DECIMAL = {"jpy", "krw", "vnd", "clp", "isk", "ugx", "xaf", "xof"}

# -- a GraphQL subset: enough to read the adapter's documents honestly ------------------------


class GraphQLError(Exception):
    def __init__(self, message: str, code: str, **extra: Any) -> None:
        super().__init__(message)
        self.body = {"message": message, "extensions": {"code": code, **extra}}


@dataclass
class Field:
    name: str
    key: str  # the alias, or the name
    args: dict[str, Any]
    selections: list[Field | Fragment]


@dataclass
class Fragment:
    on: str | None
    selections: list[Field | Fragment]


_TOKEN = re.compile(
    r'[\s,\ufeff]+|#[^\n\r]*|(?P<token>"(?:[^"\\\n]|\\.)*"|\.\.\.|-?\d+(?:\.\d+)?(?:[eE][+-]?\d+)?'
    r"|[_A-Za-z][_0-9A-Za-z]*|[{}()\[\]:!$@=|&])"
)
_NAME = re.compile(r"[_A-Za-z][_0-9A-Za-z]*\Z")


class _Parser:
    """Recursive descent over one operation plus named fragments; arguments resolve variables."""

    def __init__(self, source: str, variables: Mapping[str, Any]) -> None:
        self.tokens: list[str] = []
        position = 0
        while position < len(source):
            match = _TOKEN.match(source, position)
            if match is None:
                raise GraphQLError(
                    f"Parse error on {source[position]!r} at {position}", "PARSE_ERROR"
                )
            if match.group("token"):
                self.tokens.append(match.group("token"))
            position = match.end()
        self.position = 0
        self.variables = variables
        self.spreads: list[tuple[Fragment, str]] = []

    def peek(self) -> str | None:
        return self.tokens[self.position] if self.position < len(self.tokens) else None

    def take(self, expected: str | None = None) -> str:
        token = self.peek()
        if token is None or (expected is not None and token != expected):
            raise GraphQLError(f"Parse error on {token or 'end of document'!r}", "PARSE_ERROR")
        self.position += 1
        return token

    def name(self) -> str:
        token = self.take()
        if not _NAME.match(token):
            raise GraphQLError(f"Parse error on {token!r}: expected a name", "PARSE_ERROR")
        return token

    def document(self) -> tuple[str, list[Field | Fragment]]:
        operation: tuple[str, list[Field | Fragment]] | None = None
        fragments: dict[str, Fragment] = {}
        while self.peek() is not None:
            if self.peek() == "fragment":
                self.take()
                name = self.name()
                self.take("on")
                on = self.name()
                self.directives()
                fragments[name] = Fragment(on, self.selection_set())
                continue
            if operation is not None:
                raise GraphQLError("The sandbox runs one operation per document", "PARSE_ERROR")
            kind = "query"
            if self.peek() in ("query", "mutation", "subscription"):
                kind = self.take()
                if self.peek() not in ("(", "{", "@"):
                    self.name()
                if self.peek() == "(":
                    self.skip_variable_definitions()
                self.directives()
            operation = (kind, self.selection_set())
        if operation is None:
            raise GraphQLError("No operation in the document", "PARSE_ERROR")
        for fragment, name in self.spreads:
            if name not in fragments:
                raise GraphQLError(f"Fragment {name} was used, but not defined", "PARSE_ERROR")
            fragment.on, fragment.selections = fragments[name].on, fragments[name].selections
        return operation

    def selection_set(self) -> list[Field | Fragment]:
        self.take("{")
        selections: list[Field | Fragment] = []
        while self.peek() != "}":
            if self.peek() == "...":
                self.take()
                if self.peek() == "on":
                    self.take()
                    on = self.name()
                    self.directives()
                    selections.append(Fragment(on, self.selection_set()))
                elif self.peek() in ("{", "@"):
                    self.directives()
                    selections.append(Fragment(None, self.selection_set()))
                else:
                    spread = Fragment(None, [])
                    self.spreads.append((spread, self.name()))
                    self.directives()
                    selections.append(spread)
                continue
            key = name = self.name()
            if self.peek() == ":":
                self.take()
                name = self.name()
            args = self.arguments() if self.peek() == "(" else {}
            self.directives()
            children = self.selection_set() if self.peek() == "{" else []
            selections.append(Field(name, key, args, children))
        self.take("}")
        return selections

    def arguments(self) -> dict[str, Any]:
        self.take("(")
        args: dict[str, Any] = {}
        while self.peek() != ")":
            name = self.name()
            self.take(":")
            args[name] = self.value()
        self.take(")")
        return args

    def value(self) -> Any:
        token = self.take()
        if token == "$":
            return self.variables.get(self.name())
        if token.startswith('"'):
            return json.loads(token)
        if token[0] in "-0123456789":
            return float(token) if any(c in token for c in ".eE") else int(token)
        if token == "[":
            items = []
            while self.peek() != "]":
                items.append(self.value())
            self.take("]")
            return items
        if token == "{":
            obj = {}
            while self.peek() != "}":
                key = self.name()
                self.take(":")
                obj[key] = self.value()
            self.take("}")
            return obj
        if token in ("true", "false", "null"):
            return {"true": True, "false": False, "null": None}[token]
        if _NAME.match(token):
            return token  # an enum value
        raise GraphQLError(f"Parse error on {token!r}", "PARSE_ERROR")

    def directives(self) -> None:
        while self.peek() == "@":
            self.take()
            self.name()
            if self.peek() == "(":
                self.arguments()

    def skip_variable_definitions(self) -> None:
        depth = 0
        while True:
            token = self.take()
            depth += {"(": 1, ")": -1}.get(token, 0)
            if depth == 0:
                return


@dataclass
class Paged:
    """A list served Relay-style, cut by the `first`/`after` of the field that selects it."""

    items: list[dict[str, Any]]

    def __call__(self, args: Mapping[str, Any]) -> dict[str, Any]:
        first = _page_size(args.get("first"))
        offset = _decode_cursor(args["after"]).get("offset", -1) if args.get("after") else -1
        if not isinstance(offset, int):
            raise GraphQLError("Invalid cursor for current pagination sort.", "BAD_REQUEST")
        start = offset + 1
        window = self.items[start : start + first]
        cursors = [_encode_cursor({"offset": start + i}) for i in range(len(window))]
        return _connection(window, cursors, start + first < len(self.items), start > 0)


def _connection(
    nodes: list[dict[str, Any]], cursors: list[str], has_next: bool, has_previous: bool
) -> dict[str, Any]:
    return {
        "nodes": nodes,
        "edges": [{"cursor": c, "node": n} for c, n in zip(cursors, nodes, strict=True)],
        "pageInfo": {
            "hasNextPage": has_next,
            "hasPreviousPage": has_previous,
            "startCursor": cursors[0] if cursors else None,
            "endCursor": cursors[-1] if cursors else None,
        },
    }


def _select(value: Any, selections: list[Field | Fragment]) -> Any:
    """The resolved value cut down to the selected fields, as a GraphQL server answers."""
    if value is None or not selections:
        return value
    if isinstance(value, list):
        return [_select(item, selections) for item in value]
    selected: dict[str, Any] = {}
    for selection in selections:
        if isinstance(selection, Fragment):
            if selection.on is None or selection.on == value.get("__typename"):
                selected.update(_select(value, selection.selections))
            continue
        if selection.name == "__typename":
            selected[selection.key] = value.get("__typename")
            continue
        if selection.name not in value:
            typename = value.get("__typename", "Object")
            raise GraphQLError(
                f"Field '{selection.name}' doesn't exist on type '{typename}' (in this sandbox)",
                "undefinedField",
                typeName=typename,
                fieldName=selection.name,
            )
        field_value = value[selection.name]
        if callable(field_value):  # a field with arguments: a connection, metafield(...)
            field_value = field_value(selection.args)
        selected[selection.key] = _select(field_value, selection.selections)
    return selected


def requested_cost(selections: list[Field | Fragment]) -> int:
    """Shopify's static estimate: scalars 0, objects 1, connections 2 + pageInfo + first x node."""
    total = 0
    for selection in selections:
        if isinstance(selection, Fragment):
            total += requested_cost(selection.selections)
        elif not selection.selections:
            continue
        elif "first" in selection.args or "last" in selection.args:
            size = int(selection.args.get("first") or selection.args.get("last") or 0)
            children = [s for s in selection.selections if isinstance(s, Field)]
            nodes = [s for s in children if s.name == "nodes"]
            for edges in (s for s in children if s.name == "edges"):
                nodes += [s for s in edges.selections if isinstance(s, Field) and s.name == "node"]
            page_info = [s for s in children if s.name == "pageInfo"]
            per_node = max((1 + requested_cost(node.selections) for node in nodes), default=0)
            total += 2 + requested_cost(list(page_info)) + size * per_node
        elif selection.name == "nodes" and "ids" in selection.args:
            total += len(selection.args["ids"] or []) * (1 + requested_cost(selection.selections))
        else:
            total += 1 + requested_cost(selection.selections)
    return total


def _actual_cost(value: Any) -> int:
    if isinstance(value, list):
        return sum(_actual_cost(item) for item in value)
    if isinstance(value, dict):
        return 1 + sum(_actual_cost(item) for item in value.values())
    return 0


def _encode_cursor(position: Mapping[str, Any]) -> str:
    return base64.b64encode(json.dumps(position, separators=(",", ":")).encode()).decode()


def _decode_cursor(cursor: str) -> dict[str, Any]:
    try:
        decoded = json.loads(base64.b64decode(cursor, validate=True))
    except ValueError as exc:
        raise GraphQLError("Invalid cursor for current pagination sort.", "BAD_REQUEST") from exc
    if not isinstance(decoded, dict):
        raise GraphQLError("Invalid cursor for current pagination sort.", "BAD_REQUEST")
    return decoded


def _page_size(first: Any) -> int:
    if not isinstance(first, int) or not 0 <= first <= 250:
        raise GraphQLError(
            "`first` must be between 0 and 250 (Shopify's page limit)", "BAD_REQUEST"
        )
    return first


_TERM = re.compile(r"(\w+):(>=|<=|>|<)?('(?:[^'\\]|\\.)*'|\"[^\"]*\"|\S+)|(AND)|(\S+)")


def _search_terms(query: str | None, allowed: set[str]) -> list[tuple[str, str, str]]:
    """Shopify search syntax, the terms the adapter sends: `field:value`, `field:>'value'`, AND."""
    terms = []
    for match in _TERM.finditer(query or ""):
        if match.group(4):
            continue
        if match.group(5) or match.group(1) not in allowed:
            raise GraphQLError(
                f"The sandbox emulates only {sorted(allowed)} in search queries: {query!r}",
                "BAD_REQUEST",
            )
        raw = match.group(3)
        value = raw[1:-1].replace("\\'", "'") if raw[:1] in "'\"" else raw
        terms.append((match.group(1), match.group(2) or ":", value))
    return terms


# -- storage --------------------------------------------------------------------------------

metadata = MetaData()

shops = Table(
    "sandbox_shopify_shops",
    metadata,
    Column("domain", String(255), primary_key=True),
    Column("name", String(255), nullable=False),
    Column("currency", String(3), nullable=False),
    Column("number", Integer, nullable=False),  # the stem of every id in the shop
    Column("next_product", Integer, nullable=False),
    Column("next_variant", Integer, nullable=False),
    Column("next_order", Integer, nullable=False),
    Column("webhook_url", Text),
)

products = Table(
    "sandbox_shopify_products",
    metadata,
    Column("id", BigInteger, primary_key=True, autoincrement=False),
    Column("shop_domain", String(255), nullable=False),
    Column("seed_ref", String(255)),  # the seed's product id, so a second load adds nothing
    Column("handle", String(255), nullable=False),
    Column("title", Text, nullable=False),
    Column("description_html", Text, nullable=False),
    Column("vendor", String(255), nullable=False),
    Column("product_type", String(255), nullable=False),
    Column("tags", JSON, nullable=False),
    Column("status", String(16), nullable=False),
    Column("online_store_url", Text),
    Column("images", JSON, nullable=False),
    Column("requires_shipping", Boolean, nullable=False),
    Column("metafields", JSON, nullable=False),  # {"namespace.key": {"type": ..., "value": ...}}
    Column("updated_at", String(20), nullable=False),  # "YYYY-MM-DDTHH:MM:SSZ": sorts as time
    UniqueConstraint("shop_domain", "seed_ref"),
    Index("ix_sandbox_shopify_products_sync", "shop_domain", "updated_at", "id"),
)

variants = Table(
    "sandbox_shopify_variants",
    metadata,
    Column("id", BigInteger, primary_key=True, autoincrement=False),
    Column("product_id", BigInteger, nullable=False, index=True),
    Column("shop_domain", String(255), nullable=False),
    Column("position", Integer, nullable=False),
    Column("title", Text, nullable=False),
    Column("sku", String(255)),
    Column("price", BigInteger, nullable=False),  # minor units of the shop currency
    Column("compare_at_price", BigInteger),
    Column("available", Integer, nullable=False),
    Column("inventory_policy", String(16), nullable=False),
    Column("tracked", Boolean, nullable=False),
    Column("options", JSON, nullable=False),
)

orders = Table(
    "sandbox_shopify_orders",
    metadata,
    Column("id", BigInteger, primary_key=True, autoincrement=False),
    Column("shop_domain", String(255), nullable=False),
    Column("number", Integer, nullable=False),
    Column("email", String(255)),
    Column("tags", Text, nullable=False),  # comma separated, as Shopify's REST payloads carry them
    Column("source_name", String(255)),
    Column("source_identifier", String(255)),
    Column("currency", String(3), nullable=False),
    Column("subtotal", BigInteger, nullable=False),
    Column("shipping", BigInteger, nullable=False),
    Column("tax", BigInteger, nullable=False),
    Column("total", BigInteger, nullable=False),
    Column("financial_status", String(32), nullable=False),
    Column("inventory_claimed", Boolean, nullable=False),
    Column("lines", JSON, nullable=False),
    Column("shipping_address", JSON),
    Column("shipping_lines", JSON, nullable=False),
    Column("fulfillments", JSON, nullable=False),
    Column("created_at", String(20), nullable=False),
    Column("updated_at", String(20), nullable=False),
    Column("cancelled_at", String(20)),
    Column("cancel_reason", String(32)),
    UniqueConstraint("shop_domain", "number"),
)

webhooks = Table(
    "sandbox_shopify_webhooks",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("shop_domain", String(255), nullable=False),
    Column("url", Text, nullable=False),
    Column("topic", String(64), nullable=False),
    Column("webhook_id", String(36), nullable=False, unique=True),
    Column("triggered_at", String(40), nullable=False),
    Column("body", Text, nullable=False),
    Column("delivered", Boolean, nullable=False, default=False),
    Column("attempts", Integer, nullable=False, default=0),
)

PRODUCT, VARIANT, ORDER, LINE_ITEM, FULFILLMENT = 1, 2, 3, 4, 5


def _id(shop_number: int, kind: int, sequence: int) -> int:
    """Deterministic 14-digit ids: the same shop and load order always give the same GIDs."""
    return shop_number * 10**10 + kind * 10**9 + sequence


def _numeric(gid: object, kind: str) -> int | None:
    text = str(gid or "")
    prefix = f"gid://shopify/{kind}/"
    text = text.removeprefix(prefix) if text.startswith(prefix) else text
    return int(text) if text.isdigit() else None


def _timestamp(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _amount(minor: int, currency: str) -> str:
    exponent = 0 if currency.lower() in ZERO_DECIMAL else 2
    return f"{Decimal(minor).scaleb(-exponent):.{exponent}f}"


def _minor(amount: object, currency: str) -> int:
    exponent = 0 if currency.lower() in ZERO_DECIMAL else 2
    scaled = Decimal(str(amount)).scaleb(exponent)
    if scaled != scaled.to_integral_value():
        raise InvalidOperation(f"{amount} has more decimals than {currency}")
    return int(scaled)


def _money_bag(minor: int, currency: str) -> dict[str, Any]:
    money = {"amount": _amount(minor, currency), "currencyCode": currency}
    return {"shopMoney": money, "presentmentMoney": dict(money)}


def _user_error(field: Sequence[str], message: str, code: str) -> dict[str, Any]:
    return {"field": list(field), "message": message, "code": code}


class SandboxNotFound(LookupError):
    """No such shop, product or order in the sandbox."""


@dataclass(frozen=True, slots=True)
class SandboxLine:
    variant_gid: str
    sku: str | None
    quantity: int
    unit_price: int


@dataclass(frozen=True, slots=True)
class SandboxOrder:
    gid: str
    name: str
    reference: str | None  # sourceIdentifier
    email: str | None
    tags: tuple[str, ...]
    currency: str
    total: int
    lines: tuple[SandboxLine, ...]
    canceled: bool
    fulfilled: bool
    shipping_address: Mapping[str, Any] | None


@dataclass(frozen=True, slots=True)
class SandboxResponse:
    status: int
    body: Any
    headers: Mapping[str, str]
    webhooks_queued: bool = False


class _ClaimFailed(Exception):
    def __init__(self, lines: list[int]) -> None:
        super().__init__(lines)
        self.lines = lines


# -- the emulated platform ------------------------------------------------------------------


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
        self._webhook_client = webhook_client  # None: webhooks are queued, never delivered
        self._clock = clock
        # Failure injection is a per-process demo lever, so it lives in memory.
        self._failures: dict[str | None, tuple[FailureMode, int | None]] = {}
        self._failures_lock = threading.Lock()
        self._delivery_lock = asyncio.Lock()
        metadata.create_all(engine)

    # -- loading ---------------------------------------------------------------------------------

    def load_seed(self, document: Mapping[str, Any]) -> str:
        """Load a seeds/*.json document of a Shopify merchant; returns its shop domain. Idempotent."""
        merchant = document["merchant"]
        if merchant.get("platform") != "shopify":
            raise ValueError(f"{merchant.get('id')} is not a Shopify merchant")
        domain = str(merchant["shop_ref"])
        now = _timestamp(self._clock())
        with self._write() as conn:
            shop = self._ensure_shop(conn, domain, merchant["name"], merchant["currency"])
            known = set(
                conn.execute(
                    select(products.c.seed_ref).where(products.c.shop_domain == domain)
                ).scalars()
            )
            fresh = [item for item in document.get("products", []) if item["id"] not in known]
            product_rows, variant_rows = [], []
            next_product, next_variant = shop.next_product, shop.next_variant
            for item in fresh:
                product_id = _id(shop.number, PRODUCT, next_product)
                next_product += 1
                url = item.get("url")
                product_rows.append(
                    {
                        "id": product_id,
                        "shop_domain": domain,
                        "seed_ref": item["id"],
                        "handle": url.rstrip("/").rsplit("/", 1)[-1] if url else item["id"],
                        "title": item["title"],
                        "description_html": f"<p>{html.escape(item.get('description', ''))}</p>",
                        "vendor": merchant["name"],
                        "product_type": item.get("category") or "",
                        "tags": list(item.get("tags", [])),
                        "status": str(item.get("status", "active")).upper(),
                        "online_store_url": url,
                        "images": list(item.get("images", [])),
                        "requires_shipping": not item.get("digital", False),
                        "metafields": _seed_metafields(item),
                        "updated_at": now,
                    }
                )
                for position, variant in enumerate(item["variants"], start=1):
                    variant_rows.append(
                        {
                            "id": _id(shop.number, VARIANT, next_variant),
                            "product_id": product_id,
                            "shop_domain": domain,
                            "position": position,
                            "title": variant["title"],
                            "sku": variant.get("sku"),
                            "price": variant["price"],
                            "compare_at_price": variant.get("list_price"),
                            "available": variant.get("inventory", 0),
                            "inventory_policy": "DENY",
                            "tracked": True,
                            "options": [[k, v] for k, v in (variant.get("options") or {}).items()],
                        }
                    )
                    next_variant += 1
            self._insert(conn, product_rows, variant_rows, domain, next_product, next_variant)
        return domain

    def generate_synthetic(
        self, shop_domain: str, products: int, variants_per_product: int = 2, seed: int = 0
    ) -> None:
        """Add `products` synthetic products (bulk inserts: 100,000 load in seconds)."""
        rng = random.Random(seed)
        now = _timestamp(self._clock())
        sizes = ["XS", "S", "M", "L", "XL", "XXL"]
        kinds = ["Tee", "Hoodie", "Sock", "Beanie", "Throw", "Mug", "Backpack", "Jacket"]
        with self._write() as conn:
            shop = self._ensure_shop(conn, shop_domain, shop_domain.split(".")[0], "usd")
            product_rows, variant_rows = [], []
            next_product, next_variant = shop.next_product, shop.next_variant
            for _ in range(products):
                product_id = _id(shop.number, PRODUCT, next_product)
                kind = rng.choice(kinds)
                handle = f"synthetic-{kind.lower()}-{next_product}"
                price = rng.randrange(500, 20000, 100)
                product_rows.append(
                    {
                        "id": product_id,
                        "shop_domain": shop_domain,
                        "seed_ref": None,
                        "handle": handle,
                        "title": f"Synthetic {kind} {next_product}",
                        "description_html": f"<p>Synthetic {kind.lower()} for load tests.</p>",
                        "vendor": "Sandbox",
                        "product_type": kind,
                        "tags": ["synthetic", kind.lower()],
                        "status": "ACTIVE",
                        "online_store_url": f"https://{shop_domain}/products/{handle}",
                        "images": [f"https://cdn.sandbox.example/{handle}.jpg"],
                        "requires_shipping": True,
                        "metafields": {},
                        "updated_at": now,
                    }
                )
                next_product += 1
                for position in range(1, variants_per_product + 1):
                    size = sizes[(position - 1) % len(sizes)] + (
                        "" if position <= 6 else str(position)
                    )
                    variant_rows.append(
                        {
                            "id": _id(shop.number, VARIANT, next_variant),
                            "product_id": product_id,
                            "shop_domain": shop_domain,
                            "position": position,
                            "title": size,
                            "sku": f"SYN-{product_id}-{position}",
                            "price": price,
                            "compare_at_price": None,
                            "available": rng.randrange(0, 50),
                            "inventory_policy": "DENY",
                            "tracked": True,
                            "options": [["Size", size]],
                        }
                    )
                    next_variant += 1
            self._insert(conn, product_rows, variant_rows, shop_domain, next_product, next_variant)

    def _ensure_shop(self, conn: Connection, domain: str, name: str, currency: str) -> Row[Any]:
        shop = conn.execute(select(shops).where(shops.c.domain == domain)).first()
        if shop is not None:
            return shop
        number = int(hashlib.sha256(domain.encode()).hexdigest(), 16) % 9000 + 1000
        conn.execute(
            shops.insert().values(
                domain=domain,
                name=name,
                currency=currency.upper(),
                number=number,
                next_product=1,
                next_variant=1,
                next_order=1,
            )
        )
        return conn.execute(select(shops).where(shops.c.domain == domain)).one()

    @staticmethod
    def _insert(
        conn: Connection,
        product_rows: list[dict[str, Any]],
        variant_rows: list[dict[str, Any]],
        domain: str,
        next_product: int,
        next_variant: int,
    ) -> None:
        # executemany in chunks: one round trip per 5,000 rows instead of one per row.
        for table, rows in ((products, product_rows), (variants, variant_rows)):
            for start in range(0, len(rows), 5000):
                conn.execute(table.insert(), rows[start : start + 5000])
        conn.execute(
            update(shops)
            .where(shops.c.domain == domain)
            .values(next_product=next_product, next_variant=next_variant)
        )

    # -- levers for demos and tests --------------------------------------------------------------

    def subscribe(self, shop_domain: str, url: str) -> None:
        """Send every webhook topic the sandbox emits for the shop to `url`."""
        with self._write() as conn:
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
        order_id = _numeric(order_gid, "Order")
        now = _timestamp(self._clock())
        with self._write() as conn:
            order = conn.execute(select(orders).where(orders.c.id == order_id)).first()
            if order is None:
                raise SandboxNotFound(f"no sandbox order {order_gid}")
            if order.cancelled_at or order.fulfillments:
                raise ValueError(f"order {order_gid} is canceled or already fulfilled")
            shop = conn.execute(select(shops).where(shops.c.domain == order.shop_domain)).one()
            fulfillment_id = _id(shop.number, FULFILLMENT, order.number)
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
            self._queue(conn, shop, "orders/fulfilled", _order_payload(order))

    def update_product(
        self,
        product_gid: str,
        *,
        price: int | None = None,
        available: int | None = None,
        title: str | None = None,
    ) -> None:
        """Change a product (price and stock apply to all its variants); queues products/update."""
        product_id = _numeric(product_gid, "Product")
        with self._write() as conn:
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
                .values(title=title or product.title, updated_at=_timestamp(moment))
            )
            shop = conn.execute(select(shops).where(shops.c.domain == product.shop_domain)).one()
            product = conn.execute(select(products).where(products.c.id == product.id)).one()
            rows = conn.execute(
                select(variants)
                .where(variants.c.product_id == product.id)
                .order_by(variants.c.position)
            ).all()
            self._queue(
                conn, shop, "products/update", _product_payload(product, rows, shop.currency)
            )

    def resolve_order(self, shop_domain: str, order_ref: str) -> str:
        """The GID of an order given as "#1001", "1001", a numeric id or a GID."""
        text = order_ref.removeprefix("#")
        condition = (
            orders.c.number == int(text)
            if text.isdigit() and len(text) < 10
            else orders.c.id == _numeric(text, "Order")
        )
        with self._engine.connect() as conn:
            found = conn.execute(
                select(orders.c.id).where(orders.c.shop_domain == shop_domain, condition)
            ).scalar()
        if found is None:
            raise SandboxNotFound(f"no order {order_ref} in {shop_domain}")
        return f"gid://shopify/Order/{found}"

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
                    variants.c.id == _numeric(variant_gid, "ProductVariant")
                )
            ).scalar()

    # -- webhooks --------------------------------------------------------------------------------

    def _queue(
        self, conn: Connection, shop: Row[Any], topic: str, payload: Mapping[str, Any]
    ) -> None:
        if not shop.webhook_url:
            return  # Shopify sends nothing to a shop without subscriptions
        conn.execute(
            webhooks.insert().values(
                shop_domain=shop.domain,
                url=shop.webhook_url,
                topic=topic,
                webhook_id=str(uuid.uuid4()),
                triggered_at=self._clock().astimezone(UTC).isoformat(),
                body=json.dumps(payload, separators=(",", ":")),
                delivered=False,
                attempts=0,
            )
        )

    async def deliver_pending(self) -> int:
        """POST the queued webhooks, signed as Shopify signs them; returns how many were accepted.

        Explicit and awaitable so tests are deterministic; the app calls it after each change.
        A failed delivery stays queued for the next call, up to Shopify's 8 attempts.
        """
        if self._webhook_client is None:
            return 0
        async with self._delivery_lock:
            pending = await anyio.to_thread.run_sync(self._pending_webhooks)
            accepted = 0
            for row in pending:
                body = row.body.encode()
                signature = hmac.new(self.DEMO_WEBHOOK_SECRET.encode(), body, hashlib.sha256)
                headers = {
                    "Content-Type": "application/json",
                    "X-Shopify-Topic": row.topic,
                    "X-Shopify-Hmac-Sha256": base64.b64encode(signature.digest()).decode(),
                    "X-Shopify-Shop-Domain": row.shop_domain,
                    "X-Shopify-Webhook-Id": row.webhook_id,
                    "X-Shopify-Event-Id": row.webhook_id,
                    "X-Shopify-API-Version": API_VERSION,
                    "X-Shopify-Triggered-At": row.triggered_at,
                }
                try:
                    response = await self._webhook_client.post(
                        row.url, content=body, headers=headers
                    )
                    ok = response.is_success
                except httpx.HTTPError:
                    ok = False
                await anyio.to_thread.run_sync(self._record_delivery, row.id, ok)
                accepted += ok
            return accepted

    def _pending_webhooks(self) -> list[Row[Any]]:
        with self._engine.connect() as conn:
            return list(
                conn.execute(
                    select(webhooks)
                    .where(webhooks.c.delivered.is_(False), webhooks.c.attempts < WEBHOOK_ATTEMPTS)
                    .order_by(webhooks.c.id)
                ).all()
            )

    def _record_delivery(self, webhook_id: int, ok: bool) -> None:
        with self._write() as conn:
            conn.execute(
                update(webhooks)
                .where(webhooks.c.id == webhook_id)
                .values(delivered=ok, attempts=webhooks.c.attempts + 1)
            )

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
            kind, selections = _Parser(payload["query"], variables).document()
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
        actual = min(_actual_cost(data), cost) if kind == "query" else cost
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
            {"orderCreate": self._order_create, "orderCancel": self._order_cancel}
            if kind == "mutation"
            else {
                "shop": self._shop,
                "products": self._products,
                "product": self._product,
                "nodes": self._nodes,
                "orders": self._orders,
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
            data[selection.key] = _select(value, selection.selections)
        return data

    # -- query resolvers -------------------------------------------------------------------------

    @staticmethod
    def _shop(shop: Row[Any], args: dict[str, Any]) -> dict[str, Any]:
        return {
            "__typename": "Shop",
            "id": f"gid://shopify/Shop/{shop.number}",
            "name": shop.name,
            "currencyCode": shop.currency,
            "myshopifyDomain": shop.domain,
        }

    def _products(self, shop: Row[Any], args: dict[str, Any]) -> dict[str, Any]:
        first = _page_size(args.get("first"))
        sort_key = args.get("sortKey") or "ID"
        if sort_key not in ("ID", "UPDATED_AT"):
            raise GraphQLError("The sandbox sorts products by ID or UPDATED_AT only", "BAD_REQUEST")
        sort_column = products.c.updated_at if sort_key == "UPDATED_AT" else products.c.id
        query = select(products).where(products.c.shop_domain == shop.domain)
        for name, op, value in _search_terms(args.get("query"), {"status", "updated_at"}):
            if name == "status":
                query = query.where(products.c.status.in_([s.upper() for s in value.split(",")]))
                continue
            try:
                moment = _timestamp(datetime.fromisoformat(value))
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
            position = _decode_cursor(args["after"])
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
            nodes = self._product_nodes(conn, shop, page)
        cursors = [
            _encode_cursor(
                {
                    "last_id": row.id,
                    "last_value": row.updated_at if sort_key == "UPDATED_AT" else row.id,
                }
            )
            for row in page
        ]
        return _connection(nodes, cursors, len(rows) > first, bool(args.get("after")))

    def _product(self, shop: Row[Any], args: dict[str, Any]) -> dict[str, Any] | None:
        product_id = _numeric(args.get("id"), "Product")
        with self._engine.connect() as conn:
            row = conn.execute(
                select(products).where(
                    products.c.id == product_id, products.c.shop_domain == shop.domain
                )
            ).first()
            return self._product_nodes(conn, shop, [row])[0] if row else None

    def _nodes(self, shop: Row[Any], args: dict[str, Any]) -> list[dict[str, Any] | None]:
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
                if (n := _numeric(gid, kind)) is not None
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
                    node = _variant_node(row, shop.currency, row.status == "ACTIVE")
                    found[node["id"]] = {**node, "product": stub}
            if wanted["Product"]:
                rows = conn.execute(
                    select(products).where(
                        products.c.id.in_(wanted["Product"]), products.c.shop_domain == shop.domain
                    )
                ).all()
                for node in self._product_nodes(conn, shop, rows):
                    found[node["id"]] = node
            if wanted["Order"]:
                rows = conn.execute(
                    select(orders).where(
                        orders.c.id.in_(wanted["Order"]), orders.c.shop_domain == shop.domain
                    )
                ).all()
                for row in rows:
                    found[f"gid://shopify/Order/{row.id}"] = _order_node(row)
        return [found.get(str(gid)) for gid in ids]

    def _orders(self, shop: Row[Any], args: dict[str, Any]) -> dict[str, Any]:
        query = select(orders).where(orders.c.shop_domain == shop.domain)
        tags = [value for _, _, value in _search_terms(args.get("query"), {"tag"})]
        for tag in tags:
            query = query.where(orders.c.tags.contains(tag, autoescape=True))
        with self._engine.connect() as conn:
            rows = conn.execute(query.order_by(orders.c.id)).all()
        # LIKE found candidates; a tag matches only whole.
        matching = [
            _order_node(row)
            for row in rows
            if all(tag in {t.strip() for t in row.tags.split(",")} for tag in tags)
        ]
        return Paged(matching)(args)

    def _product_nodes(
        self, conn: Connection, shop: Row[Any], rows: Sequence[Row[Any]]
    ) -> list[dict[str, Any]]:
        ids = [row.id for row in rows]
        by_product: dict[int, list[Row[Any]]] = {product_id: [] for product_id in ids}
        if ids:
            for variant in conn.execute(
                select(variants)
                .where(variants.c.product_id.in_(ids))
                .order_by(variants.c.product_id, variants.c.position)
            ):
                by_product[variant.product_id].append(variant)
        nodes = []
        for row in rows:
            images = [
                {
                    "__typename": "MediaImage",
                    "id": f"gid://shopify/MediaImage/{row.id}{i}",
                    "image": {"__typename": "Image", "url": url, "altText": None},
                }
                for i, url in enumerate(row.images)
            ]
            featured = (
                {
                    "__typename": "MediaImage",
                    "preview": {"__typename": "MediaPreviewImage", "image": images[0]["image"]},
                }
                if images
                else None
            )
            active = row.status == "ACTIVE"
            nodes.append(
                {
                    "__typename": "Product",
                    "id": f"gid://shopify/Product/{row.id}",
                    "title": row.title,
                    "handle": row.handle,
                    "status": row.status,
                    "vendor": row.vendor,
                    "productType": row.product_type,
                    "tags": list(row.tags),
                    "descriptionHtml": row.description_html,
                    "updatedAt": row.updated_at,
                    "onlineStoreUrl": row.online_store_url if active else None,
                    "featuredMedia": featured,
                    "metafield": _metafield_lookup(row.metafields),
                    "media": Paged(images),
                    "variants": Paged(
                        [
                            {
                                **_variant_node(v, shop.currency, active, row.requires_shipping),
                                "product": {
                                    "__typename": "Product",
                                    "id": f"gid://shopify/Product/{row.id}",
                                    "title": row.title,
                                    "handle": row.handle,
                                },
                            }
                            for v in by_product[row.id]
                        ]
                    ),
                }
            )
        return nodes

    # -- mutation resolvers ----------------------------------------------------------------------

    def _order_create(self, shop: Row[Any], args: dict[str, Any]) -> dict[str, Any]:
        order = args.get("order")
        if not isinstance(order, dict):
            raise GraphQLError(
                "Variable $order of type OrderCreateOrderInput! was provided invalid value",
                "INVALID_VARIABLE",
            )
        behaviour = (args.get("options") or {}).get("inventoryBehaviour") or "BYPASS"
        currency = str(order.get("currency") or shop.currency).upper()
        items = order.get("lineItems") or []
        errors: list[dict[str, Any]] = []
        if not items or len(items) > 250:
            errors.append(
                _user_error(["order", "lineItems"], "Line items must number 1 to 250", "INVALID")
            )
        variant_ids = [_numeric(item.get("variantId"), "ProductVariant") for item in items]
        with self._engine.connect() as conn:
            known = {
                row.id: row
                for row in conn.execute(
                    select(variants).where(
                        variants.c.id.in_([i for i in variant_ids if i]),
                        variants.c.shop_domain == shop.domain,
                    )
                )
            }
        lines = []
        for index, (item, variant_id) in enumerate(zip(items, variant_ids, strict=True)):
            field = ["order", "lineItems", str(index)]
            variant = known.get(variant_id or 0)
            quantity = item.get("quantity")
            if variant is None:
                errors.append(
                    _user_error([*field, "variantId"], "Variant does not exist", "INVALID")
                )
                continue
            if not isinstance(quantity, int) or quantity < 1:
                errors.append(
                    _user_error([*field, "quantity"], "Quantity must be at least 1", "INVALID")
                )
                continue
            amount = ((item.get("priceSet") or {}).get("shopMoney") or {}).get("amount")
            try:
                price = variant.price if amount is None else _minor(amount, currency)
            except (InvalidOperation, ValueError):
                errors.append(
                    _user_error([*field, "priceSet"], f"Invalid amount {amount!r}", "INVALID")
                )
                continue
            lines.append(
                {
                    "variant_id": variant.id,
                    "product_id": variant.product_id,
                    "sku": variant.sku,
                    "title": variant.title,
                    "quantity": quantity,
                    "price": price,
                }
            )
        try:
            shipping_lines = [
                {
                    "title": line.get("title") or "Shipping",
                    "code": line.get("code"),
                    "price": _minor(line["priceSet"]["shopMoney"]["amount"], currency),
                }
                for line in order.get("shippingLines") or []
            ]
            tax_lines = order.get("taxLines") or []
            tax = sum(
                _minor(line["priceSet"]["shopMoney"]["amount"], currency) for line in tax_lines
            )
        except (KeyError, TypeError, InvalidOperation, ValueError):
            errors.append(
                _user_error(["order"], "Shipping or tax lines need a priceSet", "INVALID")
            )
            shipping_lines, tax_lines, tax = [], [], 0
        if any(line.get("rate") is None for line in tax_lines):
            errors.append(
                _user_error(
                    ["order", "taxLines"], "Tax line rate is missing", "TAX_LINE_RATE_MISSING"
                )
            )
        if errors:
            return {"__typename": "OrderCreatePayload", "order": None, "userErrors": errors}
        now = _timestamp(self._clock())
        subtotal = sum(line["price"] * line["quantity"] for line in lines)
        shipping = sum(line["price"] for line in shipping_lines)
        tags = [str(tag).strip() for tag in order.get("tags") or []]
        try:
            with self._write() as conn:
                self._claim_stock(conn, lines, behaviour)
                conn.execute(
                    update(shops)
                    .where(shops.c.domain == shop.domain)
                    .values(next_order=shops.c.next_order + 1)
                )
                sequence = (
                    conn.execute(
                        select(shops.c.next_order).where(shops.c.domain == shop.domain)
                    ).scalar_one()
                    - 1
                )
                order_id = _id(shop.number, ORDER, sequence)
                for index, line in enumerate(lines):
                    line["id"] = _id(shop.number, LINE_ITEM, sequence * 1000 + index)
                conn.execute(
                    orders.insert().values(
                        id=order_id,
                        shop_domain=shop.domain,
                        number=1000 + sequence,
                        email=order.get("email"),
                        tags=", ".join(tags),
                        source_name=order.get("sourceName"),
                        source_identifier=order.get("sourceIdentifier"),
                        currency=currency,
                        subtotal=subtotal,
                        shipping=shipping,
                        tax=tax,
                        total=subtotal + shipping + tax,
                        financial_status=str(order.get("financialStatus") or "PENDING"),
                        inventory_claimed=behaviour != "BYPASS",
                        lines=lines,
                        shipping_address=order.get("shippingAddress"),
                        shipping_lines=shipping_lines,
                        fulfillments=[],
                        created_at=now,
                        updated_at=now,
                    )
                )
                row = conn.execute(select(orders).where(orders.c.id == order_id)).one()
        except _ClaimFailed as failed:
            return {
                "__typename": "OrderCreatePayload",
                "order": None,
                "userErrors": [
                    _user_error(
                        ["order", "lineItems", str(i), "quantity"],
                        "Unable to claim inventory: not enough stock",
                        "INVENTORY_CLAIM_FAILED",
                    )
                    for i in failed.lines
                ],
            }
        return {"__typename": "OrderCreatePayload", "order": _order_node(row), "userErrors": []}

    @staticmethod
    def _claim_stock(conn: Connection, lines: list[dict[str, Any]], behaviour: str) -> None:
        """All lines or none: one conditional UPDATE per line in the caller's transaction."""
        if behaviour == "BYPASS":
            return
        failed = []
        for index, line in enumerate(lines):
            claim = (
                update(variants)
                .where(variants.c.id == line["variant_id"])
                .values(available=variants.c.available - line["quantity"])
            )
            if behaviour == "DECREMENT_OBEYING_POLICY":
                claim = claim.where(
                    or_(
                        variants.c.available >= line["quantity"],
                        variants.c.inventory_policy == "CONTINUE",
                        variants.c.tracked.is_(False),
                    )
                )
            if conn.execute(claim).rowcount == 0:
                failed.append(index)
        if failed:
            raise _ClaimFailed(failed)  # leaving the transaction by an exception rolls it back

    def _order_cancel(self, shop: Row[Any], args: dict[str, Any]) -> dict[str, Any]:
        if args.get("reason") is None or args.get("restock") is None:
            raise GraphQLError(
                "Field 'orderCancel' is missing required arguments: reason, restock",
                "missingRequiredArguments",
            )
        order_id = _numeric(args.get("orderId"), "Order")
        payload: dict[str, Any] = {
            "__typename": "OrderCancelPayload",
            "job": None,
            "orderCancelUserErrors": [],
            "userErrors": [],
        }
        now = _timestamp(self._clock())
        with self._write() as conn:
            row = conn.execute(
                select(orders).where(orders.c.id == order_id, orders.c.shop_domain == shop.domain)
            ).first()
            if row is None:
                payload["orderCancelUserErrors"] = [
                    _user_error(["orderId"], "Order does not exist", "NOT_FOUND")
                ]
                return payload
            # The conditional UPDATE is the claim: of two concurrent cancels only one restocks.
            claimed = conn.execute(
                update(orders)
                .where(orders.c.id == row.id, orders.c.cancelled_at.is_(None))
                .values(cancelled_at=now, updated_at=now, cancel_reason=str(args["reason"]).lower())
            ).rowcount
            if not claimed:
                payload["orderCancelUserErrors"] = [
                    _user_error(["orderId"], "Order has already been canceled", "INVALID")
                ]
                return payload
            if args["restock"] and row.inventory_claimed:
                for line in row.lines:
                    conn.execute(
                        update(variants)
                        .where(variants.c.id == line["variant_id"])
                        .values(available=variants.c.available + line["quantity"])
                    )
            self._queue(
                conn,
                shop,
                "orders/cancelled",
                _order_payload(conn.execute(select(orders).where(orders.c.id == row.id)).one()),
            )
        payload["job"] = {
            "__typename": "Job",
            "id": f"gid://shopify/Job/{uuid.uuid4()}",
            "done": True,
        }
        return payload

    # -- plumbing --------------------------------------------------------------------------------

    def _write(self) -> _WriteTransaction:
        return _WriteTransaction(self._engine)


class _WriteTransaction:
    """A transaction that says it will write, so engines that care (SQLite) lock up front."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    def __enter__(self) -> Connection:
        self._connection = self._engine.connect()
        # checkout.store.db's SQLite engines read `writer` to BEGIN IMMEDIATE; others ignore it.
        self._connection.execution_options(writer=True)
        self._transaction = self._connection.begin()
        return self._connection

    def __exit__(self, kind: object, error: object, traceback: object) -> None:
        try:
            if error is None:
                self._transaction.commit()
            else:
                self._transaction.rollback()
        finally:
            self._connection.close()


def _seed_metafields(item: Mapping[str, Any]) -> dict[str, dict[str, str]]:
    """Review signals as review apps store them (standard `reviews.*`), material as `custom.material`."""
    fields = {}
    if item.get("rating") is not None:
        rating = {"value": str(item["rating"]), "scale_min": "1.0", "scale_max": "5.0"}
        fields["reviews.rating"] = {"type": "rating", "value": json.dumps(rating)}
        count = str(item.get("review_count", 0))
        fields["reviews.rating_count"] = {"type": "number_integer", "value": count}
    if item.get("material"):
        fields["custom.material"] = {"type": "single_line_text_field", "value": item["material"]}
    return fields


def _metafield_lookup(fields: Mapping[str, Any]) -> Callable[[Mapping[str, Any]], Any]:
    def metafield(args: Mapping[str, Any]) -> dict[str, Any] | None:
        namespace, key = args.get("namespace"), args.get("key")
        found = fields.get(f"{namespace}.{key}")
        return (
            {"__typename": "Metafield", "namespace": namespace, "key": key, **found}
            if found
            else None
        )

    return metafield


def _variant_node(
    row: Row[Any], currency: str, active: bool, requires_shipping: bool = True
) -> dict[str, Any]:
    sellable = active and (
        row.available > 0 or row.inventory_policy == "CONTINUE" or not row.tracked
    )
    return {
        "__typename": "ProductVariant",
        "id": f"gid://shopify/ProductVariant/{row.id}",
        "title": row.title,
        "sku": row.sku,
        "price": _amount(row.price, currency),
        "compareAtPrice": _amount(row.compare_at_price, currency)
        if row.compare_at_price is not None
        else None,
        "inventoryQuantity": row.available,
        "inventoryPolicy": row.inventory_policy,
        "availableForSale": sellable,
        "selectedOptions": [
            {"__typename": "SelectedOption", "name": n, "value": v} for n, v in row.options
        ],
        "inventoryItem": {
            "__typename": "InventoryItem",
            "id": f"gid://shopify/InventoryItem/{row.id}",
            "tracked": row.tracked,
            "requiresShipping": requires_shipping,
        },
    }


def _order_node(row: Row[Any]) -> dict[str, Any]:
    return {
        "__typename": "Order",
        "id": f"gid://shopify/Order/{row.id}",
        "name": f"#{row.number}",
        "createdAt": row.created_at,
        "cancelledAt": row.cancelled_at,
        "email": row.email,
        "tags": [tag.strip() for tag in row.tags.split(",") if tag.strip()],
        "sourceName": row.source_name,
        "sourceIdentifier": row.source_identifier,
        "displayFinancialStatus": row.financial_status,
        "displayFulfillmentStatus": "FULFILLED" if row.fulfillments else "UNFULFILLED",
        "totalPriceSet": _money_bag(row.total, row.currency),
        "lineItems": Paged(
            [
                {
                    "__typename": "LineItem",
                    "id": f"gid://shopify/LineItem/{line['id']}",
                    "sku": line["sku"],
                    "title": line["title"],
                    "quantity": line["quantity"],
                    "variant": {
                        "__typename": "ProductVariant",
                        "id": f"gid://shopify/ProductVariant/{line['variant_id']}",
                    },
                }
                for line in row.lines
            ]
        ),
    }


def _order_payload(row: Row[Any]) -> dict[str, Any]:
    """The REST-shaped order Shopify posts to orders/* webhooks."""
    return {
        "id": row.id,
        "admin_graphql_api_id": f"gid://shopify/Order/{row.id}",
        "name": f"#{row.number}",
        "order_number": row.number,
        "email": row.email,
        "created_at": row.created_at,
        "updated_at": row.updated_at,
        "cancelled_at": row.cancelled_at,
        "cancel_reason": row.cancel_reason,
        "currency": row.currency,
        "financial_status": row.financial_status.lower(),
        "fulfillment_status": "fulfilled" if row.fulfillments else None,
        "subtotal_price": _amount(row.subtotal, row.currency),
        "total_tax": _amount(row.tax, row.currency),
        "total_price": _amount(row.total, row.currency),
        "tags": row.tags,
        "source_name": row.source_name,
        "source_identifier": row.source_identifier,
        "line_items": [
            {
                "id": line["id"],
                "admin_graphql_api_id": f"gid://shopify/LineItem/{line['id']}",
                "variant_id": line["variant_id"],
                "product_id": line["product_id"],
                "sku": line["sku"],
                "title": line["title"],
                "quantity": line["quantity"],
                "price": _amount(line["price"], row.currency),
            }
            for line in row.lines
        ],
        "shipping_address": row.shipping_address,
        "fulfillments": row.fulfillments,
    }


def _product_payload(product: Row[Any], rows: Iterable[Row[Any]], currency: str) -> dict[str, Any]:
    """The REST-shaped product Shopify posts to products/* webhooks."""
    return {
        "id": product.id,
        "admin_graphql_api_id": f"gid://shopify/Product/{product.id}",
        "title": product.title,
        "handle": product.handle,
        "status": product.status.lower(),
        "product_type": product.product_type,
        "tags": ", ".join(product.tags),
        "updated_at": product.updated_at,
        "variants": [
            {
                "id": row.id,
                "admin_graphql_api_id": f"gid://shopify/ProductVariant/{row.id}",
                "product_id": product.id,
                "title": row.title,
                "price": _amount(row.price, currency),
                "sku": row.sku,
                "inventory_quantity": row.available,
                "inventory_policy": row.inventory_policy.lower(),
            }
            for row in rows
        ],
    }


# -- the app --------------------------------------------------------------------------------


class FailRequest(BaseModel):
    mode: FailureMode
    times: int | None = None


class WebhookSubscription(BaseModel):
    url: str


class FulfillRequest(BaseModel):
    carrier: str
    tracking_number: str
    tracking_url: str | None = None


class ProductUpdateRequest(BaseModel):
    price: int | None = None
    available: int | None = None
    title: str | None = None


def create_shopify_sandbox_app(sandbox: ShopifySandbox) -> FastAPI:
    """The emulated endpoint plus /_control levers. Every route is a plain `def` (thread pool),
    since the sandbox's database work is synchronous; webhooks go out as background tasks."""
    app = FastAPI(title="Shopify sandbox", description=__doc__)

    @app.exception_handler(RequestValidationError)
    async def bad_request(request: Request, exc: RequestValidationError) -> Response:
        if request.url.path.endswith("/graphql.json"):
            return JSONResponse(
                {"errors": {"query": "Required parameter missing or invalid"}}, status_code=400
            )
        return await request_validation_exception_handler(request, exc)

    @app.post("/{shop_domain}/admin/api/{version}/graphql.json")
    def graphql(
        shop_domain: str,
        version: str,
        background: BackgroundTasks,
        payload: Annotated[Any, Body()] = None,
        access_token: Annotated[str | None, Header(alias="X-Shopify-Access-Token")] = None,
    ) -> Response:
        answer = sandbox.handle_graphql(shop_domain, access_token, payload)
        if answer.webhooks_queued:
            background.add_task(sandbox.deliver_pending)
        return JSONResponse(answer.body, status_code=answer.status, headers=dict(answer.headers))

    @app.post("/_control/{shop_domain}/fail")
    def fail(shop_domain: str, request: FailRequest) -> dict[str, Any]:
        sandbox.fail(request.mode, request.times, shop_domain=shop_domain)
        return {"shop": shop_domain, "mode": request.mode, "times": request.times}

    @app.post("/_control/{shop_domain}/webhooks")
    def subscribe(shop_domain: str, request: WebhookSubscription) -> Any:
        try:
            sandbox.subscribe(shop_domain, request.url)
        except SandboxNotFound as exc:
            return _problem(404, str(exc))
        return {"shop": shop_domain, "url": request.url}

    @app.post("/_control/{shop_domain}/orders/{order_ref}/fulfill")
    def fulfill(
        shop_domain: str, order_ref: str, request: FulfillRequest, background: BackgroundTasks
    ) -> Any:
        try:
            gid = sandbox.resolve_order(shop_domain, order_ref)
            sandbox.fulfill_order(
                gid, request.carrier, request.tracking_number, request.tracking_url
            )
        except SandboxNotFound as exc:
            return _problem(404, str(exc))
        except ValueError as exc:
            return _problem(409, str(exc))
        background.add_task(sandbox.deliver_pending)
        return {"order": gid, "fulfilled": True}

    @app.post("/_control/{shop_domain}/products/{product_id}/update")
    def update_product(
        shop_domain: str,
        product_id: str,
        request: ProductUpdateRequest,
        background: BackgroundTasks,
    ) -> Any:
        gid = f"gid://shopify/Product/{_numeric(product_id, 'Product')}"
        try:
            sandbox.update_product(
                gid, price=request.price, available=request.available, title=request.title
            )
        except SandboxNotFound as exc:
            return _problem(404, str(exc))
        background.add_task(sandbox.deliver_pending)
        return {"product": gid, "updated": True}

    @app.get("/_control/{shop_domain}/orders")
    def list_orders(shop_domain: str) -> list[dict[str, Any]]:
        return [
            {
                "id": o.gid,
                "name": o.name,
                "reference": o.reference,
                "total": o.total,
                "currency": o.currency,
                "canceled": o.canceled,
                "fulfilled": o.fulfilled,
            }
            for o in sandbox.orders(shop_domain)
        ]

    return app


def _problem(status: int, message: str) -> JSONResponse:
    return JSONResponse({"errors": message}, status_code=status)

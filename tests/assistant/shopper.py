"""Test builders for the assistant: the whole platform in-process and a shopper who chats with it."""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

import httpx
from fastapi import FastAPI

from assistant.service import AssistantService
from assistant.settings import AssistantSettings
from marketplace.composition import create_platform_app
from tests.conftest import make_settings
from tests.support import AGENT_KEY, OPERATOR_KEY

BASE = "http://platform.test"
WEBHOOK_SECRET = "whsec_test_secret"
VISA = "4242 4242 4242 4242"
DECLINED = "4000 0000 0000 0002"
THREE_DS = "4000 0027 6000 3184"
ADDRESS = "Ada Lovelace, 1234 Chat Road, San Francisco, CA 94131"


def pay_with(number: str) -> str:
    return f"pay with {number} exp 12/30 cvc 123"


def assistant_settings(database_url: str, **overrides: Any) -> AssistantSettings:
    values: dict[str, Any] = {
        "assistant_database_url": database_url,
        "checkout_base_url": BASE,
        "agent_api_key": AGENT_KEY,
        "operator_api_key": OPERATOR_KEY,
        "order_webhook_secret": WEBHOOK_SECRET,
        "catalog_refresh_seconds": 0,
        "openai_api_key": None,
    }
    values.update(overrides)
    return AssistantSettings(**values)


def signed(body: bytes, secret: str = WEBHOOK_SECRET, at: int | None = None) -> str:
    timestamp = int(time.time()) if at is None else at
    digest = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256)
    return f"t={timestamp},v1={digest.hexdigest()}"


@dataclass
class Platform:
    """Checkout with the assistant mounted at /assistant, as the platform serves them."""

    app: FastAPI
    service: AssistantService
    http: httpx.AsyncClient
    database_url: str

    async def deliver_order_events(self) -> int:
        """Run checkout's outbox once: order events go to the assistant's webhook, signed."""
        delivered: int = await self.app.state.webhooks.run_once()
        return delivered

    async def order(self, order_id: str) -> dict[str, Any]:
        response = await self.http.get(
            f"/orders/{order_id}",
            headers={"Authorization": f"Bearer {AGENT_KEY}", "API-Version": "2026-04-17"},
        )
        assert response.status_code == 200, response.text
        body: dict[str, Any] = response.json()
        return body

    async def ship(self, order_id: str) -> None:
        shipped = await self.http.post(
            f"/orders/{order_id}/fulfillments",
            headers={"Authorization": f"Bearer {OPERATOR_KEY}"},
            json={"carrier": "USPS", "tracking_number": "9400111899223"},
        )
        assert shipped.status_code == 201, shipped.text

    def shopper(self) -> Shopper:
        return Shopper(self.http)


@asynccontextmanager
async def platform(
    database_url: str,
    *,
    service: AssistantService | None = None,
    **settings: Any,
) -> AsyncIterator[Platform]:
    service = service or AssistantService(assistant_settings(database_url, **settings))
    # The production composition: checkout, its sandboxes and the assistant in one app.
    app = create_platform_app(
        make_settings(database_url, order_webhook_secret=WEBHOOK_SECRET), assistant=service
    )
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=BASE) as http,
    ):
        yield Platform(app, service, http, database_url)


@dataclass
class Shopper:
    """Someone chatting with the assistant over its HTTP API; keeps every reply it got."""

    http: httpx.AsyncClient
    conversation_id: str = ""
    token: str = ""
    replies: list[dict[str, Any]] = field(default_factory=list)

    async def start(self) -> Shopper:
        created = await self.http.post("/assistant/conversations")
        assert created.status_code == 201, created.text
        self.conversation_id = created.json()["id"]
        self.token = created.json()["token"]
        return self

    @property
    def auth(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}

    async def send(
        self, text: str = "", *, key: str | None = None, **fields: Any
    ) -> httpx.Response:
        headers = {**self.auth, **({"Idempotency-Key": key} if key else {})}
        return await self.http.post(
            f"/assistant/conversations/{self.conversation_id}/messages",
            json={"text": text, **fields},
            headers=headers,
        )

    async def say(self, text: str = "", *, key: str | None = None, **fields: Any) -> dict[str, Any]:
        response = await self.send(text, key=key, **fields)
        assert response.status_code == 200, response.text
        body: dict[str, Any] = response.json()
        self.replies.append(body)
        return body

    async def history(self) -> dict[str, Any]:
        response = await self.http.get(
            f"/assistant/conversations/{self.conversation_id}", headers=self.auth
        )
        assert response.status_code == 200, response.text
        body: dict[str, Any] = response.json()
        return body


def text_of(turn: dict[str, Any]) -> str:
    return str(turn["reply"]["text"])


def part(turn: dict[str, Any], kind: str) -> dict[str, Any] | None:
    return next((p for p in turn["reply"]["parts"] if p["type"] == kind), None)


def cards(turn: dict[str, Any]) -> list[dict[str, Any]]:
    found = part(turn, "product_cards")
    return list(found["cards"]) if found else []


def orders(turn: dict[str, Any]) -> list[dict[str, Any]]:
    found = part(turn, "order")
    return list(found["orders"]) if found else []


def dump(turn: dict[str, Any]) -> str:
    return json.dumps(turn["reply"], indent=1)


def checkout_rows(database_url: str, sql: str, **params: Any) -> list[tuple[Any, ...]]:
    """Read checkout's own tables (to prove what happened there, not to drive it)."""
    from sqlalchemy import create_engine, text

    engine = create_engine(database_url)
    try:
        with engine.begin() as connection:
            result = connection.execute(text(sql), params)
            return [tuple(row) for row in result.all()] if result.returns_rows else []
    finally:
        engine.dispose()


def order_count(database_url: str) -> int:
    return int(checkout_rows(database_url, "SELECT count(*) FROM orders")[0][0])

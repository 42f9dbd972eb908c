"""create_app(settings) -> FastAPI: wires the database, providers, routers and background jobs."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from datetime import datetime

import httpx
from fastapi import FastAPI
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from checkout.api import problems
from checkout.api.acp import delegate_payment, discovery, sessions
from checkout.api.catalog import router as catalog_router
from checkout.api.orders import router as orders_router
from checkout.api.services import DEFAULT_AGENT_ID, Services, utc_now
from checkout.jobs import maintenance
from checkout.jobs.order_webhooks import OrderWebhookSender
from checkout.payments.provider import PaymentProvider
from checkout.payments.sandbox import SandboxPaymentProvider
from checkout.settings import Settings
from checkout.store.db import Database, create_database_engine, prepare_schema
from checkout.store.seeds import load_seeds

log = logging.getLogger("checkout")


class RequestIdEcho:
    """Echo the caller's Request-Id on every response (plain ASGI: no per-request task overhead)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request_id = next((v for k, v in scope["headers"] if k == b"request-id"), None)
        if request_id is None:
            await self.app(scope, receive, send)
            return

        async def send_with_id(message: Message) -> None:
            if message["type"] == "http.response.start":
                message.setdefault("headers", [])
                message["headers"] = [*message["headers"], (b"request-id", request_id[:200])]
            await send(message)

        await self.app(scope, receive, send_with_id)


def prepare_database(settings: Settings, database: Database, services: Services) -> None:
    """Migrate, load the demo catalog into an empty database, and register the agent key."""
    with prepare_schema(database):
        if settings.load_seeds:
            loaded = load_seeds(
                database, settings.seeds_dir, commission_bps=settings.commission_bps
            )
            if loaded:
                log.info("seeds.loaded merchants=%d dir=%s", loaded, settings.seeds_dir)
        services.agent_keys.register(
            DEFAULT_AGENT_ID, "Default agent", settings.agent_api_key, services.clock()
        )


def create_app(
    settings: Settings | None = None,
    *,
    provider: PaymentProvider | None = None,
    clock: Callable[[], datetime] = utc_now,
    webhook_transport: httpx.AsyncBaseTransport | None = None,
) -> FastAPI:
    settings = settings or Settings()
    database = Database(create_database_engine(settings.database_url))
    services = Services.build(settings, database, provider or SandboxPaymentProvider())
    services.clock = clock

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        prepare_database(settings, database, services)
        stop = asyncio.Event()
        tasks: list[asyncio.Task[None]] = []
        async with httpx.AsyncClient(
            timeout=settings.webhook_timeout_seconds, transport=webhook_transport
        ) as client:
            app.state.webhooks = OrderWebhookSender(
                database,
                client,
                url=settings.order_webhook_url,
                secret=settings.order_webhook_secret,
                max_attempts=settings.webhook_max_attempts,
                clock=clock,
            )
            if settings.background_jobs:
                tasks.append(
                    asyncio.create_task(
                        app.state.webhooks.run_forever(stop, settings.outbox_poll_seconds)
                    )
                )
                tasks.append(
                    asyncio.create_task(
                        maintenance.run_forever(database, services.idempotency, clock, stop)
                    )
                )
            try:
                yield
            finally:
                stop.set()
                for task in tasks:
                    with contextlib.suppress(asyncio.CancelledError):
                        await task
        database.dispose()

    app = FastAPI(
        title="Agentic Checkout",
        version="0.1.0",
        lifespan=lifespan,
        description="An ACP 2026-04-17 checkout platform: sessions, delegated payment, "
        "orders and order webhooks.",
    )
    app.state.services = services
    problems.install(app)
    for router in (
        sessions.router,
        delegate_payment.router,
        discovery.router,
        catalog_router,
        orders_router,
    ):
        app.include_router(router)

    @app.get("/healthz", tags=["health"], operation_id="health")
    def health() -> dict[str, str]:
        return {"status": "ok"}

    app.add_middleware(RequestIdEcho)
    return app

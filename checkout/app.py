"""create_app(settings) -> FastAPI: wires the database, providers, routers and background jobs."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

import anyio
import httpx
import stripe
from fastapi import FastAPI

from checkout.api import problems
from checkout.api.acp import delegate_payment, discovery, sessions
from checkout.api.catalog import router as catalog_router
from checkout.api.commission import router as commission_router
from checkout.api.ledger import router as ledger_router
from checkout.api.limits import LimitedRequests, RequestLimits
from checkout.api.merchant_orders import router as merchant_orders_router
from checkout.api.merchants import router as merchants_router
from checkout.api.orders import router as orders_router
from checkout.api.platform_webhooks import router as platform_webhooks_router
from checkout.api.refunds import router as refunds_router
from checkout.api.services import DEFAULT_AGENT_ID, Services, utc_now
from checkout.api.stripe_webhooks import router as stripe_webhooks_router
from checkout.domain.fees import FeeSchedule
from checkout.jobs import maintenance, purchases
from checkout.jobs.order_webhooks import OrderWebhookSender
from checkout.logs import RequestIdEcho
from checkout.payments.provider import Acquirer, ConnectedAccounts, PaymentProvider
from checkout.payments.sandbox import SandboxConnectedAccounts, SandboxPaymentProvider
from checkout.payments.stripe import StripePaymentProvider
from checkout.payments.stripe_accounts import StripeConnectedAccounts
from checkout.payments.stripe_sdk import stripe_client
from checkout.platforms import MerchantPlatforms
from checkout.sandboxes import Sandboxes, onboard_demo_merchants
from checkout.settings import Settings
from checkout.store.db import Database, create_database_engine, startup_lock, upgrade_schema
from checkout.store.vault import CredentialVault
from checkout.ucp.app import install_business_profile, install_ucp
from checkout.ucp.signing import SigningKey
from checkout.ucp.webhooks import OrderEventSender
from checkout.web import pages as web_pages
from datastore.storable_text import RefuseUnstorableText

log = logging.getLogger("checkout")


class Companion(Protocol):
    """Something served in the same process that starts after checkout is ready to answer."""

    async def start(self) -> None: ...

    async def stop(self) -> None: ...


def prepare_database(
    settings: Settings, database: Database, services: Services, sandboxes: Sandboxes | None
) -> None:
    """Migrate, make the sandboxes' own tables, and register the agent key."""
    upgrade_schema(database.engine.url.render_as_string(hide_password=False))
    if sandboxes is not None:
        sandboxes.prepare()
    services.agent_keys.register(
        DEFAULT_AGENT_ID, "Default agent", settings.agent_api_key, services.clock()
    )


async def start_once(
    settings: Settings, database: Database, services: Services, sandboxes: Sandboxes | None
) -> None:
    """Start-up writes, one worker (or instance) at a time: the first does them, the others
    wait for it and find the schema at head and the demo shops onboarded."""
    lock = startup_lock(database)
    await anyio.to_thread.run_sync(lock.acquire)
    try:
        await anyio.to_thread.run_sync(prepare_database, settings, database, services, sandboxes)
        if sandboxes is not None and settings.load_seeds:
            await onboard_demo_merchants(services, sandboxes, settings.seeds_dir)
    finally:
        await anyio.to_thread.run_sync(lock.release)


@dataclass(frozen=True, slots=True)
class Payments:
    provider: PaymentProvider
    accounts: ConnectedAccounts
    http: stripe.HTTPXClient | None = None


def stripe_connection(settings: Settings) -> tuple[stripe.StripeClient, stripe.HTTPXClient]:
    """A Stripe client as the settings describe it, and its HTTP client to close when done."""
    assert settings.stripe_secret_key is not None
    http = stripe.HTTPXClient(timeout=settings.stripe_timeout_seconds, allow_sync_methods=False)
    client = stripe_client(
        settings.stripe_secret_key,
        api_base=settings.stripe_api_base,
        max_network_retries=settings.stripe_max_network_retries,
        timeout_seconds=settings.stripe_timeout_seconds,
        http_client=http,
    )
    return client, http


def _payments(settings: Settings) -> Payments:
    """The provider the settings name; Stripe's client is built here and closed at shutdown."""
    if settings.payment_provider != "stripe":
        fees = FeeSchedule(settings.sandbox_fee_percent_bps, settings.sandbox_fee_fixed)
        return Payments(SandboxPaymentProvider(fees), SandboxConnectedAccounts())
    assert settings.stripe_secret_key is not None  # the settings refuse stripe without a key
    client, http = stripe_connection(settings)
    return Payments(
        StripePaymentProvider(
            client,
            spt_api_version=settings.stripe_spt_api_version,
            accept_test_payment_methods=settings.stripe_secret_key.startswith("sk_test_"),
            acquirer=Acquirer(
                settings.stripe_3ds_acquirer_bin, settings.stripe_3ds_acquirer_merchant_id
            )
            if settings.stripe_3ds_acquirer_bin and settings.stripe_3ds_acquirer_merchant_id
            else None,
        ),
        StripeConnectedAccounts(client),
        http,
    )


def create_app(
    settings: Settings | None = None,
    *,
    provider: PaymentProvider | None = None,
    accounts: ConnectedAccounts | None = None,
    clock: Callable[[], datetime] = utc_now,
    webhook_transport: httpx.AsyncBaseTransport | None = None,
    platform_transport: httpx.AsyncBaseTransport | None = None,
    companions: Sequence[Companion] = (),
) -> FastAPI:
    """The checkout platform. Clients are created here and closed by the lifespan; nothing
    connects anywhere until the app starts."""
    settings = settings or Settings()
    database = Database(create_database_engine(settings.database_url))
    vault = CredentialVault(settings.credentials_key)
    platform_http = httpx.AsyncClient(
        timeout=settings.platform_timeout_seconds, transport=platform_transport
    )
    # The emulators share the database but not our transactions; their writes take SQLite's
    # lock up front (merchant_adapters.sandbox.transactions) so they wait their turn.
    sandboxes = (
        Sandboxes(database.engine, lever_key=settings.operator_api_key)
        if settings.sandboxes_on
        else None
    )
    platforms = MerchantPlatforms(
        platform_http,
        vault,
        sandbox_http=sandboxes.client() if sandboxes else None,
        max_retries=settings.platform_max_retries,
        max_retry_wait=settings.platform_max_retry_wait_seconds,
    )
    payments = _payments(settings)
    ucp_http = httpx.AsyncClient(timeout=settings.webhook_timeout_seconds)
    ucp_key = SigningKey.derived_from(settings.credentials_key)
    services = Services.build(
        settings,
        database,
        provider or payments.provider,
        platforms,
        accounts or payments.accounts,
        clock,
    )

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        await start_once(settings, database, services, sandboxes)
        if sandboxes is None:
            log.info("sandbox.off the platform emulators are not served (MERCHANT_SANDBOX)")
        else:
            log.info(
                "sandbox.mounted path=/sandbox platforms=etsy,shopify levers=operator_key "
                "platform_api=in_process_only"
            )
        for companion in companions:  # e.g. the assistant: started once checkout can answer
            await companion.start()
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
                    asyncio.create_task(ucp_events.run_forever(stop, settings.outbox_poll_seconds))
                )
                tasks.append(
                    asyncio.create_task(
                        maintenance.run_forever(database, services.idempotency, clock, stop)
                    )
                )
                tasks.append(
                    asyncio.create_task(
                        purchases.run_forever(
                            services.completion, services.refunding, services.stripe_inbox, stop
                        )
                    )
                )
            try:
                yield
            finally:
                stop.set()
                for task in tasks:
                    with contextlib.suppress(asyncio.CancelledError):
                        await task
                for companion in reversed(companions):
                    await companion.stop()
                if sandboxes is not None:
                    await sandboxes.stop()
                await platform_http.aclose()
                await ucp_http.aclose()
                if payments.http is not None:
                    await payments.http.close_async()  # type: ignore[no-untyped-call]
        database.dispose()

    app = FastAPI(
        title="Agentic Checkout",
        version="0.1.0",
        lifespan=lifespan,
        description="An ACP 2026-04-17 checkout platform: sessions, delegated payment, "
        "orders and order webhooks.",
        # Served offline by checkout.web instead (Swagger UI's files come from a package).
        docs_url=None,
        redoc_url=None,
    )
    app.state.services = services
    app.state.sandboxes = sandboxes
    problems.install(app)
    ucp_events = OrderEventSender(
        database,
        ucp_http,
        ucp_key,
        business_id=settings.ucp_merchant_id or "",
        max_attempts=settings.webhook_max_attempts,
        clock=clock,
    )
    install_ucp(app, services, ucp_events, ucp_key)  # first: see its docstring
    for router in (
        sessions.router,
        delegate_payment.router,
        discovery.router,
        catalog_router,
        orders_router,
        merchants_router,
        platform_webhooks_router,
        refunds_router,
        commission_router,
        ledger_router,
        stripe_webhooks_router,
        merchant_orders_router,
    ):
        app.include_router(router)
    install_business_profile(app)
    web_pages.install(app)
    if sandboxes is not None:
        # The emulators' levers, served for people and demos; their platform APIs stay in-process.
        app.mount("/sandbox", sandboxes.levers)
        sandboxes.bind(app)

    @app.get("/healthz", tags=["health"], operation_id="health")
    def health() -> dict[str, str]:
        return {"status": "ok"}

    app.add_middleware(RefuseUnstorableText, code_for=problems.unstorable_text_code)
    app.add_middleware(
        LimitedRequests,
        limits=RequestLimits(
            body_bytes=settings.max_body_bytes,
            feed_body_bytes=settings.max_feed_body_bytes,
            json_depth=settings.max_json_depth,
        ),
    )
    app.add_middleware(RequestIdEcho)
    return app

"""The in-process platform sandboxes, and the demo merchants onboarded through them on first start.

The emulators are served two ways: to the adapters through an ASGI transport (the seam stays
HTTP, no network), and, their levers only (operator key), on the platform's own server under
/sandbox for people and demos. Their
webhooks come back to the platform the same way, so the whole loop runs in one process.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path

import anyio
import httpx
from sqlalchemy import Engine
from starlette.applications import Starlette
from starlette.responses import JSONResponse
from starlette.routing import Mount
from starlette.types import ASGIApp, Receive, Scope, Send

from checkout.api.problems import error_response
from checkout.api.services import Services
from checkout.domain.errors import InvalidRequest, NotFound
from checkout.flows.onboard_merchant import MerchantApplication, onboard_merchant
from checkout.flows.payment_accounts import open_payment_account
from checkout.platforms import SANDBOX_BASE_URL
from checkout.store.merchants import Merchants
from merchant_adapters.sandbox.etsy import EtsySandbox, create_etsy_sandbox_app
from merchant_adapters.sandbox.shopify import ShopifySandbox, create_shopify_sandbox_app

log = logging.getLogger("checkout.sandboxes")
CALLBACK_BASE_URL = "http://checkout.internal"


class _UntilReady:
    """An ASGI app that answers 503 until the emulators exist (they need the database first)."""

    def __init__(self) -> None:
        self.target: ASGIApp | None = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if self.target is None:
            await JSONResponse({"error": "sandbox starting"}, status_code=503)(scope, receive, send)
            return
        await self.target(scope, receive, send)


class _LeversOnly:
    """The sandboxes as served to people: their levers only (which take the operator key).

    The emulated platform APIs answer demo credentials published in this repository, so they
    are reached in-process by the adapters and never from outside.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and "_control" not in scope["path"].split("/"):
            refusal = NotFound("Only the sandboxes' levers are served here.")
            await error_response(refusal, scope["path"])(scope, receive, send)
            return
        await self.app(scope, receive, send)


class Sandboxes:
    def __init__(self, engine: Engine, *, lever_key: str) -> None:
        self.engine = engine
        self.lever_key = lever_key
        self.app = _UntilReady()
        self.levers = _LeversOnly(self.app)
        self.etsy: EtsySandbox | None = None
        self.shopify: ShopifySandbox | None = None
        self._callback: httpx.AsyncClient | None = None
        self._clients: list[httpx.AsyncClient] = []

    def client(self) -> httpx.AsyncClient:
        """How adapters reach the emulators: HTTP semantics over an in-process transport."""
        client = httpx.AsyncClient(
            transport=httpx.ASGITransport(app=self.app), base_url=SANDBOX_BASE_URL, timeout=30
        )
        self._clients.append(client)
        return client

    def bind(self, platform_app: ASGIApp) -> None:
        """Where the emulators' webhooks go: back into the platform, in-process."""
        self._callback = httpx.AsyncClient(
            transport=httpx.ASGITransport(app=platform_app), base_url=CALLBACK_BASE_URL, timeout=30
        )
        self._clients.append(self._callback)

    def prepare(self) -> None:
        """Create the emulators (and their own tables); blocking, run before serving."""
        self.etsy = EtsySandbox(self.engine, webhook_client=self._callback)
        self.shopify = ShopifySandbox(self.engine, webhook_client=self._callback)
        self.app.target = Starlette(
            routes=[
                Mount("/etsy", app=create_etsy_sandbox_app(self.etsy, lever_key=self.lever_key)),
                Mount(
                    "/shopify",
                    app=create_shopify_sandbox_app(self.shopify, lever_key=self.lever_key),
                ),
            ]
        )

    async def stop(self) -> None:
        for client in self._clients:
            await client.aclose()


async def onboard_demo_merchants(
    services: Services, sandboxes: Sandboxes, seeds_dir: Path
) -> list[str]:
    """Load each seed shop into its platform's sandbox and onboard it through the adapters.

    This is the only way the demo catalog reaches the platform: the same onboarding and sync a
    real merchant goes through. Already-onboarded shops are left as they are.
    """
    assert sandboxes.etsy is not None and sandboxes.shopify is not None
    onboarded = []
    for path in sorted(seeds_dir.glob("*.json")):
        document = json.loads(path.read_text(encoding="utf-8"))
        merchant = document["merchant"]
        if merchant["platform"] == "etsy":
            shop_id = str(await anyio.to_thread.run_sync(sandboxes.etsy.load_seed, document))
            credentials = {
                "api_key": EtsySandbox.API_KEY,
                "shared_secret": EtsySandbox.SHARED_SECRET,
                "access_token": EtsySandbox.ACCESS_TOKEN,
                "webhook_secret": EtsySandbox.WEBHOOK_SECRET,
            }
            base_url = f"{SANDBOX_BASE_URL}/etsy/v3/application"
            callback = f"{CALLBACK_BASE_URL}/webhooks/platforms/{merchant['id']}"
            await anyio.to_thread.run_sync(sandboxes.etsy.subscribe, int(shop_id), callback)
        elif merchant["platform"] == "shopify":
            shop_id = await anyio.to_thread.run_sync(sandboxes.shopify.load_seed, document)
            credentials = {
                "access_token": ShopifySandbox.DEMO_ACCESS_TOKEN,
                "webhook_secret": ShopifySandbox.DEMO_WEBHOOK_SECRET,
            }
            base_url = f"{SANDBOX_BASE_URL}/shopify/{shop_id}"
            callback = f"{CALLBACK_BASE_URL}/webhooks/platforms/{merchant['id']}"
            await anyio.to_thread.run_sync(sandboxes.shopify.subscribe, shop_id, callback)
        else:
            continue

        def exists(merchant_id: str = merchant["id"]) -> bool:
            with services.database.read() as db:
                return Merchants(db).get(merchant_id) is not None

        if await anyio.to_thread.run_sync(exists):
            continue
        application = MerchantApplication(
            merchant_id=merchant["id"],
            name=merchant["name"],
            platform=merchant["platform"],
            shop_id=shop_id,
            credentials=credentials,
            commission_bps=services.settings.commission_bps,
            country=merchant.get("country", "US"),
            support_email=merchant.get("support_email"),
            links=merchant.get("links", {}),
            shipping=merchant["shipping"],
            api_base_url=base_url,
        )
        try:
            _, counts = await onboard_merchant(
                services.database, services.platforms, application, clock=services.clock
            )
        except InvalidRequest as exc:
            if exc.code != "merchant_exists":  # another worker onboarded it a moment ago
                raise
            continue
        await open_payment_account(services.database, services.accounts, merchant["id"])
        onboarded.append(merchant["id"])
        log.info(
            "sandbox.merchant_onboarded merchant=%s platform=%s products=%d",
            merchant["id"],
            merchant["platform"],
            counts.created,
        )
    return onboarded

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
The `/_control` routes are demo levers: given a `lever_key`, they need it as a bearer key.
Talk to it with `merchant_adapters.shopify.ShopifyAdapter` (base_url = f"{mount}/{shop_domain}").
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, BackgroundTasks, Body, Depends, FastAPI, Header, Request
from fastapi.exception_handlers import request_validation_exception_handler
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, Field

from datastore import run_blocking
from merchant_adapters.sandbox.levers import lever_guard
from merchant_adapters.sandbox.shopify.sandbox import ShopifySandbox
from merchant_adapters.sandbox.shopify.schemas import FailureMode, SandboxNotFound
from merchant_adapters.sandbox.shopify.tables import numeric_id


class FailRequest(BaseModel):
    mode: FailureMode
    times: int | None = None


class WebhookSubscription(BaseModel):
    url: str


class FulfillRequest(BaseModel):
    carrier: str
    tracking_number: str
    tracking_url: str | None = None


class SyntheticShopRequest(BaseModel):
    products: int = Field(default=12, ge=1, le=1000)
    variants_per_product: int = Field(default=2, ge=1, le=6)
    seed: int = 0


class ProductUpdateRequest(BaseModel):
    price: int | None = None
    available: int | None = None
    title: str | None = None


def create_shopify_sandbox_app(sandbox: ShopifySandbox, *, lever_key: str | None = None) -> FastAPI:
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
    async def graphql(
        shop_domain: str,
        version: str,
        background: BackgroundTasks,
        payload: Annotated[Any, Body()] = None,
        access_token: Annotated[str | None, Header(alias="X-Shopify-Access-Token")] = None,
    ) -> Response:
        answer = await run_blocking(
            sandbox.engine, sandbox.handle_graphql, shop_domain, access_token, payload
        )
        if answer.webhooks_queued:
            background.add_task(sandbox.deliver_pending)
        return JSONResponse(answer.body, status_code=answer.status, headers=dict(answer.headers))

    control = APIRouter(prefix="/_control", dependencies=[Depends(lever_guard(lever_key))])

    @control.post("/{shop_domain}/fail")
    def fail(shop_domain: str, request: FailRequest) -> dict[str, Any]:
        sandbox.fail(request.mode, request.times, shop_domain=shop_domain)
        return {"shop": shop_domain, "mode": request.mode, "times": request.times}

    @control.post("/{shop_domain}/synthetic")
    def synthetic_shop(shop_domain: str, request: SyntheticShopRequest) -> Any:
        """Open a shop here (or add to one) with generated products, ready to be onboarded."""
        if not shop_domain.endswith(".myshopify.com"):
            return _problem(400, "A Shopify shop domain ends in .myshopify.com.")
        sandbox.generate_synthetic(
            shop_domain, request.products, request.variants_per_product, request.seed
        )
        return {
            "shop": shop_domain,
            "products": request.products,
            "credentials": {
                "access_token": ShopifySandbox.DEMO_ACCESS_TOKEN,
                "webhook_secret": ShopifySandbox.DEMO_WEBHOOK_SECRET,
            },
            "api_base_url": f"http://sandbox.internal/shopify/{shop_domain}",
        }

    @control.post("/{shop_domain}/webhooks")
    def subscribe(shop_domain: str, request: WebhookSubscription) -> Any:
        try:
            sandbox.subscribe(shop_domain, request.url)
        except SandboxNotFound as exc:
            return _problem(404, str(exc))
        return {"shop": shop_domain, "url": request.url}

    @control.post("/{shop_domain}/orders/{order_ref}/fulfill")
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

    @control.post("/{shop_domain}/products/{product_id}/update")
    def update_product(
        shop_domain: str,
        product_id: str,
        request: ProductUpdateRequest,
        background: BackgroundTasks,
    ) -> Any:
        gid = f"gid://shopify/Product/{numeric_id(product_id, 'Product')}"
        try:
            sandbox.update_product(
                gid, price=request.price, available=request.available, title=request.title
            )
        except SandboxNotFound as exc:
            return _problem(404, str(exc))
        background.add_task(sandbox.deliver_pending)
        return {"product": gid, "updated": True}

    @control.get("/{shop_domain}/orders")
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

    app.include_router(control)
    return app


def _problem(status: int, message: str) -> JSONResponse:
    return JSONResponse({"errors": message}, status_code=status)

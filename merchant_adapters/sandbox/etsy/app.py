"""The Etsy sandbox's FastAPI app: the Open API v3 routes, the /x-sandbox/ orders and the levers."""

from __future__ import annotations

from collections.abc import Sequence

from fastapi import APIRouter, Depends, FastAPI, Query, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse

from datastore import run_blocking
from merchant_adapters.sandbox.etsy.sandbox import EtsySandbox
from merchant_adapters.sandbox.etsy.schemas import (
    CancelRequest,
    EtsyApiError,
    FailRequest,
    Json,
    ListingUpdate,
    OrderRequest,
    PutInventory,
    ShipRequest,
    WebhookDelivery,
    WebhookSubscription,
)
from merchant_adapters.sandbox.levers import lever_guard


def _names(values: Sequence[str]) -> list[str]:
    """Query arrays arrive as `a,b` or as repeated parameters; accept both."""
    return [part.strip() for value in values for part in value.split(",") if part.strip()]


def _delivered(delivery: WebhookDelivery | None) -> Json:
    if delivery is None:
        return {"webhook": None}
    return {"webhook": {"url": delivery.url, "status_code": delivery.status_code}}


def create_etsy_sandbox_app(sandbox: EtsySandbox, *, lever_key: str | None = None) -> FastAPI:
    """The emulator as an ASGI app serving /v3/application/...; mount it at /sandbox/etsy.

    Endpoints that touch the database run it through `run_blocking` (inline on SQLite, on a
    worker thread on PostgreSQL).
    The /x-sandbox/_control/ levers need `lever_key` as a bearer key when one is given.
    """
    app = FastAPI(title="Etsy sandbox", openapi_url=None, docs_url=None, redoc_url=None)

    @app.exception_handler(EtsyApiError)
    async def etsy_error(request: Request, exc: EtsyApiError) -> JSONResponse:
        return JSONResponse(exc.body, status_code=exc.status, headers=exc.headers)

    @app.exception_handler(RequestValidationError)
    async def bad_input(request: Request, exc: RequestValidationError) -> JSONResponse:
        problems = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors())
        return JSONResponse({"error": f"Invalid input: {problems}"}, status_code=400)

    async def admitted(request: Request, response: Response) -> None:
        path, root = request.url.path, request.scope.get("root_path", "")
        path = path[len(root) :] if root and path.startswith(root) else path
        response.headers.update(sandbox.admit(path, request.headers))

    api = APIRouter(prefix="/v3/application", dependencies=[Depends(admitted)])

    @api.get("/openapi-ping")
    def ping() -> Json:
        return {"application_id": 1}

    @api.get("/shops/{shop_id}")
    async def get_shop(shop_id: int) -> Json:
        return await run_blocking(sandbox.engine, sandbox.shop_json, shop_id)

    @api.get("/shops/{shop_id}/listings")
    async def get_listings_by_shop(
        shop_id: int,
        state: str = "active",
        limit: int = Query(25, ge=1, le=100),
        offset: int = Query(0, ge=0),
        includes: list[str] = Query(default=[]),
    ) -> Json:
        wanted = {name.lower() for name in _names(includes)}
        return await run_blocking(
            sandbox.engine,
            lambda: sandbox.listings_page(
                shop_id, state=state, limit=limit, offset=offset, includes=wanted
            ),
        )

    @api.get("/listings/batch/inventory")  # before /listings/{listing_id}, which would match it
    async def get_listings_inventory_by_listing_ids(listing_ids: list[str] = Query(...)) -> Json:
        ids = _names(listing_ids)
        if not (0 < len(ids) <= 100 and all(i.isdigit() for i in ids)):
            raise EtsyApiError(400, "listing_ids must be 1 to 100 listing ids")
        return await run_blocking(sandbox.engine, sandbox.inventories_json, [int(i) for i in ids])

    @api.get("/listings/{listing_id}")
    async def get_listing(listing_id: int, includes: list[str] = Query(default=[])) -> Json:
        wanted = {name.lower() for name in _names(includes)}
        return await run_blocking(sandbox.engine, sandbox.listing_json, listing_id, wanted)

    @api.get("/listings/{listing_id}/inventory")
    async def get_listing_inventory(listing_id: int) -> Json:
        return await run_blocking(sandbox.engine, sandbox.inventory_json, listing_id)

    @api.put("/listings/{listing_id}/inventory")
    async def update_listing_inventory(listing_id: int, body: PutInventory) -> Json:
        return await run_blocking(sandbox.engine, sandbox.replace_inventory, listing_id, body)

    @api.post("/x-sandbox/shops/{shop_id}/orders")
    async def create_order(shop_id: int, body: OrderRequest, response: Response) -> Json:
        status, order = await run_blocking(sandbox.engine, sandbox.create_order, shop_id, body)
        response.status_code = status
        return order

    @api.get("/x-sandbox/shops/{shop_id}/orders")
    async def find_orders(shop_id: int, reference: str) -> Json:
        return await run_blocking(sandbox.engine, sandbox.find_orders, shop_id, reference)

    @api.post("/x-sandbox/shops/{shop_id}/orders/{order_id}/cancel")
    async def cancel_order(shop_id: int, order_id: int, body: CancelRequest | None = None) -> Json:
        restock = body is None or body.restock
        return await run_blocking(
            sandbox.engine, lambda: sandbox.cancel_order(shop_id, order_id, restock=restock)
        )

    control = APIRouter(
        prefix="/v3/application/x-sandbox/_control",
        dependencies=[Depends(lever_guard(lever_key))],
    )

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

"""Serves the pages, their static files, product placeholder images and offline API docs.

Everything is plain HTML, CSS and JavaScript shipped as package data: no CDN and no build step.
The pages talk to the same public HTTP API as any other client, with the keys the person types.
"""

from __future__ import annotations

import hashlib
from html import escape
from importlib.resources import files
from pathlib import Path
from typing import Any

from fastapi import APIRouter, FastAPI, Query
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import FileResponse, HTMLResponse, Response
from fastapi.staticfiles import StaticFiles

from checkout.api.documents import document_responses

STATIC = Path(str(files("checkout.web") / "static"))
PAGES = {"/": "shop.html", "/merchant": "merchant.html", "/operator": "operator.html"}
SECURITY_SCHEMES = {
    "agentKey": {
        "type": "http",
        "scheme": "bearer",
        "description": "An agent's API key (AGENT_API_KEY): the ACP routes and orders.",
    },
    "operatorKey": {
        "type": "http",
        "scheme": "bearer",
        "description": "The platform operator's key (OPERATOR_API_KEY): merchants, money, levers.",
    },
    "merchantKey": {
        "type": "http",
        "scheme": "bearer",
        "description": "A merchant's own key (from onboarding): its orders, ledger and statement.",
    },
}

router = APIRouter(include_in_schema=False)


def _page(name: str) -> FileResponse:
    return FileResponse(
        STATIC / name, media_type="text/html", headers={"Cache-Control": "no-cache"}
    )


@router.get("/")
def shop_page() -> FileResponse:
    return _page(PAGES["/"])


@router.get("/merchant")
def merchant_page() -> FileResponse:
    return _page(PAGES["/merchant"])


@router.get("/operator")
def operator_page() -> FileResponse:
    return _page(PAGES["/operator"])


def placeholder_svg(label: str, key: str) -> str:
    """A product picture drawn from its name: a tinted tile with its initials, the same every
    time for the same product, so the shop looks right with no network and no image files."""
    digest = hashlib.sha256(key.encode()).digest()
    hue = int.from_bytes(digest[:2], "big") % 360
    words = [w for w in label.split() if w[:1].isalnum()]
    initials = "".join(w[0].upper() for w in words[:2]) or "?"
    title = escape(label[:80])
    return (
        '<svg xmlns="http://www.w3.org/2000/svg" width="320" height="240" viewBox="0 0 320 240" '
        f'role="img" aria-label="{title}"><title>{title}</title>'
        f'<rect width="320" height="240" fill="hsl({hue},55%,88%)"/>'
        f'<circle cx="160" cy="108" r="62" fill="hsl({hue},45%,62%)"/>'
        f'<text x="160" y="128" font-family="sans-serif" font-size="52" font-weight="700" '
        f'text-anchor="middle" fill="#fff">{escape(initials)}</text>'
        f'<text x="160" y="212" font-family="sans-serif" font-size="16" text-anchor="middle" '
        f'fill="hsl({hue},40%,25%)">{escape(label[:34])}</text></svg>'
    )


@router.get("/web/images/placeholder.svg")
def product_image(
    label: str = Query(default="Product", max_length=200),
    key: str = Query(default="", max_length=200),
) -> Response:
    return Response(
        placeholder_svg(label, key or label),
        media_type="image/svg+xml",
        headers={"Cache-Control": "public, max-age=86400"},
    )


def _docs_assets() -> Path:
    import swagger_ui_bundle

    return Path(swagger_ui_bundle.swagger_ui_path)


def install(app: FastAPI) -> None:
    """Add the pages, offline /docs, and the bearer schemes that make its Authorize work."""
    app.include_router(router)
    app.mount("/web/static", StaticFiles(directory=STATIC), name="web-static")
    app.mount("/web/swagger-ui", StaticFiles(directory=_docs_assets()), name="swagger-ui")

    @app.get("/docs", include_in_schema=False)
    def docs() -> HTMLResponse:
        return get_swagger_ui_html(
            openapi_url=app.openapi_url or "/openapi.json",
            title=f"{app.title} API",
            swagger_js_url="/web/swagger-ui/swagger-ui-bundle.js",
            swagger_css_url="/web/swagger-ui/swagger-ui.css",
            swagger_favicon_url="/web/swagger-ui/favicon-32x32.png",
            swagger_ui_parameters={"persistAuthorization": True},
        )

    plain_openapi = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is not None:
            return app.openapi_schema
        schema = document_responses(plain_openapi())
        schema.setdefault("components", {})["securitySchemes"] = SECURITY_SCHEMES
        schema["security"] = [{name: []} for name in SECURITY_SCHEMES]
        app.openapi_schema = schema
        return schema

    app.openapi = openapi  # type: ignore[method-assign]

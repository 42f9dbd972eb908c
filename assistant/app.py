"""The assistant's FastAPI apps: one to mount under /assistant, one that runs on its own.

app.mount("/assistant", create_assistant_app(service))   # the platform calls start/stop
create_standalone_app(settings)                          # its own lifespan calls them
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from starlette.exceptions import HTTPException as StarletteHTTPException

from assistant.api.access import AccessRefused
from assistant.api.routes import problem, router
from assistant.service import AssistantService, NotStarted
from assistant.settings import AssistantSettings
from datastore.storable_text import RefuseUnstorableText


def create_assistant_app(service: AssistantService) -> FastAPI:
    """Routes relative to the mount point; the caller runs `service.start()` and `stop()`."""
    app = FastAPI(
        title="Agentic Checkout shopping assistant",
        version="0.1.0",
        description="Chat with a shopping assistant that buys through ACP checkout.",
    )
    app.state.service = service
    app.state.running = set()
    app.include_router(router)

    @app.exception_handler(RequestValidationError)
    async def invalid(request: Request, exc: RequestValidationError) -> Response:
        first = exc.errors()[0] if exc.errors() else {"loc": (), "msg": "invalid request"}
        where = ".".join(str(p) for p in first.get("loc", ()) if p != "body")
        return problem(400, "invalid", f"{where or 'body'}: {first.get('msg')}")

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> Response:
        code = "not_found" if exc.status_code == 404 else "invalid_request"
        return problem(exc.status_code, code, str(exc.detail))

    @app.exception_handler(AccessRefused)
    async def refused(request: Request, exc: AccessRefused) -> Response:
        response = problem(exc.status, exc.code, exc.message)
        if exc.status == 401:
            response.headers["WWW-Authenticate"] = "Bearer"
        return response

    @app.exception_handler(NotStarted)
    async def not_started(request: Request, exc: NotStarted) -> Response:
        return problem(503, "assistant_not_started", str(exc), "service_unavailable")

    @app.exception_handler(Exception)
    async def unexpected(request: Request, exc: Exception) -> JSONResponse:
        return problem(
            500,
            "internal_error",
            "Something went wrong; retry the same message.",
            "processing_error",
        )

    return app


def create_standalone_app(settings: AssistantSettings | None = None) -> FastAPI:
    """The assistant as its own service, mounted at /assistant, with start/stop in its lifespan."""
    service = AssistantService(settings or AssistantSettings())

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        await service.start()
        try:
            yield
        finally:
            await service.stop()

    app = FastAPI(title="Shopping assistant", lifespan=lifespan)
    app.state.service = service
    app.mount("/assistant", create_assistant_app(service))
    app.add_middleware(RefuseUnstorableText)

    @app.get("/healthz")
    async def health() -> dict[str, str]:
        return {"status": "ok"}

    return app

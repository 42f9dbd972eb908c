"""One translation from domain errors to HTTP: the status table and the flat ACP error envelope."""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import Response
from starlette.exceptions import HTTPException as StarletteHTTPException

from checkout.domain import errors
from checkout.protocol import render
from checkout.protocol.render import to_json

log = logging.getLogger("checkout.api")

# Most specific class first: the first match decides the status.
STATUS_BY_ERROR: tuple[tuple[type[errors.CheckoutError], int], ...] = (
    (errors.Unauthenticated, 401),
    (errors.NotFound, 404),
    (errors.CancelNotAllowed, 405),
    (errors.IdempotencyInFlight, 409),
    (errors.IdempotencyConflict, 422),
    (errors.PaymentDeclined, 402),
    # The provider refused our own request (a bad parameter or key): nothing the buyer can fix.
    (errors.PaymentProcessingFailed, 502),
    (errors.ServiceUnavailable, 503),
    (errors.InvalidRequest, 400),
    (errors.CheckoutError, 400),
)

# delegate_payment's Error.code is a closed enum; anything else it would say becomes invalid_card.
DELEGATE_PAYMENT_CODES = frozenset(
    {
        "invalid_card",
        "duplicate_request",
        "idempotency_conflict",
        "too_many_requests",
        "idempotency_key_required",
        "idempotency_in_flight",
    }
)


def status_for(exc: errors.CheckoutError) -> int:
    return next(status for kind, status in STATUS_BY_ERROR if isinstance(exc, kind))


def json_response(status: int, content: bytes, headers: dict[str, str] | None = None) -> Response:
    return Response(
        content=content, status_code=status, media_type="application/json", headers=headers
    )


def json_document(body: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    """A JSON body serialised the one way every endpoint uses (orjson, UTC times)."""
    return json_response(status, to_json(body), headers)


def unstorable_text_code(path: str) -> str:
    """`invalid_text`, except where delegate_payment's closed list of codes must be kept."""
    return "invalid_card" if path.startswith("/agentic_commerce/") else "invalid_text"


def error_body(exc: errors.CheckoutError, path: str) -> dict[str, Any]:
    body = render.error(exc)
    if path.startswith("/agentic_commerce/") and body["code"] not in DELEGATE_PAYMENT_CODES:
        body["code"] = "invalid_card"
    return body


def error_response(
    exc: errors.CheckoutError,
    path: str,
    headers: dict[str, str] | None = None,
    *,
    status: int | None = None,
) -> Response:
    """The flat ACP error; `status` only where the framework decided it (405, other 4xx)."""
    return json_response(
        status or status_for(exc), to_json(error_body(exc, path)), refusal_headers(exc, headers)
    )


def refusal_headers(exc: errors.CheckoutError, headers: dict[str, str] | None) -> dict[str, str]:
    """The headers a refusal carries in every protocol: when to retry, how to authenticate."""
    extra = dict(headers or {})
    if isinstance(exc, errors.IdempotencyInFlight):
        extra["Retry-After"] = str(exc.retry_after)
    if isinstance(exc, errors.Unauthenticated):
        extra["WWW-Authenticate"] = "Bearer"
    return extra


def json_path(location: tuple[Any, ...]) -> str:
    path = "$"
    for part in (
        location[1:]
        if location and location[0] in ("body", "query", "path", "header")
        else location
    ):
        path += f"[{part}]" if isinstance(part, int) else f".{part}"
    return path


def install(app: FastAPI) -> None:
    """Every error the service or the framework produces leaves in the one flat envelope."""

    @app.exception_handler(errors.CheckoutError)
    async def checkout_error(request: Request, exc: errors.CheckoutError) -> Response:
        return error_response(exc, request.url.path)

    @app.exception_handler(RequestValidationError)
    async def validation_error(request: Request, exc: RequestValidationError) -> Response:
        problems = exc.errors()
        first = problems[0] if problems else {"loc": (), "msg": "Invalid request", "type": ""}
        location = tuple(first.get("loc", ()))
        if first.get("type") == "json_invalid":
            problem = errors.InvalidRequest(
                "The request body is not valid JSON.", code="invalid_json"
            )
        else:
            where = json_path(location)
            kind = "missing" if first.get("type") == "missing" else "invalid"
            problem = errors.InvalidRequest(f"{where}: {first.get('msg')}", param=where, code=kind)
        return error_response(problem, request.url.path)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> Response:
        if exc.status_code == 404:
            return error_response(
                errors.NotFound(f"No resource at {request.url.path}."), request.url.path
            )
        if exc.status_code == 405:
            problem = errors.InvalidRequest(
                f"{request.method} is not allowed on {request.url.path}.", code="method_not_allowed"
            )
            return error_response(problem, request.url.path, dict(exc.headers or {}), status=405)
        problem = errors.InvalidRequest(str(exc.detail), code="invalid_request")
        return error_response(problem, request.url.path, status=exc.status_code)

    @app.exception_handler(Exception)
    async def unexpected(request: Request, exc: Exception) -> Response:
        log.exception("request.failed path=%s", request.url.path)
        problem = errors.CheckoutError(
            "An unexpected error occurred; the request can be retried.", code="internal_error"
        )
        problem.type = "processing_error"
        return json_response(500, to_json(render.error(problem)))

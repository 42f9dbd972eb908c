"""Response documentation for the ACP routes, so the service's OpenAPI says what it returns."""

from __future__ import annotations

from typing import Any

from checkout.protocol.responses import CheckoutSession, CheckoutSessionWithOrder, Error

_error = {"model": Error, "description": "The flat ACP error envelope."}
_retry = {
    "Retry-After": {
        "schema": {"type": "integer"},
        "required": True,
        "description": "Seconds to wait before retrying.",
    }
}

ERRORS: dict[int | str, dict[str, Any]] = {
    400: {
        **_error,
        "description": "Invalid request (including a missing or unsupported API-Version).",
    },
    401: {**_error, "description": "Missing or invalid API key."},
    404: {**_error, "description": "No such checkout session."},
    409: {
        **_error,
        "description": "A request with this Idempotency-Key is in flight.",
        "headers": _retry,
    },
    422: {**_error, "description": "This Idempotency-Key was used with a different body."},
    500: {**_error, "description": "Unexpected failure; safe to retry with the same key."},
}
CLIENT_ERRORS: dict[int | str, dict[str, Any]] = {
    **{status: ERRORS[status] for status in (400, 401, 404)},
    422: {"description": "Never sent: request validation errors are 400 (422 is idempotency's)."},
}
GET_ERRORS: dict[int | str, dict[str, Any]] = {status: ERRORS[status] for status in (400, 401, 404)}


def session_responses(success: int, *, with_order: bool = False) -> dict[int | str, dict[str, Any]]:
    model = CheckoutSessionWithOrder if with_order else CheckoutSession
    return {
        success: {"model": model, "description": "The full authoritative checkout session."},
        **ERRORS,
    }

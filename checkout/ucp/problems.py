"""The one translation from domain errors to UCP's HTTP statuses and error body."""

from __future__ import annotations

from typing import Any

from checkout.domain import errors

# Most specific first. A session that is completed, canceled or in progress cannot be changed:
# 409 Conflict, as the UCP status table describes.
STATUS_BY_ERROR: tuple[tuple[type[errors.CheckoutError], int], ...] = (
    (errors.Unauthenticated, 401),
    (errors.NotFound, 404),
    (errors.CancelNotAllowed, 409),
    (errors.SessionNotOpen, 409),
    (errors.IdempotencyInFlight, 409),
    (errors.IdempotencyConflict, 409),
    (errors.PaymentDeclined, 402),
    (errors.PaymentProcessingFailed, 502),
    (errors.ServiceUnavailable, 503),
    (errors.InvalidRequest, 400),
    (errors.CheckoutError, 400),
)


class Forbidden(errors.CheckoutError):
    code = "forbidden"


def status_for(exc: errors.CheckoutError) -> int:
    if isinstance(exc, Forbidden):
        return 403
    return next(status for kind, status in STATUS_BY_ERROR if isinstance(exc, kind))


def error_body(exc: errors.CheckoutError, version: str = "2026-01-11") -> dict[str, Any]:
    """UCP's error structure: 2026-01-11's (checkout-rest.md, "Error Responses", with `detail`
    repeating the message for clients that read the common HTTP API convention), or from
    2026-04-08 on its error_response.json (`ucp.status` "error", nothing else)."""
    message: dict[str, Any] = {
        "type": "error",
        "code": exc.code,
        "content": exc.message,
        "severity": "requires_buyer_input",
    }
    if exc.param:
        message["path"] = exc.param
    if version >= "2026-04-08":
        unrecoverable = isinstance(exc, errors.NotFound | errors.SessionNotOpen)
        message["severity"] = "unrecoverable" if unrecoverable else "recoverable"
        return {"ucp": {"version": version, "status": "error"}, "messages": [message]}
    return {"status": "requires_escalation", "messages": [message], "detail": exc.message}

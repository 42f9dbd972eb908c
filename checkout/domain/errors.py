"""The domain's error tree: what went wrong in ACP terms (type, code, param), never an HTTP status.

    CheckoutError
    ├── InvalidRequest ............ the request cannot be carried out as sent
    │   ├── UnknownItem
    │   ├── SessionNotOpen ........ update/complete on a completed, canceled or expired session
    │   ├── NotReadyForPayment
    │   ├── PriceChanged
    │   ├── OutOfStock
    │   ├── AuthenticationRequired  (requires_3ds)
    │   ├── PaymentTokenRejected .. unknown, used, expired, wrong session/merchant/currency, amount
    │   └── IdempotencyKeyRequired, UnsupportedApiVersion
    ├── Unauthenticated
    ├── NotFound
    ├── CancelNotAllowed
    ├── PaymentDeclined ........... processing_error: the card was declined
    ├── PaymentProcessingFailed ... processing_error: the provider refused our own request
    ├── IdempotencyConflict, IdempotencyInFlight
    └── ServiceUnavailable

`checkout.api.problems` is the one place that turns these into HTTP statuses and the flat envelope.
"""

from __future__ import annotations


class CheckoutError(Exception):
    type: str = "invalid_request"
    code: str = "invalid_request"

    def __init__(self, message: str, *, param: str | None = None, code: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.param = param
        if code is not None:
            self.code = code


class InvalidRequest(CheckoutError):
    code = "invalid"


class UnknownItem(InvalidRequest):
    code = "invalid_item_id"


class SessionNotOpen(InvalidRequest):
    code = "checkout_session_not_open"


class NotReadyForPayment(InvalidRequest):
    code = "not_ready_for_payment"


class PriceChanged(InvalidRequest):
    code = "price_changed"


class OutOfStock(InvalidRequest):
    code = "out_of_stock"


class AuthenticationRequired(InvalidRequest):
    code = "requires_3ds"


class PaymentTokenRejected(InvalidRequest):
    code = "invalid_payment_token"


class IdempotencyKeyRequired(InvalidRequest):
    code = "idempotency_key_required"


class UnsupportedApiVersion(InvalidRequest):
    code = "unsupported_api_version"

    def __init__(self, message: str, *, supported: list[str], code: str | None = None) -> None:
        super().__init__(message, code=code)
        self.supported = supported


class Unauthenticated(CheckoutError):
    code = "unauthorized"


class NotFound(CheckoutError):
    code = "not_found"


class CancelNotAllowed(CheckoutError):
    code = "checkout_session_not_cancelable"


class PaymentDeclined(CheckoutError):
    type = "processing_error"
    code = "payment_declined"


class PaymentProcessingFailed(CheckoutError):
    """The payment provider refused our request (not the card): the platform's fault."""

    type = "processing_error"
    code = "processing_error"


class IdempotencyConflict(CheckoutError):
    code = "idempotency_conflict"


class IdempotencyInFlight(CheckoutError):
    code = "idempotency_in_flight"

    def __init__(self, message: str, *, retry_after: int) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class ServiceUnavailable(CheckoutError):
    type = "service_unavailable"
    code = "service_unavailable"

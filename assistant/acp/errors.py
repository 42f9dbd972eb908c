"""What checkout refused, by cause, translated once from its ACP error envelope.

CheckoutProblem ............... any refusal: status, type, code, message, param
├── PaymentDeclined ........... 402 payment_declined: nothing charged, session still payable
├── AuthenticationRequired .... 400 requires_3ds: the issuer wants 3-D Secure
├── OutOfStock ................ 400 out_of_stock / quantity_exceeded
├── PriceChanged .............. 400 price_changed: nothing charged, new total to show
├── PaymentTokenRejected ...... 400 payment_token_*: the delegated token does not fit
├── CardRejected .............. 400 invalid_card from delegate_payment
├── SessionClosed ............. 400 checkout_session_completed / _canceled / _expired
└── CheckoutUnavailable ....... no answer, a timeout or a 5xx (raised from httpx errors)
"""

from __future__ import annotations

from typing import Any


class CheckoutProblem(Exception):
    def __init__(
        self,
        message: str,
        *,
        status: int = 400,
        type: str = "invalid_request",
        code: str = "invalid_request",
        param: str | None = None,
        body: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.status = status
        self.type = type
        self.code = code
        self.param = param
        self.body = body or {}


class PaymentDeclined(CheckoutProblem):
    pass


class AuthenticationRequired(CheckoutProblem):
    pass


class OutOfStock(CheckoutProblem):
    pass


class PriceChanged(CheckoutProblem):
    pass


class PaymentTokenRejected(CheckoutProblem):
    pass


class CardRejected(CheckoutProblem):
    pass


class SessionClosed(CheckoutProblem):
    pass


class CheckoutUnavailable(CheckoutProblem):
    pass


def problem_from(status: int, body: Any) -> CheckoutProblem:
    """The one place an ACP error envelope becomes a typed problem."""
    envelope = body if isinstance(body, dict) else {}
    code = str(envelope.get("code") or "invalid_request")
    kwargs: dict[str, Any] = {
        "status": status,
        "type": str(envelope.get("type") or "invalid_request"),
        "code": code,
        "param": envelope.get("param"),
        "body": envelope,
    }
    message = str(envelope.get("message") or f"Checkout answered {status}.")
    kind: type[CheckoutProblem] = CheckoutProblem
    if status >= 500 or status in (409, 429):
        kind = CheckoutUnavailable
    elif code == "payment_declined" or status == 402:
        kind = PaymentDeclined
    elif code == "requires_3ds":
        kind = AuthenticationRequired
    elif code in ("out_of_stock", "quantity_exceeded"):
        kind = OutOfStock
    elif code == "price_changed":
        kind = PriceChanged
    elif code.startswith("payment_token_") or code == "invalid_payment_token":
        kind = PaymentTokenRejected
    elif code == "invalid_card":
        kind = CardRejected
    elif code.startswith("checkout_session_") and code != "checkout_session_not_found":
        kind = SessionClosed
    return kind(message, **kwargs)

"""The Stripe SDK as the payment modules use it: the client, plain data out of its objects, and
its errors turned into ours (checkout.payments.stripe for payments, stripe_accounts for Connect)."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Mapping
from datetime import UTC, datetime
from typing import Any, TypeVar

import stripe

from checkout.payments.provider import PaymentRefused, PaymentUnavailable

log = logging.getLogger("checkout.payments.stripe")
T = TypeVar("T")
# A PaymentIntent's charge and its balance transaction, whose `fee` is what Stripe took from
# the platform for processing it.
CHARGE_EXPANDED = ["latest_charge", "latest_charge.balance_transaction"]


def stripe_client(
    secret_key: str,
    *,
    api_base: str | None,
    max_network_retries: int,
    timeout_seconds: float,
    http_client: stripe.HTTPXClient | None = None,
) -> stripe.StripeClient:
    """A client for the async methods only (`*_async`); `api_base` points it at stripe-mock or
    a fake. Retries reuse the request's Idempotency-Key, so they repeat nothing. Pass
    `http_client` to keep hold of it and close it (`close_async`) when the app stops."""
    http_client = http_client or stripe.HTTPXClient(
        timeout=timeout_seconds, allow_sync_methods=False
    )
    return stripe.StripeClient(
        secret_key,
        # An explicit None would replace the SDK's default address, so the key is left out.
        base_addresses={"api": api_base} if api_base else None,
        max_network_retries=max_network_retries,
        http_client=http_client,
    )


def plain(obj: Any) -> dict[str, Any]:
    """A Stripe response as a plain dict: a StripeObject is not a Mapping and raises on a
    missing attribute, while Stripe omits some fields depending on the API version."""
    if isinstance(obj, stripe.StripeObject):
        return obj.to_dict()
    if isinstance(obj, Mapping):
        return dict(obj)
    raise TypeError(f"expected a Stripe object, got {type(obj).__name__}")


def mapping(value: Any) -> dict[str, Any]:
    return dict(value) if isinstance(value, Mapping) else {}


def ref_id(value: Any) -> str | None:
    """The id of an expandable field, expanded or not."""
    if isinstance(value, str):
        return value
    if isinstance(value, Mapping) and isinstance(value.get("id"), str):
        return str(value["id"])
    return None


def from_unix(value: Any) -> datetime | None:
    if value is None:
        return None
    return datetime.fromtimestamp(int(value), UTC)


def error_body(error: stripe.StripeError) -> dict[str, Any]:
    body = error.json_body
    if isinstance(body, Mapping):
        return mapping(body.get("error"))
    return {}


def message(error: stripe.StripeError) -> str:
    return str(error.user_message or error)


def provider_error(error: stripe.StripeError, what: str) -> Exception:
    """Our exception for a Stripe error that is not a card decline, logged for the operator
    with Stripe's request id (what Stripe's support asks for)."""
    body = error_body(error)
    log.warning(
        "stripe.error what=%s status=%s type=%s code=%s param=%s request_id=%s message=%s",
        what,
        error.http_status,
        body.get("type") or type(error).__name__,
        error.code,
        body.get("param"),
        error.request_id,
        message(error),
    )
    where = f" (Stripe request {error.request_id})" if error.request_id else ""
    if isinstance(error, stripe.APIConnectionError | stripe.APIError | stripe.RateLimitError):
        # The SDK has already retried these with the same Idempotency-Key.
        return PaymentUnavailable(
            f"{what}: Stripe did not answer usefully: {message(error)}{where}"
        )
    if isinstance(
        error,
        stripe.AuthenticationError
        | stripe.PermissionError
        | stripe.InvalidRequestError
        | stripe.IdempotencyError
        | stripe.CardError,
    ):
        return PaymentRefused(f"{what}: {message(error)}{where}")
    if error.http_status is not None and 400 <= error.http_status < 500:
        return PaymentRefused(f"{what}: {message(error)}{where}")
    return PaymentUnavailable(f"{what}: {message(error)}{where}")


async def call(what: str, pending: Awaitable[T]) -> T:
    """Await a Stripe call, turning its errors into ours."""
    try:
        return await pending
    except stripe.StripeError as error:
        raise provider_error(error, what) from error

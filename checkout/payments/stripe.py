"""Stripe as the payment provider: destination charges, Shared Payment Tokens, Connect, webhooks."""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import re
from collections.abc import Awaitable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, TypeVar, cast

import stripe

from checkout.payments.provider import (
    AccountStatus,
    Authorization,
    AuthorizationStatus,
    AuthorizeRequest,
    Capture,
    Card,
    CardOutcome,
    CardRejected,
    OnboardingLink,
    PaymentRefused,
    PaymentUnavailable,
    Refund,
    RefundRequest,
    RefundStatus,
    SharedToken,
    TokenUnknown,
)

if TYPE_CHECKING:
    from stripe.params import (
        AccountCreateParams,
        AccountLinkCreateParams,
        PaymentIntentCaptureParams,
        PaymentIntentCreateParams,
        RefundCreateParams,
    )

log = logging.getLogger("checkout.payments.stripe")

T = TypeVar("T")

SPT_API_VERSION = "2026-09-30.preview"
SPT_PREFIX = "spt_"
# Agents send token ids; this keeps one from reaching anything but the granted-token path.
_SPT_ID = re.compile(r"spt_[A-Za-z0-9_]{1,250}")
_REFUND_REASONS = frozenset({"duplicate", "fraudulent", "requested_by_customer"})
_METADATA_VALUE_MAX = 500  # Stripe's limit on one metadata value
_LIST_LIMIT = 100  # Stripe's largest page
_PM_ID = re.compile(r"pm_[A-Za-z0-9_]{1,200}")
_UNIX_TIME = re.compile(r"[0-9]{1,12}")


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


# --- plain-data helpers ------------------------------------------------------------------


def _plain(obj: Any) -> dict[str, Any]:
    """A Stripe response as a plain dict: a StripeObject is not a Mapping and raises on a
    missing attribute, while Stripe omits some fields depending on the API version."""
    if isinstance(obj, stripe.StripeObject):
        return obj.to_dict()
    if isinstance(obj, Mapping):
        return dict(obj)
    raise TypeError(f"expected a Stripe object, got {type(obj).__name__}")


def _mapping(value: Any) -> dict[str, Any]:
    return dict(value) if isinstance(value, Mapping) else {}


def _ref_id(value: Any) -> str | None:
    """The id of an expandable field, expanded or not."""
    if isinstance(value, str):
        return value
    if isinstance(value, Mapping) and isinstance(value.get("id"), str):
        return str(value["id"])
    return None


def _from_unix(value: Any) -> datetime | None:
    if value is None:
        return None
    return datetime.fromtimestamp(int(value), UTC)


def _error_body(error: stripe.StripeError) -> dict[str, Any]:
    body = error.json_body
    if isinstance(body, Mapping):
        return _mapping(body.get("error"))
    return {}


def _message(error: stripe.StripeError) -> str:
    return str(error.user_message or error)


def _provider_error(error: stripe.StripeError, what: str) -> Exception:
    """Our exception for a Stripe error that is not a card decline."""
    if isinstance(error, stripe.APIConnectionError | stripe.APIError | stripe.RateLimitError):
        # The SDK has already retried these with the same Idempotency-Key.
        return PaymentUnavailable(f"{what}: Stripe did not answer usefully: {_message(error)}")
    if isinstance(
        error,
        stripe.AuthenticationError
        | stripe.PermissionError
        | stripe.InvalidRequestError
        | stripe.IdempotencyError
        | stripe.CardError,
    ):
        return PaymentRefused(f"{what}: {_message(error)}")
    if error.http_status is not None and 400 <= error.http_status < 500:
        return PaymentRefused(f"{what}: {_message(error)}")
    return PaymentUnavailable(f"{what}: {_message(error)}")


async def _call(what: str, call: Awaitable[T]) -> T:
    try:
        return await call
    except stripe.StripeError as error:
        raise _provider_error(error, what) from error


def _unexpected_state(error: stripe.InvalidRequestError) -> str | None:
    """The PaymentIntent's status when Stripe refused because of it, else None."""
    body = _error_body(error)
    if body.get("code") != "payment_intent_unexpected_state":
        return None
    status = _mapping(body.get("payment_intent")).get("status")
    return str(status) if status is not None else None


def _authorization_from(intent: Mapping[str, Any]) -> Authorization:
    payment_id = str(intent["id"])
    status = intent.get("status")
    if status in ("requires_capture", "succeeded"):
        return Authorization(payment_id, AuthorizationStatus.AUTHORIZED)
    if status == "requires_action":
        return Authorization(payment_id, AuthorizationStatus.REQUIRES_ACTION)
    if status in ("requires_payment_method", "canceled"):
        error = _mapping(intent.get("last_payment_error"))
        code = error.get("decline_code") or error.get("code") or str(status)
        message = error.get("message") or "The payment was declined."
        return Authorization(
            payment_id, AuthorizationStatus.DECLINED, decline_code=str(code), message=str(message)
        )
    # `processing` (not seen for cards) and anything newer: the outcome arrives by webhook.
    raise PaymentUnavailable(
        f"PaymentIntent {payment_id} is {status}; its outcome is not known yet"
    )


def _capture_from(intent: Mapping[str, Any]) -> Capture:
    charge = intent.get("latest_charge")
    charge_fields = _mapping(charge)
    return Capture(
        payment_id=str(intent["id"]),
        charge_id=_ref_id(charge),
        transfer_id=_ref_id(charge_fields.get("transfer")),
        application_fee_id=_ref_id(charge_fields.get("application_fee")),
    )


def _refund_status(status: Any) -> RefundStatus:
    if status == "succeeded":
        return RefundStatus.SUCCEEDED
    if status in ("failed", "canceled"):
        return RefundStatus.FAILED
    # pending, requires_action, and a refund too new to have a status yet
    return RefundStatus.PENDING


def _fee_refund_paired(
    refund_id: str,
    charge_refunds: Sequence[Mapping[str, Any]],
    fee_refunds: Sequence[Mapping[str, Any]],
) -> int | None:
    """The fee refund Stripe made together with charge refund `refund_id`, or None when the
    pairing is unsafe. Both lists are complete and in Stripe's order (newest first)."""
    if len(charge_refunds) != len(fee_refunds):
        return None
    # Equal lengths, so the n-th newest pairs with the n-th newest as well as oldest with oldest.
    ids = [refund.get("id") for refund in charge_refunds]
    if refund_id not in ids:
        return None
    position = ids.index(refund_id)
    fee_refund = fee_refunds[position]
    # Made in the same request; anything far apart means the lists do not line up.
    refund_created, fee_created = charge_refunds[position].get("created"), fee_refund.get("created")
    if not isinstance(refund_created, int) or not isinstance(fee_created, int):
        return None
    if abs(refund_created - fee_created) > 60:
        return None
    return int(fee_refund.get("amount", 0))


# --- payments ------------------------------------------------------------------------------


class StripePaymentProvider:
    """A hold on the buyer's card as a destination charge to the merchant's connected account,
    with the platform's commission as its application fee."""

    name = "stripe"

    def __init__(
        self,
        client: stripe.StripeClient,
        *,
        spt_api_version: str = SPT_API_VERSION,
        accept_test_payment_methods: bool = False,
    ) -> None:
        self._client = client
        self._spt_api_version = spt_api_version
        # Test mode only: a PaymentMethod (pm_...) made from Stripe's test cards stands in for
        # a Shared Payment Token, for accounts without access to the agentic-commerce preview.
        self._accept_test_payment_methods = accept_test_payment_methods

    def card_for(self, number: str, funding: str) -> Card:
        raise CardRejected(
            "With Stripe the agent pays with a Shared Payment Token (spt_...) minted through "
            "Stripe, not with a raw card: delegate_payment vaults cards for the sandbox only."
        )

    async def shared_token(self, token_id: str) -> SharedToken:
        if self._accept_test_payment_methods and _PM_ID.fullmatch(token_id):
            return await self._test_payment_method(token_id)
        if not _SPT_ID.fullmatch(token_id):
            raise TokenUnknown(f"{token_id!r} is not a Stripe Shared Payment Token id")
        log.info("stripe.shared_token.retrieve")
        try:
            response = await self._client.raw_request_async(
                "get",
                f"/v1/shared_payment/granted_tokens/{token_id}",
                stripe_version=self._spt_api_version,
            )
        except stripe.InvalidRequestError as error:
            if error.http_status == 404 or error.code == "resource_missing":
                raise TokenUnknown("Stripe does not know this Shared Payment Token") from error
            raise _provider_error(error, "shared token") from error
        except stripe.StripeError as error:
            raise _provider_error(error, "shared token") from error
        token = _mapping(response.data)
        limits = _mapping(token.get("usage_limits"))
        if not isinstance(limits.get("max_amount"), int) or not limits.get("currency"):
            raise PaymentRefused("The Shared Payment Token carries no usage limits")
        card = _mapping(_mapping(token.get("payment_method_details")).get("card"))
        session_id = _mapping(token.get("shared_metadata")).get("checkout_session_id")
        return SharedToken(
            id=str(token.get("id", token_id)),
            max_amount=int(limits["max_amount"]),
            currency=str(limits["currency"]).lower(),
            expires_at=_from_unix(limits.get("expires_at")),
            deactivated=token.get("deactivated_at") is not None,
            card=Card(
                brand=str(card.get("brand") or "unknown"),
                last4=str(card.get("last4") or ""),
                funding=str(card.get("funding") or "unknown"),
                outcome=CardOutcome.DECIDED_BY_PROVIDER,
            ),
            checkout_session_id=str(session_id) if session_id else None,
        )

    async def _test_payment_method(self, payment_method_id: str) -> SharedToken:
        """A test-mode PaymentMethod as a token with no limit of its own: the session's total
        and currency are what it may pay, and it is spent once like any token."""
        try:
            method = await self._client.v1.payment_methods.retrieve_async(payment_method_id)
        except stripe.InvalidRequestError as error:
            if error.http_status == 404 or error.code == "resource_missing":
                raise TokenUnknown("Stripe does not know this PaymentMethod") from error
            raise _provider_error(error, "payment method") from error
        except stripe.StripeError as error:
            raise _provider_error(error, "payment method") from error
        card = _mapping(_plain(method).get("card"))
        return SharedToken(
            id=payment_method_id,
            max_amount=2**31 - 1,
            currency="",
            expires_at=None,
            deactivated=False,
            card=Card(
                brand=str(card.get("brand") or "unknown"),
                last4=str(card.get("last4") or ""),
                funding=str(card.get("funding") or "unknown"),
                outcome=CardOutcome.DECIDED_BY_PROVIDER,
            ),
            checkout_session_id=None,
        )

    async def authorize(self, request: AuthorizeRequest) -> Authorization:
        if request.pending_payment_id:
            return await self._continue(request, request.pending_payment_id)
        params = self._create_params(request)
        options: stripe.RequestOptions = {"idempotency_key": request.idempotency_key}
        if self._is_spt(request):
            # Per request, so no other call moves to the preview version.
            options["stripe_version"] = self._spt_api_version
        log.info(
            "stripe.payment_intent.create key=%s merchant=%s amount=%d currency=%s fee=%d token=%s",
            request.idempotency_key,
            request.merchant_id,
            request.amount,
            request.currency,
            request.application_fee,
            "spt" if self._is_spt(request) else "pm",
        )
        try:
            intent = await self._client.v1.payment_intents.create_async(
                cast("PaymentIntentCreateParams", params), options=options
            )
        except stripe.StripeError as error:
            return self._declined_or_raise(request, error)
        authorization = _authorization_from(_plain(intent))
        log.info(
            "stripe.payment_intent.created key=%s payment=%s status=%s",
            request.idempotency_key,
            authorization.payment_id,
            authorization.status.value,
        )
        return authorization

    def _is_spt(self, request: AuthorizeRequest) -> bool:
        return request.token_id.startswith(SPT_PREFIX)

    def _create_params(self, request: AuthorizeRequest) -> dict[str, Any]:
        params: dict[str, Any] = {
            "amount": request.amount,
            "currency": request.currency,
            "confirm": True,
            "capture_method": "manual",
            # An agent cannot follow a redirect, so only cards (3-D Secure runs in Stripe's SDK).
            "payment_method_types": ["card"],
            "metadata": {**request.metadata, "merchant_id": request.merchant_id},
        }
        if request.description:
            # Stripe reads an empty string as "unset" and refuses it on create.
            params["description"] = request.description
        if request.application_fee:
            if request.connected_account is None:
                # Stripe refuses a fee without a destination; saying so here is clearer.
                raise PaymentRefused(
                    f"merchant {request.merchant_id} has no connected account to take a fee from"
                )
            params["application_fee_amount"] = request.application_fee
        if request.connected_account is not None:
            params["transfer_data"] = {"destination": request.connected_account}
            params["on_behalf_of"] = request.connected_account
        if self._is_spt(request):
            params["payment_method_data"] = {"shared_payment_granted_token": request.token_id}
        elif request.token_id.startswith("pm_"):
            # A PaymentMethod of the platform's own (the test-mode demo's pm_card_visa).
            params["payment_method"] = request.token_id
        else:
            raise PaymentRefused("Stripe takes a Shared Payment Token (spt_...) or a pm_... id")
        return params

    def _declined_or_raise(
        self, request: AuthorizeRequest, error: stripe.StripeError, *, payment_id: str | None = None
    ) -> Authorization:
        body = _error_body(error)
        payment_id = (
            _ref_id(body.get("payment_intent"))
            or payment_id
            # No PaymentIntent came back (Stripe refused before making one); a stable id
            # from our key keeps a repeated attempt reporting the same decline.
            or f"declined:{request.idempotency_key}"
        )
        if isinstance(error, stripe.CardError):
            code = body.get("decline_code") or error.code or "card_declined"
        elif (
            isinstance(error, stripe.InvalidRequestError)
            and self._is_spt(request)
            and str(body.get("param") or "payment_method_data").startswith("payment_method_data")
        ):
            # Stripe enforces the token's limits at confirm and the codes are undocumented, so a
            # refusal about the token is the agent's decline; one about our own params is not.
            code = error.code or "spt_rejected"
        else:
            raise _provider_error(error, f"authorize {request.idempotency_key}") from error
        log.info(
            "stripe.payment_intent.declined key=%s payment=%s code=%s",
            request.idempotency_key,
            payment_id,
            code,
        )
        return Authorization(
            payment_id,
            AuthorizationStatus.DECLINED,
            decline_code=str(code),
            message=_message(error),
        )

    async def _continue(self, request: AuthorizeRequest, payment_id: str) -> Authorization:
        """Pick up the PaymentIntent the previous attempt left for 3-D Secure."""
        log.info(
            "stripe.payment_intent.continue key=%s payment=%s authenticated=%s",
            request.idempotency_key,
            payment_id,
            request.authenticated,
        )
        intent = _plain(
            await _call(
                f"authorize {request.idempotency_key}",
                self._client.v1.payment_intents.retrieve_async(payment_id),
            )
        )
        if intent.get("amount") != request.amount or intent.get("currency") != request.currency:
            raise PaymentRefused(
                f"PaymentIntent {payment_id} is for {intent.get('amount')} "
                f"{intent.get('currency')}, not {request.amount} {request.currency}"
            )
        status = intent.get("status")
        if status == "requires_action":
            # Stripe moves the intent on once its SDK has run 3-D Secure; until then it waits.
            message = (
                "Stripe has not recorded the 3-D Secure result yet."
                if request.authenticated
                else "The card issuer asks for 3-D Secure authentication."
            )
            return Authorization(payment_id, AuthorizationStatus.REQUIRES_ACTION, message=message)
        if status == "requires_confirmation":
            options: stripe.RequestOptions = {
                "idempotency_key": f"{request.idempotency_key}:confirm"
            }
            if self._is_spt(request):
                options["stripe_version"] = self._spt_api_version
            try:
                confirmed = await self._client.v1.payment_intents.confirm_async(
                    payment_id, options=options
                )
            except stripe.StripeError as error:
                return self._declined_or_raise(request, error, payment_id=payment_id)
            intent = _plain(confirmed)
        return _authorization_from(intent)

    async def capture(self, payment_id: str, amount: int, *, idempotency_key: str) -> Capture:
        log.info("stripe.payment_intent.capture payment=%s amount=%d", payment_id, amount)
        params: PaymentIntentCaptureParams = {
            "amount_to_capture": amount,
            "expand": ["latest_charge"],
        }
        try:
            intent = await self._client.v1.payment_intents.capture_async(
                payment_id, params, options={"idempotency_key": idempotency_key}
            )
            return _capture_from(_plain(intent))
        except stripe.InvalidRequestError as error:
            if _unexpected_state(error) != "succeeded":
                raise _provider_error(error, f"capture {payment_id}") from error
        except stripe.StripeError as error:
            raise _provider_error(error, f"capture {payment_id}") from error
        # Captured already, by a call whose answer was lost with its key: report that capture.
        captured = _plain(
            await _call(
                f"capture {payment_id}",
                self._client.v1.payment_intents.retrieve_async(
                    payment_id, {"expand": ["latest_charge"]}
                ),
            )
        )
        if captured.get("amount_received") != amount:
            raise PaymentRefused(
                f"PaymentIntent {payment_id} was captured for {captured.get('amount_received')}, "
                f"not {amount}"
            )
        log.info("stripe.payment_intent.capture_replayed payment=%s", payment_id)
        return _capture_from(captured)

    async def void(self, payment_id: str, *, idempotency_key: str) -> None:
        log.info("stripe.payment_intent.cancel payment=%s", payment_id)
        try:
            await self._client.v1.payment_intents.cancel_async(
                payment_id, options={"idempotency_key": idempotency_key}
            )
        except stripe.InvalidRequestError as error:
            if _unexpected_state(error) != "canceled":
                raise _provider_error(error, f"void {payment_id}") from error
            log.info("stripe.payment_intent.cancel_replayed payment=%s", payment_id)
        except stripe.StripeError as error:
            raise _provider_error(error, f"void {payment_id}") from error

    async def refund(self, request: RefundRequest) -> Refund:
        """Refund part or all of a captured charge, taking back the merchant's share (reverse
        the transfer) and giving back the commission in proportion (refund the application
        fee), both as Stripe computes them.

        Stripe does not link a fee refund (fr_...) to the charge refund (re_...) that made it,
        and a retry whose refund already happened must report the same fee refund as the first
        call. Every refund we make carries `refund_application_fee`, which makes exactly one
        fee refund in the same request, so the charge's refunds and the fee's refunds line up
        one to one in creation order: the n-th refund's fee refund is the n-th fee refund.
        That reads the same on a retry. When the lists do not line up (a refund made in the
        Dashboard without the fee, a fee refunded on its own, more than one page), we fall back
        to the growth of the fee's `amount_refunded` across this call, which is right for a new
        refund and reads 0 for a repeated one; a warning says so.
        """
        what = f"refund {request.payment_id}"
        intent = _plain(
            await _call(
                what,
                self._client.v1.payment_intents.retrieve_async(
                    request.payment_id, {"expand": ["latest_charge"]}
                ),
            )
        )
        if intent.get("currency") != request.currency:
            raise PaymentRefused(f"{what}: the charge is in {intent.get('currency')}")
        charge = _mapping(intent.get("latest_charge"))
        charge_id = _ref_id(charge)
        if charge_id is None:
            # Without the charge we cannot tell whether a transfer must be reversed.
            raise PaymentRefused(f"{what}: the payment has no charge to refund")
        fee_id = _ref_id(charge.get("application_fee"))
        fee_before = await self._fee_refunded(fee_id) if fee_id else 0

        metadata = dict(request.metadata)
        params: dict[str, Any] = {"payment_intent": request.payment_id, "amount": request.amount}
        if charge.get("transfer"):
            params["reverse_transfer"] = True
        if fee_id:
            params["refund_application_fee"] = True
        if request.reason in _REFUND_REASONS:
            params["reason"] = request.reason
        elif request.reason:
            # Stripe takes three reasons only; ours is kept where the Dashboard shows it.
            metadata["reason"] = request.reason[:_METADATA_VALUE_MAX]
        if metadata:
            params["metadata"] = metadata
        log.info(
            "stripe.refund.create key=%s payment=%s amount=%d",
            request.idempotency_key,
            request.payment_id,
            request.amount,
        )
        created = _plain(
            await _call(
                what,
                self._client.v1.refunds.create_async(
                    cast("RefundCreateParams", params),
                    options={"idempotency_key": request.idempotency_key},
                ),
            )
        )
        refund_id = str(created["id"])
        fee_refunded = 0
        if fee_id:
            fee_refunded = await self._fee_refund_for(refund_id, charge_id, fee_id, fee_before)
        status = _refund_status(created.get("status"))
        log.info(
            "stripe.refund.created key=%s refund=%s status=%s fee_refunded=%d ours=%d",
            request.idempotency_key,
            refund_id,
            status.value,
            fee_refunded,
            request.application_fee_refund,
        )
        return Refund(
            refund_id=refund_id,
            status=status,
            application_fee_refunded=fee_refunded,
            application_fee_refunded_total=await self._fee_refunded(fee_id) if fee_id else 0,
        )

    async def commission_returned(self, payment_id: str) -> int | None:
        intent = _plain(
            await _call(
                f"payment {payment_id}",
                self._client.v1.payment_intents.retrieve_async(
                    payment_id, {"expand": ["latest_charge"]}
                ),
            )
        )
        fee_id = _ref_id(_mapping(intent.get("latest_charge")).get("application_fee"))
        return await self._fee_refunded(fee_id) if fee_id else 0

    async def _fee_refunded(self, fee_id: str) -> int:
        fee = _plain(
            await _call(
                f"application fee {fee_id}",
                self._client.v1.application_fees.retrieve_async(fee_id),
            )
        )
        return int(fee.get("amount_refunded") or 0)

    async def _fee_refund_for(
        self, refund_id: str, charge_id: str, fee_id: str, before: int
    ) -> int:
        what = f"application fee {fee_id}"
        charge_refunds = _plain(
            await _call(
                what,
                self._client.v1.refunds.list_async({"charge": charge_id, "limit": _LIST_LIMIT}),
            )
        )
        fee_refunds = _plain(
            await _call(
                what,
                self._client.v1.application_fees.refunds.list_async(fee_id, {"limit": _LIST_LIMIT}),
            )
        )
        if not charge_refunds.get("has_more") and not fee_refunds.get("has_more"):
            paired = _fee_refund_paired(
                refund_id, charge_refunds.get("data") or [], fee_refunds.get("data") or []
            )
            if paired is not None:
                return paired
        after = await self._fee_refunded(fee_id)
        log.warning(
            "stripe.refund.fee_unpaired refund=%s fee=%s reported=%d",
            refund_id,
            fee_id,
            after - before,
        )
        return after - before


# --- Connect -------------------------------------------------------------------------------


def account_status_from(obj: Mapping[str, Any]) -> AccountStatus:
    """An Account object (a response, or the `data.object` of an `account.updated` event)."""
    capabilities = _mapping(obj.get("capabilities"))
    requirements = _mapping(obj.get("requirements"))
    due = [*(requirements.get("currently_due") or []), *(requirements.get("past_due") or [])]
    disabled_reason = requirements.get("disabled_reason")
    return AccountStatus(
        account_id=str(obj["id"]),
        charges_enabled=bool(obj.get("charges_enabled")),
        transfers_active=capabilities.get("transfers") == "active",
        details_submitted=bool(obj.get("details_submitted")),
        requirements_due=tuple(dict.fromkeys(str(item) for item in due)),
        disabled_reason=str(disabled_reason) if disabled_reason else None,
    )


class StripeConnectedAccounts:
    """Merchants' Express accounts, on which the platform pays Stripe's fees and bears losses."""

    def __init__(self, client: stripe.StripeClient) -> None:
        self._client = client

    async def open_account(
        self, *, merchant_id: str, country: str, email: str | None, idempotency_key: str
    ) -> AccountStatus:
        params: dict[str, Any] = {
            "country": country,
            "controller": {
                "fees": {"payer": "application"},
                "losses": {"payments": "application"},
                "stripe_dashboard": {"type": "express"},
            },
            "capabilities": {
                "card_payments": {"requested": True},
                "transfers": {"requested": True},
            },
            "metadata": {"merchant_id": merchant_id},
        }
        if email:
            params["email"] = email
        log.info("stripe.account.create merchant=%s country=%s", merchant_id, country)
        account = await _call(
            f"open account for {merchant_id}",
            self._client.v1.accounts.create_async(
                cast("AccountCreateParams", params), options={"idempotency_key": idempotency_key}
            ),
        )
        status = account_status_from(_plain(account))
        log.info("stripe.account.created merchant=%s account=%s", merchant_id, status.account_id)
        return status

    async def onboarding_link(
        self, account_id: str, *, refresh_url: str, return_url: str
    ) -> OnboardingLink:
        params: AccountLinkCreateParams = {
            "account": account_id,
            "type": "account_onboarding",
            "refresh_url": refresh_url,
            "return_url": return_url,
            "collection_options": {"fields": "currently_due"},
        }
        # The link is a single-use bearer URL: it is never logged.
        log.info("stripe.account_link.create account=%s", account_id)
        link = _plain(
            await _call(
                f"onboarding link for {account_id}",
                self._client.v1.account_links.create_async(params),
            )
        )
        expires_at = _from_unix(link.get("expires_at"))
        if expires_at is None:
            raise PaymentUnavailable(f"onboarding link for {account_id}: no expiry in the answer")
        return OnboardingLink(url=str(link["url"]), expires_at=expires_at)

    async def account_status(self, account_id: str) -> AccountStatus:
        account = await _call(
            f"account {account_id}", self._client.v1.accounts.retrieve_async(account_id)
        )
        return account_status_from(_plain(account))


# --- webhooks ------------------------------------------------------------------------------


class StripeSignatureInvalid(Exception):
    """A webhook delivery that is not provably Stripe's, recent, and an event."""


@dataclass(frozen=True)
class StripeEvent:
    id: str
    type: str
    created: datetime
    account: str | None  # the connected account, for events from the Connect endpoint
    data: dict[str, Any]  # the event's data.object


def _v1_signature(payload: bytes, secret: str, timestamp: str) -> str:
    signed = timestamp.encode("ascii") + b"." + payload
    return hmac.new(secret.encode("utf-8"), signed, hashlib.sha256).hexdigest()


def sign_stripe_payload(payload: bytes, secret: str, timestamp: int) -> str:
    """The Stripe-Signature header Stripe would send with `payload` (tests, the offline demo)."""
    return f"t={timestamp},v1={_v1_signature(payload, secret, str(timestamp))}"


def verify_stripe_event(
    payload: bytes,
    signature_header: str | None,
    secrets: Sequence[str],
    *,
    now: datetime,
    tolerance_seconds: int = 300,
) -> StripeEvent:
    """Check a delivery's signature against every endpoint secret (the platform endpoint's and
    the Connect endpoint's; old and new while one is rolled) and its age both ways."""
    if now.tzinfo is None:
        raise ValueError("now must be timezone-aware")
    if not signature_header:
        raise StripeSignatureInvalid("no Stripe-Signature header")
    timestamps: list[str] = []
    signatures: list[str] = []
    for item in signature_header.split(","):
        scheme, _, value = item.strip().partition("=")
        if scheme == "t":
            timestamps.append(value)
        elif scheme == "v1":
            # v0 and other schemes are test-mode extras; honouring them would allow a downgrade.
            signatures.append(value)
    if len(timestamps) != 1 or not _UNIX_TIME.fullmatch(timestamps[0]):
        raise StripeSignatureInvalid("no timestamp in the Stripe-Signature header")
    if not signatures:
        raise StripeSignatureInvalid("no v1 signature in the Stripe-Signature header")
    timestamp = timestamps[0]
    # An empty secret (an unset setting) would make a signature anyone can compute.
    expected = [_v1_signature(payload, secret, timestamp) for secret in secrets if secret]
    matched = False
    for signature in signatures:
        for candidate in expected:
            matched |= hmac.compare_digest(signature.encode(), candidate.encode())
    if not matched:
        raise StripeSignatureInvalid("no v1 signature matches the payload")
    skew = now.timestamp() - int(timestamp)
    if skew > tolerance_seconds:
        raise StripeSignatureInvalid("the signature is too old")
    if -skew > tolerance_seconds:
        raise StripeSignatureInvalid("the signature is from the future")
    try:
        event = json.loads(payload)
    except (UnicodeDecodeError, ValueError) as error:
        raise StripeSignatureInvalid("the payload is not JSON") from error
    if not isinstance(event, dict) or event.get("object") != "event":
        raise StripeSignatureInvalid("the payload is not an event")
    data = event.get("data")
    obj = data.get("object") if isinstance(data, dict) else None
    account = event.get("account")
    if (
        not isinstance(event.get("id"), str)
        or not isinstance(event.get("type"), str)
        or not isinstance(event.get("created"), int)
        or not isinstance(obj, dict)
        or not (account is None or isinstance(account, str))
    ):
        raise StripeSignatureInvalid("the payload is not an event")
    return StripeEvent(
        id=event["id"],
        type=event["type"],
        created=datetime.fromtimestamp(event["created"], UTC),
        account=account,
        data=obj,
    )

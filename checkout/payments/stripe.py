"""Stripe as the payment provider: destination charges for the merchant with the commission as
application fee, manual capture, Shared Payment Tokens, 3-D Secure (refunds and transfers are in
stripe_refunds, Connect accounts in stripe_accounts, webhook signatures in stripe_webhooks)."""

from __future__ import annotations

import logging
import re
from collections.abc import Awaitable, Mapping
from typing import TYPE_CHECKING, Any, TypeVar, cast

import stripe

from checkout.payments.provider import (
    Acquirer,
    Authorization,
    AuthorizationStatus,
    AuthorizeRequest,
    Capture,
    Card,
    CardOutcome,
    CardRejected,
    PaymentRefused,
    PaymentUnavailable,
    SharedToken,
    TokenUnknown,
)
from checkout.payments.stripe_refunds import StripeMoneyBack
from checkout.payments.stripe_sdk import (
    CHARGE_EXPANDED,
    call,
    error_body,
    from_unix,
    mapping,
    message,
    plain,
    provider_error,
    ref_id,
)

if TYPE_CHECKING:
    from stripe.params import (
        PaymentIntentCaptureParams,
        PaymentIntentConfirmParams,
        PaymentIntentCreateParams,
    )

log = logging.getLogger("checkout.payments.stripe")
T = TypeVar("T")


SPT_API_VERSION = "2026-09-30.preview"
SPT_PREFIX = "spt_"
# Agents send token ids; this keeps one from reaching anything but the granted-token path.
_SPT_ID = re.compile(r"spt_[A-Za-z0-9_]{1,250}")
# PaymentIntent create keys tried in one call after Stripe kept a 500 under the previous one.
_CREATE_ATTEMPTS = 3
_PM_ID = re.compile(r"pm_[A-Za-z0-9_]{1,200}")


def _unexpected_state(error: stripe.InvalidRequestError) -> str | None:
    """The PaymentIntent's status when Stripe refused because of it, else None."""
    body = error_body(error)
    if body.get("code") != "payment_intent_unexpected_state":
        return None
    status = mapping(body.get("payment_intent")).get("status")
    return str(status) if status is not None else None


def _authorization_from(intent: Mapping[str, Any]) -> Authorization:
    payment_id = str(intent["id"])
    status = intent.get("status")
    if status in ("requires_capture", "succeeded"):
        return Authorization(payment_id, AuthorizationStatus.AUTHORIZED)
    if status == "requires_action":
        return Authorization(payment_id, AuthorizationStatus.REQUIRES_ACTION)
    if status in ("requires_payment_method", "canceled"):
        error = mapping(intent.get("last_payment_error"))
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
    charge_fields = mapping(charge)
    balance = mapping(charge_fields.get("balance_transaction"))
    fee = balance.get("fee")
    if charge_fields and not isinstance(fee, int):
        log.warning("stripe.capture.fee_unknown payment=%s", intent.get("id"))
    return Capture(
        payment_id=str(intent["id"]),
        charge_id=ref_id(charge),
        transfer_id=ref_id(charge_fields.get("transfer")),
        application_fee_id=ref_id(charge_fields.get("application_fee")),
        processing_fee=fee if isinstance(fee, int) else 0,
    )


def _three_d_secure_options(request: AuthorizeRequest) -> dict[str, Any]:
    proof = request.three_d_secure
    assert proof is not None
    three_d_secure: dict[str, str] = {
        "cryptogram": proof.cryptogram,
        "transaction_id": proof.transaction_id,
        "version": proof.version,
    }
    if proof.electronic_commerce_indicator:
        three_d_secure["electronic_commerce_indicator"] = proof.electronic_commerce_indicator
    return {"payment_method_options": {"card": {"three_d_secure": three_d_secure}}}


# --- payments ------------------------------------------------------------------------------


def _card_from(card: Mapping[str, Any]) -> Card:
    return Card(
        brand=str(card.get("brand") or "unknown"),
        last4=str(card.get("last4") or ""),
        funding=str(card.get("funding") or "unknown"),
        outcome=CardOutcome.DECIDED_BY_PROVIDER,
    )


async def _known_token(what: str, pending: Awaitable[T]) -> T:
    """A token read from Stripe; one Stripe does not know is TokenUnknown, not a failure."""
    try:
        return await pending
    except stripe.InvalidRequestError as error:
        if error.http_status == 404 or error.code == "resource_missing":
            raise TokenUnknown(f"Stripe does not know this {what}") from error
        raise provider_error(error, what) from error
    except stripe.StripeError as error:
        raise provider_error(error, what) from error


class StripePaymentProvider(StripeMoneyBack):
    """A hold on the buyer's card as a destination charge to the merchant's connected account,
    with the platform's commission as its application fee."""

    name = "stripe"

    def __init__(
        self,
        client: stripe.StripeClient,
        *,
        spt_api_version: str = SPT_API_VERSION,
        accept_test_payment_methods: bool = False,
        acquirer: Acquirer | None = None,
    ) -> None:
        self._client = client
        # Stripe's acquirer details for agents' 3-D Secure, when the platform has them.
        self.acquirer = acquirer
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
        response = await _known_token(
            "Shared Payment Token",
            self._client.raw_request_async(
                "get",
                f"/v1/shared_payment/granted_tokens/{token_id}",
                stripe_version=self._spt_api_version,
            ),
        )
        token = mapping(response.data)
        limits = mapping(token.get("usage_limits"))
        if not isinstance(limits.get("max_amount"), int) or not limits.get("currency"):
            raise PaymentRefused("The Shared Payment Token carries no usage limits")
        card = mapping(mapping(token.get("payment_method_details")).get("card"))
        session_id = mapping(token.get("shared_metadata")).get("checkout_session_id")
        return SharedToken(
            id=str(token.get("id", token_id)),
            max_amount=int(limits["max_amount"]),
            currency=str(limits["currency"]).lower(),
            expires_at=from_unix(limits.get("expires_at")),
            deactivated=token.get("deactivated_at") is not None,
            card=_card_from(card),
            checkout_session_id=str(session_id) if session_id else None,
        )

    async def _test_payment_method(self, payment_method_id: str) -> SharedToken:
        """A test-mode PaymentMethod as a token with no limit of its own: the session's total
        and currency are what it may pay, and it is spent once like any token."""
        method = await _known_token(
            "PaymentMethod", self._client.v1.payment_methods.retrieve_async(payment_method_id)
        )
        card = mapping(plain(method).get("card"))
        return SharedToken(
            id=payment_method_id,
            max_amount=2**31 - 1,
            currency="",
            expires_at=None,
            deactivated=False,
            card=_card_from(card),
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
        for attempt in range(_CREATE_ATTEMPTS):
            if attempt:
                # Stripe keeps a 500 under its key and replays it for 24 hours: look for the
                # PaymentIntent the failed request may have made (by our payment id) before a
                # new key. Assumed: search can lag a write by up to a minute (Stripe's docs),
                # so a hold made in that window could be missed and left to lapse uncaptured.
                found = await self._intent_carrying(request)
                if found is not None:
                    return _authorization_from(found)
                options["idempotency_key"] = f"{request.idempotency_key}:{attempt}"
            log.info(
                "stripe.payment_intent.create key=%s merchant=%s amount=%d currency=%s fee=%d "
                "token=%s",
                options["idempotency_key"],
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
                break
            except stripe.APIError as error:
                if error.http_status != 500 or attempt == _CREATE_ATTEMPTS - 1:
                    return self._declined_or_raise(request, error)
                provider_error(error, f"authorize {request.idempotency_key}")  # logged
            except stripe.StripeError as error:
                return self._declined_or_raise(request, error)
        authorization = _authorization_from(plain(intent))
        log.info(
            "stripe.payment_intent.created key=%s payment=%s status=%s",
            request.idempotency_key,
            authorization.payment_id,
            authorization.status.value,
        )
        return authorization

    async def _intent_carrying(self, request: AuthorizeRequest) -> dict[str, Any] | None:
        payment_id = request.metadata.get("payment_id")
        if not payment_id or not re.fullmatch(r"[\w-]+", payment_id):
            return None
        found = plain(
            await call(
                f"authorize {request.idempotency_key}",
                self._client.v1.payment_intents.search_async(
                    {"query": f"metadata['payment_id']:'{payment_id}'"}
                ),
            )
        )
        for item in found.get("data") or []:
            return mapping(item)
        return None

    def _is_spt(self, request: AuthorizeRequest) -> bool:
        return request.token_id.startswith(SPT_PREFIX)

    def _create_params(self, request: AuthorizeRequest) -> dict[str, Any]:
        params: dict[str, Any] = {
            "amount": request.amount,
            "currency": request.currency,
            "confirm": True,
            "capture_method": "manual",
            # An agent cannot follow a redirect, so only cards. Not `payment_method_types`:
            # Stripe removed it as a writable parameter in API 2026-08-26.preview and
            # 2026-09-30.endive and answers 400 payment_method_types_no_longer_supported.
            "allowed_payment_method_types": ["card"],
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
        body = error_body(error)
        payment_id = (
            ref_id(body.get("payment_intent"))
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
            raise provider_error(error, f"authorize {request.idempotency_key}") from error
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
            message=message(error),
        )

    async def _continue(self, request: AuthorizeRequest, payment_id: str) -> Authorization:
        """Pick up the PaymentIntent the previous attempt left for 3-D Secure."""
        log.info(
            "stripe.payment_intent.continue key=%s payment=%s authenticated=%s",
            request.idempotency_key,
            payment_id,
            request.authenticated,
        )
        intent = plain(
            await call(
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
        if status == "requires_action" and request.three_d_secure is not None:
            # The agent ran 3-D Secure itself: its result goes to Stripe on confirm
            # (payment_method_options[card][three_d_secure], Stripe's 3DS import). Confirming
            # an intent that waits in requires_action is assumed allowed, as for a retry.
            return await self._confirm(request, payment_id, _three_d_secure_options(request))
        if status == "requires_action":
            # Stripe moves the intent on once its SDK has run 3-D Secure; until then it waits.
            message = (
                "Stripe has not recorded the 3-D Secure result yet."
                if request.authenticated
                else "The card issuer asks for 3-D Secure authentication."
            )
            return Authorization(payment_id, AuthorizationStatus.REQUIRES_ACTION, message=message)
        if status == "requires_confirmation":
            return await self._confirm(request, payment_id, None)
        return _authorization_from(intent)

    async def _confirm(
        self, request: AuthorizeRequest, payment_id: str, params: dict[str, Any] | None
    ) -> Authorization:
        options: stripe.RequestOptions = {"idempotency_key": f"{request.idempotency_key}:confirm"}
        if self._is_spt(request):
            options["stripe_version"] = self._spt_api_version
        log.info(
            "stripe.payment_intent.confirm key=%s payment=%s three_d_secure=%s",
            request.idempotency_key,
            payment_id,
            params is not None,
        )
        try:
            confirmed = await self._client.v1.payment_intents.confirm_async(
                payment_id, cast("PaymentIntentConfirmParams", params or {}), options=options
            )
        except stripe.StripeError as error:
            return self._declined_or_raise(request, error, payment_id=payment_id)
        return _authorization_from(plain(confirmed))

    async def capture(self, payment_id: str, amount: int, *, idempotency_key: str) -> Capture:
        log.info("stripe.payment_intent.capture payment=%s amount=%d", payment_id, amount)
        params: PaymentIntentCaptureParams = {
            "amount_to_capture": amount,
            "expand": CHARGE_EXPANDED,
        }
        try:
            intent = await self._client.v1.payment_intents.capture_async(
                payment_id, params, options={"idempotency_key": idempotency_key}
            )
            return _capture_from(plain(intent))
        except stripe.InvalidRequestError as error:
            if _unexpected_state(error) != "succeeded":
                raise provider_error(error, f"capture {payment_id}") from error
        except stripe.StripeError as error:
            raise provider_error(error, f"capture {payment_id}") from error
        # Captured already, by a call whose answer was lost with its key: report that capture.
        captured = await self._intent_with_charge(payment_id, f"capture {payment_id}")
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
                raise provider_error(error, f"void {payment_id}") from error
            log.info("stripe.payment_intent.cancel_replayed payment=%s", payment_id)
        except stripe.StripeError as error:
            raise provider_error(error, f"void {payment_id}") from error

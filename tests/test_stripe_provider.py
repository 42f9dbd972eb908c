"""The Stripe provider, Connect accounts and webhook signatures against Stripe's API as respx
plays it, with response bodies in Stripe's own shapes (tests/stripe_fixtures)."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

import httpx
import pytest
import respx
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
    RefundRequest,
    RefundStatus,
    SharedToken,
    TokenUnknown,
)
from checkout.payments.stripe import StripePaymentProvider
from checkout.payments.stripe_accounts import StripeConnectedAccounts, account_status_from
from checkout.payments.stripe_sdk import stripe_client
from checkout.payments.stripe_webhooks import (
    StripeEvent,
    StripeSignatureInvalid,
    sign_stripe_payload,
    verify_stripe_event,
)
from tests.stripe_contract import check_object

FIXTURES = Path(__file__).resolve().parent / "stripe_fixtures"
API = "https://api.stripe.com"
PREVIEW = "2026-09-30.preview"
SELLER = "acct_1SellerTest"
PI = "pi_3SpT1kAgentic0001"
PI_3DS = "pi_3SpT1kAgentic3ds1"
FEE = "fee_1SpT2mAgentic0001"
SPT = "spt_1SpTGrantedToken01"
KEY = "pi:cs_01JAGENTIC:1"
PLATFORM_SECRET = "whsec_platform_test_0123456789abcdef"
CONNECT_SECRET = "whsec_connect_test_fedcba9876543210"
pytestmark = pytest.mark.anyio


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


def fixture(name: str) -> dict[str, Any]:
    body: dict[str, Any] = json.loads((FIXTURES / f"{name}.json").read_text())
    return body


def answer(body: str | dict[str, Any], status: int = 200) -> httpx.Response:
    """A Stripe response: a fixture by name, or a body."""
    payload = fixture(body) if isinstance(body, str) else body
    problems = check_object(payload)
    assert not problems, problems  # every answer is shaped as Stripe's published objects
    return httpx.Response(status, json=payload, headers={"Request-Id": "req_test_0001"})


def listing(url: str, items: list[dict[str, Any]]) -> dict[str, Any]:
    return {"object": "list", "data": items, "has_more": False, "url": url}


def form(request: httpx.Request) -> dict[str, str]:
    """The form-encoded body Stripe receives, one value per key."""
    fields = parse_qs(request.content.decode(), keep_blank_values=True, strict_parsing=True)
    assert all(len(values) == 1 for values in fields.values()), fields
    return {key: values[0] for key, values in fields.items()}


def query(request: httpx.Request) -> dict[str, list[str]]:
    return parse_qs(request.url.query.decode())


def keys(route: respx.Route) -> list[str]:
    return [call.request.headers["Idempotency-Key"] for call in route.calls]


@pytest.fixture
def backoff(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    """The SDK's waits between retries, recorded instead of slept (it sleeps 0.5 s or more)."""
    waits: list[float] = []

    async def no_sleep(self: stripe.HTTPXClient, seconds: float) -> None:
        waits.append(seconds)

    monkeypatch.setattr(stripe.HTTPXClient, "sleep_async", no_sleep)
    return waits


@pytest.fixture
def api() -> Iterator[respx.MockRouter]:
    with respx.mock(base_url=API, assert_all_called=False) as router:
        yield router


@pytest.fixture
def client(backoff: list[float]) -> stripe.StripeClient:
    return stripe_client(
        "sk_test_51SpTPlatformDummyKey",
        api_base=None,
        max_network_retries=2,
        timeout_seconds=5.0,
    )


@pytest.fixture
def provider(client: stripe.StripeClient) -> StripePaymentProvider:
    return StripePaymentProvider(client)


@pytest.fixture
def accounts(client: stripe.StripeClient) -> StripeConnectedAccounts:
    return StripeConnectedAccounts(client)


def authorize_request(**changes: Any) -> AuthorizeRequest:
    request = AuthorizeRequest(
        idempotency_key=KEY,
        amount=2599,
        currency="usd",
        merchant_id="m_northwind",
        connected_account=SELLER,
        application_fee=52,
        token_id=SPT,
        card=Card("visa", "4242", "credit", CardOutcome.DECIDED_BY_PROVIDER),
        authenticated=False,
        pending_payment_id=None,
        description="Order at Northwind Supply",
        metadata={"checkout_session_id": "cs_01JAGENTIC"},
    )
    return dataclasses.replace(request, **changes)


# --- client -------------------------------------------------------------------------------


async def test_client_goes_to_the_configured_base(backoff: list[float]) -> None:
    client = stripe_client(
        "sk_test_x", api_base="http://127.0.0.1:12111", max_network_retries=0, timeout_seconds=2
    )
    with respx.mock(base_url="http://127.0.0.1:12111") as local:
        route = local.get("/v1/accounts/acct_1SellerTest").mock(
            return_value=answer("account_enabled")
        )
        status = await StripeConnectedAccounts(client).account_status(SELLER)
    assert status.payable
    assert route.calls.last.request.headers["Authorization"] == "Bearer sk_test_x"


async def test_client_serves_async_calls_only(client: stripe.StripeClient) -> None:
    with pytest.raises(RuntimeError, match="allow_sync_methods"):
        client.v1.accounts.retrieve(SELLER)


def test_a_raw_card_is_refused(provider: StripePaymentProvider) -> None:
    with pytest.raises(CardRejected, match=r"Shared Payment Token \(spt_\.\.\.\)"):
        provider.card_for("4242424242424242", "credit")


# --- authorize ----------------------------------------------------------------------------


async def test_authorize_with_shared_token_is_a_destination_charge(
    api: respx.MockRouter, provider: StripePaymentProvider
) -> None:
    route = api.post("/v1/payment_intents").mock(
        return_value=answer("payment_intent_requires_capture")
    )

    result = await provider.authorize(authorize_request())

    assert result == Authorization(PI, AuthorizationStatus.AUTHORIZED)
    request = route.calls.last.request
    assert form(request) == {
        "amount": "2599",
        "currency": "usd",
        "confirm": "true",
        "capture_method": "manual",
        "allowed_payment_method_types[0]": "card",
        "description": "Order at Northwind Supply",
        "metadata[checkout_session_id]": "cs_01JAGENTIC",
        "metadata[merchant_id]": "m_northwind",
        "application_fee_amount": "52",
        "transfer_data[destination]": SELLER,
        "on_behalf_of": SELLER,
        "payment_method_data[shared_payment_granted_token]": SPT,
    }
    assert request.headers["Idempotency-Key"] == KEY
    assert request.headers["Stripe-Version"] == PREVIEW


async def test_authorize_with_payment_method_keeps_default_version(
    api: respx.MockRouter, provider: StripePaymentProvider
) -> None:
    route = api.post("/v1/payment_intents").mock(
        return_value=answer("payment_intent_requires_capture")
    )

    result = await provider.authorize(
        authorize_request(token_id="pm_card_visa", connected_account=None, application_fee=0)
    )

    assert result.status is AuthorizationStatus.AUTHORIZED
    request = route.calls.last.request
    sent = form(request)
    assert sent["payment_method"] == "pm_card_visa"
    for absent in (
        "application_fee_amount",
        "transfer_data[destination]",
        "on_behalf_of",
        "payment_method_data[shared_payment_granted_token]",
    ):
        assert absent not in sent
    assert request.headers["Stripe-Version"] != PREVIEW


async def test_a_fee_without_connected_account_is_refused_before_calling(
    api: respx.MockRouter, provider: StripePaymentProvider
) -> None:
    route = api.post("/v1/payment_intents")
    with pytest.raises(PaymentRefused, match="no connected account"):
        await provider.authorize(authorize_request(connected_account=None))
    with pytest.raises(PaymentRefused, match="Shared Payment Token"):
        await provider.authorize(authorize_request(token_id="vt_01J9ZVAULT"))
    assert not route.called


@pytest.mark.parametrize(
    ("body", "code", "payment_id", "message"),
    [
        ("error_card_declined_generic", "generic_decline", "pi_3SpT1kAgenticDcl1", "declined"),
        (
            "error_card_declined_insufficient_funds",
            "insufficient_funds",
            "pi_3SpT1kAgenticDcl2",
            "insufficient funds",
        ),
    ],
)
async def test_card_decline(
    api: respx.MockRouter,
    provider: StripePaymentProvider,
    body: str,
    code: str,
    payment_id: str,
    message: str,
) -> None:
    route = api.post("/v1/payment_intents").mock(return_value=answer(body, 402))

    result = await provider.authorize(authorize_request())

    assert result.status is AuthorizationStatus.DECLINED
    assert result.decline_code == code
    assert result.payment_id == payment_id
    assert result.message is not None and message in result.message
    assert route.call_count == 1  # a decline is an answer, not retried


async def test_decline_without_payment_intent_gets_key_derived_id(
    api: respx.MockRouter, provider: StripePaymentProvider
) -> None:
    body = fixture("error_card_declined_generic")
    del body["error"]["payment_intent"]
    api.post("/v1/payment_intents").mock(return_value=answer(body, 402))

    result = await provider.authorize(authorize_request())

    assert result.payment_id == f"declined:{KEY}"
    assert result.decline_code == "generic_decline"


async def test_shared_token_refusal_is_a_decline(
    api: respx.MockRouter, provider: StripePaymentProvider
) -> None:
    api.post("/v1/payment_intents").mock(return_value=answer("error_spt_rejected", 400))

    result = await provider.authorize(authorize_request())

    assert result == Authorization(
        "pi_3SpT1kAgenticSpt9",
        AuthorizationStatus.DECLINED,
        decline_code="spt_rejected",
        message=fixture("error_spt_rejected")["error"]["message"],
    )


async def test_refusal_of_our_own_params_is_not_a_decline(
    api: respx.MockRouter, provider: StripePaymentProvider
) -> None:
    api.post("/v1/payment_intents").mock(return_value=answer("error_transfer_data_rejected", 400))
    with pytest.raises(PaymentRefused, match="capabilities"):
        await provider.authorize(authorize_request())


async def test_three_d_secure_continues_the_same_payment_intent(
    api: respx.MockRouter, provider: StripePaymentProvider
) -> None:
    create = api.post("/v1/payment_intents").mock(
        return_value=answer("payment_intent_requires_action")
    )
    first = await provider.authorize(authorize_request())
    assert first.status is AuthorizationStatus.REQUIRES_ACTION
    assert first.payment_id == PI_3DS

    authorized = {**fixture("payment_intent_requires_action"), "status": "requires_capture"}
    authorized["next_action"] = None
    retrieve = api.get(f"/v1/payment_intents/{PI_3DS}").mock(
        side_effect=[answer("payment_intent_requires_action"), answer(authorized)]
    )
    waiting = await provider.authorize(
        authorize_request(idempotency_key="pi:cs_01JAGENTIC:2", pending_payment_id=PI_3DS)
    )
    assert waiting.status is AuthorizationStatus.REQUIRES_ACTION
    assert waiting.payment_id == PI_3DS

    second = await provider.authorize(
        authorize_request(
            idempotency_key="pi:cs_01JAGENTIC:3", pending_payment_id=PI_3DS, authenticated=True
        )
    )

    assert second == Authorization(PI_3DS, AuthorizationStatus.AUTHORIZED)
    assert retrieve.call_count == 2
    assert create.call_count == 1  # no second PaymentIntent


async def test_three_d_secure_confirms_a_payment_intent_awaiting_confirmation(
    api: respx.MockRouter, provider: StripePaymentProvider
) -> None:
    pending = {**fixture("payment_intent_requires_action"), "status": "requires_confirmation"}
    authorized = {**pending, "status": "requires_capture", "next_action": None}
    api.get(f"/v1/payment_intents/{PI_3DS}").mock(return_value=answer(pending))
    confirm = api.post(f"/v1/payment_intents/{PI_3DS}/confirm").mock(
        return_value=answer(authorized)
    )
    create = api.post("/v1/payment_intents")

    result = await provider.authorize(
        authorize_request(pending_payment_id=PI_3DS, authenticated=True)
    )

    assert result == Authorization(PI_3DS, AuthorizationStatus.AUTHORIZED)
    assert keys(confirm) == [f"{KEY}:confirm"]
    assert confirm.calls.last.request.headers["Stripe-Version"] == PREVIEW
    assert not create.called


async def test_decline_on_confirm_keeps_the_pending_payment_id(
    api: respx.MockRouter, provider: StripePaymentProvider
) -> None:
    pending = {**fixture("payment_intent_requires_action"), "status": "requires_confirmation"}
    declined = fixture("error_card_declined_generic")
    del declined["error"]["payment_intent"]
    api.get(f"/v1/payment_intents/{PI_3DS}").mock(return_value=answer(pending))
    api.post(f"/v1/payment_intents/{PI_3DS}/confirm").mock(return_value=answer(declined, 402))

    result = await provider.authorize(
        authorize_request(pending_payment_id=PI_3DS, authenticated=True)
    )

    assert (result.payment_id, result.status, result.decline_code) == (
        PI_3DS,
        AuthorizationStatus.DECLINED,
        "generic_decline",
    )


async def test_failed_three_d_secure_is_a_decline(
    api: respx.MockRouter, provider: StripePaymentProvider
) -> None:
    failed = {
        **fixture("payment_intent_requires_action"),
        "status": "requires_payment_method",
        "next_action": None,
        "last_payment_error": {
            "type": "invalid_request_error",
            "code": "payment_intent_authentication_failure",
            "message": "We are unable to authenticate your payment method.",
        },
    }
    api.get(f"/v1/payment_intents/{PI_3DS}").mock(return_value=answer(failed))

    result = await provider.authorize(
        authorize_request(pending_payment_id=PI_3DS, authenticated=True)
    )

    assert result.status is AuthorizationStatus.DECLINED
    assert result.decline_code == "payment_intent_authentication_failure"
    assert result.payment_id == PI_3DS


async def test_pending_payment_for_another_amount_is_refused(
    api: respx.MockRouter, provider: StripePaymentProvider
) -> None:
    api.get(f"/v1/payment_intents/{PI_3DS}").mock(
        return_value=answer("payment_intent_requires_action")
    )
    with pytest.raises(PaymentRefused, match="2599 usd, not 3100 usd"):
        await provider.authorize(authorize_request(pending_payment_id=PI_3DS, amount=3100))


async def test_server_error_is_retried_with_the_same_key(
    api: respx.MockRouter, provider: StripePaymentProvider, backoff: list[float]
) -> None:
    route = api.post("/v1/payment_intents").mock(
        side_effect=[answer("error_api", 500), answer("payment_intent_requires_capture")]
    )

    result = await provider.authorize(authorize_request())

    assert result == Authorization(PI, AuthorizationStatus.AUTHORIZED)
    assert keys(route) == [KEY, KEY]
    assert len(backoff) == 1 and backoff[0] >= 0.5


async def test_timeouts_are_unavailable_and_a_repeat_reuses_the_key(
    api: respx.MockRouter, provider: StripePaymentProvider, backoff: list[float]
) -> None:
    route = api.post("/v1/payment_intents").mock(
        side_effect=[
            httpx.ConnectTimeout("connect timed out"),
            httpx.ReadTimeout("read timed out"),
            httpx.ReadTimeout("read timed out"),
            answer("payment_intent_requires_capture"),
        ]
    )

    with pytest.raises(PaymentUnavailable):
        await provider.authorize(authorize_request())
    assert route.call_count == 3  # one attempt and the SDK's two retries
    assert len(backoff) == 2

    result = await provider.authorize(authorize_request())

    assert result == Authorization(PI, AuthorizationStatus.AUTHORIZED)
    assert keys(route) == [KEY] * 4  # Stripe replays the first PaymentIntent: no duplicate


@pytest.mark.parametrize(
    ("status", "body", "raised"),
    [
        (
            401,
            {"error": {"type": "invalid_request_error", "message": "Invalid API Key"}},
            PaymentRefused,
        ),
        (
            403,
            {"error": {"type": "invalid_request_error", "message": "Not allowed"}},
            PaymentRefused,
        ),
        (400, {"error": {"type": "idempotency_error", "message": "Keys reused"}}, PaymentRefused),
        (
            429,
            {
                "error": {
                    "type": "invalid_request_error",
                    "code": "rate_limit",
                    "message": "Slow down",
                }
            },
            PaymentUnavailable,
        ),
        (503, {"error": {"type": "api_error", "message": "Unavailable"}}, PaymentUnavailable),
    ],
)
async def test_errors_map_to_refused_or_unavailable(
    api: respx.MockRouter,
    provider: StripePaymentProvider,
    status: int,
    body: dict[str, Any],
    raised: type[Exception],
) -> None:
    api.post("/v1/payment_intents").mock(
        return_value=httpx.Response(status, json=body, headers={"Stripe-Should-Retry": "false"})
    )
    with pytest.raises(raised):
        await provider.authorize(authorize_request(token_id="pm_card_visa"))


# --- capture and void ---------------------------------------------------------------------


async def test_capture(api: respx.MockRouter, provider: StripePaymentProvider) -> None:
    route = api.post(f"/v1/payment_intents/{PI}/capture").mock(
        return_value=answer("payment_intent_captured")
    )

    result = await provider.capture(PI, 2599, idempotency_key="capture:pay_01")

    assert result == Capture(PI, "ch_3SpT1kAgentic0001", "tr_3SpT1kAgentic0001", FEE)
    request = route.calls.last.request
    assert form(request) == {
        "amount_to_capture": "2599",
        "expand[0]": "latest_charge",
        "expand[1]": "latest_charge.balance_transaction",
    }
    assert request.headers["Idempotency-Key"] == "capture:pay_01"


async def test_capture_reads_an_unexpanded_charge(
    api: respx.MockRouter, provider: StripePaymentProvider
) -> None:
    body = {**fixture("payment_intent_captured"), "latest_charge": "ch_3SpT1kAgentic0001"}
    api.post(f"/v1/payment_intents/{PI}/capture").mock(return_value=answer(body))

    result = await provider.capture(PI, 2599, idempotency_key="capture:pay_01")

    assert result == Capture(PI, "ch_3SpT1kAgentic0001", None, None)


async def test_capture_of_a_captured_payment_reports_that_capture(
    api: respx.MockRouter, provider: StripePaymentProvider
) -> None:
    capture = api.post(f"/v1/payment_intents/{PI}/capture").mock(
        return_value=answer("error_capture_already_captured", 400)
    )
    retrieve = api.get(f"/v1/payment_intents/{PI}").mock(
        return_value=answer("payment_intent_captured")
    )

    result = await provider.capture(PI, 2599, idempotency_key="capture:pay_01:lost")

    assert result == Capture(PI, "ch_3SpT1kAgentic0001", "tr_3SpT1kAgentic0001", FEE)
    assert capture.call_count == 1
    assert query(retrieve.calls.last.request) == {
        "expand[0]": ["latest_charge"],
        "expand[1]": ["latest_charge.balance_transaction"],
    }

    with pytest.raises(PaymentRefused, match="captured for 2599, not 2000"):
        await provider.capture(PI, 2000, idempotency_key="capture:pay_01:other")


async def test_capture_of_an_expired_hold_is_refused(
    api: respx.MockRouter, provider: StripePaymentProvider
) -> None:
    body = fixture("error_capture_already_captured")
    body["error"]["payment_intent"]["status"] = "canceled"
    api.post(f"/v1/payment_intents/{PI}/capture").mock(return_value=answer(body, 400))
    with pytest.raises(PaymentRefused):
        await provider.capture(PI, 2599, idempotency_key="capture:pay_01")


async def test_void(api: respx.MockRouter, provider: StripePaymentProvider) -> None:
    route = api.post(f"/v1/payment_intents/{PI}/cancel").mock(
        return_value=answer("payment_intent_canceled")
    )

    await provider.void(PI, idempotency_key="void:pay_01")

    assert keys(route) == ["void:pay_01"]


async def test_void_of_a_canceled_payment_is_done(
    api: respx.MockRouter, provider: StripePaymentProvider
) -> None:
    api.post(f"/v1/payment_intents/{PI}/cancel").mock(
        return_value=answer("error_cancel_already_canceled", 400)
    )
    await provider.void(PI, idempotency_key="void:pay_01")


async def test_void_of_a_captured_payment_is_refused(
    api: respx.MockRouter, provider: StripePaymentProvider
) -> None:
    body = fixture("error_cancel_already_canceled")
    body["error"]["payment_intent"]["status"] = "succeeded"
    api.post(f"/v1/payment_intents/{PI}/cancel").mock(return_value=answer(body, 400))
    with pytest.raises(PaymentRefused):
        await provider.void(PI, idempotency_key="void:pay_01")


# --- refunds ------------------------------------------------------------------------------


class RefundingStripe:
    """Stripe's refunds on one destination charge: each refund request (new key) makes the next
    queued refund and its fee refund together; a repeated key replays the saved refund."""

    def __init__(
        self, api: respx.MockRouter, fee_refunds: list[dict[str, Any]] | None = None
    ) -> None:
        self.queued: list[tuple[dict[str, Any], dict[str, Any]]] = []
        self.refunds: list[dict[str, Any]] = []  # newest first, as Stripe lists them
        self.fee_refunds: list[dict[str, Any]] = list(fee_refunds or [])
        self.saved: dict[str, dict[str, Any]] = {}
        api.get(f"/v1/payment_intents/{PI}").mock(return_value=answer("payment_intent_captured"))
        api.get(f"/v1/application_fees/{FEE}").mock(side_effect=self._fee)
        self.create = api.post("/v1/refunds").mock(side_effect=self._create)
        self.list_refunds = api.get("/v1/refunds").mock(
            side_effect=lambda request: answer(listing("/v1/refunds", self.refunds))
        )
        api.get(f"/v1/application_fees/{FEE}/refunds").mock(
            side_effect=lambda request: answer(
                listing(f"/v1/application_fees/{FEE}/refunds", self.fee_refunds)
            )
        )

    def queue(self, refund: str, fee_refund: str) -> None:
        self.queued.append((fixture(refund), fixture(fee_refund)))

    def _fee(self, request: httpx.Request) -> httpx.Response:
        refunded = sum(item["amount"] for item in self.fee_refunds)
        return answer({**fixture("application_fee"), "amount_refunded": refunded})

    def _create(self, request: httpx.Request) -> httpx.Response:
        key = request.headers["Idempotency-Key"]
        if key not in self.saved:
            refund, fee_refund = self.queued.pop(0)
            self.refunds.insert(0, refund)
            self.fee_refunds.insert(0, fee_refund)
            self.saved[key] = refund
        return answer(self.saved[key])


def refund_request(key: str, amount: int, **changes: Any) -> RefundRequest:
    request = RefundRequest(
        idempotency_key=key,
        payment_id=PI,
        amount=amount,
        currency="usd",
        application_fee_refund=0,
        reason="requested_by_customer",
        metadata={"order_id": "ord_42"},
    )
    return dataclasses.replace(request, **changes)


async def test_partial_then_full_refund_report_stripes_fee_refunds(
    api: respx.MockRouter, provider: StripePaymentProvider
) -> None:
    stripe_api = RefundingStripe(api)
    stripe_api.queue("refund_partial", "fee_refund_partial")
    stripe_api.queue("refund_full", "fee_refund_full")

    partial = await provider.refund(refund_request("re:ord_42:1", 1000, application_fee_refund=20))
    full = await provider.refund(refund_request("re:ord_42:2", 1599, application_fee_refund=32))

    assert (partial.refund_id, partial.status, partial.application_fee_refunded) == (
        "re_3SpT1kAgentic0001",
        RefundStatus.SUCCEEDED,
        20,
    )
    assert (full.refund_id, full.status, full.application_fee_refunded) == (
        "re_3SpT1kAgentic0002",
        RefundStatus.PENDING,
        32,
    )
    # The running total of the fee given back, which stays right across retries.
    assert (partial.application_fee_refunded_total, full.application_fee_refunded_total) == (
        20,
        52,
    )
    first = stripe_api.create.calls[0].request
    assert form(first) == {
        "payment_intent": PI,
        "amount": "1000",
        "expand[0]": "balance_transaction",
        "reverse_transfer": "true",
        "refund_application_fee": "true",
        "reason": "requested_by_customer",
        "metadata[order_id]": "ord_42",
    }
    assert keys(stripe_api.create) == ["re:ord_42:1", "re:ord_42:2"]
    assert query(stripe_api.list_refunds.calls.last.request) == {
        "charge": ["ch_3SpT1kAgentic0001"],
        "limit": ["100"],
    }


async def test_a_repeated_refund_reports_its_own_fee_refund(
    api: respx.MockRouter, provider: StripePaymentProvider
) -> None:
    stripe_api = RefundingStripe(api)
    stripe_api.queue("refund_partial", "fee_refund_partial")
    stripe_api.queue("refund_full", "fee_refund_full")
    await provider.refund(refund_request("re:ord_42:1", 1000))
    await provider.refund(refund_request("re:ord_42:2", 1599))

    # The first answer was lost; the retry comes after the second refund and is replayed.
    repeated = await provider.refund(refund_request("re:ord_42:1", 1000))

    assert repeated.refund_id == "re_3SpT1kAgentic0001"
    assert repeated.application_fee_refunded == 20
    assert len(stripe_api.refunds) == 2


async def test_unpaired_fee_refunds_fall_back_to_the_fee_growth(
    api: respx.MockRouter, provider: StripePaymentProvider, caplog: pytest.LogCaptureFixture
) -> None:
    standalone = {**fixture("fee_refund_partial"), "id": "fr_1SpT3sStandalone01", "amount": 5}
    stripe_api = RefundingStripe(api, fee_refunds=[standalone])
    stripe_api.queue("refund_partial", "fee_refund_partial")

    result = await provider.refund(refund_request("re:ord_42:1", 1000))

    assert result.application_fee_refunded == 20
    assert "stripe.refund.fee_unpaired" in caplog.text


async def test_refund_without_fee_or_transfer_reports_no_fee(
    api: respx.MockRouter, provider: StripePaymentProvider
) -> None:
    intent = fixture("payment_intent_captured")
    intent["latest_charge"].update(application_fee=None, transfer=None, application_fee_amount=None)
    api.get(f"/v1/payment_intents/{PI}").mock(return_value=answer(intent))
    create = api.post("/v1/refunds").mock(return_value=answer("refund_partial"))

    result = await provider.refund(
        refund_request("re:ord_42:1", 1000, reason="item arrived damaged")
    )

    assert result.application_fee_refunded == 0
    assert form(create.calls.last.request) == {
        "payment_intent": PI,
        "amount": "1000",
        "expand[0]": "balance_transaction",
        "metadata[order_id]": "ord_42",
        "metadata[reason]": "item arrived damaged",
    }


async def test_refund_of_a_payment_without_charge_is_refused(
    api: respx.MockRouter, provider: StripePaymentProvider
) -> None:
    api.get(f"/v1/payment_intents/{PI}").mock(return_value=answer("payment_intent_requires_action"))
    create = api.post("/v1/refunds")
    with pytest.raises(PaymentRefused, match="no charge"):
        await provider.refund(refund_request("re:ord_42:1", 1000, payment_id=PI))
    assert not create.called


async def test_refund_beyond_the_charge_is_refused(
    api: respx.MockRouter, provider: StripePaymentProvider
) -> None:
    RefundingStripe(api)
    api.post("/v1/refunds").mock(
        return_value=answer(
            {
                "error": {
                    "type": "invalid_request_error",
                    "code": "charge_already_refunded",
                    "message": "Charge ch_3SpT1kAgentic0001 has already been refunded.",
                }
            },
            400,
        )
    )
    with pytest.raises(PaymentRefused, match="already been refunded"):
        await provider.refund(refund_request("re:ord_42:9", 2599))


# --- shared payment tokens ----------------------------------------------------------------


async def test_shared_token(api: respx.MockRouter, provider: StripePaymentProvider) -> None:
    route = api.get(f"/v1/shared_payment/granted_tokens/{SPT}").mock(
        return_value=answer("shared_payment_granted_token")
    )

    token = await provider.shared_token(SPT)

    assert token == SharedToken(
        id=SPT,
        max_amount=2599,
        currency="usd",
        expires_at=datetime(2026, 11, 24, 23, 21, 40, tzinfo=UTC),
        deactivated=False,
        card=Card("visa", "4242", "credit", CardOutcome.DECIDED_BY_PROVIDER),
        checkout_session_id="cs_01JAGENTIC",
    )
    assert token.expires_at == datetime.fromtimestamp(1795562500, UTC)
    assert route.calls.last.request.headers["Stripe-Version"] == PREVIEW


async def test_deactivated_shared_token(
    api: respx.MockRouter, provider: StripePaymentProvider
) -> None:
    body = {
        **fixture("shared_payment_granted_token"),
        "deactivated_at": 1795559100,
        "deactivated_reason": "consumed",
        "shared_metadata": {},
    }
    body["usage_limits"]["expires_at"] = None
    api.get(f"/v1/shared_payment/granted_tokens/{SPT}").mock(return_value=answer(body))

    token = await provider.shared_token(SPT)

    assert token.deactivated
    assert token.expires_at is None
    assert token.checkout_session_id is None


async def test_unknown_shared_token(api: respx.MockRouter, provider: StripePaymentProvider) -> None:
    unknown = "spt_1SpTUnknown0000"
    api.get(f"/v1/shared_payment/granted_tokens/{unknown}").mock(
        return_value=answer("error_spt_resource_missing", 404)
    )
    with pytest.raises(TokenUnknown):
        await provider.shared_token(unknown)


async def test_malformed_shared_token_id_is_unknown_without_a_call(
    api: respx.MockRouter, provider: StripePaymentProvider
) -> None:
    for token_id in ("spt_../../v1/accounts", "vt_01J9ZVAULT", "spt_"):
        with pytest.raises(TokenUnknown):
            await provider.shared_token(token_id)
    assert not api.calls


# --- connected accounts -------------------------------------------------------------------


async def test_open_account(api: respx.MockRouter, accounts: StripeConnectedAccounts) -> None:
    route = api.post("/v1/accounts").mock(return_value=answer("account_pending"))

    status = await accounts.open_account(
        merchant_id="m_northwind",
        country="US",
        email="seller@northwind.example",
        idempotency_key="acct:m_northwind",
    )

    assert status.account_id == SELLER and not status.payable
    request = route.calls.last.request
    assert form(request) == {
        "country": "US",
        "email": "seller@northwind.example",
        "controller[fees][payer]": "application",
        "controller[losses][payments]": "application",
        "controller[stripe_dashboard][type]": "express",
        "capabilities[card_payments][requested]": "true",
        "capabilities[transfers][requested]": "true",
        "metadata[merchant_id]": "m_northwind",
    }
    assert request.headers["Idempotency-Key"] == "acct:m_northwind"
    assert request.headers["Stripe-Version"] != PREVIEW


async def test_onboarding_link(api: respx.MockRouter, accounts: StripeConnectedAccounts) -> None:
    route = api.post("/v1/account_links").mock(return_value=answer("account_link"))

    link = await accounts.onboarding_link(
        SELLER,
        refresh_url="https://platform.example/merchants/m_northwind/onboarding/refresh",
        return_url="https://platform.example/merchants/m_northwind/onboarding/return",
    )

    assert link == OnboardingLink(
        url="https://connect.stripe.com/setup/e/acct_1SellerTest/Xq1AbCdEfGh",
        expires_at=datetime.fromtimestamp(1795559300, UTC),
    )
    assert link.expires_at.tzinfo is UTC
    assert form(route.calls.last.request) == {
        "account": SELLER,
        "type": "account_onboarding",
        "refresh_url": "https://platform.example/merchants/m_northwind/onboarding/refresh",
        "return_url": "https://platform.example/merchants/m_northwind/onboarding/return",
        "collection_options[fields]": "currently_due",
    }


async def test_account_status(api: respx.MockRouter, accounts: StripeConnectedAccounts) -> None:
    api.get(f"/v1/accounts/{SELLER}").mock(return_value=answer("account_enabled"))
    assert (await accounts.account_status(SELLER)).payable


async def test_account_status_when_stripe_is_down(
    api: respx.MockRouter, accounts: StripeConnectedAccounts
) -> None:
    api.get(f"/v1/accounts/{SELLER}").mock(side_effect=httpx.ConnectError("refused"))
    with pytest.raises(PaymentUnavailable):
        await accounts.account_status(SELLER)


def test_account_status_from_a_pending_account() -> None:
    assert account_status_from(fixture("account_pending")) == AccountStatus(
        account_id=SELLER,
        charges_enabled=False,
        transfers_active=False,
        details_submitted=False,
        requirements_due=(
            "business_type",
            "external_account",
            "tos_acceptance.date",
            "tos_acceptance.ip",
        ),
        disabled_reason="requirements.past_due",
    )


def test_account_status_from_an_enabled_account() -> None:
    status = account_status_from(fixture("account_enabled"))
    assert status == AccountStatus(SELLER, True, True, True, (), None)
    assert status.payable


def test_account_status_needs_transfers_active_to_be_payable() -> None:
    account = fixture("account_enabled")
    account["capabilities"]["transfers"] = "pending"
    assert not account_status_from(account).payable


# --- webhooks -----------------------------------------------------------------------------

NOW = datetime(2026, 11, 24, 12, 0, 0, tzinfo=UTC)
SIGNED_AT = int(NOW.timestamp()) - 10


def event_bytes(name: str = "event_payment_intent_succeeded") -> bytes:
    return (FIXTURES / f"{name}.json").read_bytes()


def verify(
    payload: bytes,
    header: str | None,
    secrets: tuple[str, ...] = (PLATFORM_SECRET, CONNECT_SECRET),
) -> StripeEvent:
    return verify_stripe_event(payload, header, secrets, now=NOW)


def test_good_signature() -> None:
    payload = event_bytes()

    event = verify(payload, sign_stripe_payload(payload, PLATFORM_SECRET, SIGNED_AT))

    assert event == StripeEvent(
        id="evt_3SpT1kAgentic0001",
        type="payment_intent.succeeded",
        created=datetime.fromtimestamp(1795559323, UTC),
        account=None,
        data=fixture("event_payment_intent_succeeded")["data"]["object"],
    )


def test_our_signature_is_stripes() -> None:
    payload = event_bytes()
    ours = sign_stripe_payload(payload, PLATFORM_SECRET, SIGNED_AT)
    assert ours == stripe.WebhookSignature.generate_signature_header(
        payload.decode(), PLATFORM_SECRET, timestamp=SIGNED_AT
    )
    assert stripe.WebhookSignature.verify_header(payload.decode(), ours, PLATFORM_SECRET, 0)


def test_connect_secret_matches_and_carries_the_account() -> None:
    payload = event_bytes("event_account_updated")

    event = verify(payload, sign_stripe_payload(payload, CONNECT_SECRET, SIGNED_AT))

    assert event.type == "account.updated"
    assert event.account == SELLER
    assert account_status_from(event.data).payable


def test_rolled_secret_second_v1_matches() -> None:
    payload = event_bytes()
    stale = sign_stripe_payload(payload, "whsec_rolled_away_000", SIGNED_AT).split(",")[1]
    fresh = sign_stripe_payload(payload, PLATFORM_SECRET, SIGNED_AT).split(",")[1]

    event = verify(payload, f"t={SIGNED_AT},{stale},{fresh}")

    assert event.id == "evt_3SpT1kAgentic0001"


def sign_with(payload: bytes, secret: str = PLATFORM_SECRET, at: int = SIGNED_AT) -> str:
    return sign_stripe_payload(payload, secret, at)


@pytest.mark.parametrize(
    ("make_header", "payload", "reason"),
    [
        (lambda p: None, event_bytes(), "no Stripe-Signature"),
        (lambda p: "", event_bytes(), "no Stripe-Signature"),
        (lambda p: sign_with(p, "whsec_someone_else"), event_bytes(), "matches"),
        (
            lambda p: sign_with(event_bytes()),
            event_bytes().replace(b'"amount": 2599', b'"amount": 1'),
            "matches",
        ),
        (lambda p: sign_with(p, at=SIGNED_AT - 600), event_bytes(), "too old"),
        (lambda p: sign_with(p, at=int(NOW.timestamp()) + 3600), event_bytes(), "future"),
        (lambda p: sign_with(p).replace("v1=", "v0="), event_bytes(), "no v1 signature in"),
        (lambda p: sign_with(p).split(",")[1], event_bytes(), "no timestamp"),
        (lambda p: sign_with(p), b"not json", "not JSON"),
        (lambda p: sign_with(p), b'{"object": "payment_intent", "id": "pi_1"}', "not an event"),
    ],
    ids=[
        "header-missing",
        "header-empty",
        "wrong-secret",
        "tampered-body",
        "old-timestamp",
        "future-timestamp",
        "v0-only",
        "no-timestamp",
        "not-json",
        "not-an-event",
    ],
)
def test_bad_deliveries_are_rejected(
    make_header: Callable[[bytes], str | None], payload: bytes, reason: str
) -> None:
    with pytest.raises(StripeSignatureInvalid, match=reason):
        verify(payload, make_header(payload))


def test_an_empty_secret_never_verifies() -> None:
    payload = event_bytes()
    with pytest.raises(StripeSignatureInvalid, match="matches"):
        verify(payload, sign_with(payload, ""), secrets=("",))


def test_a_signature_within_tolerance_either_way_is_accepted() -> None:
    payload = event_bytes()
    for at in (int(NOW.timestamp()) - 299, int(NOW.timestamp()) + 299):
        assert verify(payload, sign_with(payload, at=at)).id == "evt_3SpT1kAgentic0001"


def test_naive_now_is_a_programming_error() -> None:
    payload = event_bytes()
    with pytest.raises(ValueError, match="timezone-aware"):
        verify_stripe_event(
            payload, sign_with(payload), [PLATFORM_SECRET], now=datetime(2026, 11, 24, 12)
        )


PM_CARD = {
    "id": "pm_1SpTTestCard0001",
    "object": "payment_method",
    "type": "card",
    "allow_redisplay": "unspecified",
    "billing_details": {
        "address": None,
        "email": None,
        "name": None,
        "phone": None,
        "tax_id": None,
    },
    "card": {"brand": "visa", "last4": "4242", "funding": "credit", "exp_month": 12},
    "created": 1795000000,
    "customer": None,
    "customer_account": None,
    "livemode": False,
    "metadata": {},
}


async def test_test_mode_takes_a_payment_method_as_a_token_without_limits_of_its_own(
    api: respx.MockRouter, client: stripe.StripeClient
) -> None:
    route = api.get(f"/v1/payment_methods/{PM_CARD['id']}").mock(return_value=answer(PM_CARD))
    provider = StripePaymentProvider(client, accept_test_payment_methods=True)

    token = await provider.shared_token(str(PM_CARD["id"]))

    assert route.called
    assert token.card == Card("visa", "4242", "credit", CardOutcome.DECIDED_BY_PROVIDER)
    assert (token.currency, token.expires_at, token.deactivated) == ("", None, False)


async def test_outside_test_mode_a_payment_method_is_not_a_token(
    api: respx.MockRouter, provider: StripePaymentProvider
) -> None:
    route = api.get(f"/v1/payment_methods/{PM_CARD['id']}").mock(return_value=answer(PM_CARD))
    with pytest.raises(TokenUnknown):
        await provider.shared_token(str(PM_CARD["id"]))
    assert not route.called


async def test_commission_returned_reads_the_fee_of_the_payment_s_charge(
    api: respx.MockRouter, provider: StripePaymentProvider
) -> None:
    intent = fixture("payment_intent_captured")
    charge = intent["latest_charge"]
    fee_id = charge["application_fee"] if isinstance(charge, dict) else None
    assert fee_id, "the fixture's charge carries its application fee"
    api.get(f"/v1/payment_intents/{intent['id']}").mock(return_value=answer(intent))
    fee = {**fixture("application_fee"), "id": fee_id, "amount_refunded": 31}
    api.get(f"/v1/application_fees/{fee_id}").mock(return_value=answer(fee))

    assert await provider.commission_returned(intent["id"]) == 31

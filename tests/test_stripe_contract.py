"""The Stripe fake is held to Stripe's own definitions (tests/stripe_contract.py): the SDK's
parameter types for what it is asked, Stripe's published example objects and the SDK's resource
types for what it answers, Stripe's documented error codes."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest

from checkout.payments.provider import (
    AuthorizeRequest,
    Card,
    CardOutcome,
    PaymentRefused,
)
from checkout.payments.stripe import StripePaymentProvider
from checkout.payments.stripe_sdk import stripe_client
from tests.fake_stripe import SECRET_KEY, FakeStripe
from tests.stripe_contract import (
    DOCUMENTED_ERROR_CODES,
    OMITTED_BY_DEFAULT,
    PREVIEW_ENDPOINTS,
    PREVIEW_PARAMS,
    VARIANT_FIELDS,
    ContractViolation,
    check_error,
    check_object,
    check_request,
    fixtures,
)

pytestmark = pytest.mark.anyio

PI_CREATE = {
    "amount": "2599",
    "currency": "usd",
    "confirm": "true",
    "capture_method": "manual",
    "allowed_payment_method_types[0]": "card",
    "metadata[checkout_session_id]": "cs_1",
    "application_fee_amount": "52",
    "transfer_data[destination]": "acct_1",
    "on_behalf_of": "acct_1",
    "payment_method_data[shared_payment_granted_token]": "spt_1",
}


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


def authorize_request(**changes: Any) -> AuthorizeRequest:
    values: dict[str, Any] = {
        "idempotency_key": "cs_1:authorize:pay_1",
        "amount": 2599,
        "currency": "usd",
        "merchant_id": "mch_1",
        "connected_account": None,
        "application_fee": 0,
        "token_id": "pm_card_visa",
        "card": Card("visa", "4242", "credit", CardOutcome.DECIDED_BY_PROVIDER),
        "authenticated": False,
        "pending_payment_id": None,
        "description": "",
    }
    return AuthorizeRequest(**{**values, **changes})


async def test_the_contract_check_fails_the_test_that_reintroduces_payment_method_types(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    original = StripePaymentProvider._create_params

    def with_the_removed_parameter(
        self: StripePaymentProvider, request: AuthorizeRequest
    ) -> dict[str, Any]:
        params = original(self, request)
        params.pop("allowed_payment_method_types")
        params["payment_method_types"] = ["card"]
        return params

    monkeypatch.setattr(StripePaymentProvider, "_create_params", with_the_removed_parameter)
    client = stripe_client(SECRET_KEY, api_base=None, max_network_retries=0, timeout_seconds=5)
    provider = StripePaymentProvider(client, accept_test_payment_methods=True)

    with (
        pytest.raises(ContractViolation, match="unknown parameter payment_method_types"),
        FakeStripe() as fake,
    ):
        with pytest.raises(PaymentRefused):
            await provider.authorize(authorize_request())
        [refused] = fake.calls("payment_intents.create")
        assert refused.status == 400


async def test_the_provider_as_written_keeps_the_contract() -> None:
    client = stripe_client(SECRET_KEY, api_base=None, max_network_retries=0, timeout_seconds=5)
    provider = StripePaymentProvider(client, accept_test_payment_methods=True)
    with FakeStripe() as fake:
        authorization = await provider.authorize(authorize_request())
        assert authorization.status.value == "authorized"
        assert fake.violations == []


def test_request_params_are_checked_against_the_sdks_types() -> None:
    assert check_request("payment_intents.create", PI_CREATE) == []
    assert check_request("payment_intents.create", {**PI_CREATE, "colour": "red"}) == [
        "payment_intents.create: unknown parameter colour"
    ]
    nesting = {**PI_CREATE, "transfer_data": "acct_1"}
    nesting.pop("transfer_data[destination]")
    assert check_request("payment_intents.create", nesting) == [
        "payment_intents.create: transfer_data must be an object, got 'acct_1'"
    ]
    assert check_request("payment_intents.create", {**PI_CREATE, "amount": "25.99"}) == [
        "payment_intents.create: amount='25.99' is not a int"
    ]
    without_currency = {k: v for k, v in PI_CREATE.items() if k != "currency"}
    assert check_request("payment_intents.create", without_currency) == [
        "payment_intents.create: missing required parameter currency"
    ]
    assert check_request("refunds.create", {"payment_intent": "pi_1", "amount": "ten"})


def test_three_d_secure_results_need_what_stripe_requires() -> None:
    three_ds = "payment_method_options[card][three_d_secure]"
    complete = {
        f"{three_ds}[cryptogram]": "AAIBBYNoEwAAACcKhAJkdQAAAAA=",
        f"{three_ds}[transaction_id]": "f38e6948-5388-41a6-bca4-b49723c19437",
        f"{three_ds}[version]": "2.2.0",
        f"{three_ds}[electronic_commerce_indicator]": "05",
    }
    assert check_request("payment_intents.confirm", complete) == []
    partial = {k: v for k, v in complete.items() if "cryptogram" not in k}
    assert check_request("payment_intents.confirm", partial) == [
        "payment_intents.confirm: missing required parameter "
        "payment_method_options.card.three_d_secure.cryptogram"
    ]


def test_every_preview_key_names_the_stripe_page_that_documents_it() -> None:
    for source in [*PREVIEW_PARAMS.values(), *(doc for doc, _ in PREVIEW_ENDPOINTS.values())]:
        assert source.startswith("https://docs.stripe.com/")
    for reasons in [*OMITTED_BY_DEFAULT.values(), *VARIANT_FIELDS.values()]:
        assert all(reason for reason in reasons.values())
    assert all(
        page.startswith("https://docs.stripe.com/") for page in DOCUMENTED_ERROR_CODES.values()
    )


@pytest.mark.parametrize(
    "kind",
    [
        "payment_intent",
        "refund",
        "application_fee",
        "fee_refund",
        "account",
        "dispute",
        "balance_transaction",
        "transfer",
        "transfer_reversal",
        "shared_payment.granted_token",
    ],
)
def test_stripes_own_examples_keep_the_contract(kind: str) -> None:
    assert check_object(copy.deepcopy(fixtures()[kind])) == []


def test_objects_are_compared_field_by_field_with_stripes_examples() -> None:
    refund = copy.deepcopy(fixtures()["refund"])
    assert check_object({**refund, "fee_refunded": 3}) == [
        "refund: fields Stripe does not send: ['fee_refunded']"
    ]
    del refund["transfer_reversal"]
    assert check_object(refund) == [
        "refund: fields Stripe sends that are missing: ['transfer_reversal']"
    ]
    assert check_object({**fixtures()["refund"], "amount": "100"}) == [
        "refund.amount: expected int, got '100'"
    ]
    charge = {k: v for k, v in fixtures()["charge"].items() if k != "source"}
    charge["source"] = None
    charge["refunds"] = {"object": "list", "data": [], "has_more": False, "url": "/v1/refunds"}
    assert check_object(charge) == ["charge: fields Stripe leaves out by default: ['refunds']"]


def test_an_invented_error_code_breaks_the_contract() -> None:
    documented = {"error": {"type": "invalid_request_error", "code": "resource_missing"}}
    invented = {"error": {"type": "invalid_request_error", "code": "spt_rejected"}}
    assert check_error(documented) == []
    assert check_error(invented) == ["error.code 'spt_rejected' is not documented by Stripe"]


@pytest.mark.parametrize(
    "name",
    sorted(p.name for p in (Path(__file__).parent / "stripe_fixtures").glob("*.json")),
)
def test_every_respx_fixture_is_shaped_as_stripe_answers(name: str) -> None:
    body = json.loads((Path(__file__).parent / "stripe_fixtures" / name).read_text())
    problems = check_object(body)
    if body.get("object") == "event":
        problems += check_object(body["data"]["object"])
    assert problems == []

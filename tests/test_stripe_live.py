"""Stripe's real test mode, for the paths the fake stands in for everywhere else: a purchase as a
destination charge with the commission as application fee, a partial refund, and a Connect
onboarding link. Every object Stripe answers is held to the same contract as the fake
(tests/stripe_contract.py), so a drift between the fake and Stripe shows here first.

Runs only with `STRIPE_SECRET_KEY=sk_test_...` (and network):

    STRIPE_SECRET_KEY=sk_test_... STRIPE_TEST_DESTINATION=acct_... \\
        .venv/bin/python -m pytest -m stripe_live tests/test_stripe_live.py

`STRIPE_TEST_DESTINATION` is a connected account of the platform whose `transfers` capability is
active (finish its onboarding once in test mode); without it the purchase runs as a plain
platform charge. `STRIPE_RECORD_DIR=path` writes what Stripe answered there as JSON, to refresh
the respx fixtures in tests/stripe_fixtures with real test-mode bodies.
"""

from __future__ import annotations

import json
import os
import uuid
from pathlib import Path
from typing import Any

import pytest
import stripe

from checkout.payments.provider import (
    AuthorizationStatus,
    AuthorizeRequest,
    Card,
    CardOutcome,
    RefundRequest,
    RefundStatus,
)
from checkout.payments.stripe import StripePaymentProvider
from checkout.payments.stripe_accounts import StripeConnectedAccounts
from checkout.payments.stripe_sdk import plain, stripe_client
from tests.stripe_contract import check_object

KEY = os.environ.get("STRIPE_SECRET_KEY", "")
DESTINATION = os.environ.get("STRIPE_TEST_DESTINATION") or None
RECORD = os.environ.get("STRIPE_RECORD_DIR")

pytestmark = [
    pytest.mark.stripe_live,
    pytest.mark.anyio,
    pytest.mark.skipif(
        not KEY.startswith("sk_test_"),
        reason="Stripe's live test lane needs STRIPE_SECRET_KEY=sk_test_... and network access",
    ),
]


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture
def client() -> stripe.StripeClient:
    return stripe_client(KEY, api_base=None, max_network_retries=2, timeout_seconds=30)


def seen(name: str, obj: Any) -> dict[str, Any]:
    """What Stripe answered: held to the fake's contract, and recorded when asked."""
    body = plain(obj)
    assert check_object(body) == [], name
    if RECORD:
        Path(RECORD).mkdir(parents=True, exist_ok=True)
        (Path(RECORD) / f"{name}.json").write_text(json.dumps(body, indent=2, sort_keys=True))
    return body


async def test_a_purchase_and_a_partial_refund_in_stripe_test_mode(
    client: stripe.StripeClient,
) -> None:
    provider = StripePaymentProvider(client, accept_test_payment_methods=True)
    run = uuid.uuid4().hex[:12]
    request = AuthorizeRequest(
        idempotency_key=f"live:{run}:authorize",
        amount=4285,
        currency="usd",
        merchant_id="mch_live_lane",
        connected_account=DESTINATION,
        application_fee=86 if DESTINATION else 0,
        token_id="pm_card_visa",
        card=Card("visa", "4242", "credit", CardOutcome.DECIDED_BY_PROVIDER),
        authenticated=False,
        pending_payment_id=None,
        description=f"stripe_live lane {run}",
        metadata={"checkout_session_id": f"cs_live_{run}", "payment_id": f"pay_live_{run}"},
    )

    authorization = await provider.authorize(request)
    assert authorization.status is AuthorizationStatus.AUTHORIZED
    capture = await provider.capture(
        authorization.payment_id, 4285, idempotency_key=f"live:{run}:capture"
    )

    assert capture.charge_id is not None
    assert capture.processing_fee > 0  # Stripe's fee, read from the charge's balance transaction
    assert (capture.transfer_id is not None) == (DESTINATION is not None)
    intent = await client.v1.payment_intents.retrieve_async(
        authorization.payment_id, {"expand": ["latest_charge.balance_transaction"]}
    )
    body = seen("payment_intent_captured_live", intent)
    assert body["latest_charge"]["balance_transaction"]["fee"] == capture.processing_fee

    refund = await provider.refund(
        RefundRequest(
            idempotency_key=f"live:{run}:refund",
            payment_id=authorization.payment_id,
            amount=1000,
            currency="usd",
            application_fee_refund=20 if DESTINATION else 0,
            reason="requested_by_customer",
            metadata={"order_id": f"ord_live_{run}", "refund_id": f"rfd_live_{run}"},
        )
    )
    assert refund.status in (RefundStatus.SUCCEEDED, RefundStatus.PENDING)
    stripe_refund = seen(
        "refund_partial_live", await client.v1.refunds.retrieve_async(refund.refund_id)
    )
    assert stripe_refund["metadata"]["refund_id"] == f"rfd_live_{run}"
    assert (stripe_refund["transfer_reversal"] is not None) == (DESTINATION is not None)

    # Asked again after the answer was "lost", the same refund is found, not made twice.
    again = await provider.refund(
        RefundRequest(
            idempotency_key=f"live:{run}:refund:lost",
            payment_id=authorization.payment_id,
            amount=1000,
            currency="usd",
            application_fee_refund=0,
            reason="requested_by_customer",
            metadata={"order_id": f"ord_live_{run}", "refund_id": f"rfd_live_{run}"},
        )
    )
    assert again.refund_id == refund.refund_id


async def test_a_connect_onboarding_link_in_stripe_test_mode(client: stripe.StripeClient) -> None:
    accounts = StripeConnectedAccounts(client)
    run = uuid.uuid4().hex[:12]
    status = await accounts.open_account(
        merchant_id=f"mch_live_{run}",
        country="US",
        email=f"seller+{run}@example.com",
        idempotency_key=f"live:{run}:account",
    )
    assert status.account_id.startswith("acct_")
    assert not status.payable  # nobody has onboarded it yet
    seen("account_pending_live", await client.v1.accounts.retrieve_async(status.account_id))

    link = await accounts.onboarding_link(
        status.account_id,
        refresh_url="https://platform.example/onboarding/refresh",
        return_url="https://platform.example/onboarding/return",
    )
    assert link.url.startswith("https://connect.stripe.com/")

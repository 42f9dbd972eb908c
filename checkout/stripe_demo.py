"""`agentic-checkout demo --stripe`: one purchase in Stripe test mode, printed as Stripe shows it.

It runs the whole platform in-process on a database file of its own (so the demo merchant and
its connected account are reused on the next run), buys one item from the demo merchant as an
agent would over ACP, and prints the PaymentIntent, the application fee and the transfer.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any

import httpx
import stripe

from checkout.app import create_app, stripe_connection
from checkout.flows.payment_accounts import open_payment_account
from checkout.protocol import CURRENT_VERSION as API_VERSION
from checkout.protocol.render import iso
from checkout.settings import Settings
from checkout.store.ledger import Ledger
from checkout.store.orders import Orders
from checkout.store.payments import Payments

DEMO_MERCHANT = "mch_clay_and_kiln"
DASHBOARD = "https://dashboard.stripe.com/test"
BUYER_ADDRESS = {
    "name": "Ada Lovelace",
    "line_one": "1234 Chat Road",
    "city": "San Francisco",
    "state": "CA",
    "country": "US",
    "postal_code": "94131",
}


class DemoStopped(Exception):
    """The demo cannot go on; the message says what to do."""


async def run_stripe_demo(settings: Settings, echo: Callable[[str], None]) -> None:
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        services = app.state.services
        merchant = await open_payment_account(services.database, services.accounts, DEMO_MERCHANT)
        echo(f"merchant {merchant.name}: connected account {merchant.payment_account_id}")
        async with httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url=settings.public_base_url
        ) as http:
            if merchant.payment_status != "payable":
                link = await _post(
                    http,
                    settings.operator_api_key,
                    f"/merchants/{DEMO_MERCHANT}/payments/onboarding_link",
                    {},
                )
                raise DemoStopped(
                    f"The account cannot take charges yet ({merchant.payment_status_reason}).\n"
                    f"Finish its onboarding with Stripe's test values, then run the demo again:\n"
                    f"  {link['url']}\n"
                    "(SMS code 000-000, SSN 000-00-0000, routing 110000000, account "
                    "000123456789; the link works once and expires in minutes)"
                )
            session = await _ready_session(http, settings.agent_api_key)
            total = next(t["amount"] for t in session["totals"] if t["type"] == "total")
            echo(
                f"checkout session {session['id']}: {session['line_items'][0]['item']['id']}, "
                f"total {total} {session['currency']}"
            )
            token = await _test_token(settings, total, session["currency"], session["id"])
            echo(f"paying with {token}")
            completed = await _post(
                http,
                settings.agent_api_key,
                f"/checkout_sessions/{session['id']}/complete",
                {
                    "payment_data": {
                        "handler_id": "card_tokenized",
                        "instrument": {
                            "type": "card",
                            "credential": {"type": "spt", "token": token},
                        },
                    }
                },
                acp=True,
            )
        order_id = completed["order"]["id"]
        with services.database.read() as db:
            order = Orders(db).get(order_id)
            assert order is not None
            payment = Payments(db).get(order.payment_id)
            assert payment is not None
            entries = Ledger(db).entries(DEMO_MERCHANT)
        echo(
            f"order {order_id} ({completed['order'].get('order_number', '')}) at {iso(order.created_at)}"
        )
        echo(
            f"PaymentIntent     {payment.provider_payment_id}  {DASHBOARD}/payments/{payment.provider_payment_id}"
        )
        echo(f"  amount {payment.amount} {payment.currency}, captured; charge {payment.charge_id}")
        echo(
            f"application fee   {payment.application_fee_id}  {payment.application_fee} "
            f"{payment.currency}  {DASHBOARD}/connect/application_fees/{payment.application_fee_id}"
        )
        echo(
            f"transfer          {payment.transfer_id}  {payment.amount} {payment.currency} to "
            f"{payment.connected_account} (the fee comes back to the platform)  "
            f"{DASHBOARD}/connect/accounts/{payment.connected_account}"
        )
        echo("ledger:")
        for entry in entries:
            if entry.order_id == order_id:
                echo(f"  {entry.kind:<16} {entry.account:<9} {entry.amount:>8} {entry.currency}")


async def _post(
    http: httpx.AsyncClient, key: str, path: str, body: dict[str, Any], *, acp: bool = False
) -> dict[str, Any]:
    headers = {"Authorization": f"Bearer {key}", "Idempotency-Key": str(uuid.uuid4())}
    if acp:
        headers["API-Version"] = API_VERSION
    response = await http.post(path, json=body, headers=headers)
    if response.status_code >= 400:
        raise DemoStopped(f"POST {path} answered {response.status_code}: {response.text}")
    result: dict[str, Any] = response.json()
    return result


async def _ready_session(http: httpx.AsyncClient, agent_key: str) -> dict[str, Any]:
    catalog = await http.get(
        "/catalog/products",
        params={"merchant_id": DEMO_MERCHANT, "limit": 50},
        headers={"Authorization": f"Bearer {agent_key}", "API-Version": API_VERSION},
    )
    catalog.raise_for_status()
    variant = next(
        v["id"]
        for product in catalog.json()["products"]
        for v in product["variants"]
        if v.get("available_quantity", 0) > 0 and not product.get("is_digital")
    )
    session = await _post(
        http,
        agent_key,
        "/checkout_sessions",
        {
            "line_items": [{"id": variant}],
            "currency": "usd",
            "capabilities": {"interventions": {"supported": []}},
            "buyer": {"email": "ada@example.com", "first_name": "Ada", "last_name": "Lovelace"},
            "fulfillment_details": {"name": "Ada Lovelace", "address": BUYER_ADDRESS},
        },
        acp=True,
    )
    if session["status"] != "ready_for_payment":
        raise DemoStopped(f"The session is not ready: {session['messages']}")
    return session


async def _test_token(settings: Settings, amount: int, currency: str, session_id: str) -> str:
    """A Shared Payment Token from Stripe's test helper; accounts outside the agentic-commerce
    preview get a PaymentMethod from the test card instead (accepted in test mode only)."""
    client, http = stripe_connection(settings)
    try:
        try:
            response = await client.raw_request_async(
                "post",
                "/v1/test_helpers/shared_payment/granted_tokens",
                payment_method="pm_card_visa",
                usage_limits={"currency": currency, "max_amount": amount},
                shared_metadata={"checkout_session_id": session_id},
                stripe_version=settings.stripe_spt_api_version,
            )
            return str(response.data["id"])
        except stripe.StripeError:
            method = await client.v1.payment_methods.create_async(
                {"type": "card", "card": {"token": "tok_visa"}}
            )
            return str(method.id)
    finally:
        await http.close_async()  # type: ignore[no-untyped-call]

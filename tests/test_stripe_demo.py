"""`agentic-checkout demo --stripe` against the fake of Stripe's API: it stops with an onboarding
link until the demo merchant's account can take charges, then buys and prints what Stripe shows."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import anyio
import pytest
from typer.testing import CliRunner

from checkout.stripe_demo import DEMO_MERCHANT, DemoStopped, run_stripe_demo
from marketplace.cli import cli
from tests.fake_stripe import FakeStripe, sql, stripe_settings


def test_the_stripe_demo_waits_for_onboarding_then_shows_the_payment_fee_and_transfer(
    sqlite_template: Path, tmp_path: Path
) -> None:
    database = tmp_path / "demo.db"
    shutil.copy(sqlite_template, database)
    url = f"sqlite:///{database}"
    # The template's merchants were onboarded on the sandbox; here they have no Stripe account.
    sql(url, "UPDATE merchants SET payment_account_id = NULL, payment_status = 'pending'")
    settings = stripe_settings(url)
    printed: list[str] = []

    with FakeStripe() as fake:
        with pytest.raises(DemoStopped) as stopped:
            anyio.run(run_stripe_demo, settings, printed.append)
        [(account,)] = sql(
            url, "SELECT payment_account_id FROM merchants WHERE id = :m", m=DEMO_MERCHANT
        )
        assert "https://connect.stripe.com/setup/" in str(stopped.value)
        assert len(fake.calls("accounts.create")) == 1

        fake.enable(account)
        printed.clear()
        anyio.run(run_stripe_demo, settings, printed.append)

    output = "\n".join(printed)
    [intent] = re.findall(r"PaymentIntent\s+(pi_\w+)", output)
    [fee] = re.findall(r"application fee\s+(fee_\w+)\s+(\d+)", output)
    [transfer] = re.findall(r"transfer\s+(tr_\w+)", output)
    assert fake.payment_intents[intent]["status"] == "succeeded"
    assert fake.application_fees[fee[0]]["amount"] == int(fee[1]) > 0
    assert fake.charges[fake.payment_intents[intent]["latest_charge"]]["transfer"] == transfer
    assert len(fake.calls("accounts.create")) == 1  # the second run reused the account
    assert re.search(r"commission\s+platform\s+" + fee[1], output)


def test_the_stripe_demo_refuses_a_live_key() -> None:
    result = CliRunner().invoke(cli, ["demo", "--stripe"], env={"STRIPE_SECRET_KEY": "sk_live_abc"})
    assert result.exit_code == 2
    assert "sk_test_" in result.output

"""Merchants' Stripe connected accounts (Express): opened, onboarded through Stripe, read back."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, cast

import stripe

from checkout.payments.provider import AccountStatus, OnboardingLink, PaymentUnavailable
from checkout.payments.stripe_sdk import call, from_unix, mapping, plain

if TYPE_CHECKING:
    from stripe.params import AccountCreateParams, AccountLinkCreateParams

log = logging.getLogger("checkout.payments.stripe")


def account_status_from(obj: Mapping[str, Any]) -> AccountStatus:
    """An Account object (a response, or the `data.object` of an `account.updated` event)."""
    capabilities = mapping(obj.get("capabilities"))
    requirements = mapping(obj.get("requirements"))
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
        account = await call(
            f"open account for {merchant_id}",
            self._client.v1.accounts.create_async(
                cast("AccountCreateParams", params), options={"idempotency_key": idempotency_key}
            ),
        )
        status = account_status_from(plain(account))
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
        link = plain(
            await call(
                f"onboarding link for {account_id}",
                self._client.v1.account_links.create_async(params),
            )
        )
        expires_at = from_unix(link.get("expires_at"))
        if expires_at is None:
            raise PaymentUnavailable(f"onboarding link for {account_id}: no expiry in the answer")
        return OnboardingLink(url=str(link["url"]), expires_at=expires_at)

    async def account_status(self, account_id: str) -> AccountStatus:
        account = await call(
            f"account {account_id}", self._client.v1.accounts.retrieve_async(account_id)
        )
        return account_status_from(plain(account))

"""Merchants' accounts at the payment provider: opened at onboarding, payable once it says so."""

from __future__ import annotations

import logging

import anyio

from checkout.domain.errors import InvalidRequest, ServiceUnavailable
from checkout.payments.provider import (
    AccountStatus,
    ConnectedAccounts,
    OnboardingLink,
    PaymentRefused,
    PaymentUnavailable,
)
from checkout.store.catalog import merchant_or_missing
from checkout.store.db import Database
from checkout.store.merchants import Merchants
from checkout.store.rows import MerchantRow

log = logging.getLogger("checkout.merchants")


def apply_account_status(merchant: MerchantRow, status: AccountStatus) -> bool:
    """Set the merchant's payability from its account; True when it changed."""
    before = (merchant.payment_status, merchant.payment_status_reason)
    merchant.payment_account_id = status.account_id
    if status.payable:
        merchant.payment_status, merchant.payment_status_reason = "payable", None
    else:
        due = ", ".join(status.requirements_due[:5])
        merchant.payment_status = "pending"
        merchant.payment_status_reason = (
            status.disabled_reason
            or (f"the payment account still needs: {due}" if due else None)
            or "the payment account cannot take charges yet"
        )
    return before != (merchant.payment_status, merchant.payment_status_reason)


async def open_payment_account(
    database: Database,
    accounts: ConnectedAccounts,
    merchant_id: str,
) -> MerchantRow:
    """Open the merchant's account (once: keyed on the merchant) and record whether it is payable."""

    def load() -> MerchantRow:
        with database.read() as db:
            return merchant_or_missing(db, merchant_id)

    merchant = await anyio.to_thread.run_sync(load)
    try:
        if merchant.payment_account_id:
            status = await accounts.account_status(merchant.payment_account_id)
        else:
            status = await accounts.open_account(
                merchant_id=merchant.id,
                country=merchant.country,
                email=merchant.support_email,
                idempotency_key=f"{merchant.id}:account",
            )
    except PaymentUnavailable as exc:
        raise ServiceUnavailable(
            "The payment provider is not answering; the merchant's payment account will be "
            "opened when you retry."
        ) from exc
    except PaymentRefused as exc:
        raise InvalidRequest(
            f"The payment provider refused the merchant's account: {exc}",
            code="payment_account_refused",
        ) from exc

    def save() -> MerchantRow:
        with database.write() as db:
            row = Merchants(db).get(merchant_id, for_update=True)
            assert row is not None
            apply_account_status(row, status)
            db.add(row)
            db.flush()
            db.refresh(row)
            return row

    saved = await anyio.to_thread.run_sync(save)
    log.info(
        "merchant.payment_account merchant=%s account=%s status=%s",
        saved.id,
        saved.payment_account_id,
        saved.payment_status,
    )
    return saved


async def onboarding_link(
    database: Database,
    accounts: ConnectedAccounts,
    merchant_id: str,
    *,
    base_url: str,
    url_suffix: str,
) -> tuple[MerchantRow, OnboardingLink]:
    """A fresh single-use link to the provider's hosted onboarding (never stored or logged)."""
    merchant = await open_payment_account(database, accounts, merchant_id)
    assert merchant.payment_account_id is not None
    try:
        link = await accounts.onboarding_link(
            merchant.payment_account_id,
            refresh_url=f"{base_url}/merchants/{merchant_id}/payments/onboarding/refresh?{url_suffix}",
            return_url=f"{base_url}/merchants/{merchant_id}/payments/onboarding/return?{url_suffix}",
        )
    except PaymentUnavailable as exc:
        raise ServiceUnavailable("The payment provider is not answering; retry shortly.") from exc
    except PaymentRefused as exc:
        raise InvalidRequest(str(exc), code="payment_account_refused") from exc
    return merchant, link

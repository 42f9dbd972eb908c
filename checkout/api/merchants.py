"""Merchant onboarding and catalog sync: the platform operator's API (its own key)."""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections.abc import Callable
from datetime import datetime
from typing import Any, Literal

import anyio
from fastapi import APIRouter, Query, Request
from fastapi.responses import RedirectResponse, Response
from pydantic import EmailStr, Field

from checkout.api.acp.openapi import CLIENT_ERRORS
from checkout.api.deps import (
    AccountsDep,
    ClockDep,
    DatabaseDep,
    MerchantReaderDep,
    OperatorDep,
    PlatformsDep,
    SettingsDep,
)
from checkout.api.problems import json_document
from checkout.api.services import key_hash
from checkout.domain import commission
from checkout.domain.errors import InvalidRequest, ServiceUnavailable, Unauthenticated
from checkout.domain.fees import FeeSchedule
from checkout.flows.ingest_feed import ingest_feed
from checkout.flows.onboard_merchant import (
    DEFAULT_SHIPPING,
    FeedMerchantApplication,
    MerchantApplication,
    onboard_feed_merchant,
    onboard_merchant,
    sync_merchant,
)
from checkout.flows.payment_accounts import onboarding_link, open_payment_account
from checkout.payments.provider import ConnectedAccounts, OnboardingLink
from checkout.protocol.render import iso
from checkout.protocol.requests import Strict
from checkout.settings import Settings
from checkout.store.catalog import merchant_or_missing
from checkout.store.commission_terms import current_terms
from checkout.store.db import Database
from checkout.store.merchants import Merchants
from checkout.store.rows import MerchantRow

router = APIRouter(tags=["merchants"])


class CommissionTermsBody(Strict):
    rate_bps: int = Field(ge=0, le=10_000, description="Commission in basis points (200 = 2%).")
    category_bps: dict[str, int] = Field(default_factory=dict)
    minimum: int | None = Field(default=None, ge=0, description="Minimum per order, minor units.")
    fixed: int = Field(default=0, ge=0, description="Added to every order, minor units.")


class ShippingRateBody(Strict):
    amount: int = Field(ge=0)
    carrier: str
    min_days: int = Field(ge=0)
    max_days: int = Field(ge=0)


class ShippingRulesBody(Strict):
    standard: ShippingRateBody
    express: ShippingRateBody | None = None
    free_shipping_threshold: int | None = Field(default=None, ge=0)


class MerchantCreateRequest(Strict):
    name: str = Field(min_length=1, max_length=200)
    platform: Literal["etsy", "shopify", "feed"]
    shop_id: str | None = Field(default=None, max_length=255, description="Etsy shop id.")
    shop_domain: str | None = Field(
        default=None,
        max_length=255,
        pattern=r"^[a-zA-Z0-9][a-zA-Z0-9\-]*\.myshopify\.com$",
        description="Shopify shop domain (name.myshopify.com).",
    )
    credentials: dict[str, str] = Field(default_factory=dict)
    commission: CommissionTermsBody | None = None
    currency: str | None = Field(
        default=None,
        pattern=r"^[A-Za-z]{3}$",
        description="Required for feed merchants (usd or USD); platforms report their own.",
    )
    country: str = Field(default="US", min_length=2, max_length=2)
    support_email: EmailStr | None = None
    links: dict[str, str] = Field(default_factory=dict)
    shipping: ShippingRulesBody | None = None
    api_base_url: str | None = Field(
        default=None, max_length=500, description="Override the platform's API base URL."
    )


class SyncRequest(Strict):
    mode: Literal["full", "incremental"] = "incremental"


def merchant_view(merchant: MerchantRow, products: int) -> dict[str, Any]:
    """What the operator sees of a merchant; credentials never leave the vault."""
    return {
        "id": merchant.id,
        "name": merchant.name,
        "platform": merchant.platform,
        "shop_id": merchant.platform_shop_id,
        "shop_name": merchant.shop_ref,
        "currency": merchant.currency,
        "country": merchant.country,
        "status": merchant.status,
        "status_reason": merchant.status_reason,
        "commission": {
            "rate_bps": merchant.commission_bps,
            "category_bps": merchant.commission_category_bps,
            "minimum": merchant.commission_minimum,
            "fixed": merchant.commission_fixed,
        },
        "payments": {
            "account_id": merchant.payment_account_id,
            "status": merchant.payment_status,
            "reason": merchant.payment_status_reason,
        },
        "links": merchant.links,
        "shipping": merchant.shipping,
        "support_email": merchant.support_email,
        "active_products": products,
        "last_synced_at": iso(merchant.last_synced_at) if merchant.last_synced_at else None,
        "created_at": iso(merchant.created_at),
    }


def terms_warnings(settings: Settings, terms: commission.CommissionTerms) -> list[dict[str, Any]]:
    """Terms that would not cover the processor's fee on a typical order (which the platform
    pays on a destination charge) are allowed, and said so."""
    schedule = FeeSchedule(settings.sandbox_fee_percent_bps, settings.sandbox_fee_fixed)
    typical = settings.typical_order_amount
    short = commission.shortfall(terms, typical, schedule)
    if not short:
        return []
    return [
        {
            "code": "commission_below_processing_fee",
            "message": f"On a typical order of {typical} minor units these terms earn "
            f"{schedule.processing_fee(typical) - short}, less than the card processing fee of "
            f"{schedule.processing_fee(typical)} the platform pays on it.",
        }
    ]


@router.post("/merchants", status_code=201, operation_id="createMerchant", responses=CLIENT_ERRORS)
async def create_merchant(
    body: MerchantCreateRequest,
    _operator: OperatorDep,
    database: DatabaseDep,
    clock: ClockDep,
    settings: SettingsDep,
    platforms: PlatformsDep,
    accounts: AccountsDep,
) -> Response:
    terms = body.commission or CommissionTermsBody(rate_bps=settings.commission_bps)
    shipping = body.shipping.model_dump() if body.shipping else None
    if body.platform == "feed":
        if body.currency is None:
            raise InvalidRequest(
                "A feed merchant needs its currency.", param="$.currency", code="missing"
            )
        merchant = await onboard_feed_merchant(
            database,
            FeedMerchantApplication(
                name=body.name,
                currency=body.currency.lower(),
                country=body.country.upper(),
                support_email=body.support_email,
                links=body.links,
                shipping=shipping or {},
                commission_bps=terms.rate_bps,
                commission_category_bps=terms.category_bps,
                commission_minimum=terms.minimum,
                commission_fixed=terms.fixed,
            ),
            clock=clock,
        )
        merchant = await _open_account(database, accounts, merchant)
        api_key = await anyio.to_thread.run_sync(_issue_key, database, merchant.id)
        return json_document(
            {
                **merchant_view(merchant, 0),
                "api_key": api_key,
                "sync": None,
                "warnings": terms_warnings(settings, current_terms(merchant)),
            },
            201,
        )
    if "api_base_url" in body.credentials:
        # Credentials are stored sealed and never read for routing: a URL there would be ignored.
        raise InvalidRequest(
            "api_base_url goes beside credentials, at the top level of the body, not inside them.",
            param="$.credentials.api_base_url",
            code="invalid",
        )
    shop_id = body.shop_domain if body.platform == "shopify" else body.shop_id
    if not shop_id:
        field = "shop_domain" if body.platform == "shopify" else "shop_id"
        raise InvalidRequest(
            f"A {body.platform} merchant needs its {field}.", param=f"$.{field}", code="missing"
        )
    application = MerchantApplication(
        name=body.name,
        platform=body.platform,
        shop_id=shop_id,
        credentials=body.credentials,
        commission_bps=terms.rate_bps,
        commission_category_bps=terms.category_bps,
        commission_minimum=terms.minimum,
        commission_fixed=terms.fixed,
        country=body.country.upper(),
        support_email=body.support_email,
        links=body.links,
        shipping=shipping or dict(DEFAULT_SHIPPING),
        api_base_url=body.api_base_url,
    )
    merchant, counts = await onboard_merchant(database, platforms, application, clock=clock)
    merchant = await _open_account(database, accounts, merchant)
    api_key = await anyio.to_thread.run_sync(_issue_key, database, merchant.id)
    active = counts.created + counts.updated
    warnings = terms_warnings(settings, current_terms(merchant))
    return json_document(
        {
            **merchant_view(merchant, active),
            "api_key": api_key,
            "sync": counts.as_dict(),
            "warnings": warnings,
        },
        201,
    )


def _issue_key(database: Database, merchant_id: str) -> str:
    """A new key for the merchant to read its own money; shown once, stored hashed."""
    secret = f"mk_{secrets.token_urlsafe(24)}"
    with database.write() as db:
        merchant = merchant_or_missing(db, merchant_id, for_update=True)
        merchant.api_key_hash = key_hash(secret)
        db.add(merchant)
    return secret


@router.post(
    "/merchants/{merchant_id}/api_key", operation_id="rotateMerchantKey", responses=CLIENT_ERRORS
)
def rotate_merchant_key(
    merchant_id: str, _operator: OperatorDep, database: DatabaseDep
) -> Response:
    """Replace the merchant's key (the old one stops working at once); shown once."""
    return json_document({"merchant_id": merchant_id, "api_key": _issue_key(database, merchant_id)})


async def _open_account(
    database: Database, accounts: ConnectedAccounts, merchant: MerchantRow
) -> MerchantRow:
    """Open the merchant's payment account; if the provider is down the merchant stays pending
    and the account is opened by asking for an onboarding link later."""
    try:
        return await open_payment_account(database, accounts, merchant.id)
    except ServiceUnavailable:
        return merchant


def _link_signature(settings: Settings, merchant_id: str, expires: int) -> str:
    key = settings.credentials_key.encode()
    return hmac.new(key, f"{merchant_id}:{expires}".encode(), hashlib.sha256).hexdigest()


def _signed_query(settings: Settings, clock: Callable[[], datetime], merchant_id: str) -> str:
    """Refresh and return URLs the merchant's browser may open without our API key: signed,
    and valid for a week (Stripe's links themselves expire in minutes)."""
    expires = int(clock().timestamp()) + 7 * 24 * 3600
    signature = _link_signature(settings, merchant_id, expires)
    return f"expires={expires}&signature={signature}"


def _check_signature(
    settings: Settings,
    clock: Callable[[], datetime],
    merchant_id: str,
    expires: int,
    signature: str,
) -> None:
    expected = _link_signature(settings, merchant_id, expires)
    if expires < clock().timestamp() or not hmac.compare_digest(
        expected.encode(), signature.encode()
    ):
        raise Unauthenticated("This onboarding link is not valid any more; ask for a new one.")


async def _new_link(
    database: Database,
    accounts: ConnectedAccounts,
    settings: Settings,
    merchant_id: str,
    signed_query: str,
) -> tuple[MerchantRow, OnboardingLink]:
    return await onboarding_link(
        database,
        accounts,
        merchant_id,
        base_url=settings.public_base_url,
        url_suffix=signed_query,
    )


@router.post(
    "/merchants/{merchant_id}/payments/onboarding_link",
    operation_id="createOnboardingLink",
    responses=CLIENT_ERRORS,
)
async def create_onboarding_link(
    merchant_id: str,
    _operator: OperatorDep,
    database: DatabaseDep,
    accounts: AccountsDep,
    settings: SettingsDep,
    clock: ClockDep,
) -> Response:
    """A new single-use link to the provider's hosted onboarding for the merchant to open."""
    merchant, link = await _new_link(
        database, accounts, settings, merchant_id, _signed_query(settings, clock, merchant_id)
    )
    return json_document(
        {
            "merchant_id": merchant_id,
            "url": link.url,
            "expires_at": iso(link.expires_at),
            "payments": merchant_view(merchant, 0)["payments"],
        }
    )


@router.get(
    "/merchants/{merchant_id}/payments/onboarding/refresh",
    operation_id="refreshOnboardingLink",
    responses=CLIENT_ERRORS,
)
async def refresh_onboarding_link(
    merchant_id: str,
    database: DatabaseDep,
    accounts: AccountsDep,
    settings: SettingsDep,
    clock: ClockDep,
    expires: int = Query(),
    signature: str = Query(max_length=128),
) -> Response:
    """Where the provider sends the merchant when a link expired or was used: a new one."""
    _check_signature(settings, clock, merchant_id, expires, signature)
    _, link = await _new_link(
        database, accounts, settings, merchant_id, f"expires={expires}&signature={signature}"
    )
    return RedirectResponse(link.url, status_code=303)


@router.get(
    "/merchants/{merchant_id}/payments/onboarding/return",
    operation_id="returnFromOnboarding",
    responses=CLIENT_ERRORS,
)
async def return_from_onboarding(
    merchant_id: str,
    database: DatabaseDep,
    accounts: AccountsDep,
    settings: SettingsDep,
    clock: ClockDep,
    expires: int = Query(),
    signature: str = Query(max_length=128),
) -> Response:
    """The merchant left the provider's onboarding; whether it is done is the account's say."""
    _check_signature(settings, clock, merchant_id, expires, signature)
    merchant = await open_payment_account(database, accounts, merchant_id)
    return json_document({"merchant_id": merchant_id, **merchant_view(merchant, 0)["payments"]})


@router.get("/merchants", operation_id="listMerchants", responses=CLIENT_ERRORS)
def list_merchants(_operator: OperatorDep, database: DatabaseDep) -> Response:
    with database.read() as db:
        counts = Merchants(db).active_products()
        merchants = Merchants(db).all()
    return json_document({"merchants": [merchant_view(m, counts.get(m.id, 0)) for m in merchants]})


@router.get("/merchants/{merchant_id}", operation_id="getMerchant", responses=CLIENT_ERRORS)
def get_merchant(merchant_id: str, _reader: MerchantReaderDep, database: DatabaseDep) -> Response:
    with database.read() as db:
        merchant = merchant_or_missing(db, merchant_id)
        products = Merchants(db).active_products(merchant_id).get(merchant_id, 0)
    return json_document(merchant_view(merchant, products))


@router.post("/merchants/{merchant_id}/sync", operation_id="syncMerchant", responses=CLIENT_ERRORS)
async def sync_merchant_catalog(
    merchant_id: str,
    _operator: OperatorDep,
    database: DatabaseDep,
    clock: ClockDep,
    platforms: PlatformsDep,
    body: SyncRequest | None = None,
) -> Response:
    mode = (body or SyncRequest()).mode
    counts = await sync_merchant(
        database,
        platforms,
        merchant_id,
        full=mode == "full",
        clock=clock,
    )
    return json_document({"merchant_id": merchant_id, "mode": mode, **counts.as_dict()})


@router.post(
    "/merchants/{merchant_id}/feed",
    operation_id="ingestFeed",
    responses=CLIENT_ERRORS,
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {
                "application/json": {"schema": {"type": "array", "items": {"type": "object"}}},
                "application/x-ndjson": {"schema": {"type": "string"}},
            },
        }
    },
)
async def ingest_merchant_feed(
    merchant_id: str,
    request: Request,
    _operator: OperatorDep,
    database: DatabaseDep,
    clock: ClockDep,
) -> Response:
    body = await request.body()
    counts = await anyio.to_thread.run_sync(
        lambda: ingest_feed(database, merchant_id, body, clock=clock)
    )
    return json_document({"merchant_id": merchant_id, **counts.as_dict()})

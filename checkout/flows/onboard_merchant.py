"""Onboarding a merchant: check its platform credentials, store them sealed, sync its catalog."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import anyio

from checkout.domain.errors import InvalidRequest, ServiceUnavailable
from checkout.flows.sync_catalog import SyncCounts, sync_catalog
from checkout.platforms import MerchantPlatforms
from checkout.store.catalog import merchant_or_missing
from checkout.store.db import Database
from checkout.store.ids import new_id
from checkout.store.merchants import Merchants
from checkout.store.rows import MerchantRow
from merchant_adapters import (
    CredentialsRevoked,
    MerchantAdapter,
    MerchantPlatformError,
    PlatformNotFound,
    PlatformUnavailable,
    RateLimited,
)

DEFAULT_SHIPPING: dict[str, Any] = {
    "standard": {"amount": 595, "carrier": "USPS", "min_days": 3, "max_days": 6},
    "express": {"amount": 1495, "carrier": "UPS", "min_days": 1, "max_days": 2},
    "free_shipping_threshold": None,
}


@dataclass(frozen=True, slots=True)
class MerchantApplication:
    name: str
    platform: str
    shop_id: str
    credentials: dict[str, Any]
    commission_bps: int
    commission_category_bps: dict[str, int] = field(default_factory=dict)
    commission_minimum: int | None = None
    commission_fixed: int = 0
    country: str = "US"
    support_email: str | None = None
    links: dict[str, str] = field(default_factory=dict)
    shipping: dict[str, Any] = field(default_factory=lambda: dict(DEFAULT_SHIPPING))
    api_base_url: str | None = None
    merchant_id: str | None = None  # chosen by the platform unless given (the seeded demo shops)


def platform_failure(exc: MerchantPlatformError, platform: str) -> Exception:
    """The one translation of adapter errors for operator-facing flows."""
    if isinstance(exc, CredentialsRevoked):
        return InvalidRequest(
            f"{platform} refused these credentials: {exc}",
            param="$.credentials",
            code="invalid_credentials",
        )
    if isinstance(exc, PlatformNotFound):
        return InvalidRequest(
            f"{platform} has no such shop: {exc}", param="$.shop_id", code="shop_not_found"
        )
    if isinstance(exc, PlatformUnavailable | RateLimited):
        return ServiceUnavailable(
            f"{platform} is not answering right now; try again shortly. ({exc})"
        )
    return InvalidRequest(f"{platform} rejected the request: {exc}", code="platform_rejected")


async def onboard_merchant(
    database: Database,
    platforms: MerchantPlatforms,
    application: MerchantApplication,
    *,
    clock: Callable[[], datetime],
) -> tuple[MerchantRow, SyncCounts]:
    adapter: MerchantAdapter = platforms.adapter(
        application.platform, application.shop_id, application.credentials, application.api_base_url
    )
    try:
        shop = await adapter.shop_info()
    except MerchantPlatformError as exc:
        raise platform_failure(exc, application.platform) from exc

    def create() -> MerchantRow:
        with database.write() as db:
            taken = Merchants(db).on_platform_shop(application.platform, application.shop_id)
            if taken:
                raise InvalidRequest(
                    f"This shop is already onboarded as merchant '{taken}'.",
                    param="$.shop_id",
                    code="merchant_exists",
                )
            merchant = MerchantRow(
                id=application.merchant_id or new_id("mch"),
                name=application.name,
                platform=application.platform,
                shop_ref=shop.name,
                currency=shop.currency,
                country=application.country,
                support_email=application.support_email,
                links=application.links,
                shipping=application.shipping,
                commission_bps=application.commission_bps,
                commission_category_bps=application.commission_category_bps,
                commission_minimum=application.commission_minimum,
                commission_fixed=application.commission_fixed,
                platform_shop_id=application.shop_id,
                api_base_url=application.api_base_url,
                credentials=platforms.vault.seal(application.credentials),
                status="active",
                payment_status="pending",
                payment_status_reason="the payment account is not open yet",
                created_at=clock(),
            )
            Merchants(db).add(merchant, merchant.created_at)
            return merchant

    merchant = await anyio.to_thread.run_sync(create)
    try:
        counts = await sync_catalog(database, adapter, merchant, full=True, clock=clock)
    except MerchantPlatformError as exc:
        raise platform_failure(exc, application.platform) from exc
    return merchant, counts


@dataclass(frozen=True, slots=True)
class FeedMerchantApplication:
    """A merchant on no platform: its catalog comes by feed and its orders live only here."""

    name: str
    currency: str
    commission_bps: int
    commission_category_bps: dict[str, int] = field(default_factory=dict)
    commission_minimum: int | None = None
    commission_fixed: int = 0
    country: str = "US"
    support_email: str | None = None
    links: dict[str, str] = field(default_factory=dict)
    shipping: dict[str, Any] = field(default_factory=dict)


async def onboard_feed_merchant(
    database: Database, application: FeedMerchantApplication, *, clock: Callable[[], datetime]
) -> MerchantRow:
    merchant = MerchantRow(
        id=new_id("mch"),
        name=application.name,
        platform="feed",
        shop_ref=application.name,
        currency=application.currency,
        country=application.country,
        support_email=application.support_email,
        links=application.links,
        shipping=application.shipping,
        commission_bps=application.commission_bps,
        commission_category_bps=application.commission_category_bps,
        commission_minimum=application.commission_minimum,
        commission_fixed=application.commission_fixed,
        status="active",
        payment_status="pending",
        payment_status_reason="the payment account is not open yet",
        created_at=clock(),
    )

    def save() -> None:
        with database.write() as db:
            Merchants(db).add(merchant, merchant.created_at)

    await anyio.to_thread.run_sync(save)
    return merchant


async def sync_merchant(
    database: Database,
    platforms: MerchantPlatforms,
    merchant_id: str,
    *,
    full: bool,
    clock: Callable[[], datetime],
) -> SyncCounts:
    def load() -> MerchantRow:
        with database.read() as db:
            return merchant_or_missing(db, merchant_id)

    merchant = await anyio.to_thread.run_sync(load)
    adapter = platforms.for_merchant(merchant)
    try:
        return await sync_catalog(database, adapter, merchant, full=full, clock=clock)
    except MerchantPlatformError as exc:
        raise platform_failure(exc, merchant.platform) from exc

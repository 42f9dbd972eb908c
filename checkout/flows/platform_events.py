"""What a merchant platform tells us by webhook: catalog changes, shipments, cancellations, revocations.

Events land in an inbox keyed by the platform's delivery id, so a redelivery is recognised;
an event whose processing failed stays unprocessed and is processed again when redelivered.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from checkout.domain.errors import InvalidRequest, ServiceUnavailable
from checkout.flows.fulfill_order import cancel_order, ship_order
from checkout.flows.refund_order import Refunding, refund_order
from checkout.flows.sync_catalog import catalog_id, sync_catalog
from checkout.platforms import MerchantPlatforms
from checkout.store.catalog import CatalogWriter
from checkout.store.db import Database
from checkout.store.inboxes import PlatformEvents
from checkout.store.merchants import Merchants
from checkout.store.orders import Orders, order_for_platform
from checkout.store.rows import MerchantRow, OrderRow
from merchant_adapters import CredentialsRevoked, MerchantPlatformError, PlatformEvent

log = logging.getLogger("checkout.platform_events")


def _receive(database: Database, merchant_id: str, event: PlatformEvent, now: datetime) -> bool:
    """Put the event in the inbox; False when it was already processed (a redelivery)."""
    with database.write() as db:
        return PlatformEvents(db).receive(
            merchant_id, event.event_id, kind=event.kind, payload=dict(event.raw), now=now
        )


def _done(database: Database, merchant_id: str, event_id: str, now: datetime) -> None:
    with database.write() as db:
        PlatformEvents(db).processed(merchant_id, event_id, now)


async def handle_platform_event(
    database: Database,
    platforms: MerchantPlatforms,
    merchant: MerchantRow,
    event: PlatformEvent,
    *,
    refunding: Refunding,
    clock: Callable[[], datetime],
) -> str:
    """Apply a verified event once; returns what was done, for the log and the response."""
    fresh = await database.run(_receive, database, merchant.id, event, clock())
    if not fresh:
        return "duplicate"
    outcome: str | Canceled = await _apply(database, platforms, merchant, event, clock)
    if isinstance(outcome, Canceled):
        outcome = await _refund_canceled(refunding, outcome.order_id)
    await database.run(_done, database, merchant.id, event.event_id, clock())
    log.info(
        "platform.event merchant=%s kind=%s id=%s outcome=%s",
        merchant.id,
        event.kind,
        event.event_id,
        outcome,
    )
    return outcome


@dataclass(frozen=True, slots=True)
class Canceled:
    """An order the merchant canceled: what is left of its money goes back to the buyer next."""

    order_id: str


async def _refund_canceled(refunding: Refunding, order_id: str) -> str:
    """A canceled order gives the buyer back whatever is left, with the commission pro rata.

    If the provider does not answer, the refund stays pending and is retried with its key; the
    event counts as processed, because the refund is now ours to finish.
    """
    try:
        refund = await refund_order(
            refunding,
            order_id,
            amount=None,
            reason="requested_by_customer",
            source="merchant_platform",
        )
    except InvalidRequest as exc:
        return f"order canceled ({exc.message})"
    except ServiceUnavailable:
        return "order canceled, refund pending"
    return f"order canceled, refunded {refund.amount}"


async def _apply(
    database: Database,
    platforms: MerchantPlatforms,
    merchant: MerchantRow,
    event: PlatformEvent,
    clock: Callable[[], datetime],
) -> str | Canceled:
    if event.kind == "product_updated":
        counts = await sync_catalog(
            database, platforms.for_merchant(merchant), merchant, full=False, clock=clock
        )
        return f"synced {counts.created + counts.updated} products"
    # A signature proves who sent a body, not what it means (Shopify does not sign the topic):
    # money and state move only once the platform itself confirms the claim.
    if event.kind == "credentials_revoked" and not await _platform_refuses_us(platforms, merchant):
        return "ignored: the platform still accepts our credentials"
    order: OrderRow | None = None
    if event.kind in ("order_fulfilled", "order_canceled"):

        def find() -> OrderRow | None:
            with database.read() as db:
                return order_for_platform(db, merchant.id, event.platform_order_id, event.reference)

        order = await database.run(find)
        if order is None:
            return "no such order"
        state = await _platform_order_state(platforms, merchant, order)
        claimed = "canceled" if event.kind == "order_canceled" else "fulfilled"
        if state != claimed:
            return f"ignored: the platform shows the order {state or 'unknown'}, not {claimed}"

    def in_transaction() -> str | Canceled:
        now = clock()
        with database.write() as db:
            if event.kind == "product_deleted" and event.platform_product_id:
                CatalogWriter(db).deactivate(
                    [catalog_id("prd", merchant.id, event.platform_product_id)], now
                )
                return "product retired"
            if event.kind == "credentials_revoked":
                row = Merchants(db).get(merchant.id)
                assert row is not None
                row.status, row.status_reason = "revoked", "the platform revoked our access"
                db.add(row)
                return "merchant revoked"
            if order is None:
                return "ignored"
            if event.kind == "order_canceled":
                cancel_order(db, order.id, now=now)
                return Canceled(order.id)
            current = Orders(db).get(order.id)
            if current is None or current.status in ("shipped", "canceled", "completed"):
                return f"order already {current.status if current else 'gone'}"
            tracking = event.tracking
            ship_order(
                db,
                order.id,
                carrier=tracking.carrier if tracking else "unknown",
                tracking_number=tracking.tracking_number if tracking else "",
                tracking_url=tracking.tracking_url if tracking else None,
                now=now,
            )
            return "order shipped"

    return await database.run(in_transaction)


async def _platform_refuses_us(platforms: MerchantPlatforms, merchant: MerchantRow) -> bool:
    """Ask the platform whether our access is really gone (an uninstall webhook only says so)."""
    try:
        await platforms.for_merchant(merchant).shop_info()
    except CredentialsRevoked:
        return True
    except MerchantPlatformError as exc:
        raise ServiceUnavailable(
            f"{merchant.name}'s platform could not confirm the event; send it again later."
        ) from exc
    return False


async def _platform_order_state(
    platforms: MerchantPlatforms, merchant: MerchantRow, order: OrderRow
) -> str | None:
    """Where the platform says our order stands, read back by our own reference."""
    try:
        placed = await platforms.for_merchant(merchant).find_order(order.checkout_session_id)
    except CredentialsRevoked:
        return None
    except MerchantPlatformError as exc:
        raise ServiceUnavailable(
            f"{merchant.name}'s platform could not confirm the event; send it again later."
        ) from exc
    if placed is None or (
        order.platform_order_id and placed.platform_order_id != order.platform_order_id
    ):
        return None
    return placed.state

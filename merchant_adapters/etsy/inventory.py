"""Etsy listing inventories: reading them, and moving stock with a full PUT, all or nothing."""

from __future__ import annotations

import asyncio
from collections import defaultdict
from collections.abc import Mapping, Sequence
from contextlib import AsyncExitStack
from typing import Any, Literal

from merchant_adapters import (
    CredentialsRevoked,
    MerchantPlatformError,
    PlatformInvalidRequest,
    PlatformNotFound,
    PlatformOutOfStock,
    PlatformUnavailable,
    RateLimited,
    SaleLine,
    VariantRef,
)
from merchant_adapters.etsy.catalog import live_offering, variant_key
from merchant_adapters.etsy.money import float_price
from merchant_adapters.etsy.transport import PAGE_LIMIT, EtsyTransport, Json, logger, results

# Fields of the GET inventory shape that the PUT shape does not accept (§1.3).
_PUT_PROPERTY_FIELDS = ("property_id", "property_name", "scale_id", "value_ids", "values")
_PUT_INVENTORY_FIELDS = (
    "price_on_property",
    "quantity_on_property",
    "sku_on_property",
    "readiness_state_on_property",
)


def put_shape(inventory: Mapping[str, Any], changes: Mapping[str, int]) -> tuple[Json, list[str]]:
    """The PUT body for `inventory` with quantities moved by `changes` (variant id -> delta).

    Returns the body and the variant ids that would go below zero. Every product is kept (an
    omitted product is deleted); ids, is_deleted and scale_name are dropped; Money becomes a
    float, which is what the PUT schema takes.
    """
    products: list[Json] = []
    unmatched = set(changes)
    short: list[str] = []
    for product in inventory.get("products") or ():
        if product.get("is_deleted"):
            continue
        ids = {variant_key(product), str(product.get("product_id"))} & set(changes)
        unmatched -= ids
        delta = sum(changes[i] for i in ids)
        target = live_offering(product) if delta else None
        if delta < 0 and target is None:
            short.extend(ids)
        offerings: list[Json] = []
        for offering in product.get("offerings") or ():
            if offering.get("is_deleted"):
                continue
            quantity = int(offering.get("quantity") or 0)
            if target is not None and offering.get("offering_id") == target.get("offering_id"):
                quantity += delta
                if quantity < 0 or (delta < 0 and not offering.get("is_enabled", True)):
                    short.extend(ids)
            offerings.append(
                {
                    "price": float_price(offering.get("price")),
                    "quantity": quantity,
                    "is_enabled": bool(offering.get("is_enabled", True)),
                    "readiness_state_id": offering.get("readiness_state_id"),
                }
            )
        values = [
            {k: v[k] for k in _PUT_PROPERTY_FIELDS if k in v}
            for v in product.get("property_values") or ()
        ]
        products.append(
            {"sku": product.get("sku") or "", "property_values": values, "offerings": offerings}
        )
    if unmatched:
        raise PlatformNotFound(f"Etsy listing has no variant {sorted(unmatched)} any more")
    body: Json = {"products": products}
    body.update({k: inventory[k] for k in _PUT_INVENTORY_FIELDS if k in inventory})
    return body, short


class EtsyInventory:
    """The inventories of one shop's listings, read and written through one transport."""

    def __init__(self, transport: EtsyTransport) -> None:
        self._transport = transport
        # No compare-and-swap on Etsy inventory: at least this process never races itself.
        self._listing_locks: defaultdict[str, asyncio.Lock] = defaultdict(asyncio.Lock)

    # -- reads ---------------------------------------------------------------------------------

    async def read(self, listing_id: str) -> Json:
        body = await self._transport.get(f"/listings/{listing_id}/inventory")
        if not isinstance(body, dict) or not isinstance(body.get("products"), list):
            raise PlatformUnavailable(f"Etsy sent a malformed inventory for listing {listing_id}")
        return body

    async def read_many(self, listing_ids: Sequence[str]) -> list[tuple[str, Json, str | None]]:
        """(listing_id, inventory, listing state) for each listing Etsy still knows."""
        found: list[tuple[str, Json, str | None]] = []
        for start in range(0, len(listing_ids), PAGE_LIMIT):
            batch = ",".join(listing_ids[start : start + PAGE_LIMIT])
            body = await self._transport.get(
                "/listings/batch/inventory", params={"listing_ids": batch}
            )
            for result in results(body, "the inventory batch"):
                # Results are listings with an `inventory` association; bare inventories with a
                # listing_id are accepted too, as client libraries disagree on the shape.
                inventory = result.get("inventory") if "inventory" in result else result
                if "listing_id" in result and isinstance(inventory, dict):
                    found.append((str(result["listing_id"]), inventory, result.get("state")))
        return found

    # -- writes --------------------------------------------------------------------------------

    async def move(self, lines: Sequence[SaleLine], *, sign: Literal[-1, 1]) -> None:
        """GET every listing's inventory, check all of it, then PUT each listing in turn."""
        changes: defaultdict[str, defaultdict[str, int]] = defaultdict(lambda: defaultdict(int))
        for line in lines:
            listing_id, variant_id = line.ref.platform_product_id, line.ref.platform_variant_id
            if not listing_id.isdigit():
                raise PlatformNotFound(f"Not an Etsy listing id: {listing_id!r}")
            changes[listing_id][variant_id] += sign * line.quantity
        listing_ids = sorted(changes, key=int)
        async with AsyncExitStack() as held:
            for listing_id in listing_ids:  # one order everywhere, so two sales cannot deadlock
                await held.enter_async_context(self._listing_locks[listing_id])
            planned: dict[str, Json] = {}
            short: list[VariantRef] = []
            for listing_id in listing_ids:
                body, missing = put_shape(await self.read(listing_id), changes[listing_id])
                planned[listing_id] = body
                short += [VariantRef(listing_id, variant) for variant in dict.fromkeys(missing)]
            if short:
                raise PlatformOutOfStock("Not enough stock on Etsy", refs=short)
            done: list[str] = []
            try:
                for listing_id in listing_ids:
                    await self.put(listing_id, planned[listing_id], changes[listing_id])
                    done.append(listing_id)
            except (PlatformOutOfStock, RateLimited, CredentialsRevoked, PlatformNotFound, PlatformInvalidRequest):
                # The failing PUT was refused, so the listings already written are the only
                # trace of a sale that did not happen: put them back (best effort).
                for listing_id in done:
                    undo = {variant: -delta for variant, delta in changes[listing_id].items()}
                    try:
                        await self.put(listing_id, None, undo)
                    except MerchantPlatformError:
                        logger.warning("etsy.inventory.undo_failed listing_id=%s", listing_id)
                raise

    async def put(self, listing_id: str, body: Json | None, changes: Mapping[str, int]) -> None:
        """PUT a listing's full inventory, re-reading it before every attempt after the first.

        The PUT replaces the whole inventory and Etsy has no compare-and-swap, so replaying a
        body built from an old read would undo any sale Etsy made in between. A retry therefore
        re-reads and re-applies the change. Only a 429 is retried: Etsy refused that PUT before
        applying it, whereas after a timeout or a 5xx the PUT may have landed, and applying the
        decrement again would sell the stock twice.
        """
        transport = self._transport
        for attempt in range(transport.max_retries + 1):
            if body is None:
                body, short = put_shape(await self.read(listing_id), changes)
                if short:
                    refs = [VariantRef(listing_id, variant) for variant in dict.fromkeys(short)]
                    raise PlatformOutOfStock("Not enough stock on Etsy any more", refs=refs)
            try:
                path = f"/listings/{listing_id}/inventory"
                await transport.send("PUT", path, json=body, retry=False)
                return
            except RateLimited as limited:
                if (
                    attempt >= transport.max_retries
                    or limited.retry_after > transport.max_retry_wait
                ):
                    raise
                await transport.sleep(limited.retry_after)
                body = None

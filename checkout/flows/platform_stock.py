"""The catalog's price and stock of a session's variants, re-read from the merchant's platform.

Complete reads them before checking anything; a purchase the platform refused as sold out reads
them again, so the catalog shows what the platform has rather than the units the purchase gave
back.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from checkout.domain.errors import InvalidRequest, ServiceUnavailable
from checkout.store.catalog import Catalog, CatalogWriter
from checkout.store.rows import MerchantRow
from checkout.store.sessions import CheckoutSessions
from merchant_adapters import (
    CredentialsRevoked,
    MerchantAdapter,
    MerchantPlatformError,
    PlatformUnavailable,
    RateLimited,
    VariantRef,
)

if TYPE_CHECKING:
    from checkout.flows.purchase.saga import Completion


async def refresh_stock(
    ctx: Completion, adapter: MerchantAdapter, session_id: str, merchant: MerchantRow
) -> None:
    """Re-read the session's variants from the platform so the checks below use its numbers."""

    def refs() -> dict[VariantRef, str]:
        with ctx.database.read() as db:
            lines = CheckoutSessions(db).lines(session_id)
            found = Catalog(db).platform_refs(line.variant_id for line in lines)
        return {
            VariantRef(product, variant): variant_id
            for variant_id, (product, variant) in found.items()
            if product and variant
        }

    wanted = await ctx.database.run(refs)
    if not wanted:
        return
    try:
        stock = await adapter.read_stock(list(wanted))
    except (PlatformUnavailable, RateLimited) as exc:
        raise ServiceUnavailable(
            f"{merchant.name}'s store is not answering right now; nothing was "
            "charged. Try again shortly."
        ) from exc
    except CredentialsRevoked as exc:
        raise InvalidRequest(
            f"{merchant.name} cannot take orders right now; nothing was charged.",
            code="merchant_unavailable",
        ) from exc
    except MerchantPlatformError as exc:
        raise ServiceUnavailable(f"{merchant.name}'s store could not confirm stock: {exc}") from exc
    fresh = {
        variant_id: (stock[ref].price, stock[ref].available if stock[ref].purchasable else 0)
        for ref, variant_id in wanted.items()
        if ref in stock
    }
    missing = [variant_id for ref, variant_id in wanted.items() if ref not in stock]

    def write() -> None:
        with ctx.database.write() as db:
            writer = CatalogWriter(db)
            writer.set_stock(fresh, ctx.clock(), merchant_id=merchant.id)
            # Variants the platform no longer knows are no longer sold.
            writer.retire_variants(missing, ctx.clock())

    await ctx.database.run(write)

"""A merchant's items under the ids its own data uses (the platform's ids) and ours."""

from __future__ import annotations

from collections.abc import Iterable
from functools import lru_cache

from sqlalchemy import bindparam, select
from sqlmodel import Session, col

from checkout.store.rows import ProductRow, VariantRow
from datastore import PreparedStatement, id_binds, rows_for_ids


class PlatformItems:
    def __init__(self, db: Session) -> None:
        self.db = db

    def variant_ids(self, merchant_id: str, item_ids: Iterable[str]) -> dict[str, str]:
        """Our variant id for each platform product id the merchant sells (one variant each)."""
        wanted = list(dict.fromkeys(item_ids))
        rows = rows_for_ids(self.db, _variants_of_items, wanted, merchant_id=merchant_id)
        return {platform_id: variant_id for platform_id, variant_id in rows if platform_id}

    def item_ids(self, variant_ids: Iterable[str]) -> dict[str, str]:
        """The platform product id of each of our variants."""
        rows = rows_for_ids(self.db, _items_of_variants, list(dict.fromkeys(variant_ids)))
        return {variant_id: platform_id or variant_id for variant_id, platform_id in rows}


# Every UCP request maps item ids both ways, so both statements are built once per number of ids
# and run on the driver (building a join and its cache key per call cost more than running it).
@lru_cache(maxsize=64)
def _variants_of_items(count: int) -> PreparedStatement:
    return PreparedStatement(
        select(col(ProductRow.platform_product_id), col(VariantRow.id))
        .join(VariantRow, col(VariantRow.product_id) == col(ProductRow.id))
        .where(
            col(ProductRow.merchant_id) == bindparam("merchant_id"),
            col(ProductRow.platform_product_id).in_(id_binds(count)),
            col(ProductRow.active),
            col(VariantRow.active),
        )
    )


@lru_cache(maxsize=64)
def _items_of_variants(count: int) -> PreparedStatement:
    return PreparedStatement(
        select(col(VariantRow.id), col(ProductRow.platform_product_id))
        .join(ProductRow, col(VariantRow.product_id) == col(ProductRow.id))
        .where(col(VariantRow.id).in_(id_binds(count)))
    )

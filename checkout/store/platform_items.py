"""A merchant's items under the ids its own data uses (the platform's ids) and ours."""

from __future__ import annotations

from collections.abc import Iterable
from functools import cache

from sqlalchemy import bindparam
from sqlmodel import Session, col, select
from sqlmodel.sql.expression import Select

from checkout.store.rows import ProductRow, VariantRow


class PlatformItems:
    def __init__(self, db: Session) -> None:
        self.db = db

    def variant_ids(self, merchant_id: str, item_ids: Iterable[str]) -> dict[str, str]:
        """Our variant id for each platform product id the merchant sells (one variant each)."""
        wanted = list(dict.fromkeys(item_ids))
        rows = self.db.exec(
            _variants_of_items(), params={"merchant_id": merchant_id, "items": wanted}
        ).all()
        return {platform_id: variant_id for platform_id, variant_id in rows if platform_id}

    def item_ids(self, variant_ids: Iterable[str]) -> dict[str, str]:
        """The platform product id of each of our variants."""
        rows = self.db.exec(_items_of_variants(), params={"variants": list(variant_ids)}).all()
        return {variant_id: platform_id or variant_id for variant_id, platform_id in rows}


# Every UCP request maps item ids both ways, so both statements are built once and run with
# parameters (building a join and its cache key per call cost more than running it).
@cache
def _variants_of_items() -> Select[str | None, str]:
    return (
        select(ProductRow.platform_product_id, VariantRow.id)
        .join(VariantRow, col(VariantRow.product_id) == col(ProductRow.id))
        .where(
            col(ProductRow.merchant_id) == bindparam("merchant_id"),
            col(ProductRow.platform_product_id).in_(bindparam("items", expanding=True)),
            col(ProductRow.active),
            col(VariantRow.active),
        )
    )


@cache
def _items_of_variants() -> Select[str, str | None]:
    return (
        select(VariantRow.id, ProductRow.platform_product_id)
        .join(ProductRow, col(VariantRow.product_id) == col(ProductRow.id))
        .where(col(VariantRow.id).in_(bindparam("variants", expanding=True)))
    )

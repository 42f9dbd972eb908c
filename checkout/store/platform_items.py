"""A merchant's items under the ids its own data uses (the platform's ids) and ours."""

from __future__ import annotations

from collections.abc import Iterable

from sqlmodel import Session, col, select

from checkout.store.rows import ProductRow, VariantRow


class PlatformItems:
    def __init__(self, db: Session) -> None:
        self.db = db

    def variant_ids(self, merchant_id: str, item_ids: Iterable[str]) -> dict[str, str]:
        """Our variant id for each platform product id the merchant sells (one variant each)."""
        wanted = list(dict.fromkeys(item_ids))
        rows = self.db.exec(
            select(ProductRow.platform_product_id, VariantRow.id)
            .join(VariantRow, col(VariantRow.product_id) == col(ProductRow.id))
            .where(
                col(ProductRow.merchant_id) == merchant_id,
                col(ProductRow.platform_product_id).in_(wanted),
                col(ProductRow.active),
                col(VariantRow.active),
            )
        ).all()
        return {platform_id: variant_id for platform_id, variant_id in rows if platform_id}

    def item_ids(self, variant_ids: Iterable[str]) -> dict[str, str]:
        """The platform product id of each of our variants."""
        rows = self.db.exec(
            select(VariantRow.id, ProductRow.platform_product_id)
            .join(ProductRow, col(VariantRow.product_id) == col(ProductRow.id))
            .where(col(VariantRow.id).in_(list(variant_ids)))
        ).all()
        return {variant_id: platform_id or variant_id for variant_id, platform_id in rows}

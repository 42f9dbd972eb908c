"""The platform catalog: merchants, products and variants, offers for pricing, and stock reservation."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from sqlalchemy import func, or_, update
from sqlmodel import Session, col, select

from checkout.domain.checkout import Offer, ShippingRate, ShippingRules
from checkout.store.rows import MerchantRow, ProductRow, VariantRow


def shipping_rules(merchant: MerchantRow) -> ShippingRules:
    raw = merchant.shipping
    rates = tuple(
        ShippingRate(
            id=f"ship_{name}",
            title=name.title(),
            amount=int(rate["amount"]),
            carrier=rate["carrier"],
            min_days=int(rate["min_days"]),
            max_days=int(rate["max_days"]),
        )
        for name, rate in raw.items()
        if isinstance(rate, dict)
    )
    return ShippingRules(rates=rates, free_shipping_threshold=raw.get("free_shipping_threshold"))


def offer_of(variant: VariantRow, product: ProductRow) -> Offer:
    name = product.title if not variant.options else f"{product.title} ({variant.title})"
    return Offer(
        variant_id=variant.id,
        product_id=product.id,
        merchant_id=variant.merchant_id,
        name=name,
        description=product.description,
        unit_amount=variant.price,
        currency=variant.currency,
        available_quantity=variant.inventory,
        digital=product.digital,
        images=tuple(product.images),
        url=product.url,
        sku=variant.sku,
        category=product.category,
        options=tuple(variant.options.items()),
    )


class Catalog:
    def __init__(self, db: Session) -> None:
        self.db = db

    def merchant(self, merchant_id: str) -> MerchantRow | None:
        return self.db.get(MerchantRow, merchant_id)

    def merchants(self) -> Sequence[MerchantRow]:
        return self.db.exec(select(MerchantRow).order_by(col(MerchantRow.id))).all()

    def has_merchants(self) -> bool:
        return self.db.exec(select(func.count()).select_from(MerchantRow)).one() > 0

    def offers(self, variant_ids: Iterable[str]) -> dict[str, Offer]:
        ids = set(variant_ids)
        if not ids:
            return {}
        rows = self.db.exec(
            select(VariantRow, ProductRow)
            .join(ProductRow, col(ProductRow.id) == col(VariantRow.product_id))
            .where(col(VariantRow.id).in_(ids))
        ).all()
        return {variant.id: offer_of(variant, product) for variant, product in rows}

    def reserve(self, quantities: dict[str, int]) -> list[str]:
        """Take stock for every variant or none; returns the variant ids that fell short.

        Each decrement is one conditional UPDATE, so two buyers of the last unit cannot both
        succeed. Variants are visited in id order so concurrent reservations lock rows in the
        same order and cannot deadlock. The caller rolls back when the list is not empty.
        """
        short = []
        for variant_id in sorted(quantities):
            wanted = quantities[variant_id]
            result = self.db.execute(
                update(VariantRow)
                .where(col(VariantRow.id) == variant_id, col(VariantRow.inventory) >= wanted)
                .values(inventory=col(VariantRow.inventory) - wanted)
            )
            if result.rowcount != 1:  # type: ignore[attr-defined]
                short.append(variant_id)
        return short

    def page(
        self, *, query: str | None, merchant_id: str | None, after: str | None, limit: int
    ) -> list[tuple[ProductRow, list[VariantRow]]]:
        statement = select(ProductRow).order_by(col(ProductRow.id)).limit(limit)
        if merchant_id:
            statement = statement.where(col(ProductRow.merchant_id) == merchant_id)
        if after:
            statement = statement.where(col(ProductRow.id) > after)
        for term in (query or "").lower().split():
            pattern = f"%{term}%"
            statement = statement.where(
                or_(
                    func.lower(col(ProductRow.title)).like(pattern),
                    func.lower(col(ProductRow.description)).like(pattern),
                    func.lower(col(ProductRow.category)).like(pattern),
                )
            )
        products = self.db.exec(statement).all()
        variants: dict[str, list[VariantRow]] = {p.id: [] for p in products}
        if products:
            rows = self.db.exec(
                select(VariantRow)
                .where(col(VariantRow.product_id).in_(list(variants)))
                .order_by(col(VariantRow.id))
            ).all()
            for variant in rows:
                variants[variant.product_id].append(variant)
        return [(product, variants[product.id]) for product in products]

    def add(self, rows: Iterable[Any]) -> None:
        for row in rows:
            self.db.add(row)

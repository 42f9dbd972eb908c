"""The platform catalog: merchants, products and variants, offers for pricing, and stock reservation."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from functools import cache, lru_cache
from typing import Any

from sqlalchemy import Select, bindparam, func, insert, or_, true, update
from sqlalchemy import select as sa_select
from sqlmodel import Session, col, select

from checkout.domain.checkout import Offer, ShippingRate, ShippingRules
from checkout.domain.errors import NotFound
from checkout.domain.purchase import HOLDING_STOCK
from checkout.store.rows import MerchantRow, ProductRow, PurchaseRow, VariantRow
from datastore import (
    PreparedStatement,
    columns_of,
    get_row,
    held_row,
    id_binds,
    rows_for_ids,
    session_row,
)


def shipping_rules(merchant: MerchantRow) -> ShippingRules:
    raw = merchant.shipping
    rates = tuple(
        ShippingRate(
            id=rate.get("id", f"ship_{name}"),
            title=rate.get("title", name.title()),
            amount=int(rate["amount"]),
            carrier=rate["carrier"],
            min_days=int(rate["min_days"]),
            max_days=int(rate["max_days"]),
            country=rate.get("country"),
            service_level=rate.get("service_level"),
        )
        for name, rate in raw.items()
        if isinstance(rate, dict)
    )
    return ShippingRules(
        rates=rates,
        free_shipping_threshold=raw.get("free_shipping_threshold"),
        free_shipping_variants=frozenset(raw.get("free_shipping_variants", ())),
        collects_tax=raw.get("collects_tax", True),
        address_detail=raw.get("address_detail", "full"),
    )


def offer_of(variant: VariantRow, product: ProductRow) -> Offer:
    return _offer(*(getattr(variant if table == "v" else product, name) for table, name in _PRICED))


# What an offer is made of, as (v)ariant or (p)roduct columns, in the order `_offer` takes them:
# a create reads just these, not whole rows.
_PRICED = (
    ("v", "id"), ("v", "product_id"), ("v", "merchant_id"), ("p", "title"), ("v", "title"),
    ("v", "options"), ("p", "description"), ("v", "price"), ("v", "currency"), ("v", "inventory"),
    ("v", "active"), ("p", "active"), ("p", "digital"), ("p", "images"), ("p", "url"),
    ("v", "sku"), ("p", "category"),
)  # fmt: skip


def _offer(
    variant_id: str,
    product_id: str,
    merchant_id: str,
    product_title: str,
    variant_title: str,
    options: dict[str, str],
    description: str,
    price: int,
    currency: str,
    inventory: int,
    variant_active: bool,
    product_active: bool,
    digital: bool,
    images: list[str],
    url: str | None,
    sku: str | None,
    category: str | None,
) -> Offer:
    return Offer(
        variant_id=variant_id,
        product_id=product_id,
        merchant_id=merchant_id,
        name=product_title if not options else f"{product_title} ({variant_title})",
        description=description,
        unit_amount=price,
        currency=currency,
        available_quantity=inventory if variant_active and product_active else 0,
        digital=digital,
        images=tuple(images),
        url=url,
        sku=sku,
        category=category,
        options=tuple(options.items()),
    )


def merchant_or_missing(db: Session, merchant_id: str, *, for_update: bool = False) -> MerchantRow:
    """The merchant, or the 404 every caller answers when there is none."""
    merchant = get_row(db, MerchantRow, merchant_id, for_update=for_update)
    if merchant is None:
        raise NotFound(f"Merchant '{merchant_id}' does not exist.", code="merchant_not_found")
    return merchant


class Catalog:
    def __init__(self, db: Session) -> None:
        self.db = db

    def merchant(self, merchant_id: str) -> MerchantRow | None:
        return get_row(self.db, MerchantRow, merchant_id)

    def merchants(self, ids: Iterable[str]) -> dict[str, MerchantRow]:
        wanted = set(ids)
        if not wanted:
            return {}
        rows = self.db.exec(select(MerchantRow).where(col(MerchantRow.id).in_(wanted))).all()
        return {row.id: row for row in rows}

    def offers(self, variant_ids: Iterable[str]) -> dict[str, Offer]:
        """The offers, read in one statement."""
        rows = rows_for_ids(self.db, _offers, sorted(set(variant_ids)))
        return {row[0]: _offer(*row) for row in rows}

    def offers_and_merchants(
        self, variant_ids: Iterable[str]
    ) -> tuple[dict[str, Offer], dict[str, MerchantRow]]:
        """The offers, and the merchants selling them, read in one statement."""
        offers: dict[str, Offer] = {}
        merchants: dict[str, MerchantRow] = {}
        for row in rows_for_ids(self.db, _offers_and_merchants, sorted(set(variant_ids))):
            offer = offers[row[0]] = _offer(*row[: len(_PRICED)])
            if offer.merchant_id not in merchants:
                merchants[offer.merchant_id] = session_row(
                    self.db, MerchantRow, row[len(_PRICED) :]
                )
        return offers, merchants

    def reserve(self, quantities: dict[str, int]) -> list[str]:
        """Take stock for every variant or none; returns the variant ids that fell short.

        Each decrement is one conditional UPDATE, so two buyers of the last unit cannot both
        succeed. Variants are visited in id order so concurrent reservations lock rows in the
        same order and cannot deadlock. When any falls short, what was taken is given back
        here, so a caller that commits its refusal keeps no stock.
        """
        short, taken = [], {}
        for variant_id in sorted(quantities):
            wanted = quantities[variant_id]
            if _take_stock().change(self.db, {"id": variant_id, "wanted": wanted}) != 1:
                short.append(variant_id)
            else:
                taken[variant_id] = wanted
                self._stock_changed(variant_id)
        if short:
            self.release(taken)
        return short

    def release(self, quantities: dict[str, int]) -> None:
        """Give back stock a reservation took (an unwound purchase)."""
        for variant_id in sorted(quantities):
            _give_back_stock().change(self.db, {"id": variant_id, "given": quantities[variant_id]})
            self._stock_changed(variant_id)

    def _stock_changed(self, variant_id: str) -> None:
        # The session's copy of the variant, if it holds one, reads its stock afresh next time.
        held = held_row(self.db, VariantRow, variant_id)
        if held is not None:
            self.db.expire(held, ["inventory"])

    def platform_refs(self, variant_ids: Iterable[str]) -> dict[str, tuple[str | None, str | None]]:
        """(platform product id, platform variant id) per variant, where it came from a platform."""
        rows = rows_for_ids(self.db, _platform_refs, sorted(set(variant_ids)))
        return {
            variant_id: (product_ref, variant_ref) for variant_id, product_ref, variant_ref in rows
        }

    def page(
        self, *, query: str | None, merchant_id: str | None, after: str | None, limit: int
    ) -> list[tuple[ProductRow, list[VariantRow]]]:
        statement = (
            select(ProductRow)
            .where(col(ProductRow.active).is_(True))
            .order_by(col(ProductRow.id))
            .limit(limit)
        )
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
                .where(
                    col(VariantRow.product_id).in_(list(variants)), col(VariantRow.active).is_(True)
                )
                .order_by(col(VariantRow.id))
            ).all()
            for variant in rows:
                variants[variant.product_id].append(variant)
        return [(product, variants[product.id]) for product in products]

    def merchant_products(
        self, merchant_id: str, *, limit: int, offset: int
    ) -> tuple[int, list[tuple[ProductRow, list[VariantRow]]]]:
        """One page of a merchant's products by title, active or not, each with all its
        variants, and how many products it has in all."""
        where = col(ProductRow.merchant_id) == merchant_id
        count = self.db.exec(select(func.count()).select_from(ProductRow).where(where)).one()
        products = self.db.exec(
            select(ProductRow)
            .where(where)
            .order_by(col(ProductRow.title), col(ProductRow.id))
            .offset(offset)
            .limit(limit)
        ).all()
        variants: dict[str, list[VariantRow]] = {p.id: [] for p in products}
        if products:
            rows = self.db.exec(
                select(VariantRow)
                .where(col(VariantRow.product_id).in_(list(variants)))
                .order_by(col(VariantRow.title), col(VariantRow.id))
            ).all()
            for variant in rows:
                variants[variant.product_id].append(variant)
        return int(count), [(product, variants[product.id]) for product in products]


class CatalogWriter:
    """Bulk upserts from a platform sync: a page of products and variants in a few statements."""

    def __init__(self, db: Session) -> None:
        self.db = db

    def in_flight(self, merchant_id: str) -> dict[str, int]:
        """Units the merchant's purchases hold that its platform does not know about yet.

        The platform's stock figure does not include them, so the mirror must subtract them,
        or a sync in the middle of a purchase would hand the same unit to the next buyer.
        """
        held: dict[str, int] = {}
        sales = self.db.exec(
            select(PurchaseRow.sale).where(
                col(PurchaseRow.merchant_id) == merchant_id,
                col(PurchaseRow.state).in_([state.value for state in HOLDING_STOCK]),
            )
        )
        for sale in sales:
            for line in sale["lines"]:
                held[line["variant_id"]] = held.get(line["variant_id"], 0) + int(line["quantity"])
        return held

    def upsert(
        self, products: list[dict[str, Any]], variants: list[dict[str, Any]]
    ) -> tuple[int, int]:
        """Insert new rows and update known ones; returns (products created, products updated)."""
        if not products:
            return 0, 0
        # Locked first, so a purchase reserving them commits before this write or after it.
        known_variants = (
            set(
                self.db.exec(
                    select(VariantRow.id)
                    .where(col(VariantRow.id).in_([v["id"] for v in variants]))
                    .with_for_update()
                ).all()
            )
            if variants
            else set()
        )
        held = self.in_flight(products[0]["merchant_id"])
        if held:
            variants = [
                {**v, "inventory": max(v["inventory"] - held.get(v["id"], 0), 0)} for v in variants
            ]
        known_products = set(
            self.db.exec(
                select(ProductRow.id).where(col(ProductRow.id).in_([p["id"] for p in products]))
            ).all()
        )
        new_products = [p for p in products if p["id"] not in known_products]
        old_products = [p for p in products if p["id"] in known_products]
        if new_products:
            self.db.execute(insert(ProductRow), new_products)
        if old_products:
            self.db.execute(update(ProductRow), old_products)
        new_variants = [v for v in variants if v["id"] not in known_variants]
        old_variants = [v for v in variants if v["id"] in known_variants]
        if new_variants:
            self.db.execute(insert(VariantRow), new_variants)
        if old_variants:
            self.db.execute(update(VariantRow), old_variants)
        # Variants a product no longer has are no longer sold.
        self.db.execute(
            update(VariantRow)
            .where(
                col(VariantRow.product_id).in_([p["id"] for p in products]),
                col(VariantRow.id).not_in([v["id"] for v in variants]) if variants else true(),
            )
            .values(active=False)
        )
        return len(new_products), len(old_products)

    def deactivate_except(self, merchant_id: str, keep: set[str], now: datetime) -> int:
        """Mark the merchant's products not in `keep` as no longer sold; returns how many changed."""
        active = set(
            self.db.exec(
                select(ProductRow.id).where(
                    col(ProductRow.merchant_id) == merchant_id, col(ProductRow.active).is_(True)
                )
            ).all()
        )
        gone = sorted(active - keep)
        for start in range(0, len(gone), 500):
            self.deactivate(gone[start : start + 500], now)
        return len(gone)

    def deactivate(self, product_ids: list[str], now: datetime) -> None:
        self.db.execute(
            update(ProductRow)
            .where(col(ProductRow.id).in_(product_ids))
            .values(active=False, updated_at=now)
        )
        self.db.execute(
            update(VariantRow)
            .where(col(VariantRow.product_id).in_(product_ids))
            .values(active=False, updated_at=now)
        )

    def retire_variants(self, variant_ids: list[str], now: datetime) -> None:
        if variant_ids:
            self.db.execute(
                update(VariantRow)
                .where(col(VariantRow.id).in_(variant_ids))
                .values(active=False, inventory=0, updated_at=now)
            )

    def set_stock(
        self, stock: dict[str, tuple[int, int]], now: datetime, *, merchant_id: str
    ) -> None:
        """Record fresh (price, available) per variant id, as just read from the platform."""
        if stock:
            # Lock the rows first: a purchase reserving them commits either before (and is
            # counted in `held`) or after (and reserves from the fresh figure), never in between.
            self.db.exec(
                select(VariantRow.id).where(col(VariantRow.id).in_(list(stock))).with_for_update()
            ).all()
            held = self.in_flight(merchant_id)
            self.db.execute(
                update(VariantRow),
                [
                    {
                        "id": variant_id,
                        "price": price,
                        "inventory": max(available - held.get(variant_id, 0), 0),
                        "updated_at": now,
                    }
                    for variant_id, (price, available) in stock.items()
                ],
            )


@lru_cache(maxsize=64)
def _offers(count: int) -> PreparedStatement:
    """What the offers for `count` ids (`id_0`...) are made of: every create and update prices
    its lines, and the ORM's statement path cost more than running the statement."""
    return PreparedStatement(_offers_select(count))


@lru_cache(maxsize=64)
def _offers_and_merchants(count: int) -> PreparedStatement:
    """The offers' columns, then their merchant's (`columns_of`): a create reads both, and a
    statement less is a twentieth of its time."""
    return PreparedStatement(
        _offers_select(count)
        .add_columns(*columns_of(MerchantRow))
        .join(MerchantRow, col(MerchantRow.id) == col(VariantRow.merchant_id))
    )


def _offers_select(count: int) -> Select[Any]:
    tables = {"v": VariantRow, "p": ProductRow}
    return (
        sa_select(*(getattr(tables[table], name) for table, name in _PRICED))
        .join(ProductRow, col(ProductRow.id) == col(VariantRow.product_id))
        .where(col(VariantRow.id).in_(id_binds(count)))
    )


@lru_cache(maxsize=64)
def _platform_refs(count: int) -> PreparedStatement:
    """Where `count` variants (`id_0`...) came from on their platform: read by every purchase."""
    return PreparedStatement(
        sa_select(
            col(VariantRow.id),
            col(ProductRow.platform_product_id),
            col(VariantRow.platform_variant_id),
        )
        .join(ProductRow, col(ProductRow.id) == col(VariantRow.product_id))
        .where(col(VariantRow.id).in_(id_binds(count)))
    )


# Taking and giving back stock is a conditional UPDATE per variant of every purchase: built once.
@cache
def _take_stock() -> PreparedStatement:
    variants = VariantRow.__table__  # type: ignore[attr-defined]
    return PreparedStatement(
        update(variants)
        .where(variants.c.id == bindparam("id"), variants.c.inventory >= bindparam("wanted"))
        .values(inventory=variants.c.inventory - bindparam("wanted"))
    )


@cache
def _give_back_stock() -> PreparedStatement:
    variants = VariantRow.__table__  # type: ignore[attr-defined]
    return PreparedStatement(
        update(variants)
        .where(variants.c.id == bindparam("id"))
        .values(inventory=variants.c.inventory + bindparam("given"))
    )

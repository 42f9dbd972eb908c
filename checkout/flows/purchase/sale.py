"""The sale as charged, kept on the purchase: what the platform order, our order and the
commission are made from, so a purchase carried on later sells exactly what the buyer saw.

`Sale` is the typed, frozen form of the `purchases.sale` JSON document; it is validated each time
it is read from the row (`Sale.of`), and written back with `document()` in exactly the stored
shape (the keys and values rows have always held).
"""

from __future__ import annotations

from typing import Any, cast

from pydantic import BaseModel, ConfigDict
from sqlmodel import Session

from checkout.domain.commission import CommissionLine, commission_for
from checkout.flows.session_state import SessionState, contact_email
from checkout.protocol import render
from checkout.store.catalog import Catalog
from checkout.store.commission_terms import current_terms
from checkout.store.rows import PurchaseRow
from merchant_adapters import ExternalSale, SaleLine, ShippingAddress, VariantRef


class _Snapshot(BaseModel):
    # Keys a future version adds are ignored on read rather than failing old code mid-saga.
    model_config = ConfigDict(frozen=True, extra="ignore")


class SaleCommission(_Snapshot):
    """The platform's commission as computed when the sale was charged."""

    amount: int
    base: int
    version: int
    minimum_applied: bool


class SoldLine(_Snapshot):
    """One line of the sale: our variant, its platform ids and the price charged."""

    variant_id: str
    product_id: str
    platform_product_id: str | None
    platform_variant_id: str | None
    title: str
    quantity: int
    unit_amount: int
    subtotal: int
    category: str | None
    image_url: str | None
    url: str | None

    @property
    def platform_ref(self) -> VariantRef:
        # Only sales of platform merchants go to a platform, and their variants carry both ids.
        return VariantRef(cast(str, self.platform_product_id), cast(str, self.platform_variant_id))


class Sale(_Snapshot):
    """The `purchases.sale` document: everything the purchase sells, as the buyer saw it."""

    commission: SaleCommission
    reference: str
    currency: str
    lines: tuple[SoldLine, ...]
    items_amount: int
    fulfillment_amount: int
    tax_amount: int
    total_amount: int
    # The session's fulfillment address as the buyer gave it; our order keeps it as it is.
    address: dict[str, Any] | None = None
    email: str | None = None
    buyer_name: str | None = None
    shipping_title: str | None = None
    estimated_earliest: str | None = None  # ISO 8601, as rendered to the agent
    estimated_latest: str | None = None
    # Whether the buyer authenticated with 3-D Secure, and the proof the provider is handed.
    authenticated: bool = False
    three_d_secure: dict[str, str] | None = None

    @classmethod
    def of(cls, purchase: PurchaseRow) -> Sale:
        return cls.model_validate(purchase.sale)

    def document(self) -> dict[str, Any]:
        """The JSON kept on the purchase row."""
        return self.model_dump(mode="json")

    def quantities(self) -> dict[str, int]:
        """Units per variant, to reserve or give back."""
        return {line.variant_id: line.quantity for line in self.lines}


def sale_of(db: Session, state: SessionState) -> Sale:
    """The sale as charged, kept on the purchase: what the platform order and our order record."""
    row, quote = state.row, state.quote
    refs = Catalog(db).platform_refs(line.offer.variant_id for line in state.lines)
    shipping = [
        o
        for o in quote.options
        if o.type == "shipping" and any(s.option_id == o.id for s in quote.selections)
    ]
    details = row.fulfillment_details or {}
    terms = current_terms(state.merchant)
    commission = commission_for(
        terms,
        [CommissionLine(lt.subtotal, lt.line.offer.category) for lt in quote.lines],
        shipping=quote.totals.fulfillment or 0,
    )
    return Sale(
        commission=SaleCommission(
            amount=commission.amount,
            base=commission.base,
            version=terms.version,
            minimum_applied=commission.minimum_applied,
        ),
        reference=row.id,
        currency=row.currency,
        lines=tuple(
            SoldLine(
                variant_id=lt.line.offer.variant_id,
                product_id=lt.line.offer.product_id,
                platform_product_id=refs.get(lt.line.offer.variant_id, (None, None))[0],
                platform_variant_id=refs.get(lt.line.offer.variant_id, (None, None))[1],
                title=lt.line.offer.name,
                quantity=lt.line.quantity,
                unit_amount=lt.line.offer.unit_amount,
                subtotal=lt.subtotal,
                category=lt.line.offer.category,
                image_url=lt.line.offer.images[0] if lt.line.offer.images else None,
                url=lt.line.offer.url,
            )
            for lt in quote.lines
        ),
        items_amount=quote.totals.subtotal,
        fulfillment_amount=quote.totals.fulfillment or 0,
        tax_amount=quote.totals.tax,
        total_amount=quote.totals.total,
        address=details.get("address"),
        email=contact_email(row),
        buyer_name=(row.buyer or {}).get("full_name")
        or " ".join(
            n
            for n in ((row.buyer or {}).get("first_name"), (row.buyer or {}).get("last_name"))
            if n
        )
        or details.get("name"),
        shipping_title=shipping[0].title if shipping else None,
        estimated_earliest=render.iso(shipping[0].earliest)
        if shipping and shipping[0].earliest
        else None,
        estimated_latest=render.iso(shipping[0].latest)
        if shipping and shipping[0].latest
        else None,
    )


def external_sale(purchase: PurchaseRow) -> ExternalSale:
    """The sale as the merchant's platform is asked to record it."""
    sale = Sale.of(purchase)
    address = sale.address
    return ExternalSale(
        reference=purchase.session_id,
        lines=tuple(
            SaleLine(
                ref=line.platform_ref,
                quantity=line.quantity,
                unit_price=line.unit_amount,
                title=line.title,
            )
            for line in sale.lines
        ),
        currency=sale.currency,
        buyer_email=sale.email,
        buyer_name=sale.buyer_name,
        shipping_address=ShippingAddress(
            name=address["name"],
            line_one=address["line_one"],
            line_two=address.get("line_two"),
            city=address["city"],
            state=address["state"],
            country=address["country"],
            postal_code=address["postal_code"],
        )
        if address
        else None,
        shipping_title=sale.shipping_title,
        shipping_amount=sale.fulfillment_amount,
        tax_amount=sale.tax_amount,
        total_amount=sale.total_amount,
    )

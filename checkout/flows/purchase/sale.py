"""The sale as charged, kept on the purchase: what the platform order, our order and the
commission are made from, so a purchase carried on later sells exactly what the buyer saw."""

from __future__ import annotations

from typing import Any

from sqlmodel import Session

from checkout.domain.commission import CommissionLine, commission_for
from checkout.flows.session_state import SessionState, contact_email
from checkout.protocol import render
from checkout.store.catalog import Catalog
from checkout.store.commission_terms import current_terms
from checkout.store.rows import PurchaseRow
from merchant_adapters import ExternalSale, SaleLine, ShippingAddress, VariantRef


def sale_document(db: Session, state: SessionState) -> dict[str, Any]:
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
    return {
        "commission": {
            "amount": commission.amount,
            "base": commission.base,
            "version": terms.version,
            "minimum_applied": commission.minimum_applied,
        },
        "reference": row.id,
        "currency": row.currency,
        "lines": [
            {
                "variant_id": lt.line.offer.variant_id,
                "product_id": lt.line.offer.product_id,
                "platform_product_id": refs.get(lt.line.offer.variant_id, (None, None))[0],
                "platform_variant_id": refs.get(lt.line.offer.variant_id, (None, None))[1],
                "title": lt.line.offer.name,
                "quantity": lt.line.quantity,
                "unit_amount": lt.line.offer.unit_amount,
                "subtotal": lt.subtotal,
                "category": lt.line.offer.category,
                "image_url": lt.line.offer.images[0] if lt.line.offer.images else None,
                "url": lt.line.offer.url,
            }
            for lt in quote.lines
        ],
        "items_amount": quote.totals.subtotal,
        "fulfillment_amount": quote.totals.fulfillment or 0,
        "tax_amount": quote.totals.tax,
        "total_amount": quote.totals.total,
        "address": details.get("address"),
        "email": contact_email(row),
        "buyer_name": (row.buyer or {}).get("full_name")
        or " ".join(
            n
            for n in ((row.buyer or {}).get("first_name"), (row.buyer or {}).get("last_name"))
            if n
        )
        or details.get("name"),
        "shipping_title": shipping[0].title if shipping else None,
        "estimated_earliest": render.iso(shipping[0].earliest)
        if shipping and shipping[0].earliest
        else None,
        "estimated_latest": render.iso(shipping[0].latest)
        if shipping and shipping[0].latest
        else None,
    }


def external_sale(purchase: PurchaseRow) -> ExternalSale:
    sale = purchase.sale
    address = sale.get("address")
    return ExternalSale(
        reference=purchase.session_id,
        lines=tuple(
            SaleLine(
                ref=VariantRef(line["platform_product_id"], line["platform_variant_id"]),
                quantity=line["quantity"],
                unit_price=line["unit_amount"],
                title=line["title"],
            )
            for line in sale["lines"]
        ),
        currency=sale["currency"],
        buyer_email=sale.get("email"),
        buyer_name=sale.get("buyer_name"),
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
        shipping_title=sale.get("shipping_title"),
        shipping_amount=sale["fulfillment_amount"],
        tax_amount=sale["tax_amount"],
        total_amount=sale["total_amount"],
    )

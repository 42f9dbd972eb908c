"""A sale as orderCreate's input, and orderCreate's user errors as our PlatformOutOfStock or PlatformInvalidRequest."""

from __future__ import annotations

from decimal import Decimal
from typing import Any, NoReturn

from merchant_adapters import (
    ExternalSale,
    PlatformInvalidRequest,
    PlatformOutOfStock,
    ShippingAddress,
)
from merchant_adapters.shopify.money import decimal_amount
from merchant_adapters.shopify.transport import messages

SOURCE_NAME = "agentic-checkout"  # the manual gateway and sourceName our orders carry


def order_input(sale: ExternalSale) -> dict[str, Any]:
    currency = sale.currency.upper()

    def money(minor: int) -> dict[str, Any]:
        return {"shopMoney": {"amount": decimal_amount(minor, currency), "currencyCode": currency}}

    order: dict[str, Any] = {
        "lineItems": [
            {
                "variantId": line.ref.platform_variant_id,
                "quantity": line.quantity,
                "priceSet": money(line.unit_price),
            }
            for line in sale.lines
        ],
        "financialStatus": "PAID",
        "transactions": [
            {
                "kind": "SALE",
                "status": "SUCCESS",
                "gateway": SOURCE_NAME,
                "amountSet": money(sale.total_amount),
            }
        ],
        "currency": currency,
        "sourceName": SOURCE_NAME,
        "sourceIdentifier": sale.reference,
        "tags": ["acp", f"acp:{sale.reference}"],
    }
    if sale.buyer_email:
        order["email"] = sale.buyer_email
    if sale.shipping_address is not None:
        order["shippingAddress"] = _mailing_address(sale.shipping_address)
    if sale.shipping_title or sale.shipping_amount:
        title = sale.shipping_title or "Shipping"
        order["shippingLines"] = [
            {"title": title, "code": title, "priceSet": money(sale.shipping_amount)}
        ]
    if sale.tax_amount:
        taxable = sum(line.unit_price * line.quantity for line in sale.lines)
        base = taxable + sale.shipping_amount
        # Shopify requires a rate on every tax line; ours is computed, so derive it.
        rate = (Decimal(sale.tax_amount) / base).quantize(Decimal("0.0001")) if base else 0
        order["taxLines"] = [
            {"title": "Sales tax", "rate": str(rate), "priceSet": money(sale.tax_amount)}
        ]
        order["taxesIncluded"] = False
    return order


def raise_order_errors(sale: ExternalSale, errors: list[dict[str, Any]]) -> NoReturn:
    claims = [error for error in errors if error.get("code") == "INVENTORY_CLAIM_FAILED"]
    if not claims:
        raise PlatformInvalidRequest(f"Shopify refused orderCreate: {messages(errors)}")
    refs = []
    for error in claims:
        # The field path names the line: ["order", "lineItems", "0", "quantity"].
        field = error.get("field") or []
        if len(field) > 2 and field[1] == "lineItems" and str(field[2]).isdigit():
            index = int(field[2])
            if index < len(sale.lines) and sale.lines[index].ref not in refs:
                refs.append(sale.lines[index].ref)
    raise PlatformOutOfStock(f"Shopify could not claim the stock: {messages(claims)}", refs=refs)


def _mailing_address(address: ShippingAddress) -> dict[str, Any]:
    first, _, last = address.name.strip().rpartition(" ")
    mailing = {
        # Shopify needs a last name more than a first: a one-word name goes there.
        "firstName": first or None,
        "lastName": last,
        "address1": address.line_one,
        "address2": address.line_two,
        "city": address.city,
        "provinceCode": address.state,
        "countryCode": address.country.upper(),
        "zip": address.postal_code,
    }
    return {key: value for key, value in mailing.items() if value}


def search_value(value: str) -> str:
    return value.replace("\\", "\\\\").replace("'", "\\'")

"""Test levers on the merchants' platforms: sales in their own stores, seller edits, failures."""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient
from sqlmodel import select

from checkout.api.services import Services
from checkout.sandboxes import Sandboxes
from checkout.store.rows import MerchantRow, ProductRow, VariantRow
from merchant_adapters import ExternalSale, PlacedOrder, SaleLine, VariantRef
from tests.support import OPERATOR_KEY

# The sandboxes' levers act as the merchant in its admin: they take the operator key.
LEVER_KEY = {"Authorization": f"Bearer {OPERATOR_KEY}"}


def services_of(client: TestClient) -> Services:
    services: Services = client.app.state.services  # type: ignore[attr-defined]
    return services


def sandboxes_of(client: TestClient) -> Sandboxes:
    sandboxes: Sandboxes = client.app.state.sandboxes  # type: ignore[attr-defined]
    return sandboxes


def rows_for(client: TestClient, variant_id: str) -> tuple[VariantRow, ProductRow, MerchantRow]:
    with services_of(client).database.read() as db:
        variant = db.get(VariantRow, variant_id)
        assert variant is not None
        product = db.get(ProductRow, variant.product_id)
        merchant = db.get(MerchantRow, variant.merchant_id)
    assert product is not None and merchant is not None
    return variant, product, merchant


def storefront_sale(
    client: TestClient, variant_id: str, quantity: int, reference: str = "storefront-sale"
) -> tuple[Any, ExternalSale]:
    """The merchant's adapter and a sale of `quantity` units made on the merchant's own store."""
    variant, product, merchant = rows_for(client, variant_id)
    adapter = services_of(client).platforms.for_merchant(merchant)
    sale = ExternalSale(
        reference=reference,
        lines=(
            SaleLine(
                VariantRef(str(product.platform_product_id), str(variant.platform_variant_id)),
                quantity,
                variant.price,
            ),
        ),
        currency=variant.currency,
        buyer_email=None,
        buyer_name=None,
        shipping_address=None,
        shipping_title=None,
        shipping_amount=0,
        tax_amount=0,
        total_amount=variant.price * quantity,
    )
    return adapter, sale


def sell_in_merchant_store(
    client: TestClient, variant_id: str, quantity: int, reference: str = "storefront-sale"
) -> PlacedOrder:
    """Someone buys on the merchant's own store: the platform's stock drops, nobody tells us."""
    adapter, sale = storefront_sale(client, variant_id, quantity, reference)
    placed: PlacedOrder = client.portal.call(adapter.place_order, sale)
    return placed


def platform_stock(client: TestClient, variant_id: str) -> int | None:
    """What the merchant's platform itself says is left of a variant."""
    variant, product, merchant = rows_for(client, variant_id)
    adapter = services_of(client).platforms.for_merchant(merchant)
    ref = VariantRef(str(product.platform_product_id), str(variant.platform_variant_id))
    stock = client.portal.call(adapter.read_stock, [ref])  # type: ignore[union-attr]
    return stock[ref].available if ref in stock else None


def platform_orders(client: TestClient, merchant_id: str) -> list[Any]:
    sandboxes = sandboxes_of(client)
    with services_of(client).database.read() as db:
        merchant = db.exec(select(MerchantRow).where(MerchantRow.id == merchant_id)).one()
    assert sandboxes.etsy is not None and sandboxes.shopify is not None
    if merchant.platform == "etsy":
        return list(sandboxes.etsy.orders(int(str(merchant.platform_shop_id))))
    return list(sandboxes.shopify.orders(str(merchant.platform_shop_id)))


def fail_platform(
    client: TestClient, merchant_id: str, mode: str, times: int | None = None
) -> None:
    sandboxes = sandboxes_of(client)
    assert sandboxes.etsy is not None and sandboxes.shopify is not None
    if merchant_id.startswith("mch_clay"):
        sandboxes.etsy.fail(mode, times)  # type: ignore[arg-type]
    else:
        sandboxes.shopify.fail(mode, times)  # type: ignore[call-arg,arg-type]


def seller_edit(client: TestClient, variant_id: str, **changes: Any) -> Any:
    """The seller edits the product on the platform; the platform sends its webhook."""
    _, product, merchant = rows_for(client, variant_id)
    if merchant.platform == "etsy":
        return client.post(
            f"/sandbox/etsy/v3/application/x-sandbox/_control/listings/{product.platform_product_id}/update",
            json={"price": changes.get("price"), "quantity": changes.get("available")},
            headers=LEVER_KEY,
        )
    numeric = str(product.platform_product_id).rsplit("/", 1)[-1]
    return client.post(
        f"/sandbox/shopify/_control/{merchant.platform_shop_id}/products/{numeric}/update",
        json={"price": changes.get("price"), "available": changes.get("available")},
        headers=LEVER_KEY,
    )

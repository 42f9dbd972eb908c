"""Sandbox rows rendered as Shopify's GraphQL nodes and as the REST payloads of its webhooks."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from decimal import Decimal, InvalidOperation
from typing import Any

from sqlalchemy import Connection, Row, select

from merchant_adapters.money import exponent
from merchant_adapters.sandbox.shopify.connections import Paged
from merchant_adapters.sandbox.shopify.tables import variants


def decimal_string(minor: int, currency: str) -> str:
    places = exponent(currency)
    return f"{Decimal(minor).scaleb(-places):.{places}f}"


def minor_units(amount: object, currency: str) -> int:
    """Stricter than the adapter's: an amount finer than the currency allows is refused."""
    scaled = Decimal(str(amount)).scaleb(exponent(currency))
    if scaled != scaled.to_integral_value():
        raise InvalidOperation(f"{amount} has more decimals than {currency}")
    return int(scaled)


def _money_bag(minor: int, currency: str) -> dict[str, Any]:
    money = {"amount": decimal_string(minor, currency), "currencyCode": currency}
    return {"shopMoney": money, "presentmentMoney": dict(money)}


def _metafield_lookup(fields: Mapping[str, Any]) -> Callable[[Mapping[str, Any]], Any]:
    def metafield(args: Mapping[str, Any]) -> dict[str, Any] | None:
        namespace, key = args.get("namespace"), args.get("key")
        found = fields.get(f"{namespace}.{key}")
        return (
            {"__typename": "Metafield", "namespace": namespace, "key": key, **found}
            if found
            else None
        )

    return metafield


def variant_node(
    row: Row[Any], currency: str, active: bool, requires_shipping: bool = True
) -> dict[str, Any]:
    sellable = active and (
        row.available > 0 or row.inventory_policy == "CONTINUE" or not row.tracked
    )
    return {
        "__typename": "ProductVariant",
        "id": f"gid://shopify/ProductVariant/{row.id}",
        "title": row.title,
        "sku": row.sku,
        "price": decimal_string(row.price, currency),
        "compareAtPrice": decimal_string(row.compare_at_price, currency)
        if row.compare_at_price is not None
        else None,
        "inventoryQuantity": row.available,
        "inventoryPolicy": row.inventory_policy,
        "availableForSale": sellable,
        "selectedOptions": [
            {"__typename": "SelectedOption", "name": n, "value": v} for n, v in row.options
        ],
        "inventoryItem": {
            "__typename": "InventoryItem",
            "id": f"gid://shopify/InventoryItem/{row.id}",
            "tracked": row.tracked,
            "requiresShipping": requires_shipping,
        },
    }


def order_node(row: Row[Any]) -> dict[str, Any]:
    return {
        "__typename": "Order",
        "id": f"gid://shopify/Order/{row.id}",
        "name": f"#{row.number}",
        "createdAt": row.created_at,
        "cancelledAt": row.cancelled_at,
        "email": row.email,
        "tags": [tag.strip() for tag in row.tags.split(",") if tag.strip()],
        "sourceName": row.source_name,
        "sourceIdentifier": row.source_identifier,
        "displayFinancialStatus": row.financial_status,
        "displayFulfillmentStatus": "FULFILLED" if row.fulfillments else "UNFULFILLED",
        "totalPriceSet": _money_bag(row.total, row.currency),
        "lineItems": Paged(
            [
                {
                    "__typename": "LineItem",
                    "id": f"gid://shopify/LineItem/{line['id']}",
                    "sku": line["sku"],
                    "title": line["title"],
                    "quantity": line["quantity"],
                    "variant": {
                        "__typename": "ProductVariant",
                        "id": f"gid://shopify/ProductVariant/{line['variant_id']}",
                    },
                }
                for line in row.lines
            ]
        ),
    }


def order_payload(row: Row[Any]) -> dict[str, Any]:
    """The REST-shaped order Shopify posts to orders/* webhooks."""
    return {
        "id": row.id,
        "admin_graphql_api_id": f"gid://shopify/Order/{row.id}",
        "name": f"#{row.number}",
        "order_number": row.number,
        "email": row.email,
        "created_at": row.created_at,
        "updated_at": row.updated_at,
        "cancelled_at": row.cancelled_at,
        "cancel_reason": row.cancel_reason,
        "currency": row.currency,
        "financial_status": row.financial_status.lower(),
        "fulfillment_status": "fulfilled" if row.fulfillments else None,
        "subtotal_price": decimal_string(row.subtotal, row.currency),
        "total_tax": decimal_string(row.tax, row.currency),
        "total_price": decimal_string(row.total, row.currency),
        "tags": row.tags,
        "source_name": row.source_name,
        "source_identifier": row.source_identifier,
        "line_items": [
            {
                "id": line["id"],
                "admin_graphql_api_id": f"gid://shopify/LineItem/{line['id']}",
                "variant_id": line["variant_id"],
                "product_id": line["product_id"],
                "sku": line["sku"],
                "title": line["title"],
                "quantity": line["quantity"],
                "price": decimal_string(line["price"], row.currency),
            }
            for line in row.lines
        ],
        "shipping_address": row.shipping_address,
        "fulfillments": row.fulfillments,
    }


def product_payload(product: Row[Any], rows: Iterable[Row[Any]], currency: str) -> dict[str, Any]:
    """The REST-shaped product Shopify posts to products/* webhooks."""
    return {
        "id": product.id,
        "admin_graphql_api_id": f"gid://shopify/Product/{product.id}",
        "title": product.title,
        "handle": product.handle,
        "status": product.status.lower(),
        "product_type": product.product_type,
        "tags": ", ".join(product.tags),
        "updated_at": product.updated_at,
        "variants": [
            {
                "id": row.id,
                "admin_graphql_api_id": f"gid://shopify/ProductVariant/{row.id}",
                "product_id": product.id,
                "title": row.title,
                "price": decimal_string(row.price, currency),
                "sku": row.sku,
                "inventory_quantity": row.available,
                "inventory_policy": row.inventory_policy.lower(),
            }
            for row in rows
        ],
    }


def product_nodes(
    conn: Connection, shop: Row[Any], rows: Sequence[Row[Any]]
) -> list[dict[str, Any]]:
    """Product nodes with their variants, read in one query, media and variants as connections."""
    ids = [row.id for row in rows]
    by_product: dict[int, list[Row[Any]]] = {product_id: [] for product_id in ids}
    if ids:
        for variant in conn.execute(
            select(variants)
            .where(variants.c.product_id.in_(ids))
            .order_by(variants.c.product_id, variants.c.position)
        ):
            by_product[variant.product_id].append(variant)
    nodes = []
    for row in rows:
        images = [
            {
                "__typename": "MediaImage",
                "id": f"gid://shopify/MediaImage/{row.id}{i}",
                "image": {"__typename": "Image", "url": url, "altText": None},
            }
            for i, url in enumerate(row.images)
        ]
        featured = (
            {
                "__typename": "MediaImage",
                "preview": {"__typename": "MediaPreviewImage", "image": images[0]["image"]},
            }
            if images
            else None
        )
        active = row.status == "ACTIVE"
        nodes.append(
            {
                "__typename": "Product",
                "id": f"gid://shopify/Product/{row.id}",
                "title": row.title,
                "handle": row.handle,
                "status": row.status,
                "vendor": row.vendor,
                "productType": row.product_type,
                "tags": list(row.tags),
                "descriptionHtml": row.description_html,
                "updatedAt": row.updated_at,
                "onlineStoreUrl": row.online_store_url if active else None,
                "featuredMedia": featured,
                "metafield": _metafield_lookup(row.metafields),
                "media": Paged(images),
                "variants": Paged(
                    [
                        {
                            **variant_node(v, shop.currency, active, row.requires_shipping),
                            "product": {
                                "__typename": "Product",
                                "id": f"gid://shopify/Product/{row.id}",
                                "title": row.title,
                                "handle": row.handle,
                            },
                        }
                        for v in by_product[row.id]
                    ]
                ),
            }
        )
    return nodes

"""GET /catalog/products: the platform catalog for agents, each product shaped like an ACP feed Product."""

from __future__ import annotations

import base64
from typing import Annotated, Any

from fastapi import APIRouter, Query
from fastapi.responses import Response

from checkout.api.acp.openapi import CLIENT_ERRORS
from checkout.api.deps import AgentDep, DatabaseDep
from checkout.api.problems import json_document
from checkout.domain.checkout import LOW_STOCK
from checkout.domain.errors import InvalidRequest
from checkout.protocol.responses import CatalogPage
from checkout.store.catalog import Catalog
from checkout.store.rows import MerchantRow, ProductRow, VariantRow
from datastore.storable_text import is_storable

router = APIRouter(tags=["catalog"])


def _cursor(product_id: str) -> str:
    return base64.urlsafe_b64encode(product_id.encode()).decode().rstrip("=")


def _after(cursor: str | None) -> str | None:
    if not cursor:
        return None
    try:
        after = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
    except (ValueError, UnicodeDecodeError) as exc:
        raise InvalidRequest("The cursor is not one this API returned.", param="$.cursor") from exc
    if not is_storable(after):
        raise InvalidRequest("The cursor is not one this API returned.", param="$.cursor")
    return after


def _availability(inventory: int) -> dict[str, Any]:
    if inventory <= 0:
        return {"available": False, "status": "out_of_stock"}
    return {"available": True, "status": "limited_stock" if inventory <= LOW_STOCK else "in_stock"}


def feed_product(
    product: ProductRow, variants: list[VariantRow], merchant: MerchantRow
) -> dict[str, Any]:
    seller = {
        "name": merchant.name,
        "links": [{"type": kind, "url": url} for kind, url in sorted(merchant.links.items())],
    }
    body: dict[str, Any] = {
        "id": product.id,
        "merchant_id": product.merchant_id,
        # Beyond the feed's Product: what shoppers filter and rank on.
        "category": product.category,
        "tags": product.tags,
        "material": product.material,
        "rating": product.rating,
        "review_count": product.review_count,
        "title": product.title,
        "description": {"plain": product.description},
        "media": [
            {"type": "image", "url": url, "alt_text": product.title} for url in product.images
        ],
        "variants": [],
    }
    if product.url:
        body["url"] = product.url
    for variant in variants:
        item: dict[str, Any] = {
            "id": variant.id,
            "title": variant.title,
            "price": {"amount": variant.price, "currency": variant.currency.upper()},
            "availability": _availability(variant.inventory),
            "available_quantity": max(variant.inventory, 0),
            "variant_options": [{"name": k, "value": v} for k, v in variant.options.items()],
            "seller": seller,
        }
        if variant.list_price:
            item["list_price"] = {
                "amount": variant.list_price,
                "currency": variant.currency.upper(),
            }
        if product.category:
            item["categories"] = [{"value": product.category, "taxonomy": "merchant"}]
        body["variants"].append(item)
    return body


@router.get(
    "/catalog/products",
    operation_id="listCatalogProducts",
    responses={
        200: {"model": CatalogPage, "description": "A page of the catalog."},
        **CLIENT_ERRORS,
    },
)
def list_products(
    agent: AgentDep,
    database: DatabaseDep,
    q: Annotated[str | None, Query(max_length=200)] = None,
    merchant_id: Annotated[str | None, Query(max_length=64)] = None,
    limit: Annotated[int, Query(ge=1, le=100)] = 20,
    cursor: Annotated[str | None, Query(max_length=200)] = None,
) -> Response:
    with database.read() as db:
        catalog = Catalog(db)
        page = catalog.page(query=q, merchant_id=merchant_id, after=_after(cursor), limit=limit + 1)
        merchants = catalog.merchants(p.merchant_id for p, _ in page)
    more = len(page) > limit
    page = page[:limit]
    body = {
        "products": [feed_product(p, v, merchants[p.merchant_id]) for p, v in page],
        "next_cursor": _cursor(page[-1][0].id) if more and page else None,
    }
    return json_document(body)

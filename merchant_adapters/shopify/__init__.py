"""The Shopify adapter: ShopifyAdapter over the GraphQL Admin API, and the names other code imports."""

from merchant_adapters.shopify.adapter import ShopifyAdapter
from merchant_adapters.shopify.catalog import UNLIMITED, plain_text
from merchant_adapters.shopify.money import decimal_amount, minor_units
from merchant_adapters.shopify.orders import SOURCE_NAME
from merchant_adapters.shopify.queries import (
    CATALOG_MEDIA,
    CATALOG_PAGE_LIMIT,
    CATALOG_PRODUCT_COST,
    CATALOG_QUERY,
    CATALOG_VARIANTS,
    DEFAULT_API_VERSION,
    FIND_ORDER_QUERY,
    MAX_PAGE,
    MAX_QUERY_COST,
    ORDER_CANCEL_MUTATION,
    ORDER_CREATE_MUTATION,
    ORDER_STATE_QUERY,
    PRODUCT_VARIANTS_QUERY,
    SHOP_QUERY,
    STOCK_QUERY,
    VARIANT_FIELDS,
)
from merchant_adapters.shopify.transport import RETRY_BASE, THROTTLE_JITTER

__all__ = [
    "CATALOG_MEDIA",
    "CATALOG_PAGE_LIMIT",
    "CATALOG_PRODUCT_COST",
    "CATALOG_QUERY",
    "CATALOG_VARIANTS",
    "DEFAULT_API_VERSION",
    "FIND_ORDER_QUERY",
    "MAX_PAGE",
    "MAX_QUERY_COST",
    "ORDER_CANCEL_MUTATION",
    "ORDER_CREATE_MUTATION",
    "ORDER_STATE_QUERY",
    "PRODUCT_VARIANTS_QUERY",
    "RETRY_BASE",
    "SHOP_QUERY",
    "SOURCE_NAME",
    "STOCK_QUERY",
    "THROTTLE_JITTER",
    "UNLIMITED",
    "VARIANT_FIELDS",
    "ShopifyAdapter",
    "decimal_amount",
    "minor_units",
    "plain_text",
]

"""The GraphQL Admin API documents the adapter sends, and the page sizes their query cost allows."""

from __future__ import annotations

DEFAULT_API_VERSION = "2026-10"
MAX_PAGE = 250  # Shopify's cap on `first` and on every input array
MAX_QUERY_COST = 1000  # a single query whose requested cost is higher fails with MAX_COST_EXCEEDED
CATALOG_MEDIA = 5
CATALOG_VARIANTS = 25
# Requested cost of one product in CATALOG_QUERY by Shopify's rule (object 1, connection
# 2 + pageInfo + first x node): product 1, three metafields 3, featuredMedia 3, media 2 + 2 per
# image, variants 3 + 3 per variant. Nested connections multiply, so `first` is bounded by the
# cost (10 products a page), not by 250.
CATALOG_PRODUCT_COST = 12 + 2 * CATALOG_MEDIA + 3 * CATALOG_VARIANTS
CATALOG_PAGE_LIMIT = min(MAX_PAGE, (MAX_QUERY_COST - 4) // CATALOG_PRODUCT_COST)

SHOP_QUERY = "query Shop { shop { id name currencyCode myshopifyDomain } }"

VARIANT_FIELDS = """
fragment VariantFields on ProductVariant {
  id title sku price compareAtPrice inventoryQuantity inventoryPolicy availableForSale
  selectedOptions { name value }
  inventoryItem { tracked requiresShipping }
}"""

CATALOG_QUERY = (
    """
query Catalog($first: Int!, $after: String, $query: String, $sortKey: ProductSortKeys,
              $media: Int!, $variants: Int!) {
  shop { currencyCode }
  products(first: $first, after: $after, query: $query, sortKey: $sortKey) {
    pageInfo { hasNextPage endCursor }
    nodes {
      id title handle status productType tags descriptionHtml updatedAt onlineStoreUrl
      rating: metafield(namespace: "reviews", key: "rating") { value }
      ratingCount: metafield(namespace: "reviews", key: "rating_count") { value }
      material: metafield(namespace: "custom", key: "material") { value }
      featuredMedia { preview { image { url } } }
      media(first: $media) { nodes { ... on MediaImage { image { url } } } }
      variants(first: $variants) { pageInfo { hasNextPage endCursor } nodes { ...VariantFields } }
    }
  }
}"""
    + VARIANT_FIELDS
)

PRODUCT_VARIANTS_QUERY = (
    """
query ProductVariants($id: ID!, $first: Int!, $after: String) {
  product(id: $id) {
    variants(first: $first, after: $after) { pageInfo { hasNextPage endCursor } nodes { ...VariantFields } }
  }
}"""
    + VARIANT_FIELDS
)

STOCK_QUERY = """
query Stock($ids: [ID!]!) {
  shop { currencyCode }
  nodes(ids: $ids) {
    ... on ProductVariant {
      id price inventoryQuantity inventoryPolicy availableForSale
      inventoryItem { tracked }
      product { id }
    }
  }
}"""

ORDER_CREATE_MUTATION = """
mutation Place($order: OrderCreateOrderInput!, $options: OrderCreateOptionsInput) {
  orderCreate(order: $order, options: $options) {
    order { id name }
    userErrors { field message code }
  }
}"""

FIND_ORDER_QUERY = """
query FindOrder($first: Int!, $query: String!) {
  orders(first: $first, query: $query) {
    nodes { id name cancelledAt displayFulfillmentStatus }
  }
}"""

ORDER_CANCEL_MUTATION = """
mutation Cancel($orderId: ID!, $reason: OrderCancelReason!, $restock: Boolean!,
                $notifyCustomer: Boolean, $refundMethod: OrderCancelRefundMethodInput,
                $staffNote: String) {
  orderCancel(orderId: $orderId, reason: $reason, restock: $restock,
              notifyCustomer: $notifyCustomer, refundMethod: $refundMethod, staffNote: $staffNote) {
    job { id done }
    orderCancelUserErrors { field message code }
  }
}"""

ORDER_STATE_QUERY = """
query OrderState($ids: [ID!]!) { nodes(ids: $ids) { ... on Order { id cancelledAt } } }"""

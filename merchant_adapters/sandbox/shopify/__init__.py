"""The Shopify-style sandbox: ShopifySandbox, its FastAPI app, and the names other code imports."""

from merchant_adapters.sandbox.shopify.app import (
    FailRequest,
    FulfillRequest,
    ProductUpdateRequest,
    WebhookSubscription,
    create_shopify_sandbox_app,
)
from merchant_adapters.sandbox.shopify.cost import requested_cost
from merchant_adapters.sandbox.shopify.parser import Field, Fragment, GraphQLError
from merchant_adapters.sandbox.shopify.sandbox import ShopifySandbox
from merchant_adapters.sandbox.shopify.schemas import (
    API_VERSION,
    FailureMode,
    SandboxLine,
    SandboxNotFound,
    SandboxOrder,
    SandboxResponse,
)
from merchant_adapters.sandbox.shopify.tables import metadata

__all__ = [
    "API_VERSION",
    "FailRequest",
    "FailureMode",
    "Field",
    "Fragment",
    "FulfillRequest",
    "GraphQLError",
    "ProductUpdateRequest",
    "SandboxLine",
    "SandboxNotFound",
    "SandboxOrder",
    "SandboxResponse",
    "ShopifySandbox",
    "WebhookSubscription",
    "create_shopify_sandbox_app",
    "metadata",
    "requested_cost",
]

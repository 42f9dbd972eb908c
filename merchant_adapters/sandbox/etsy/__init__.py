"""The Etsy-style sandbox: EtsySandbox, its FastAPI app, and the names other code imports."""

from merchant_adapters.sandbox.etsy.app import create_etsy_sandbox_app
from merchant_adapters.sandbox.etsy.sandbox import EtsySandbox
from merchant_adapters.sandbox.etsy.schemas import (
    CancelRequest,
    EtsyApiError,
    FailRequest,
    FailureMode,
    ListingUpdate,
    OrderLine,
    OrderRequest,
    PutInventory,
    PutOffering,
    PutProduct,
    PutPropertyValue,
    SandboxOrder,
    SandboxOrderLine,
    ShipRequest,
    WebhookDelivery,
    WebhookSubscription,
)
from merchant_adapters.sandbox.etsy.tables import metadata

__all__ = [
    "CancelRequest",
    "EtsyApiError",
    "EtsySandbox",
    "FailRequest",
    "FailureMode",
    "ListingUpdate",
    "OrderLine",
    "OrderRequest",
    "PutInventory",
    "PutOffering",
    "PutProduct",
    "PutPropertyValue",
    "SandboxOrder",
    "SandboxOrderLine",
    "ShipRequest",
    "WebhookDelivery",
    "WebhookSubscription",
    "create_etsy_sandbox_app",
    "metadata",
]

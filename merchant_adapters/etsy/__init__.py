"""The Etsy adapter: EtsyAdapter over Etsy Open API v3, and the names other code imports."""

from merchant_adapters.etsy.adapter import EtsyAdapter
from merchant_adapters.etsy.catalog import variant_key
from merchant_adapters.etsy.money import minor_units
from merchant_adapters.etsy.transport import DAILY_LIMIT_PAUSE_SECONDS, ETSY_BASE_URL, PAGE_LIMIT
from merchant_adapters.etsy.webhooks import WEBHOOK_TOLERANCE_SECONDS

__all__ = [
    "DAILY_LIMIT_PAUSE_SECONDS",
    "ETSY_BASE_URL",
    "PAGE_LIMIT",
    "WEBHOOK_TOLERANCE_SECONDS",
    "EtsyAdapter",
    "minor_units",
    "variant_key",
]

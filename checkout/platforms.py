"""Builds the MerchantAdapter for a merchant: which client, which base URL, which credentials.

Merchants onboarded against the in-process sandboxes have an `api_base_url` under
SANDBOX_BASE_URL; their adapters talk to the sandbox apps through an ASGI transport, so the
seam stays HTTP without a network. Everyone else reaches the real platform.
"""

from __future__ import annotations

from typing import Any

import httpx

from checkout.domain.errors import InvalidRequest
from checkout.store.rows import MerchantRow
from checkout.store.vault import CredentialVault
from merchant_adapters import MerchantAdapter
from merchant_adapters.etsy import EtsyAdapter
from merchant_adapters.shopify import ShopifyAdapter

SANDBOX_BASE_URL = "http://sandbox.internal"
ETSY_API_BASE_URL = "https://openapi.etsy.com/v3/application"
PLATFORMS = ("etsy", "shopify")
REQUIRED_CREDENTIALS = {
    "etsy": ("api_key", "shared_secret", "access_token", "webhook_secret"),
    "shopify": ("access_token", "webhook_secret"),
}


class MerchantPlatforms:
    def __init__(
        self,
        http: httpx.AsyncClient,
        vault: CredentialVault,
        *,
        sandbox_http: httpx.AsyncClient | None = None,
        max_retries: int = 3,
        max_retry_wait: float = 10.0,
    ) -> None:
        self.http = http
        self.vault = vault
        self.sandbox_http = sandbox_http
        self.max_retries = max_retries
        self.max_retry_wait = max_retry_wait

    def adapter(
        self,
        platform: str,
        shop_id: str,
        credentials: dict[str, Any],
        api_base_url: str | None = None,
    ) -> MerchantAdapter:
        missing = [k for k in REQUIRED_CREDENTIALS.get(platform, ()) if not credentials.get(k)]
        if platform not in PLATFORMS:
            raise InvalidRequest(f"Unknown platform '{platform}'.", param="$.platform")
        if missing:
            raise InvalidRequest(
                f"Credentials for {platform} need: {', '.join(missing)}.",
                param=f"$.credentials.{missing[0]}",
                code="invalid_credentials",
            )
        sandboxed = bool(api_base_url and api_base_url.startswith(SANDBOX_BASE_URL))
        client = self.sandbox_http if sandboxed and self.sandbox_http is not None else self.http
        if platform == "shopify":
            return ShopifyAdapter(
                client,
                shop_domain=shop_id,
                access_token=credentials["access_token"],
                webhook_secret=credentials["webhook_secret"],
                base_url=api_base_url,
                max_retries=self.max_retries,
                max_retry_wait=self.max_retry_wait,
            )
        return EtsyAdapter(
            client,
            api_key=credentials["api_key"],
            shared_secret=credentials["shared_secret"],
            access_token=credentials["access_token"],
            shop_id=shop_id,
            webhook_secret=credentials["webhook_secret"],
            base_url=api_base_url or ETSY_API_BASE_URL,
            sandbox_orders=sandboxed,
            max_retries=self.max_retries,
            max_retry_wait=self.max_retry_wait,
        )

    def for_merchant(self, merchant: MerchantRow) -> MerchantAdapter:
        if merchant.credentials is None or merchant.platform_shop_id is None:
            raise InvalidRequest(
                f"Merchant '{merchant.id}' is not on a platform.", code="merchant_not_on_platform"
            )
        return self.adapter(
            merchant.platform,
            merchant.platform_shop_id,
            self.vault.open(merchant.credentials),
            merchant.api_base_url,
        )

"""The business profile served at /.well-known/ucp: services, capabilities and payment handlers,
in the shape of the version asked for."""

from __future__ import annotations

from typing import Any

SHOPPING = "dev.ucp.shopping"
# dev.ucp.* spec and schema URLs must be on ucp.dev (overview.md, "Spec URL Binding").
UCP_DEV = "https://ucp.dev"
CAPABILITIES: tuple[tuple[str, str, str | None], ...] = (
    # name, schema path, the capability it extends
    ("dev.ucp.shopping.checkout", "shopping/checkout.json", None),
    ("dev.ucp.shopping.order", "shopping/order.json", None),
    ("dev.ucp.shopping.fulfillment", "shopping/fulfillment.json", "dev.ucp.shopping.checkout"),
    ("dev.ucp.shopping.discount", "shopping/discount.json", "dev.ucp.shopping.checkout"),
    ("dev.ucp.shopping.buyer_consent", "shopping/buyer_consent.json", "dev.ucp.shopping.checkout"),
)


def payment_handlers(base_url: str, version: str) -> list[dict[str, Any]]:
    """Our own tokenizer completes payments; the wallets are offered for platforms that render
    them (their credentials are not accepted for completion here)."""
    return [
        {
            "id": "mock_payment_handler",
            "name": "dev.agentic_checkout.sandbox_tokenizer",
            "version": version,
            "spec": f"{base_url}/ucp/handlers/sandbox_tokenizer",
            "config_schema": f"{base_url}/ucp/handlers/sandbox_tokenizer/config.json",
            "instrument_schemas": [
                f"{UCP_DEV}/schemas/shopping/types/card_payment_instrument.json"
            ],
            "config": {"credential_types": ["token", "card"]},
        },
        {
            "id": "google_pay",
            "name": "google.pay",
            "version": version,
            "spec": "https://pay.google.com/gp/p/ucp/2026-01-11/",
            "config_schema": "https://pay.google.com/gp/p/ucp/2026-01-11/schemas/gpay_config.json",
            "instrument_schemas": [
                "https://pay.google.com/gp/p/ucp/2026-01-11/schemas/"
                "gpay_card_payment_instrument.json"
            ],
            "config": {
                "allowed_payment_methods": [
                    {
                        "type": "CARD",
                        "parameters": {"allowed_card_networks": ["VISA", "MASTERCARD", "AMEX"]},
                    }
                ]
            },
        },
        {
            "id": "shop_pay",
            "name": "com.shopify.shop_pay",
            "version": version,
            "spec": "https://shopify.dev/docs/agents/checkout/shop-pay-handler",
            "config_schema": "https://shopify.dev/ucp/shop-pay-handler/2026-01-11/config.json",
            "instrument_schemas": [
                "https://shopify.dev/ucp/shop-pay-handler/2026-01-11/instrument.json"
            ],
            "config": {"shop_id": "agentic-checkout"},
        },
    ]


def profile(base_url: str, version: str) -> dict[str, Any]:
    """The business profile (discovery/profile_schema.json of 2026-01-11)."""
    return {
        "ucp": {
            "version": version,
            "services": {
                SHOPPING: {
                    "version": version,
                    "spec": f"{UCP_DEV}/specification/overview",
                    "rest": {
                        "schema": f"{UCP_DEV}/services/shopping/rest.openapi.json",
                        "endpoint": f"{base_url}/ucp",
                    },
                }
            },
            "capabilities": [
                {
                    "name": name,
                    "version": version,
                    "spec": f"{UCP_DEV}/specification/{name.rsplit('.', 1)[1]}",
                    "schema": f"{UCP_DEV}/schemas/{schema}",
                    **({"extends": extends} if extends else {}),
                }
                for name, schema, extends in CAPABILITIES
            ],
        },
        "payment": {"handlers": payment_handlers(base_url, version)},
    }

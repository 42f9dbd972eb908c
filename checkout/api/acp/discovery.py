"""The unauthenticated ACP discovery document at /.well-known/acp.json."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import Response

from checkout.api.deps import ProviderDep, SettingsDep
from checkout.api.problems import json_document
from checkout.domain.money import SUPPORTED_CURRENCIES
from checkout.protocol import CURRENT_VERSION, SUPPORTED_VERSIONS

router = APIRouter(tags=["discovery"])


@router.get("/.well-known/acp.json", operation_id="getDiscovery")
def discovery(settings: SettingsDep, provider: ProviderDep) -> Response:
    body = {
        "protocol": {
            "name": "acp",
            "version": CURRENT_VERSION,
            "supported_versions": SUPPORTED_VERSIONS,
            "documentation_url": "https://agenticcommerce.dev",
        },
        "api_base_url": settings.public_base_url,
        "transports": ["rest"],
        "capabilities": {
            # With Stripe, agents mint Shared Payment Tokens through Stripe, not through us.
            "services": ["checkout", "orders"]
            + (["delegate_payment"] if provider.name == "sandbox" else []),
            "intervention_types": ["3ds"],
            "supported_currencies": sorted(SUPPORTED_CURRENCIES),
            "supported_locales": ["en-US"],
        },
    }
    return json_document(body, headers={"Cache-Control": "public, max-age=3600"})

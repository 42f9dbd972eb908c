"""One process serving everything: the checkout platform, its sandboxes, and the assistant at /assistant.

The assistant stays a client of checkout: it reaches the ACP endpoints over HTTP (an in-process
ASGI transport here, a URL when it runs as its own service), and checkout's order webhooks reach
the assistant's receiver the same way. `agentic-checkout serve` serves this app.
"""

from __future__ import annotations

import httpx
from fastapi import FastAPI

from assistant.acp.inspector import platform_observer
from assistant.app import create_assistant_app
from assistant.service import AssistantService
from assistant.settings import AssistantSettings
from checkout.app import create_app
from checkout.platform_calls import observe
from checkout.settings import Settings

INTERNAL_BASE_URL = "http://platform.internal"
ASSISTANT_WEBHOOK_PATH = "/assistant/webhooks/order_events"


def create_platform_app(
    settings: Settings | None = None,
    assistant_settings: AssistantSettings | None = None,
    *,
    assistant: AssistantService | None = None,
) -> FastAPI:
    settings = settings or Settings()
    to_platform = httpx.ASGITransport(app=FastAPI())  # pointed at the app once it exists
    in_process_webhooks = settings.order_webhook_url is None
    if in_process_webhooks:
        # With no receiver of its own configured, order events go to the assistant served here.
        settings = settings.model_copy(
            update={"order_webhook_url": f"{INTERNAL_BASE_URL}{ASSISTANT_WEBHOOK_PATH}"}
        )
    assistant = assistant or AssistantService(
        assistant_settings
        or AssistantSettings(
            assistant_database_url=settings.database_url,
            checkout_base_url=INTERNAL_BASE_URL,
            agent_api_key=settings.agent_api_key,
            operator_api_key=settings.operator_api_key,
            order_webhook_secret=settings.order_webhook_secret,
        )
    )
    if assistant.checkout_transport is None:
        assistant.checkout_transport = to_platform
    app = create_app(
        settings,
        webhook_transport=to_platform if in_process_webhooks else None,
        companions=[assistant],
    )
    to_platform.app = app
    # The inspector shows the platform calls a conversation's purchase makes, beside its ACP calls.
    platforms = app.state.services.platforms
    for client in (platforms.http, platforms.sandbox_http):
        if client is not None:
            observe(client, platform_observer(assistant.inspector))
    app.mount("/assistant", create_assistant_app(assistant))
    app.state.assistant = assistant
    return app

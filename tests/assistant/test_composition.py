"""The composition contract: settings from the environment, the mountable app, the standalone app."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient

from assistant.app import create_standalone_app
from assistant.settings import AssistantSettings
from checkout.app import create_app
from tests.assistant.shopper import ADDRESS, WEBHOOK_SECRET, assistant_settings, pay_with
from tests.conftest import make_settings
from tests.servers import serve_app
from tests.support import AGENT_KEY


def test_settings_come_from_the_documented_environment_variables(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    defaults = AssistantSettings()
    assert defaults.assistant_database_url == "sqlite:///./agentic_checkout.db"
    assert defaults.checkout_base_url == "http://127.0.0.1:8000"
    assert (defaults.agent_api_key, defaults.order_webhook_secret) == (
        "agent_demo_key",
        "whsec_demo_secret",
    )
    assert defaults.catalog_refresh_seconds == 60 and defaults.embeddings is True
    for name, value in {
        "ASSISTANT_DATABASE_URL": "sqlite:///elsewhere.db",
        "CHECKOUT_BASE_URL": "http://checkout.internal:9000/",
        "AGENT_API_KEY": "agent_key_from_env",
        "ORDER_WEBHOOK_SECRET": "whsec_from_env",
        "OPENAI_API_KEY": "sk-from-env",
        "OPENAI_MODEL": "gpt-test",
        "OPENAI_BASE_URL": "http://llm.internal/v1",
        "CATALOG_REFRESH_SECONDS": "5",
        "EMBEDDINGS": "false",
    }.items():
        monkeypatch.setenv(name, value)
    configured = AssistantSettings()
    assert configured.assistant_database_url == "sqlite:///elsewhere.db"
    assert configured.checkout_base_url == "http://checkout.internal:9000"
    assert configured.agent_api_key == "agent_key_from_env"
    assert configured.order_webhook_secret == "whsec_from_env"
    assert configured.openai_api_key == "sk-from-env" and configured.llm_enabled
    assert (configured.openai_model, configured.openai_base_url) == (
        "gpt-test",
        "http://llm.internal/v1",
    )
    assert configured.catalog_refresh_seconds == 5 and configured.embeddings is False


def test_the_standalone_assistant_buys_from_checkout_over_real_http(database_url: str) -> None:
    checkout = create_app(make_settings(database_url, order_webhook_secret=WEBHOOK_SECRET))
    with serve_app(checkout) as checkout_url:
        settings = assistant_settings(database_url, checkout_base_url=checkout_url)
        with TestClient(create_standalone_app(settings)) as assistant:
            assert assistant.get("/healthz").json() == {"status": "ok"}
            created = assistant.post("/assistant/conversations").json()
            conversation, token = created["id"], created["token"]

            def say(text: str) -> dict[str, Any]:
                answer = assistant.post(
                    f"/assistant/conversations/{conversation}/messages",
                    json={"text": text},
                    headers={"Authorization": f"Bearer {token}"},
                )
                assert answer.status_code == 200, answer.text
                return dict(answer.json())

            say("a blue ceramic mug")
            say(f"buy the first one, ship to {ADDRESS}")
            say(pay_with("4242 4242 4242 4242"))
            placed = say("yes, place the order")
            [order] = next(p for p in placed["reply"]["parts"] if p["type"] == "order")["orders"]
        fetched = httpx.get(
            f"{checkout_url}/orders/{order['order_id']}",
            headers={"Authorization": f"Bearer {AGENT_KEY}", "API-Version": "2026-04-17"},
        )
    assert fetched.status_code == 200
    assert fetched.json()["checkout_session_id"] == order["checkout_session_id"]

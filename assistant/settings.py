"""AssistantSettings: the assistant's configuration, read once from environment variables."""

from __future__ import annotations

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


class AssistantSettings(BaseSettings):
    model_config = SettingsConfigDict(env_file=None, extra="ignore", populate_by_name=True)

    assistant_database_url: str = Field(
        default="sqlite:///./agentic_checkout.db",
        description="SQLAlchemy URL of the assistant's tables (may be checkout's own database).",
    )
    checkout_base_url: str = Field(
        default="http://127.0.0.1:8000", description="Where checkout's ACP API is served."
    )
    agent_api_key: str = Field(
        default="agent_demo_key", min_length=8, description="The bearer key checkout accepts."
    )
    operator_api_key: str = Field(
        default="operator_demo_key", min_length=8, description="Needed to refresh the index."
    )
    order_webhook_secret: str = Field(
        default="whsec_demo_secret", min_length=8, description="Verifies incoming order events."
    )
    openai_api_key: str | None = Field(default=None, description="Set to let an LLM drive.")
    openai_model: str = "gpt-4.1-mini"
    openai_base_url: str | None = None
    catalog_refresh_seconds: float = Field(default=60, ge=0, description="0 turns it off.")
    embeddings: bool = Field(
        default=True,
        description="Blend dense embeddings from the packaged wordllama model (false: BM25 only).",
    )
    checkout_timeout_seconds: float = Field(default=15.0, gt=0)
    webhook_tolerance_seconds: int = Field(default=300, ge=1)

    @field_validator("checkout_base_url")
    @classmethod
    def _strip_slash(cls, value: str) -> str:
        return value.rstrip("/")

    @property
    def llm_enabled(self) -> bool:
        return bool(self.openai_api_key)

"""One settings object, read from environment variables; nothing here runs at import time."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

REPO_SEEDS = Path(__file__).resolve().parent.parent / "seeds"

# Defaults that make `serve` work with no configuration at all; start-up reports which were used.
DEMO_AGENT_API_KEY = "agent_demo_key"
DEMO_OPERATOR_API_KEY = "operator_demo_key"
DEMO_WEBHOOK_SECRET = "whsec_demo_secret"
# A fixed Fernet key so the demo keeps reading its own stored credentials across restarts.
DEMO_CREDENTIALS_KEY = "ZGVtby1jcmVkZW50aWFscy1rZXktZG8tbm90LXVzZSE="


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_file=None, extra="ignore")

    database_url: str = Field(
        default="sqlite:///./agentic_checkout.db",
        description="SQLAlchemy URL: a SQLite file (default) or postgresql+psycopg://...",
    )
    public_base_url: str = Field(
        default="http://127.0.0.1:8000", description="Base of permalinks and api_base_url."
    )
    agent_api_key: str = Field(default=DEMO_AGENT_API_KEY, min_length=8)
    operator_api_key: str = Field(default=DEMO_OPERATOR_API_KEY, min_length=8)
    order_webhook_url: str | None = Field(
        default=None, description="Where order_create/order_update events are POSTed."
    )
    order_webhook_secret: str = Field(default=DEMO_WEBHOOK_SECRET, min_length=8)
    commission_bps: int = Field(default=200, ge=0, le=10_000)
    credentials_key: str = Field(
        default=DEMO_CREDENTIALS_KEY, description="Fernet key that encrypts merchant credentials."
    )
    merchant_sandbox: bool = Field(
        default=True,
        description="Serve the Etsy- and Shopify-style sandboxes in-process and onboard the seeded "
        "demo merchants through them.",
    )
    platform_timeout_seconds: float = Field(default=10.0, gt=0)
    platform_max_retries: int = Field(default=3, ge=0)
    platform_max_retry_wait_seconds: float = Field(default=10.0, gt=0)
    session_ttl_minutes: int = Field(default=60, ge=1)
    idempotency_retention_hours: int = Field(default=24, ge=24)
    idempotency_lease_seconds: int = Field(default=30, ge=1)
    payment_provider: str = Field(
        default="sandbox",
        pattern="^(sandbox|stripe)$",
        description="sandbox (offline, Stripe test-card semantics) or stripe (STRIPE_SECRET_KEY).",
    )
    stripe_secret_key: str | None = Field(
        default=None, pattern=r"^(sk|rk)_(test|live)_", description="sk_test_... for test mode."
    )
    stripe_api_base: str | None = Field(
        default=None, description="Another Stripe-compatible base URL, e.g. stripe-mock's."
    )
    stripe_webhook_secret: str | None = Field(
        default=None, description="whsec_... of the platform's webhook endpoint."
    )
    stripe_connect_webhook_secret: str | None = Field(
        default=None, description="whsec_... of the Connect endpoint (account.updated)."
    )
    stripe_webhook_tolerance_seconds: int = Field(default=300, ge=1)
    stripe_max_network_retries: int = Field(default=2, ge=0, le=5)
    stripe_timeout_seconds: float = Field(default=30.0, gt=0)
    stripe_spt_api_version: str = Field(
        default="2026-09-30.preview",
        description="API version sent with Shared Payment Token calls (a preview feature).",
    )
    seeds_dir: Path = Field(default=REPO_SEEDS)
    load_seeds: bool = True
    background_jobs: bool = Field(
        default=True, description="Run the webhook outbox and session expiry loops in-process."
    )
    outbox_poll_seconds: float = Field(default=0.5, gt=0)
    webhook_timeout_seconds: float = Field(default=5.0, gt=0)
    webhook_max_attempts: int = Field(default=15, ge=1)
    log_level: str = Field(default="INFO", pattern="^(DEBUG|INFO|WARNING|ERROR)$")
    log_format: str = Field(
        default="text", pattern="^(text|json)$", description="json: one JSON object per line."
    )
    keep_alive_timeout_seconds: int = Field(
        default=5, ge=1, description="An idle connection is closed after this long."
    )
    request_read_timeout_seconds: float = Field(
        default=30.0,
        gt=0,
        description="A request's headers and body must arrive within this; else it is closed.",
    )
    worker_start_timeout_seconds: int = Field(
        default=120, ge=5, description="How long a worker may take to import and answer."
    )

    @field_validator("public_base_url")
    @classmethod
    def _strip_slash(cls, value: str) -> str:
        return value.rstrip("/")

    @model_validator(mode="after")
    def _stripe_needs_a_key(self) -> Settings:
        if self.payment_provider == "stripe" and not self.stripe_secret_key:
            raise ValueError("PAYMENT_PROVIDER=stripe needs STRIPE_SECRET_KEY (sk_test_...)")
        return self

    @property
    def stripe_webhook_secrets(self) -> list[str]:
        return [s for s in (self.stripe_webhook_secret, self.stripe_connect_webhook_secret) if s]

    @property
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")

    def defaults_in_use(self) -> list[str]:
        """Names of settings left at a demo default, so start-up can say so out loud."""
        used = []
        if "database_url" not in self.model_fields_set:
            used.append(f"DATABASE_URL={self.database_url}")
        if self.agent_api_key == DEMO_AGENT_API_KEY:
            used.append(f"AGENT_API_KEY={DEMO_AGENT_API_KEY} (demo key)")
        if self.operator_api_key == DEMO_OPERATOR_API_KEY:
            used.append(f"OPERATOR_API_KEY={DEMO_OPERATOR_API_KEY} (demo key)")
        if self.order_webhook_secret == DEMO_WEBHOOK_SECRET:
            used.append("ORDER_WEBHOOK_SECRET=<demo secret>")
        if self.order_webhook_url is None:
            used.append("ORDER_WEBHOOK_URL unset (order events are kept in the outbox)")
        if self.credentials_key == DEMO_CREDENTIALS_KEY:
            used.append("CREDENTIALS_KEY=<demo key> (merchant credentials are not protected)")
        if "payment_provider" not in self.model_fields_set:
            used.append("PAYMENT_PROVIDER=sandbox")
        return used

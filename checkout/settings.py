"""One settings object, read from environment variables; nothing here runs at import time."""

from __future__ import annotations

import hashlib
import hmac
import sys
from pathlib import Path

from pydantic import Field, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

REPO_SEEDS = Path(__file__).resolve().parent.parent / "seeds"


def default_seeds_dir() -> Path:
    """The repository's seeds/ when run from a checkout; the copy installed with the package
    (pyproject's data-files) otherwise."""
    if REPO_SEEDS.is_dir():
        return REPO_SEEDS
    return Path(sys.prefix) / "share" / "agentic-checkout" / "seeds"


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
    idempotency_fingerprint_key: str | None = Field(
        default=None,
        min_length=16,
        description="HMAC key of idempotency fingerprints; unset: derived from CREDENTIALS_KEY.",
    )
    merchant_sandbox: bool | None = Field(
        default=None,
        description="Run the Etsy- and Shopify-style sandboxes in-process, onboard the seeded demo "
        "merchants through them and serve them at /sandbox (levers need the operator key). Unset: "
        "on for the embedded default (SQLite), off on PostgreSQL.",
    )
    platform_timeout_seconds: float = Field(default=10.0, gt=0)
    platform_max_retries: int = Field(default=3, ge=0)
    platform_max_retry_wait_seconds: float = Field(default=10.0, gt=0)
    max_body_bytes: int = Field(
        default=1_048_576, ge=1024, description="Largest request body (413 beyond it)."
    )
    max_feed_body_bytes: int = Field(
        default=16_777_216, ge=1024, description="Largest product feed upload."
    )
    max_json_depth: int = Field(default=32, ge=4, le=256, description="Deepest JSON nesting.")
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
    sandbox_fee_percent_bps: int = Field(
        default=290,
        ge=0,
        le=10_000,
        description="The sandbox PSP's processing fee, percent part in basis points (Stripe US: 2.9%).",
    )
    sandbox_fee_fixed: int = Field(
        default=30, ge=0, description="The sandbox PSP's fixed fee per charge, in minor units."
    )
    stripe_3ds_acquirer_bin: str | None = Field(
        default=None,
        description="Stripe's acquirer BIN for agents' 3-D Secure (from Stripe, for platforms "
        "enabled for 3DS import); unset: a 3DS challenge under Stripe declines.",
    )
    stripe_3ds_acquirer_merchant_id: str | None = Field(
        default=None, description="Stripe's acquirer merchant id for agents' 3-D Secure."
    )
    typical_order_amount: int = Field(
        default=5000,
        ge=1,
        description="The order (minor units) commission terms are checked against: terms that "
        "earn less than its processing fee are accepted with a warning.",
    )
    stripe_max_network_retries: int = Field(default=2, ge=0, le=5)
    stripe_timeout_seconds: float = Field(default=30.0, gt=0)
    stripe_spt_api_version: str = Field(
        default="2026-09-30.preview",
        description="API version sent with Shared Payment Token calls (a preview feature).",
    )
    seeds_dir: Path = Field(default_factory=default_seeds_dir)
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
    ucp_merchant_id: str | None = Field(
        default=None,
        description="The merchant whose business profile /.well-known/ucp serves and whose "
        "checkouts the UCP endpoints (/ucp/...) take; unset: UCP is not served.",
    )
    simulation_secret: str | None = Field(
        default=None,
        min_length=16,
        description="Enables the UCP conformance suite's simulation endpoints (/ucp/testing/...) "
        "for requests carrying it in Simulation-Secret; unset (the default): they do not exist.",
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

    @property
    def fingerprint_key(self) -> bytes:
        """The secret idempotency fingerprints are keyed with, so a stored one reveals nothing."""
        if self.idempotency_fingerprint_key:
            return self.idempotency_fingerprint_key.encode()
        return hmac.new(
            self.credentials_key.encode(), b"idempotency-fingerprint", hashlib.sha256
        ).digest()

    @property
    def sandboxes_on(self) -> bool:
        """Whether the platform emulators run: the local demo's choice, never a deployment's."""
        return self.is_sqlite if self.merchant_sandbox is None else self.merchant_sandbox

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
        if self.credentials_key == DEMO_CREDENTIALS_KEY and not self.idempotency_fingerprint_key:
            used.append("IDEMPOTENCY_FINGERPRINT_KEY unset (derived from the demo CREDENTIALS_KEY)")
        if self.merchant_sandbox is None and self.sandboxes_on:
            used.append(
                "MERCHANT_SANDBOX=true on SQLite (the demo platforms are served at /sandbox)"
            )
        if "payment_provider" not in self.model_fields_set:
            used.append("PAYMENT_PROVIDER=sandbox")
        return used

"""What the HTTP layer needs at hand, built once per app by create_app and held on app.state."""

from __future__ import annotations

import hashlib
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from functools import cached_property

from checkout.api.idempotency import Idempotency
from checkout.flows.purchase.saga import Completion
from checkout.flows.refund_order import Refunding
from checkout.flows.stripe_events import StripeInbox
from checkout.payments.provider import ConnectedAccounts, PaymentProvider
from checkout.platforms import MerchantPlatforms
from checkout.protocol.render import Presentation
from checkout.settings import Settings
from checkout.store.agent_keys import AgentKeyRecords
from checkout.store.db import Database
from checkout.store.idempotency import IdempotencyRecords

DEFAULT_AGENT_ID = "agt_default"


def key_hash(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass
class AgentKeys:
    """Agent API keys, stored hashed; lookups are cached briefly so auth is not a query per request."""

    database: Database
    ttl_seconds: float = 30.0
    _cache: dict[str, tuple[str | None, float]] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def register(self, agent_id: str, name: str, secret: str, now: datetime) -> None:
        with self.database.write() as db:
            AgentKeyRecords(db, is_sqlite=self.database.is_sqlite).register(
                agent_id, name, key_hash(secret), now
            )
        with self._lock:
            self._cache.clear()

    def known(self, secret: str) -> tuple[bool, str | None]:
        """(True, the agent or None) when the key's answer is cached; (False, None) when the
        database must be asked: the common case costs no query and no thread."""
        return self._cached(key_hash(secret))

    def _cached(self, digest: str) -> tuple[bool, str | None]:
        cached = self._cache.get(digest)
        if cached is not None and cached[1] > time.monotonic():
            return True, cached[0]
        return False, None

    def agent_for(self, secret: str) -> str | None:
        digest = key_hash(secret)
        found, agent = self._cached(digest)
        if found:
            return agent
        with self.database.read() as db:
            agent_id = AgentKeyRecords(db, is_sqlite=self.database.is_sqlite).agent_with(digest)
        with self._lock:
            if len(self._cache) > 10_000:
                self._cache.clear()
            self._cache[digest] = (agent_id, time.monotonic() + self.ttl_seconds)
        return agent_id


@dataclass
class Services:
    settings: Settings
    database: Database
    provider: PaymentProvider
    idempotency: IdempotencyRecords
    agent_keys: AgentKeys
    platforms: MerchantPlatforms
    accounts: ConnectedAccounts
    clock: Callable[[], datetime] = utc_now

    # Cached, as `presentation` is: every agent POST asks for it, and nothing in it changes.
    @cached_property
    def idempotent_posts(self) -> Idempotency:
        return Idempotency(
            records=self.idempotency,
            database=self.database,
            clock=self.clock,
            fingerprint_key=self.settings.fingerprint_key,
        )

    @property
    def completion(self) -> Completion:
        return Completion(
            database=self.database,
            provider=self.provider,
            platforms=self.platforms,
            base_url=self.settings.public_base_url,
            clock=self.clock,
        )

    @property
    def stripe_inbox(self) -> StripeInbox:
        return StripeInbox(
            database=self.database,
            completion=self.completion,
            refunding=self.refunding,
            accounts=self.accounts,
            clock=self.clock,
        )

    @property
    def refunding(self) -> Refunding:
        return Refunding(
            database=self.database,
            provider=self.provider,
            clock=self.clock,
            key_retention=timedelta(hours=self.settings.idempotency_retention_hours),
        )

    @cached_property  # every agent request renders with it, and nothing in it changes
    def presentation(self) -> Presentation:
        key = self.settings.stripe_secret_key or ""
        return Presentation(
            base_url=self.settings.public_base_url,
            psp=self.provider.name,
            livemode=self.provider.name == "stripe" and key.startswith(("sk_live_", "rk_live_")),
        )

    @classmethod
    def build(
        cls,
        settings: Settings,
        database: Database,
        provider: PaymentProvider,
        platforms: MerchantPlatforms,
        accounts: ConnectedAccounts,
        clock: Callable[[], datetime] = utc_now,
    ) -> Services:
        return cls(
            settings=settings,
            database=database,
            provider=provider,
            idempotency=IdempotencyRecords(
                database,
                retention=timedelta(hours=settings.idempotency_retention_hours),
                lease=timedelta(seconds=settings.idempotency_lease_seconds),
            ),
            agent_keys=AgentKeys(database),
            platforms=platforms,
            accounts=accounts,
            clock=clock,
        )

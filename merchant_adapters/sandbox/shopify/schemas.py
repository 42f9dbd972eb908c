"""What the Shopify sandbox hands back: the records tests read, its HTTP answer, SandboxNotFound."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

FailureMode = Literal["none", "throttle", "rate_limit", "outage", "revoked"]
API_VERSION = "2026-10"


class SandboxNotFound(LookupError):
    """No such shop, product or order in the sandbox."""


@dataclass(frozen=True, slots=True)
class SandboxLine:
    variant_gid: str
    sku: str | None
    quantity: int
    unit_price: int


@dataclass(frozen=True, slots=True)
class SandboxOrder:
    gid: str
    name: str
    reference: str | None  # sourceIdentifier
    email: str | None
    tags: tuple[str, ...]
    currency: str
    total: int
    lines: tuple[SandboxLine, ...]
    canceled: bool
    fulfilled: bool
    shipping_address: Mapping[str, Any] | None


@dataclass(frozen=True, slots=True)
class SandboxResponse:
    status: int
    body: Any
    headers: Mapping[str, str]
    webhooks_queued: bool = False

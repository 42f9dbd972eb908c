"""Stripe's webhook signatures (`Stripe-Signature: t=...,v1=...`) and the events they carry."""

from __future__ import annotations

import hashlib
import hmac
import json
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

_UNIX_TIME = re.compile(r"[0-9]{1,12}")


class StripeSignatureInvalid(Exception):
    """A webhook delivery that is not provably Stripe's, recent, and an event."""


@dataclass(frozen=True)
class StripeEvent:
    id: str
    type: str
    created: datetime
    account: str | None  # the connected account, for events from the Connect endpoint
    data: dict[str, Any]  # the event's data.object


def _v1_signature(payload: bytes, secret: str, timestamp: str) -> str:
    signed = timestamp.encode("ascii") + b"." + payload
    return hmac.new(secret.encode("utf-8"), signed, hashlib.sha256).hexdigest()


def sign_stripe_payload(payload: bytes, secret: str, timestamp: int) -> str:
    """The Stripe-Signature header Stripe would send with `payload` (tests, the offline demo)."""
    return f"t={timestamp},v1={_v1_signature(payload, secret, str(timestamp))}"


def verify_stripe_event(
    payload: bytes,
    signature_header: str | None,
    secrets: Sequence[str],
    *,
    now: datetime,
    tolerance_seconds: int = 300,
) -> StripeEvent:
    """Check a delivery's signature against every endpoint secret (the platform endpoint's and
    the Connect endpoint's; old and new while one is rolled) and its age both ways."""
    if now.tzinfo is None:
        raise ValueError("now must be timezone-aware")
    if not signature_header:
        raise StripeSignatureInvalid("no Stripe-Signature header")
    timestamps: list[str] = []
    signatures: list[str] = []
    for item in signature_header.split(","):
        scheme, _, value = item.strip().partition("=")
        if scheme == "t":
            timestamps.append(value)
        elif scheme == "v1":
            # v0 and other schemes are test-mode extras; honouring them would allow a downgrade.
            signatures.append(value)
    if len(timestamps) != 1 or not _UNIX_TIME.fullmatch(timestamps[0]):
        raise StripeSignatureInvalid("no timestamp in the Stripe-Signature header")
    if not signatures:
        raise StripeSignatureInvalid("no v1 signature in the Stripe-Signature header")
    timestamp = timestamps[0]
    # An empty secret (an unset setting) would make a signature anyone can compute.
    expected = [_v1_signature(payload, secret, timestamp) for secret in secrets if secret]
    matched = False
    for signature in signatures:
        for candidate in expected:
            matched |= hmac.compare_digest(signature.encode(), candidate.encode())
    if not matched:
        raise StripeSignatureInvalid("no v1 signature matches the payload")
    skew = now.timestamp() - int(timestamp)
    if skew > tolerance_seconds:
        raise StripeSignatureInvalid("the signature is too old")
    if -skew > tolerance_seconds:
        raise StripeSignatureInvalid("the signature is from the future")
    try:
        event = json.loads(payload)
    except (UnicodeDecodeError, ValueError) as error:
        raise StripeSignatureInvalid("the payload is not JSON") from error
    if not isinstance(event, dict) or event.get("object") != "event":
        raise StripeSignatureInvalid("the payload is not an event")
    data = event.get("data")
    obj = data.get("object") if isinstance(data, dict) else None
    account = event.get("account")
    if (
        not isinstance(event.get("id"), str)
        or not isinstance(event.get("type"), str)
        or not isinstance(event.get("created"), int)
        or not isinstance(obj, dict)
        or not (account is None or isinstance(account, str))
    ):
        raise StripeSignatureInvalid("the payload is not an event")
    return StripeEvent(
        id=event["id"],
        type=event["type"],
        created=datetime.fromtimestamp(event["created"], UTC),
        account=account,
        data=obj,
    )

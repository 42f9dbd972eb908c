"""Stripe's webhook signatures (`Stripe-Signature: t=...,v1=...`) and the events they carry, read
into the provider-neutral events of payments.events (`payment_event`)."""

from __future__ import annotations

import hashlib
import hmac
import json
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from checkout.payments.events import (
    AccountChanged,
    ChargeRefunded,
    ChargeSources,
    DisputeChanged,
    DisputeStage,
    PaymentAnswered,
    PaymentEvent,
    RefundChanged,
    Unhandled,
)
from checkout.payments.provider import RefundStatus

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


_ACCOUNT_EVENTS = frozenset(
    {"account.updated", "capability.updated", "account.application.deauthorized"}
)
_PAYMENT_EVENTS = frozenset({"payment_intent.succeeded", "payment_intent.payment_failed"})
_REFUND_EVENTS = frozenset(
    {"refund.created", "refund.updated", "charge.refund.updated", "refund.failed"}
)
_DISPUTE_STAGES = {
    "charge.dispute.created": DisputeStage.OPENED,
    "charge.dispute.closed": DisputeStage.CLOSED,
    "charge.dispute.funds_withdrawn": DisputeStage.FUNDS_WITHDRAWN,
    "charge.dispute.funds_reinstated": DisputeStage.FUNDS_REINSTATED,
}
_REFUND_STATUSES = {
    "succeeded": RefundStatus.SUCCEEDED,
    "failed": RefundStatus.FAILED,
    "canceled": RefundStatus.FAILED,
}


def payment_event(event: StripeEvent) -> PaymentEvent:
    """The event as the flows read it; Stripe's payload shapes stop here."""
    data = event.data
    if event.type in _ACCOUNT_EVENTS:
        return AccountChanged(
            account_id=event.account or str(data.get("id") or data.get("account") or ""),
            disconnected=event.type == "account.application.deauthorized",
        )
    if event.type in _PAYMENT_EVENTS:
        return PaymentAnswered(str(data.get("id")))
    if event.type in _REFUND_EVENTS:
        status = data.get("status")
        ours = (data.get("metadata") or {}).get("refund_id")
        return RefundChanged(
            refund_id=str(data.get("id")),
            our_refund_id=str(ours) if ours else None,
            status=None if status is None else str(status),
            settled=_REFUND_STATUSES.get(str(status)),
            amount=int(data.get("amount") or 0),
            paid_with=_charge_sources(data),
            merchant_share_reversed=data.get("transfer_reversal") is not None,
        )
    if event.type == "charge.refunded":
        return ChargeRefunded()
    stage = _DISPUTE_STAGES.get(event.type)
    if stage is not None:
        return DisputeChanged(
            dispute_id=str(data.get("id")),
            stage=stage,
            status=str(data.get("status")),
            paid_with=_charge_sources(data),
            withdrawn=_balance_moves(data, withdrawn=True),
            reinstated=_balance_moves(data, withdrawn=False),
        )
    return Unhandled()


def _charge_sources(data: dict[str, Any]) -> ChargeSources:
    payment_intent = data.get("payment_intent")
    charge = data.get("charge") if data.get("object") in ("dispute", "refund") else data.get("id")
    return ChargeSources(
        provider_payment_id=str(payment_intent) if payment_intent else None,
        charge_id=str(charge) if charge else None,
    )


def _balance_moves(data: dict[str, Any], withdrawn: bool) -> tuple[int, int]:
    """(amount, fee) of the dispute's withdrawal (or reinstatement) as Stripe booked it on the
    platform's balance: the dispute's balance transactions."""
    for txn in data.get("balance_transactions") or []:
        amount = int((txn or {}).get("amount") or 0)
        if (amount < 0) == withdrawn and amount != 0:
            return abs(amount), int(txn.get("fee") or 0)
    return 0, 0

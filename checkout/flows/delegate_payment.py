"""The PSP side of delegated payment: vault a card as a single-use token bound to an allowance."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlmodel import Session

from checkout.domain.errors import InvalidRequest
from checkout.payments.provider import CardIdentification, CardRejected
from checkout.protocol.requests import DelegatePaymentRequest
from checkout.store.ids import new_id
from checkout.store.payments import PaymentTokens
from checkout.store.rows import PaymentTokenRow


@dataclass(frozen=True, slots=True)
class VaultedToken:
    id: str
    created: datetime
    metadata: dict[str, str]


def delegate_payment(
    db: Session,
    request: DelegatePaymentRequest,
    *,
    agent_id: str,
    idempotency_key: str,
    provider: CardIdentification,
    now: datetime,
) -> VaultedToken:
    method, allowance = request.payment_method, request.allowance
    if allowance.expires_at <= now:
        raise InvalidRequest(
            "The allowance has already expired.", param="allowance.expires_at", code="invalid_card"
        )
    try:
        card = provider.card_for(method.number, method.display_card_funding_type)
    except CardRejected as exc:
        raise InvalidRequest(str(exc), param="payment_method.number", code="invalid_card") from exc
    token = PaymentTokenRow(
        id=new_id("vt"),
        agent_id=agent_id,
        card_brand=card.brand,
        card_last4=card.last4,
        funding=card.funding,
        card_outcome=card.outcome.value,
        max_amount=allowance.max_amount,
        currency=allowance.currency,
        checkout_session_id=allowance.checkout_session_id,
        merchant_id=allowance.merchant_id,
        expires_at=allowance.expires_at,
        metadata_=dict(request.metadata),
        created_at=now,
    )
    PaymentTokens(db).add(token)
    return VaultedToken(
        id=token.id,
        created=now,
        metadata={
            **request.metadata,
            "merchant_id": allowance.merchant_id,
            "idempotency_key": idempotency_key,
            "card_brand": card.brand,
            "card_last4": card.last4,
        },
    )

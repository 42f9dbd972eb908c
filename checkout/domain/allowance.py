"""A delegated payment token's allowance, and the rules a complete must satisfy to spend it."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from checkout.domain.errors import PaymentTokenRejected

TOKEN_PARAM = "$.payment_data.instrument.credential.token"


@dataclass(frozen=True, slots=True)
class Allowance:
    max_amount: int
    currency: str
    checkout_session_id: str
    merchant_id: str
    expires_at: datetime


@dataclass(frozen=True, slots=True)
class TokenState:
    allowance: Allowance
    used: bool


def check_spend(
    token: TokenState,
    *,
    session_id: str,
    merchant_id: str,
    amount: int,
    currency: str,
    now: datetime,
) -> None:
    """Raise PaymentTokenRejected with a precise code unless the token may pay `amount` now."""
    allowance = token.allowance
    if token.used:
        raise PaymentTokenRejected(
            "This payment token has already been used.",
            param=TOKEN_PARAM,
            code="payment_token_used",
        )
    if now >= allowance.expires_at:
        raise PaymentTokenRejected(
            "This payment token's allowance has expired.",
            param=TOKEN_PARAM,
            code="payment_token_expired",
        )
    if allowance.checkout_session_id != session_id:
        raise PaymentTokenRejected(
            "This payment token was issued for another checkout session.",
            param=TOKEN_PARAM,
            code="payment_token_session_mismatch",
        )
    if allowance.merchant_id != merchant_id:
        raise PaymentTokenRejected(
            "This payment token was issued for another merchant.",
            param=TOKEN_PARAM,
            code="payment_token_merchant_mismatch",
        )
    if allowance.currency != currency:
        raise PaymentTokenRejected(
            f"This payment token allows {allowance.currency}, the session is in {currency}.",
            param=TOKEN_PARAM,
            code="payment_token_currency_mismatch",
        )
    if amount > allowance.max_amount:
        raise PaymentTokenRejected(
            f"The session total {amount} exceeds the token's allowance of {allowance.max_amount}.",
            param=TOKEN_PARAM,
            code="payment_token_amount_exceeded",
        )

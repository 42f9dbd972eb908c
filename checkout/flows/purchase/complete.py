"""Completing a checkout: fresh stock from the merchant's platform, then the purchase saga.

refresh stock      read current price and stock from the platform (nothing changes yet)
shared token       a Stripe Shared Payment Token is read from Stripe and held like our own
begin_purchase     one transaction: checks, our stock, the token, the purchase begun
carry_on           authorise, place the merchant order, capture (flows.purchase.saga)
"""

from __future__ import annotations

import logging
from datetime import timedelta

from checkout.domain.allowance import TOKEN_PARAM
from checkout.domain.checkout import OPEN_STATUSES, Status
from checkout.domain.errors import (
    IdempotencyInFlight,
    InvalidRequest,
    NotFound,
    PaymentProcessingFailed,
    PaymentTokenRejected,
    ServiceUnavailable,
)
from checkout.domain.purchase import PurchaseState
from checkout.flows.platform_stock import refresh_stock
from checkout.flows.purchase.saga import (
    Completion,
    Respond,
    carry_on,
    merchant_adapter,
    release_hold,
)
from checkout.flows.purchase.steps import CompleteOutcome, Resumed, begin_purchase
from checkout.payments.provider import PaymentRefused, PaymentUnavailable, TokenUnknown
from checkout.protocol.requests import CheckoutSessionCompleteRequest
from checkout.store.payments import Payments, PaymentTokens
from checkout.store.rows import (
    CheckoutSessionRow,
    MerchantRow,
    PaymentTokenRow,
    PurchaseRow,
)
from checkout.store.sessions import CheckoutSessions

log = logging.getLogger("checkout.flows")

# How long a purchase must have been left alone before another request may carry it on.
RESUME_AFTER = timedelta(seconds=30)
# Tokens the payment provider holds rather than our vault: Stripe's Shared Payment Tokens, and
# in Stripe test mode its PaymentMethods.
PROVIDER_TOKEN_PREFIXES = ("spt_", "pm_")


async def complete_checkout(
    ctx: Completion,
    session_id: str,
    request: CheckoutSessionCompleteRequest,
    *,
    agent_id: str,
    respond: Respond,
) -> CompleteOutcome:
    def load() -> tuple[CheckoutSessionRow, MerchantRow]:
        with ctx.database.read() as db:
            found = CheckoutSessions(db).get_with_merchant(session_id, agent_id=agent_id)
        if found is None:
            raise NotFound(
                f"Checkout session '{session_id}' does not exist.",
                code="checkout_session_not_found",
            )
        return found

    session, merchant = await ctx.database.run(load)
    if merchant.status == "revoked" and Status(session.status) in OPEN_STATUSES:
        raise InvalidRequest(
            f"{merchant.name} cannot take orders right now; nothing was charged.",
            code="merchant_unavailable",
        )
    adapter = merchant_adapter(ctx, merchant)
    if adapter is not None and Status(session.status) in OPEN_STATUSES:
        await refresh_stock(ctx, adapter, session_id, merchant)
    await _hold_shared_token(ctx, request, session, agent_id)

    def begin() -> CompleteOutcome | PurchaseRow | Resumed:
        with ctx.database.write() as db:
            begun = begin_purchase(
                db, session_id, request, agent_id=agent_id, provider=ctx.provider, now=ctx.clock()
            )
            if isinstance(begun, CompleteOutcome):
                respond(db, begun)
            return begun

    begun = await ctx.database.run(begin)
    if isinstance(begun, CompleteOutcome):
        await _release_session_holds(ctx, session_id)  # a 3-D Secure attempt that failed
        return begun
    if isinstance(begun, Resumed):
        purchase = begun.purchase
        # A provider call that failed may be repeated at once (it is keyed); placing the order
        # may not: another request is most likely placing it right now, and two placements at
        # once could make two platform orders (Shopify's orderCreate has no idempotency).
        repeatable = (
            purchase.state in (PurchaseState.AUTHORIZING, PurchaseState.PLACED)
            and purchase.attempts > 0
        )
        if not repeatable and ctx.clock() - purchase.updated_at < RESUME_AFTER:
            raise IdempotencyInFlight(
                "This session's payment is being completed by another request.", retry_after=2
            )
    else:
        purchase = begun
    return await carry_on(ctx, purchase, merchant, respond, adapter=adapter)


async def _release_session_holds(ctx: Completion, session_id: str) -> None:
    def holds() -> list[str]:
        with ctx.database.read() as db:
            return Payments(db).to_release(session_id)

    for payment_id in await ctx.database.run(holds):
        await release_hold(ctx, payment_id)


async def _hold_shared_token(
    ctx: Completion,
    request: CheckoutSessionCompleteRequest,
    session: CheckoutSessionRow,
    agent_id: str,
) -> None:
    """Read a Shared Payment Token's limits from the provider the first time it is presented
    and keep it as a token row, so the same allowance checks and single use apply as to ours."""
    instrument = request.payment_data.instrument
    if instrument is None or not instrument.credential.token.startswith(PROVIDER_TOKEN_PREFIXES):
        return
    token_id = instrument.credential.token

    def known() -> bool:
        with ctx.database.read() as db:
            return PaymentTokens(db).get(token_id) is not None

    if await ctx.database.run(known):
        return
    try:
        shared = await ctx.provider.shared_token(token_id)
    except TokenUnknown as exc:
        raise PaymentTokenRejected(
            "This payment token does not exist.", param=TOKEN_PARAM, code="payment_token_not_found"
        ) from exc
    except PaymentUnavailable as exc:
        raise ServiceUnavailable(
            "The payment provider is not answering; nothing was charged. Retry shortly."
        ) from exc
    except PaymentRefused as exc:
        # Our request was refused (a bad key, say): the operator's to fix, not the agent's.
        log.error("checkout.token_read_refused session=%s error=%s", session.id, exc)
        raise PaymentProcessingFailed(
            "The payment could not be processed because of an error on the platform's side; "
            "nothing was charged. The payment token can be used again.",
            param=TOKEN_PARAM,
        ) from exc
    now = ctx.clock()
    # A token the agent scoped to another session is refused by the allowance check; one scoped
    # to no session is bound to the first session that presents it.
    row = PaymentTokenRow(
        id=token_id,
        agent_id=agent_id,
        card_brand=shared.card.brand,
        card_last4=shared.card.last4,
        funding=shared.card.funding,
        card_outcome=shared.card.outcome.value,
        max_amount=shared.max_amount,
        currency=shared.currency.lower() or session.currency,
        checkout_session_id=shared.checkout_session_id or session.id,
        merchant_id=session.merchant_id,
        expires_at=shared.expires_at or session.expires_at,
        metadata_={"source": ctx.provider.name},
        created_at=now,
        used_at=now if shared.deactivated else None,
    )

    def keep() -> None:
        with ctx.database.write() as db:
            if PaymentTokens(db).get(token_id) is None:
                PaymentTokens(db).add(row)

    await ctx.database.run(keep)

"""Carrying a begun purchase to its end: authorise, place the merchant's order, capture, or unwind.

    authorizing   ask the provider for a hold (idempotent on the payment's key), then record it
    authorized    place the order on the merchant's platform (idempotent on the session id)
    placed        capture, then write our order and the ledger
 or unwound       nothing to sell: stock and token back, the hold released

No charge without an order: capture happens only after the platform accepted the order. No
order without a charge: the order is written only once the capture is in. When an answer is
unknown (the provider or the platform failed and cannot be asked), the purchase stays where it
is and is carried on later, by a retried complete or by flows.purchase.recovery, never guessed. No
provider or platform call runs inside a transaction.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, cast

from sqlmodel import Session

from checkout.domain.checkout import Problem
from checkout.domain.errors import (
    CheckoutError,
    IdempotencyInFlight,
    InvalidRequest,
    OutOfStock,
    PaymentDeclined,
    ServiceUnavailable,
)
from checkout.domain.purchase import PaymentStatus, PurchaseState
from checkout.flows.platform_stock import refresh_stock
from checkout.flows.purchase.sale import Sale, external_sale
from checkout.flows.purchase.settlement import (
    finish_purchase,
    hold_released,
    note_placed,
    placed_order,
    unwind_purchase,
)
from checkout.flows.purchase.steps import CompleteOutcome, authorize_request, record_authorization
from checkout.flows.session_state import load_session
from checkout.payments.provider import (
    Authorization,
    AuthorizationStatus,
    Capture,
    PaymentProvider,
    PaymentRefused,
    PaymentUnavailable,
)
from checkout.platforms import PLATFORMS, MerchantPlatforms
from checkout.store.db import Database
from checkout.store.payments import Payments
from checkout.store.purchases import Purchases
from checkout.store.rows import MerchantRow, PaymentRow, PurchaseRow
from checkout.store.sessions import CheckoutSessions
from merchant_adapters import (
    MerchantAdapter,
    MerchantPlatformError,
    PlacedOrder,
    PlatformOutOfStock,
    PlatformUnavailable,
    RateLimited,
)

log = logging.getLogger("checkout.flows")

# Called inside the transaction that decides the outcome, so an answer kept for an
# Idempotency-Key commits together with the change it reports.
Respond = Callable[[Session, CompleteOutcome], None]


@dataclass(frozen=True, slots=True)
class Completion:
    database: Database
    provider: PaymentProvider
    platforms: MerchantPlatforms
    base_url: str
    clock: Callable[[], datetime]


def _no_response(db: Session, outcome: CompleteOutcome) -> None:
    """Background recovery has no request to answer."""


def merchant_adapter(ctx: Completion, merchant: MerchantRow) -> MerchantAdapter | None:
    """None for merchants on no platform (feed merchants): their orders live only here."""
    if merchant.platform not in PLATFORMS or merchant.credentials is None:
        return None
    return ctx.platforms.for_merchant(merchant)


async def carry_on(
    ctx: Completion,
    purchase: PurchaseRow,
    merchant: MerchantRow,
    respond: Respond = _no_response,
    *,
    adapter: MerchantAdapter | None = None,
) -> CompleteOutcome:
    """Take the purchase from wherever it stands to its end; live requests and recovery share this.

    `adapter` is the merchant's, when the caller has already built it (its credentials are
    decrypted once per request, not per step).
    """
    adapter = adapter or merchant_adapter(ctx, merchant)
    if purchase.state == PurchaseState.AUTHORIZING:
        authorized = await _authorize(ctx, purchase, respond, placed_here=adapter is None)
        if isinstance(authorized, CompleteOutcome):
            return authorized
        purchase = authorized
    if purchase.state == PurchaseState.AUTHORIZED:
        placed = await _place(ctx, purchase, merchant, adapter, respond)
        if isinstance(placed, CompleteOutcome):
            return placed
        purchase = placed
    if purchase.state != PurchaseState.PLACED:
        return await _settle(ctx, purchase, lambda db, current: _settled(db, current, ctx), respond)
    capture = await _capture(ctx, purchase, merchant, adapter, respond)
    if isinstance(capture, CompleteOutcome):
        return capture
    return await _settle(
        ctx,
        purchase,
        lambda db, current: finish_purchase(
            db, current, capture=capture, base_url=ctx.base_url, now=ctx.clock()
        ),
        respond,
        expect=PurchaseState.PLACED,
    )


async def _authorize(
    ctx: Completion, purchase: PurchaseRow, respond: Respond, *, placed_here: bool
) -> PurchaseRow | CompleteOutcome:
    """Authorise the payment and record the answer. `placed_here`: the merchant is on no
    platform, so its order is ours alone and the purchase moves on to placed in the same
    transaction (there is nothing to call in between that could fail)."""

    def read() -> Any:
        with ctx.database.read() as db:
            return authorize_request(db, purchase)

    request = await ctx.database.run(read)
    try:
        authorization = await ctx.provider.authorize(request)
    except PaymentUnavailable as exc:
        await _note_failure(ctx, purchase, f"authorize: {exc}")
        raise ServiceUnavailable(
            "The payment provider is not answering; the payment is being confirmed and nothing "
            "is charged unless the order is placed. Retry this request shortly."
        ) from exc
    except PaymentRefused as exc:
        # Our request, not the card: the operator must see it (with the provider's request id,
        # which the provider puts in the message); the agent is not told its card was declined.
        log.error("checkout.payment_refused session=%s error=%s", purchase.session_id, exc)
        authorization = Authorization(
            payment_id=request.pending_payment_id or "",
            status=AuthorizationStatus.FAILED,
            decline_code="processing_error",
            message="The payment provider refused the platform's request.",
        )
    except Exception as exc:
        # Not an answer at all: remember the attempt so a retry may carry on at once.
        await _note_failure(ctx, purchase, f"authorize: {exc!r}")
        raise

    def record() -> PurchaseRow | CompleteOutcome:
        with ctx.database.write() as db:
            current = Purchases(db).locked(purchase.id)
            if current.state != PurchaseState.AUTHORIZING:
                return (
                    current
                    if current.state in (PurchaseState.AUTHORIZED, PurchaseState.PLACED)
                    else _settled(db, current, ctx)
                )
            result = record_authorization(
                db, current, authorization, now=ctx.clock(), acquirer=ctx.provider.acquirer
            )
            if isinstance(result, CompleteOutcome):
                respond(db, result)
            elif placed_here and result.state == PurchaseState.AUTHORIZED:
                note_placed(db, result, None, ctx.clock())
            return result

    result = await ctx.database.run(record)
    if isinstance(result, CompleteOutcome):
        await release_hold(ctx, purchase.payment_id)
    return result


async def _place(
    ctx: Completion,
    purchase: PurchaseRow,
    merchant: MerchantRow,
    adapter: MerchantAdapter | None,
    respond: Respond,
) -> PurchaseRow | CompleteOutcome:
    placed: PlacedOrder | None = None
    if adapter is not None:
        try:
            placed = await adapter.place_order(external_sale(purchase))
        except PlatformOutOfStock as exc:
            index = _line_index(purchase, exc)
            problem = Problem(
                "error",
                "out_of_stock",
                f"{merchant.name} sold out of an item before the order could be "
                "placed; the payment hold was released and nothing was charged.",
                f"$.line_items[{index}]",
                "requires_buyer_input",
            )
            outcome = await _unwind(
                ctx, purchase, problem, OutOfStock(problem.content, param=problem.param), respond
            )
            # The units the purchase gave back are not for sale: take the platform's figures.
            with contextlib.suppress(CheckoutError):
                await refresh_stock(ctx, adapter, purchase.session_id, merchant)
            return outcome
        except (PlatformUnavailable, RateLimited) as exc:
            placed = await _resolve_unknown(ctx, adapter, purchase, merchant, exc, respond)
        except MerchantPlatformError as exc:
            problem = Problem(
                "error",
                "unsupported",
                f"{merchant.name}'s store refused the order ({exc}); the payment "
                "hold was released and nothing was charged.",
                None,
                "requires_buyer_review",
            )
            return await _unwind(
                ctx,
                purchase,
                problem,
                InvalidRequest(problem.content, code="merchant_order_failed"),
                respond,
            )

    def note() -> PurchaseRow | CompleteOutcome:
        with ctx.database.write() as db:
            current = Purchases(db).locked(purchase.id)
            if current.state != PurchaseState.AUTHORIZED:
                return _settled(db, current, ctx)
            note_placed(db, current, placed, ctx.clock())
            return current

    return await ctx.database.run(note)


async def _capture(
    ctx: Completion,
    purchase: PurchaseRow,
    merchant: MerchantRow,
    adapter: MerchantAdapter | None,
    respond: Respond,
) -> Capture | CompleteOutcome:
    def read() -> PaymentRow:
        with ctx.database.read() as db:
            payment = Payments(db).get(purchase.payment_id)
        assert payment is not None and payment.provider_payment_id is not None
        return payment

    payment = await ctx.database.run(read)
    try:
        return await ctx.provider.capture(
            cast(str, payment.provider_payment_id),
            payment.amount,
            idempotency_key=f"{payment.id}:capture",
        )
    except PaymentUnavailable as exc:
        # The merchant already has the order: the capture is retried (same key) until it is in.
        await _note_failure(ctx, purchase, f"capture: {exc}")
        log.warning(
            "checkout.capture_unanswered session=%s payment=%s error=%s",
            purchase.session_id,
            payment.provider_payment_id,
            exc,
        )
        raise ServiceUnavailable(
            f"{merchant.name} has the order and the payment is being captured. Retry this "
            "request shortly to see the completed order."
        ) from exc
    except PaymentRefused as exc:
        # The hold cannot be captured (it expired, or was canceled at the provider): no charge,
        # so no order either. The merchant's order is canceled and everything given back.
        log.error(
            "checkout.capture_refused session=%s payment=%s error=%s",
            purchase.session_id,
            payment.provider_payment_id,
            exc,
        )
        return await _cancel_placed(ctx, purchase, merchant, adapter, respond, str(exc))


async def _cancel_placed(
    ctx: Completion,
    purchase: PurchaseRow,
    merchant: MerchantRow,
    adapter: MerchantAdapter | None,
    respond: Respond,
    why: str,
) -> CompleteOutcome:
    placed = placed_order(purchase)
    if adapter is not None and placed is not None:
        try:
            await adapter.cancel_order(placed, external_sale(purchase), restock=True)
        except MerchantPlatformError as exc:
            await _note_failure(ctx, purchase, f"capture refused ({why}); cancel: {exc}")
            raise ServiceUnavailable(
                f"The payment could not be taken and {merchant.name}'s order is being "
                "canceled; nothing was charged. Retry this request shortly."
            ) from exc
    problem = Problem(
        "error",
        "payment_declined",
        "The payment could not be completed, so the order was canceled; nothing was charged. "
        "Pay again with a new payment token.",
        "$.payment_data",
        "requires_buyer_input",
    )
    return await _unwind(
        ctx,
        purchase,
        problem,
        PaymentDeclined(problem.content, param="$.payment_data", code="payment_declined"),
        respond,
        expect=PurchaseState.PLACED,
    )


async def release_hold(ctx: Completion, payment_id: str) -> bool:
    """Ask the provider to release a hold we no longer want; True once it is released."""

    def read() -> PaymentRow | None:
        with ctx.database.read() as db:
            return Payments(db).get(payment_id)

    payment = await ctx.database.run(read)
    if payment is None or payment.status != PaymentStatus.VOID_PENDING:
        return True
    if payment.provider_payment_id:
        try:
            await ctx.provider.void(
                payment.provider_payment_id, idempotency_key=f"{payment.id}:void"
            )
        except PaymentUnavailable as exc:
            log.warning("checkout.void_unanswered payment=%s error=%s", payment.id, exc)
            return False
        except PaymentRefused as exc:
            # Asking again changes nothing; an uncaptured hold lapses on its own at the issuer.
            log.error("checkout.void_refused payment=%s error=%s", payment.id, exc)

    def done() -> None:
        with ctx.database.write() as db:
            hold_released(db, payment_id, ctx.clock())

    await ctx.database.run(done)
    return True


async def _note_failure(ctx: Completion, purchase: PurchaseRow, error: str) -> None:
    def note() -> None:
        with ctx.database.write() as db:
            current = Purchases(db).locked(purchase.id)
            current.attempts += 1
            current.last_error = error[:500]
            current.updated_at = ctx.clock()
            Purchases(db).save(current)

    await ctx.database.run(note)


async def _resolve_unknown(
    ctx: Completion,
    adapter: MerchantAdapter,
    purchase: PurchaseRow,
    merchant: MerchantRow,
    failure: MerchantPlatformError,
    respond: Respond,
) -> PlacedOrder:
    """The platform failed while placing: ask it whether the order exists before deciding.

    Found: carry on as placed. Not found: unwind and answer 503 (retry later). The platform
    cannot be asked either: leave the purchase authorised and answer 503, for a retry or the
    recovery job to settle.
    """
    try:
        found = await adapter.find_order(purchase.session_id)
    except MerchantPlatformError as exc:
        await _note_failure(ctx, purchase, f"{failure}; find_order: {exc}")
        log.warning("checkout.purchase_unknown session=%s error=%s", purchase.session_id, failure)
        raise ServiceUnavailable(
            f"{merchant.name}'s store is not answering; the order is being confirmed. Nothing "
            "is charged unless it is placed. Retry this request shortly."
        ) from exc
    if found is not None:
        return found
    problem = Problem(
        "error",
        "unsupported",
        f"{merchant.name}'s store is not answering right now; the payment hold was "
        "released and nothing was charged. Try again shortly.",
        None,
        "recoverable",
    )
    await _unwind(ctx, purchase, problem, ServiceUnavailable(problem.content), respond)
    raise ServiceUnavailable(problem.content) from failure


async def _unwind(
    ctx: Completion,
    purchase: PurchaseRow,
    problem: Problem,
    refusal: CheckoutError,
    respond: Respond,
    *,
    expect: PurchaseState = PurchaseState.AUTHORIZED,
) -> CompleteOutcome:
    outcome = await _settle(
        ctx,
        purchase,
        lambda db, current: unwind_purchase(
            db, current, problem=problem, refusal=refusal, now=ctx.clock()
        ),
        respond,
        expect=expect,
    )
    await release_hold(ctx, purchase.payment_id)
    return outcome


async def _settle(
    ctx: Completion,
    purchase: PurchaseRow,
    step: Callable[[Session, PurchaseRow], CompleteOutcome],
    respond: Respond,
    *,
    expect: PurchaseState | None = None,
) -> CompleteOutcome:
    """Run a last step once, under the purchase's lock; a purchase that a retry or the recovery
    job already settled is reported as it stands."""

    def run() -> CompleteOutcome:
        with ctx.database.write() as db:
            current = Purchases(db).locked(purchase.id)
            if expect is not None and current.state != expect:
                return _settled(db, current, ctx)
            outcome = step(db, current)
            respond(db, outcome)
            return outcome

    return await ctx.database.run(run)


def _settled(db: Session, purchase: PurchaseRow, ctx: Completion) -> CompleteOutcome:
    """Someone else (a retry, the recovery job) already finished or unwound this purchase."""
    session = CheckoutSessions(db).get_any(purchase.session_id)
    assert session is not None
    state = load_session(db, session.id, agent_id=session.agent_id, now=ctx.clock())
    if purchase.state == PurchaseState.COMPLETED:
        return CompleteOutcome(state)
    if purchase.state == PurchaseState.UNWOUND:
        return CompleteOutcome(
            state, ServiceUnavailable(purchase.last_error or "The purchase was unwound.")
        )
    raise IdempotencyInFlight(
        "This session's payment is being completed by another request.", retry_after=2
    )


def _line_index(purchase: PurchaseRow, exc: PlatformOutOfStock) -> int:
    refs = {(ref.platform_product_id, ref.platform_variant_id) for ref in exc.refs}
    for index, line in enumerate(Sale.of(purchase).lines):
        if (line.platform_product_id, line.platform_variant_id) in refs:
            return index
    return 0

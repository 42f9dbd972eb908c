"""Completing a checkout as a saga: authorise, place the merchant's order on its platform, capture.

    refresh stock      read current price and stock from the platform (nothing changes yet)
    begin_purchase     one transaction: checks, authorisation hold, our stock, the token
    place the order    on the merchant's platform, idempotent on the checkout session id
    finish_purchase    one transaction: capture, our order, order_create
 or unwind_purchase    one transaction: void the hold, give back stock and token, say why

No charge without an order: capture happens only after the platform accepted the order. No
order without a charge: when the platform's answer is unknown (it failed and cannot be asked),
the purchase stays `authorized` and is finished or unwound later, by a retried complete or by
recover_purchases, never guessed.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

import anyio
from sqlmodel import Session, col, select

from checkout.domain.checkout import Problem
from checkout.errors import (
    IdempotencyInFlight,
    InvalidRequest,
    NotFound,
    OutOfStock,
    ServiceUnavailable,
)
from checkout.flows.purchase_steps import (
    CompleteOutcome,
    Resumed,
    begin_purchase,
    finish_purchase,
    unwind_purchase,
)
from checkout.flows.session_state import load_session
from checkout.payments.provider import PaymentProvider
from checkout.platforms import MerchantPlatforms
from checkout.protocol.requests import CheckoutSessionCompleteRequest
from checkout.store.catalog import CatalogWriter
from checkout.store.db import Database
from checkout.store.rows import CheckoutSessionRow, MerchantRow, ProductRow, PurchaseRow, VariantRow
from checkout.store.sessions import CheckoutSessions
from merchant_adapters import (
    CredentialsRevoked,
    ExternalSale,
    MerchantAdapter,
    MerchantPlatformError,
    PlacedOrder,
    PlatformUnavailable,
    RateLimited,
    SaleLine,
    ShippingAddress,
    VariantRef,
)
from merchant_adapters import OutOfStock as PlatformOutOfStock

log = logging.getLogger("checkout.flows")

# Called inside the transaction that decides the outcome, so an answer kept for an
# Idempotency-Key commits together with the change it reports.
Respond = Callable[[Session, CompleteOutcome], None]
# How long a purchase must have been left alone before another request may carry it on.
RESUME_AFTER = timedelta(seconds=30)


@dataclass(frozen=True, slots=True)
class Completion:
    database: Database
    provider: PaymentProvider
    platforms: MerchantPlatforms
    base_url: str
    clock: Callable[[], datetime]


def _no_response(db: Session, outcome: CompleteOutcome) -> None:
    """Background recovery has no request to answer."""


def _adapter(ctx: Completion, merchant: MerchantRow) -> MerchantAdapter | None:
    """None for merchants on no platform (feed merchants): their orders live only here."""
    if merchant.platform not in ("etsy", "shopify") or merchant.credentials is None:
        return None
    return ctx.platforms.for_merchant(merchant)


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
            session = CheckoutSessions(db).get(session_id, agent_id=agent_id)
            if session is None:
                raise NotFound(
                    f"Checkout session '{session_id}' does not exist.",
                    code="checkout_session_not_found",
                )
            merchant = db.get(MerchantRow, session.merchant_id)
        assert merchant is not None
        return session, merchant

    session, merchant = await anyio.to_thread.run_sync(load)
    adapter = _adapter(ctx, merchant)
    if adapter is not None and session.status in (
        "not_ready_for_payment",
        "ready_for_payment",
        "authentication_required",
    ):
        await _refresh_stock(ctx, adapter, session_id, merchant)

    def begin() -> CompleteOutcome | PurchaseRow | Resumed:
        with ctx.database.write() as db:
            begun = begin_purchase(
                db, session_id, request, agent_id=agent_id, provider=ctx.provider, now=ctx.clock()
            )
            if isinstance(begun, CompleteOutcome):
                respond(db, begun)
            return begun

    begun = await anyio.to_thread.run_sync(begin)
    if isinstance(begun, CompleteOutcome):
        return begun
    if isinstance(begun, Resumed):
        purchase = begun.purchase
        if ctx.clock() - purchase.updated_at < RESUME_AFTER:
            # Another request is most likely placing this very order right now; two placements
            # at once could make two platform orders (Shopify's orderCreate has no idempotency).
            raise IdempotencyInFlight(
                "This session's payment is being completed by another request.", retry_after=2
            )
    else:
        purchase = begun
    return await carry_on(ctx, purchase, merchant, respond)


async def _refresh_stock(
    ctx: Completion, adapter: MerchantAdapter, session_id: str, merchant: MerchantRow
) -> None:
    """Re-read the session's variants from the platform so the checks below use its numbers."""

    def refs() -> dict[VariantRef, str]:
        with ctx.database.read() as db:
            lines = CheckoutSessions(db).lines(session_id)
            rows = db.exec(
                select(VariantRow).where(
                    col(VariantRow.id).in_([line.variant_id for line in lines])
                )
            ).all()
            products = {row.product_id for row in rows}
            platform_products = dict(
                db.exec(
                    select(ProductRow.id, ProductRow.platform_product_id).where(
                        col(ProductRow.id).in_(products)
                    )
                ).all()
            )
        return {
            VariantRef(str(platform_products[row.product_id]), str(row.platform_variant_id)): row.id
            for row in rows
            if row.platform_variant_id and platform_products.get(row.product_id)
        }

    wanted = await anyio.to_thread.run_sync(refs)
    if not wanted:
        return
    try:
        stock = await adapter.read_stock(list(wanted))
    except (PlatformUnavailable, RateLimited) as exc:
        raise ServiceUnavailable(
            f"{merchant.name}'s store is not answering right now; nothing was "
            "charged. Try again shortly."
        ) from exc
    except CredentialsRevoked as exc:
        raise InvalidRequest(
            f"{merchant.name} cannot take orders right now; nothing was charged.",
            code="merchant_unavailable",
        ) from exc
    except MerchantPlatformError as exc:
        raise ServiceUnavailable(f"{merchant.name}'s store could not confirm stock: {exc}") from exc
    fresh = {
        variant_id: (stock[ref].price, stock[ref].available if stock[ref].purchasable else 0)
        for ref, variant_id in wanted.items()
        if ref in stock
    }
    missing = [variant_id for ref, variant_id in wanted.items() if ref not in stock]

    def write() -> None:
        with ctx.database.write() as db:
            writer = CatalogWriter(db)
            writer.set_stock(fresh, ctx.clock())
            # Variants the platform no longer knows are no longer sold.
            writer.retire_variants(missing, ctx.clock())

    await anyio.to_thread.run_sync(write)


def external_sale(purchase: PurchaseRow) -> ExternalSale:
    sale = purchase.sale
    address = sale.get("address")
    return ExternalSale(
        reference=purchase.session_id,
        lines=tuple(
            SaleLine(
                ref=VariantRef(line["platform_product_id"], line["platform_variant_id"]),
                quantity=line["quantity"],
                unit_price=line["unit_amount"],
                title=line["title"],
            )
            for line in sale["lines"]
        ),
        currency=sale["currency"],
        buyer_email=sale.get("email"),
        buyer_name=sale.get("buyer_name"),
        shipping_address=ShippingAddress(
            name=address["name"],
            line_one=address["line_one"],
            line_two=address.get("line_two"),
            city=address["city"],
            state=address["state"],
            country=address["country"],
            postal_code=address["postal_code"],
        )
        if address
        else None,
        shipping_title=sale.get("shipping_title"),
        shipping_amount=sale["fulfillment_amount"],
        tax_amount=sale["tax_amount"],
        total_amount=sale["total_amount"],
    )


async def carry_on(
    ctx: Completion, purchase: PurchaseRow, merchant: MerchantRow, respond: Respond = _no_response
) -> CompleteOutcome:
    """Place the merchant order and finish, or unwind; live requests and recovery share this path."""
    adapter = _adapter(ctx, merchant)
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
            return await _unwind(
                ctx, purchase, problem, OutOfStock(problem.content, param=problem.param), respond
            )
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

    return await _settle(
        ctx,
        purchase,
        lambda db, current: finish_purchase(
            db,
            current,
            placed=placed,
            provider=ctx.provider,
            base_url=ctx.base_url,
            now=ctx.clock(),
        ),
        respond,
    )


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
        error = f"{failure}; find_order: {exc}"[:500]

        def note() -> None:
            with ctx.database.write() as db:
                current = _locked(db, purchase.id)
                current.attempts += 1
                current.last_error = error
                current.updated_at = ctx.clock()
                db.add(current)

        await anyio.to_thread.run_sync(note)
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
    refusal: InvalidRequest | ServiceUnavailable,
    respond: Respond,
) -> CompleteOutcome:
    return await _settle(
        ctx,
        purchase,
        lambda db, current: unwind_purchase(
            db, current, problem=problem, refusal=refusal, provider=ctx.provider, now=ctx.clock()
        ),
        respond,
    )


async def _settle(
    ctx: Completion,
    purchase: PurchaseRow,
    step: Callable[[Session, PurchaseRow], CompleteOutcome],
    respond: Respond,
) -> CompleteOutcome:
    """Run the last step once, under the purchase's lock; a purchase that a retry or the
    recovery job already settled is reported as it stands."""

    def run() -> CompleteOutcome:
        with ctx.database.write() as db:
            current = _locked(db, purchase.id)
            if current.state in ("completed", "unwound"):
                return _settled(db, current, ctx)
            outcome = step(db, current)
            respond(db, outcome)
            return outcome

    return await anyio.to_thread.run_sync(run)


def _locked(db: Session, purchase_id: str, *, lock: bool = True) -> PurchaseRow:
    statement = select(PurchaseRow).where(col(PurchaseRow.id) == purchase_id)
    if lock:
        statement = statement.with_for_update()
    purchase = db.exec(statement).one()
    return purchase


def _settled(db: Session, purchase: PurchaseRow, ctx: Completion) -> CompleteOutcome:
    """Someone else (a retry, the recovery job) already finished or unwound this purchase."""
    session = CheckoutSessions(db).get_any(purchase.session_id)
    assert session is not None
    state = load_session(db, session.id, agent_id=session.agent_id, now=ctx.clock())
    if purchase.state == "completed":
        return CompleteOutcome(state)
    return CompleteOutcome(
        state, ServiceUnavailable(purchase.last_error or "The purchase was unwound.")
    )


def _line_index(purchase: PurchaseRow, exc: PlatformOutOfStock) -> int:
    refs = {(ref.platform_product_id, ref.platform_variant_id) for ref in exc.refs}
    for index, line in enumerate(purchase.sale["lines"]):
        if (line["platform_product_id"], line["platform_variant_id"]) in refs:
            return index
    return 0


async def recover_purchases(ctx: Completion, *, older_than: timedelta) -> dict[str, int]:
    """Finish or unwind purchases a crashed or abandoned request left half-done."""

    def stale() -> list[tuple[PurchaseRow, MerchantRow]]:
        cutoff = ctx.clock() - older_than
        with ctx.database.read() as db:
            rows = db.exec(
                select(PurchaseRow, MerchantRow)
                .join(MerchantRow, col(MerchantRow.id) == col(PurchaseRow.merchant_id))
                .where(
                    col(PurchaseRow.state).in_(["authorized", "placed"]),
                    col(PurchaseRow.updated_at) <= cutoff,
                )
            ).all()
        return [(purchase, merchant) for purchase, merchant in rows]

    report = {"completed": 0, "unwound": 0, "pending": 0}
    for purchase, merchant in await anyio.to_thread.run_sync(stale):
        try:
            outcome = await carry_on(ctx, purchase, merchant)
        except ServiceUnavailable:
            report["pending"] += 1
            continue
        report["unwound" if outcome.refusal else "completed"] += 1
        log.info(
            "checkout.purchase_recovered session=%s result=%s",
            purchase.session_id,
            "unwound" if outcome.refusal else "completed",
        )
    return report

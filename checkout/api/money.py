"""The money, for the operator and its merchants: refunds, commission terms, ledger, statements,
the platform's revenue."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from typing import Any, Literal

import anyio
from fastapi import APIRouter, Query
from fastapi.responses import Response
from pydantic import Field
from sqlmodel import select

from checkout.api.acp.openapi import CLIENT_ERRORS, ERRORS
from checkout.api.deps import (
    IdempotencyKeyDep,
    MerchantReaderDep,
    OperatorDep,
    RawBodyDep,
    ServicesDep,
)
from checkout.api.idempotency import run_idempotently_async
from checkout.api.merchants import CommissionTerms, terms_warnings
from checkout.api.problems import json_document
from checkout.api.services import Services
from checkout.domain import commission
from checkout.domain.ledger import Earned, revenue, statement
from checkout.errors import InvalidRequest, NotFound
from checkout.flows.order_events import order_document
from checkout.flows.refund_order import refund_order
from checkout.protocol.render import iso
from checkout.protocol.requests import Strict
from checkout.store.catalog import merchant_or_missing
from checkout.store.commission_terms import CommissionBook, current_terms
from checkout.store.ledger import Ledger, as_entries
from checkout.store.orders import Orders
from checkout.store.refunds import Refunds
from checkout.store.rows import LedgerEntryRow, MerchantRow, RefundRow

router = APIRouter(tags=["money"])

# Ledger entry ids are 64-bit integers in the database; a cursor beyond that names no entry.
MAX_ENTRY_ID = 2**63 - 1


class RefundCreateRequest(Strict):
    amount: int | None = Field(
        default=None, ge=1, description="Minor units; omitted means whatever is left to refund."
    )
    reason: Literal["duplicate", "fraudulent", "requested_by_customer"] | None = None


def refund_view(refund: RefundRow) -> dict[str, Any]:
    return {
        "id": refund.id,
        "order_id": refund.order_id,
        "amount": refund.amount,
        "commission_refunded": refund.commission_amount,
        "currency": refund.currency,
        "status": refund.status,
        "reason": refund.reason,
        "source": refund.source,
        "provider_refund_id": refund.provider_refund_id,
        "created_at": iso(refund.created_at),
    }


@router.post(
    "/orders/{order_id}/refunds",
    status_code=201,
    operation_id="refundOrder",
    responses={503: ERRORS[500], **CLIENT_ERRORS},
)
async def post_refund(
    order_id: str,
    body: RefundCreateRequest,
    _operator: OperatorDep,
    key: IdempotencyKeyDep,
    raw: RawBodyDep,
    services: ServicesDep,
) -> Response:
    """Refund an order in full or in part; the commission goes back in proportion. The
    Idempotency-Key names the refund, so a retry after a 503 never makes a second one."""
    path = f"/orders/{order_id}/refunds"

    async def work(keep: Any) -> tuple[int, dict[str, Any]]:
        refund = await refund_order(
            services.refunding,
            order_id,
            amount=body.amount,
            reason=body.reason,
            source="operator",
            request_key=key,
        )

        def view() -> dict[str, Any]:
            with services.database.read() as db:
                order = Orders(db).get(order_id)
                assert order is not None
                return {**refund_view(refund), "order": order_document(db, order)}

        return 201, await anyio.to_thread.run_sync(view)

    return await run_idempotently_async(
        services, agent_id="operator", path=path, key=key, raw=raw, work=work
    )


@router.get("/orders/{order_id}/refunds", operation_id="listRefunds", responses=CLIENT_ERRORS)
def list_refunds(order_id: str, _operator: OperatorDep, services: ServicesDep) -> Response:
    with services.database.read() as db:
        if Orders(db).get(order_id) is None:
            raise NotFound(f"Order '{order_id}' does not exist.", code="order_not_found")
        refunds = Refunds(db).of_order(order_id)
    return json_document({"order_id": order_id, "refunds": [refund_view(r) for r in refunds]})


def _merchant(services: Services, merchant_id: str) -> MerchantRow:
    with services.database.read() as db:
        return merchant_or_missing(db, merchant_id)


def _terms_view(terms: commission.CommissionTerms, since: datetime | None) -> dict[str, Any]:
    return {
        "version": terms.version,
        "rate_bps": terms.rate_bps,
        "category_bps": dict(terms.category_bps),
        "minimum": terms.minimum,
        "fixed": terms.fixed,
        "effective_at": iso(since) if since else None,
    }


@router.get(
    "/merchants/{merchant_id}/commission", operation_id="getCommission", responses=CLIENT_ERRORS
)
def get_commission(merchant_id: str, _reader: MerchantReaderDep, services: ServicesDep) -> Response:
    _merchant(services, merchant_id)
    with services.database.read() as db:
        history = CommissionBook(db).history(merchant_id)
    return json_document(
        {
            "merchant_id": merchant_id,
            "current": _terms_view(*history[-1]),
            "history": [_terms_view(t, since) for t, since in history],
        }
    )


@router.put(
    "/merchants/{merchant_id}/commission", operation_id="changeCommission", responses=CLIENT_ERRORS
)
def change_commission(
    merchant_id: str, body: CommissionTerms, _operator: OperatorDep, services: ServicesDep
) -> Response:
    """New terms for orders from now on; orders already sold keep the version they were sold under."""
    now = services.clock()
    with services.database.write() as db:
        merchant = merchant_or_missing(db, merchant_id, for_update=True)
        try:
            terms = commission.CommissionTerms(
                body.rate_bps, body.category_bps, body.minimum, fixed=body.fixed
            )
        except ValueError as exc:
            raise InvalidRequest(str(exc), param="$.category_bps", code="invalid") from exc
        stored = CommissionBook(db).change(merchant, terms, now)
    return json_document(
        {
            "merchant_id": merchant_id,
            "current": _terms_view(stored, now),
            "warnings": terms_warnings(services, stored),
        }
    )


def _period(start: date | None, end: date | None) -> tuple[datetime | None, datetime | None]:
    """Whole UTC days: `from` and `to` are both included."""
    if start and end and end < start:
        raise InvalidRequest("'to' is before 'from'.", param="$.to", code="invalid")
    # The last day there is (9999-12-31) has no next day to stop before: it bounds nothing.
    return (
        datetime.combine(start, time(), UTC) if start else None,
        datetime.combine(end + timedelta(days=1), time(), UTC) if end and end < date.max else None,
    )


def entry_view(row: LedgerEntryRow) -> dict[str, Any]:
    return {
        "id": row.id,
        "movement": row.movement_key,
        "kind": row.kind,
        "account": row.account,
        "amount": row.amount,
        "currency": row.currency,
        "order_id": row.order_id,
        "reference": row.reference,
        "occurred_at": iso(row.occurred_at),
    }


@router.get("/merchants/{merchant_id}/ledger", operation_id="getLedger", responses=CLIENT_ERRORS)
def get_ledger(
    merchant_id: str,
    _reader: MerchantReaderDep,
    services: ServicesDep,
    after: int = Query(
        default=0, ge=0, le=MAX_ENTRY_ID, description="Cursor: the last entry id already read."
    ),
    limit: int = Query(default=100, ge=1, le=1000),
) -> Response:
    """Every posting of every movement of the merchant's money, oldest first (append-only)."""
    _merchant(services, merchant_id)
    with services.database.read() as db:
        rows = Ledger(db).entries(merchant_id, after_id=after, limit=limit + 1)
    more = len(rows) > limit
    rows = rows[:limit]
    return json_document(
        {
            "merchant_id": merchant_id,
            "entries": [entry_view(r) for r in rows],
            "next_cursor": rows[-1].id if more and rows else None,
        }
    )


@router.get(
    "/merchants/{merchant_id}/statement", operation_id="getStatement", responses=CLIENT_ERRORS
)
def get_statement(
    merchant_id: str,
    _reader: MerchantReaderDep,
    services: ServicesDep,
    start: date | None = Query(default=None, alias="from", description="First day (UTC)."),
    end: date | None = Query(default=None, alias="to", description="Last day (UTC), included."),
) -> Response:
    merchant = _merchant(services, merchant_id)
    since, until = _period(start, end)
    with services.database.read() as db:
        rows = Ledger(db).entries(merchant_id, start=since, end=until)
    summary = statement(as_entries(rows))
    return json_document(
        {
            "merchant_id": merchant_id,
            "currency": merchant.currency,
            "from": start.isoformat() if start else None,
            "to": end.isoformat() if end else None,
            "orders": summary.orders,
            "gross_sales": summary.gross_sales,
            "commission": summary.commission,
            "refunds": summary.refunds,
            "commission_refunded": summary.commission_refunded,
            "disputes": summary.disputes,
            "net": summary.net,
            "commission_terms": _terms_view(current_terms(merchant), None),
        }
    )


@router.get("/platform/revenue", operation_id="getPlatformRevenue", responses=CLIENT_ERRORS)
def get_platform_revenue(
    _operator: OperatorDep,
    services: ServicesDep,
    start: date | None = Query(default=None, alias="from"),
    end: date | None = Query(default=None, alias="to"),
) -> Response:
    """The platform's gross commission, what it gave back, Stripe's fees it paid, refunds and
    disputes it bore, and the net: by currency, by merchant and by day."""
    since, until = _period(start, end)
    with services.database.read() as db:
        rows = Ledger(db).platform_postings(start=since, end=until)
        names = {m.id: m.name for m in db.exec(select(MerchantRow))}
    earned = revenue(rows)

    def sums(part: Earned) -> dict[str, int]:
        return {
            "commission": part.commission,
            "commission_refunded": part.commission_refunded,
            "processor_fees": part.processor_fees,
            "refunds_and_disputes": part.other,
            "net": part.net,
        }

    return json_document(
        {
            "from": start.isoformat() if start else None,
            "to": end.isoformat() if end else None,
            "totals": [{"currency": c, **sums(v)} for c, v in sorted(earned.totals.items())],
            "by_merchant": [
                {"merchant_id": m, "name": names.get(m), "currency": c, **sums(v)}
                for (m, c), v in sorted(earned.by_merchant.items())
            ],
            "by_day": [
                {"date": d.isoformat(), "currency": c, **sums(v)}
                for (d, c), v in sorted(earned.by_day.items())
            ],
        }
    )

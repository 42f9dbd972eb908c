"""The money as the ledger keeps it: a merchant's ledger and statement, the platform's revenue."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from fastapi import APIRouter, Query
from fastapi.responses import Response

from checkout.api.acp.openapi import CLIENT_ERRORS
from checkout.api.commission import terms_view
from checkout.api.deps import DatabaseDep, MerchantReaderDep, OperatorDep
from checkout.api.problems import json_document
from checkout.domain.errors import InvalidRequest
from checkout.domain.ledger import Earned, revenue, statement
from checkout.protocol.render import iso
from checkout.store.catalog import merchant_or_missing
from checkout.store.commission_terms import current_terms
from checkout.store.db import Database
from checkout.store.ledger import Ledger, as_entries
from checkout.store.merchants import Merchants
from checkout.store.rows import LedgerEntryRow, MerchantRow

router = APIRouter(tags=["money"])

# Ledger entry ids are 64-bit integers in the database; a cursor beyond that names no entry.
MAX_ENTRY_ID = 2**63 - 1


def _merchant(database: Database, merchant_id: str) -> MerchantRow:
    with database.read() as db:
        return merchant_or_missing(db, merchant_id)


def whole_days(start: date | None, end: date | None) -> tuple[datetime | None, datetime | None]:
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
    database: DatabaseDep,
    after: int = Query(
        default=0, ge=0, le=MAX_ENTRY_ID, description="Cursor: the last entry id already read."
    ),
    limit: int = Query(default=100, ge=1, le=1000),
) -> Response:
    """Every posting of every movement of the merchant's money, oldest first (append-only)."""
    _merchant(database, merchant_id)
    with database.read() as db:
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
    database: DatabaseDep,
    start: date | None = Query(default=None, alias="from", description="First day (UTC)."),
    end: date | None = Query(default=None, alias="to", description="Last day (UTC), included."),
) -> Response:
    merchant = _merchant(database, merchant_id)
    since, until = whole_days(start, end)
    with database.read() as db:
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
            "commission_terms": terms_view(current_terms(merchant), None),
        }
    )


@router.get("/platform/revenue", operation_id="getPlatformRevenue", responses=CLIENT_ERRORS)
def get_platform_revenue(
    _operator: OperatorDep,
    database: DatabaseDep,
    start: date | None = Query(default=None, alias="from"),
    end: date | None = Query(default=None, alias="to"),
) -> Response:
    """The platform's gross commission, what it gave back, Stripe's fees it paid, refunds and
    disputes it bore, and the net: by currency, by merchant and by day."""
    since, until = whole_days(start, end)
    with database.read() as db:
        rows = Ledger(db).platform_postings(start=since, end=until)
        names = Merchants(db).names()
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

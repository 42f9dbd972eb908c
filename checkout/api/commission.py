"""A merchant's commission terms: read them (operator or merchant), change them (operator)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from fastapi import APIRouter
from fastapi.responses import Response

from checkout.api.acp.openapi import CLIENT_ERRORS
from checkout.api.deps import ClockDep, DatabaseDep, MerchantReaderDep, OperatorDep, SettingsDep
from checkout.api.merchants import CommissionTermsBody, terms_warnings
from checkout.api.problems import json_document
from checkout.domain import commission
from checkout.domain.errors import InvalidRequest
from checkout.protocol.render import iso
from checkout.store.catalog import merchant_or_missing
from checkout.store.commission_terms import CommissionBook

router = APIRouter(tags=["money"])


def terms_view(terms: commission.CommissionTerms, since: datetime | None) -> dict[str, Any]:
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
def get_commission(merchant_id: str, _reader: MerchantReaderDep, database: DatabaseDep) -> Response:
    with database.read() as db:
        merchant_or_missing(db, merchant_id)
    with database.read() as db:
        history = CommissionBook(db).history(merchant_id)
    return json_document(
        {
            "merchant_id": merchant_id,
            "current": terms_view(*history[-1]),
            "history": [terms_view(t, since) for t, since in history],
        }
    )


@router.put(
    "/merchants/{merchant_id}/commission", operation_id="changeCommission", responses=CLIENT_ERRORS
)
def change_commission(
    merchant_id: str,
    body: CommissionTermsBody,
    _operator: OperatorDep,
    database: DatabaseDep,
    clock: ClockDep,
    settings: SettingsDep,
) -> Response:
    """New terms for orders from now on; orders already sold keep the version they were sold under."""
    now = clock()
    with database.write() as db:
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
            "current": terms_view(stored, now),
            "warnings": terms_warnings(settings, stored),
        }
    )

"""Running a UCP write once per Idempotency-Key: ACP's keyed rules (replay, 409 Conflict for the
key reused with other parameters, checkout-rest.md), told in UCP's error shape, in the same
store as ACP's keys; a write sent without a key simply runs."""

from __future__ import annotations

from typing import Any

from fastapi.responses import Response

from checkout.api.idempotency import AsyncWork, Work, run_idempotently, run_idempotently_async
from checkout.api.problems import json_response
from checkout.api.services import Services
from checkout.domain.errors import CheckoutError
from checkout.protocol.render import to_json
from checkout.ucp.problems import error_body, status_for


def refusal(exc: CheckoutError, version: str = "2026-01-11") -> tuple[int, dict[str, Any]]:
    return status_for(exc), error_body(exc, version)


async def run_once(
    services: Services,
    *,
    agent_id: str,
    version: str,
    path: str,
    key: str | None,
    raw: bytes,
    work: AsyncWork,
) -> Response:
    if not key:
        try:
            status, body = await work(lambda db, status, body: None)
        except CheckoutError as exc:
            status, body = refusal(exc, version)
        return json_response(status, to_json(body))
    return await run_idempotently_async(
        services.idempotent_posts,
        agent_id=agent_id,
        path=f"ucp:{path}",
        key=key,
        raw=raw,
        work=work,
        refuse=lambda exc: refusal(exc, version),
    )


async def run_write_once(
    services: Services,
    *,
    agent_id: str,
    version: str,
    path: str,
    key: str | None,
    raw: bytes,
    op: Work,
) -> Response:
    """A write done in one transaction, `op(db)`: with a key, the key's claim, the write and its
    answer are one commit, as ACP's creates and updates are."""
    if key:
        return await run_idempotently(
            services.idempotent_posts,
            agent_id=agent_id,
            path=f"ucp:{path}",
            key=key,
            raw=raw,
            work=op,
            refuse=lambda exc: refusal(exc, version),
        )

    def transaction() -> tuple[int, dict[str, Any]]:
        try:
            with services.database.write() as db:
                return op(db)
        except CheckoutError as exc:
            return refusal(exc, version)

    status, body = await services.database.run(transaction)
    return json_response(status, to_json(body))

"""Running a UCP write once per Idempotency-Key: the stored answer for a repeat, 409 Conflict for
the key reused with other parameters (checkout-rest.md), the same store as ACP's keys."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import anyio
from fastapi.responses import Response
from sqlmodel import Session

from checkout.api.idempotency import fingerprint
from checkout.api.problems import json_response
from checkout.api.services import Services
from checkout.domain.errors import CheckoutError, IdempotencyConflict, IdempotencyInFlight
from checkout.protocol.render import to_json
from checkout.store.idempotency import IdempotencyRecords, KeyScope, StoredResponse
from checkout.ucp.problems import error_body, status_for

Keep = Callable[[Session, int, dict[str, Any]], None]
Work = Callable[[Keep], Awaitable[tuple[int, dict[str, Any]]]]


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
    work: Work,
) -> Response:
    headers = {"Idempotency-Key": key} if key else {}
    if not key:
        try:
            status, body = await work(lambda db, status, body: None)
        except CheckoutError as exc:
            status, body = refusal(exc, version)
        return json_response(status, to_json(body), headers)
    scope = KeyScope(identity=agent_id, path=f"ucp:{path}", key=key)
    try:
        digest = fingerprint(raw, services.settings.fingerprint_key)
        claim = await anyio.to_thread.run_sync(
            lambda: services.idempotency.claim(scope, digest, services.clock())
        )
    except IdempotencyConflict as exc:
        return json_response(409, to_json(error_body(exc, version)), headers)
    except CheckoutError as exc:
        status, body = refusal(exc, version)
        return json_response(status, to_json(body), headers)
    if isinstance(claim, StoredResponse):
        return json_response(claim.status, claim.body, {**headers, "Idempotent-Replayed": "true"})
    kept: StoredResponse | None = None

    def keep(db: Session, status: int, body: dict[str, Any]) -> None:
        nonlocal kept
        if status < 500:
            kept = StoredResponse(status, to_json(body))
            IdempotencyRecords.finish(db, claim, kept)

    def keep_alone(response: StoredResponse) -> None:
        with services.database.write() as db:
            IdempotencyRecords.finish(db, claim, response)

    try:
        status, body = await work(keep)
    except IdempotencyInFlight as exc:
        await anyio.to_thread.run_sync(services.idempotency.abandon, claim)
        status, body = refusal(exc, version)
        return json_response(status, to_json(body), {**headers, "Retry-After": "2"})
    except CheckoutError as exc:
        status, body = refusal(exc, version)
        if status >= 500:
            await anyio.to_thread.run_sync(services.idempotency.abandon, claim)
        else:
            await anyio.to_thread.run_sync(keep_alone, StoredResponse(status, to_json(body)))
        return json_response(status, to_json(body), headers)
    except BaseException:
        await anyio.to_thread.run_sync(services.idempotency.abandon, claim)
        raise
    if kept is not None:
        return json_response(kept.status, kept.body, headers)
    response = StoredResponse(status, to_json(body))
    if status >= 500:
        await anyio.to_thread.run_sync(services.idempotency.abandon, claim)
    else:
        await anyio.to_thread.run_sync(keep_alone, response)
    return json_response(status, response.body, headers)

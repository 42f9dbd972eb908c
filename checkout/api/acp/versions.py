"""What the ACP routes do differently per API-Version at the HTTP edge (see protocol.acp_2026_01_30)."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Annotated, Any

from fastapi import Depends, Header, Request
from sqlmodel import Session

from checkout.api.deps import ApiVersionDep, idempotency_key
from checkout.domain.checkout import Status
from checkout.protocol import acp_2026_01_30
from checkout.store.sessions import CheckoutSessions

Respond = Callable[[Session, Any], None]


async def versioned_idempotency_key(
    version: ApiVersionDep, key: Annotated[str | None, Header(alias="Idempotency-Key")] = None
) -> str:
    """Required on every POST in 2026-04-17; optional in 2026-01-30, where a POST without one runs
    under a fresh key of our own (echoed in the response's Idempotency-Key, so it can be retried)."""
    if key is None and version == acp_2026_01_30.VERSION:
        return f"unkeyed-{uuid.uuid4()}"
    return idempotency_key(key)


async def browser_headers(request: Request) -> dict[str, str]:
    """The request headers a 2026-01-30 3-D Secure channel describes, when risk_signals do not."""
    found = {
        name: request.headers[name]
        for name in ("accept", "accept-language", "user-agent")
        if name in request.headers
    }
    if request.client is not None:
        found["x-client-ip"] = request.client.host
    return found


def remembering_channel(
    version: str, risk_signals: dict[str, Any] | None, headers: dict[str, str], respond: Respond
) -> Respond:
    """`respond` that first stores the 2026-01-30 authentication channel on a session that has
    just been asked for 3-D Secure, in the same transaction (04-17 allows the extra field)."""
    if version != acp_2026_01_30.VERSION:
        return respond

    def remember(db: Session, outcome: Any) -> None:
        row = outcome.state.row
        if outcome.state.status is Status.AUTHENTICATION_REQUIRED and row.authentication_metadata:
            stored = CheckoutSessions(db).get_any(row.id)
            if stored is not None and stored.authentication_metadata:
                channel = acp_2026_01_30.authentication_channel(risk_signals or {}, headers)
                stored.authentication_metadata = {
                    **stored.authentication_metadata,
                    "channel": channel,
                }
                CheckoutSessions(db).save(stored)
                row.authentication_metadata = stored.authentication_metadata
        respond(db, outcome)

    return remember


BrowserHeadersDep = Annotated[dict[str, str], Depends(browser_headers)]

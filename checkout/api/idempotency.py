"""Running a POST under its Idempotency-Key: replay, conflict, in-flight, and the same-commit rule."""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime
from functools import partial
from typing import Any

from fastapi.responses import Response
from sqlmodel import Session

from checkout.api.problems import (
    error_body,
    json_response,
    refusal_headers,
    status_for,
)
from checkout.domain.errors import CheckoutError, IdempotencyInFlight, InvalidRequest
from checkout.protocol.render import to_json
from checkout.store.db import Database
from checkout.store.idempotency import IdempotencyRecords, KeyScope, StoredResponse

Work = Callable[[Session], tuple[int, dict[str, Any]]]


# Card data in a payment_method: kept only as a keyed digest, or (CVC, cryptogram) not at all,
# so no stored fingerprint is derived from them in a way anyone without the key could test.
DIGESTED_CARD_FIELDS = frozenset({"number", "exp_month", "exp_year", "iin", "name"})
DROPPED_CARD_FIELDS = frozenset({"cvc", "cryptogram"})


def _canonical(value: Any, key: bytes) -> Any:
    # JCS-style equivalence: key order is irrelevant, 1.0 == 1, null stays distinct from absent.
    if isinstance(value, dict):
        return {
            name: _card_free(item, key) if name == "payment_method" else _canonical(item, key)
            for name, item in value.items()
        }
    if isinstance(value, list):
        return [_canonical(item, key) for item in value]
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


def _card_free(method: Any, key: bytes) -> Any:
    if not isinstance(method, dict):
        return _canonical(method, key)
    return {
        name: (
            hmac.new(key, f"{name}:{item}".encode(), hashlib.sha256).hexdigest()
            if name in DIGESTED_CARD_FIELDS
            else _canonical(item, key)
        )
        for name, item in method.items()
        if name not in DROPPED_CARD_FIELDS
    }


def fingerprint(raw: bytes, key: bytes) -> str:
    """A keyed hash (HMAC-SHA256) of the request's JSON, card data digested or left out."""
    if not raw.strip():
        parsed: Any = {}  # cancel may be sent with no body at all; that is the same as {}
    else:
        try:
            # The standard library, not orjson: integers beyond 64 bits must fingerprint too.
            parsed = json.loads(raw)
        except (ValueError, RecursionError) as exc:
            raise InvalidRequest(
                "The request body is not valid JSON.", code="invalid_json"
            ) from exc
    canonical = json.dumps(
        _canonical(parsed, key), sort_keys=True, separators=(",", ":"), ensure_ascii=False
    )
    return hmac.new(key, canonical.encode(), hashlib.sha256).hexdigest()


@dataclass(frozen=True, slots=True)
class Idempotency:
    """What keeping a POST's answer under its Idempotency-Key needs."""

    records: IdempotencyRecords
    database: Database
    clock: Callable[[], datetime]
    fingerprint_key: bytes


def _replay(claim: StoredResponse, headers: dict[str, str]) -> Response:
    return json_response(claim.status, claim.body, {**headers, "Idempotent-Replayed": "true"})


# How a protocol words a refusal: its status and body for a domain error.
Refusal = Callable[[CheckoutError], tuple[int, dict[str, Any]]]


def _in_acp_words(path: str) -> Refusal:
    return lambda exc: (status_for(exc), error_body(exc, path))


def _refused(refuse: Refusal, exc: CheckoutError, headers: dict[str, str]) -> Response:
    """A refusal answered now (and not kept), in the protocol's words."""
    status, body = refuse(exc)
    return json_response(status, to_json(body), refusal_headers(exc, headers))


def _kept_refusal(exc: CheckoutError, refuse: Refusal) -> StoredResponse | None:
    """The answer a key keeps for a refusal; None for a 5xx, which is never kept."""
    status, body = refuse(exc)
    if status >= 500:
        return None
    return StoredResponse(status, to_json(body))


async def run_idempotently(
    idempotency: Idempotency,
    *,
    agent_id: str,
    path: str,
    key: str,
    raw: bytes,
    work: Work,
    refuse: Refusal | None = None,
) -> Response:
    """Work done in one transaction: the key is claimed, the work done and its answer kept there.

    One commit per request instead of two (a claim, then the work): the writer is the
    bottleneck on SQLite, so this is most of what a create or an update costs. `refuse` words
    refusals in another protocol than ACP (UCP).
    """
    return await idempotency.database.run(
        partial(
            _in_one_transaction,
            idempotency,
            agent_id,
            path,
            key,
            raw,
            work,
            refuse or _in_acp_words(path),
        )
    )


def _in_one_transaction(
    idempotency: Idempotency,
    agent_id: str,
    path: str,
    key: str,
    raw: bytes,
    work: Work,
    refuse: Refusal,
) -> Response:
    headers = {"Idempotency-Key": key}

    scope = KeyScope(identity=agent_id, path=path, key=key)
    records = idempotency.records
    try:
        digest = fingerprint(raw, idempotency.fingerprint_key)
    except CheckoutError as exc:
        return _refused(refuse, exc, headers)
    try:
        with idempotency.database.write() as db:
            try:
                claim = records.claim_in(db, scope, digest, idempotency.clock())
            except CheckoutError as exc:
                raise _KeyRefused(exc) from exc
            if isinstance(claim, StoredResponse):
                return _replay(claim, headers)
            status, body = work(db)
            stored = StoredResponse(status, to_json(body))
            IdempotencyRecords.finish(db, claim, stored)
    except _KeyRefused as key_refused:
        return _refused(refuse, key_refused.error, headers)
    except CheckoutError as exc:
        # The work and its claim rolled back; its refusal is the answer this key keeps (unless
        # it is a 5xx), claimed afresh: a duplicate may have answered in the meantime.
        refusal = _kept_refusal(exc, refuse)
        if refusal is None:
            raise
        try:
            with idempotency.database.write() as db:
                claim = records.claim_in(db, scope, digest, idempotency.clock())
                if isinstance(claim, StoredResponse):
                    return _replay(claim, headers)
                IdempotencyRecords.finish(db, claim, refusal)
        except CheckoutError as again:
            return _refused(refuse, again, headers)
        stored = refusal
    return json_response(stored.status, stored.body, headers)


class _KeyRefused(Exception):
    """The key itself was refused (reused with another body, or in flight): nothing is kept."""

    def __init__(self, error: CheckoutError) -> None:
        super().__init__(str(error))
        self.error = error


Keep = Callable[[Session, int, dict[str, Any]], None]
AsyncWork = Callable[[Keep], Awaitable[tuple[int, dict[str, Any]]]]


async def run_idempotently_async(
    idempotency: Idempotency,
    *,
    agent_id: str,
    path: str,
    key: str,
    raw: bytes,
    work: AsyncWork,
    refuse: Refusal | None = None,
) -> Response:
    """The same rules for work spread over several transactions and awaited calls (a saga).

    The work calls `keep(db, status, body)` inside the transaction that decides its outcome, so
    the answer is committed together with that change; a 5xx is never kept. `refuse` words
    refusals in another protocol than ACP (UCP); a 5xx is raised for the app to answer.
    """
    refuse = refuse or _in_acp_words(path)
    headers = {"Idempotency-Key": key}

    scope = KeyScope(identity=agent_id, path=path, key=key)
    try:
        digest = fingerprint(raw, idempotency.fingerprint_key)
        claim = await idempotency.database.run(
            lambda: idempotency.records.claim(scope, digest, idempotency.clock())
        )
    except CheckoutError as exc:
        return _refused(refuse, exc, headers)
    if isinstance(claim, StoredResponse):
        return _replay(claim, headers)
    kept: StoredResponse | None = None

    def keep(db: Session, status: int, body: dict[str, Any]) -> None:
        nonlocal kept
        if status < 500:
            kept = StoredResponse(status, to_json(body))
            IdempotencyRecords.finish(db, claim, kept)

    def keep_alone(response: StoredResponse) -> None:
        with idempotency.database.write() as db:
            IdempotencyRecords.finish(db, claim, response)

    try:
        status, body = await work(keep)
    except IdempotencyInFlight as exc:
        # Transient by nature: the retry this invites must be processed, not replayed.
        await idempotency.database.run(idempotency.records.abandon, claim)
        return _refused(refuse, exc, headers)
    except CheckoutError as exc:
        refusal = _kept_refusal(exc, refuse)
        if refusal is None:
            await idempotency.database.run(idempotency.records.abandon, claim)
            raise
        await idempotency.database.run(keep_alone, refusal)
        return json_response(refusal.status, refusal.body, headers)
    except BaseException:
        await idempotency.database.run(idempotency.records.abandon, claim)
        raise
    if kept is None:
        response = StoredResponse(status, to_json(body))
        if status >= 500:
            await idempotency.database.run(idempotency.records.abandon, claim)
        else:
            await idempotency.database.run(keep_alone, response)
        return json_response(response.status, response.body, headers)
    return json_response(kept.status, kept.body, headers)

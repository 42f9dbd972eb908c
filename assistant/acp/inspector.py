"""The protocol inspector: every call the assistant makes to checkout, per conversation, in order.

`RecordingTransport` wraps the checkout client's transport; it records a call only while a turn
of some conversation is running (`recording(conversation_id)`), so the catalog refresh and other
housekeeping stay out. Secrets are masked before anything is kept: the bearer key, card numbers
and security codes never reach the record. Records live in memory, a bounded number per
conversation and a bounded number of conversations: it is a teaching view, not an audit log
(the ledger and the stored turns are that).
"""

from __future__ import annotations

import json
import time
from collections import OrderedDict
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from threading import Lock
from typing import Any

import httpx

_conversation: ContextVar[str | None] = ContextVar("inspected_conversation", default=None)

SHOWN_HEADERS = (
    "authorization",
    "api-version",
    "idempotency-key",
    "content-type",
    "request-id",
    "idempotent-replayed",
    "merchant-signature",
    "location",
)
SECRET_FIELDS = {"number": 4, "cvc": 0, "cvv": 0, "token": 6, "credential_token": 6}
MAX_BODY_CHARS = 20_000


@contextmanager
def recording(conversation_id: str) -> Iterator[None]:
    """Calls made inside belong to this conversation (the context follows tasks and threads)."""
    reset = _conversation.set(conversation_id)
    try:
        yield
    finally:
        _conversation.reset(reset)


def mask(value: str, keep: int) -> str:
    if keep <= 0 or len(value) <= keep:
        return "•" * min(len(value), 8)
    return "•" * 4 + value[-keep:]


def masked_headers(headers: httpx.Headers) -> dict[str, str]:
    shown: dict[str, str] = {}
    for name in SHOWN_HEADERS:
        value = headers.get(name)
        if value is None:
            continue
        if name == "authorization":
            scheme, _, secret = value.partition(" ")
            value = f"{scheme} {mask(secret, 4)}"
        elif name == "merchant-signature":
            value = value[:24] + "…" if len(value) > 24 else value
        shown[name] = value
    return shown


def masked_body(raw: bytes) -> Any:
    """The JSON body with card numbers and codes masked (or the text, shortened)."""
    if not raw:
        return None
    try:
        document = json.loads(raw)
    except ValueError:
        return raw[:MAX_BODY_CHARS].decode("utf-8", "replace")
    return _mask_fields(document)


def _mask_fields(value: Any) -> Any:
    if isinstance(value, dict):
        return {
            k: mask(str(v), SECRET_FIELDS[k])
            if k in SECRET_FIELDS and isinstance(v, str | int)
            else _mask_fields(v)
            for k, v in value.items()
        }
    if isinstance(value, list):
        return [_mask_fields(v) for v in value]
    return value


@dataclass(slots=True)
class Exchange:
    """One recorded call (or received webhook), as the inspector shows it."""

    kind: str  # acp | delegate_payment | platform | webhook
    method: str
    path: str
    request_headers: dict[str, str]
    request_body: Any
    status: int | None
    response_headers: dict[str, str]
    response_body: Any
    at: str
    duration_ms: float | None
    idempotency_key: str | None
    replayed: bool
    seq: int = 0
    error: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)


class Inspector:
    """Recent exchanges of recent conversations, oldest first; safe across threads."""

    def __init__(self, per_conversation: int = 300, conversations: int = 500) -> None:
        self.per_conversation = per_conversation
        self.conversations = conversations
        self._calls: OrderedDict[str, list[Exchange]] = OrderedDict()
        self._lock = Lock()

    def record(self, conversation_id: str, exchange: Exchange) -> None:
        with self._lock:
            calls = self._calls.setdefault(conversation_id, [])
            self._calls.move_to_end(conversation_id)
            exchange.seq = (calls[-1].seq if calls else 0) + 1
            calls.append(exchange)
            del calls[: -self.per_conversation]
            while len(self._calls) > self.conversations:
                self._calls.popitem(last=False)

    def calls(self, conversation_id: str, after: int = 0) -> list[dict[str, Any]]:
        with self._lock:
            calls = list(self._calls.get(conversation_id, ()))
        return [asdict(c) for c in calls if c.seq > after]


def kind_of(path: str) -> str:
    return "delegate_payment" if path.startswith("/agentic_commerce/") else "acp"


def now_iso() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


class RecordingTransport(httpx.AsyncBaseTransport):
    """Passes every request on; those made during a conversation's turn are also recorded."""

    def __init__(self, inner: httpx.AsyncBaseTransport, inspector: Inspector) -> None:
        self.inner = inner
        self.inspector = inspector

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        conversation_id = _conversation.get()
        if conversation_id is None:
            return await self.inner.handle_async_request(request)
        at, started = now_iso(), time.perf_counter()
        body = await request.aread()
        shown = Exchange(
            kind=kind_of(request.url.path),
            method=request.method,
            path=request.url.raw_path.decode("ascii", "replace"),
            request_headers=masked_headers(request.headers),
            request_body=masked_body(body),
            status=None,
            response_headers={},
            response_body=None,
            at=at,
            duration_ms=None,
            idempotency_key=request.headers.get("idempotency-key"),
            replayed=False,
        )
        try:
            response = await self.inner.handle_async_request(request)
            content = await response.aread()
        except httpx.HTTPError as exc:
            shown.error = type(exc).__name__
            shown.duration_ms = round((time.perf_counter() - started) * 1000, 1)
            self.inspector.record(conversation_id, shown)
            raise
        shown.duration_ms = round((time.perf_counter() - started) * 1000, 1)
        shown.status = response.status_code
        shown.response_headers = masked_headers(response.headers)
        shown.response_body = masked_body(content)
        shown.replayed = response.headers.get("idempotent-replayed", "").lower() == "true"
        self.inspector.record(conversation_id, shown)
        return response

    async def aclose(self) -> None:
        await self.inner.aclose()


def webhook_exchange(headers: dict[str, str], raw: bytes, status: int, duplicate: bool) -> Exchange:
    """A signed order webhook as the assistant received it from checkout."""
    return Exchange(
        kind="webhook",
        method="POST",
        path="/assistant/webhooks/order_events",
        request_headers=masked_headers(httpx.Headers(headers)),
        request_body=masked_body(raw),
        status=status,
        response_headers={},
        response_body={"received": True, "duplicate": duplicate},
        at=now_iso(),
        duration_ms=None,
        idempotency_key=headers.get("request-id"),
        replayed=duplicate,
    )


def platform_observer(inspector: Inspector) -> Callable[[dict[str, Any]], None]:
    """Shows checkout's calls to a merchant's platform (placing the order at complete) in the
    conversation whose turn caused them. Served in one process, the turn's context reaches
    checkout's handling of the assistant's call; a separately served checkout is not seen."""

    def seen(call: dict[str, Any]) -> None:
        conversation_id = _conversation.get()
        if conversation_id is None:
            return
        inspector.record(
            conversation_id,
            Exchange(
                kind="platform",
                method=str(call["method"]),
                path=str(call["url"]),
                request_headers=dict(call.get("request_headers") or {}),
                request_body=_mask_fields(call.get("request_body")),
                status=call.get("status"),
                response_headers={},
                response_body=_mask_fields(call.get("response_body")),
                at=str(call.get("at") or now_iso()),
                duration_ms=call.get("duration_ms"),
                idempotency_key=None,
                replayed=False,
            ),
        )

    return seen

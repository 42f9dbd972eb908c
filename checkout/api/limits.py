"""Sizes and shapes a request may have, checked before any route runs: 413 or 400, ACP's envelope.

Plain ASGI, outermost, so nothing reads an oversized body, parses pathological JSON or stores an
id wider than its column. The body is read once (within the limit) and handed on unchanged.
"""

from __future__ import annotations

from dataclasses import dataclass

import anyio
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from checkout.api.problems import error_response
from checkout.domain import errors

_OPEN, _CLOSE, _QUOTE = b"[{", b"]}", ord('"')
_CHECK_IN_THREAD_BYTES = 65_536


@dataclass(frozen=True, slots=True)
class RequestLimits:
    body_bytes: int = 1_048_576
    feed_body_bytes: int = 16_777_216
    json_depth: int = 32
    header_bytes: int = 8_192
    headers_total_bytes: int = 32_768
    path_segment_length: int = 128
    path_length: int = 240


def nesting_exceeds(raw: bytes, limit: int) -> bool:
    """Whether JSON (or JSON lines) nests deeper than `limit`, without parsing it.

    Vectorised, so a body's cost is a few linear passes whatever its shape: escapes removed,
    brackets inside strings ignored (an odd number of quotes before them), then the running
    depth's maximum.
    """
    if raw.count(b"[") + raw.count(b"{") <= limit:
        return False  # the common case: too few brackets to nest that deep
    import numpy as np  # only for the few bodies with that many brackets

    if b"\\" in raw:  # escaped backslashes first, so what is left of \" is an escaped quote
        raw = raw.replace(b"\\\\", b"").replace(b'\\"', b"")
    data = np.frombuffer(raw, dtype=np.uint8)
    steps = np.zeros(256, dtype=np.int8)
    steps[list(_OPEN)], steps[list(_CLOSE)] = 1, -1
    # uint8 wraps, but only the parity of the quotes seen so far matters.
    outside = (np.cumsum(data == _QUOTE, dtype=np.uint8) & 1) == 0
    depth = np.cumsum(np.where(outside, steps[data], 0), dtype=np.int32)
    return bool(depth.max() > limit)


class _TooLarge(Exception):
    pass


class LimitedRequests:
    def __init__(self, app: ASGIApp, limits: RequestLimits) -> None:
        self.app = app
        self.limits = limits

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path: str = scope["path"]
        refusal = self._refuse_head(scope)
        if refusal is not None:
            await error_response(refusal, path)(scope, receive, send)
            return
        limit = self.limits.feed_body_bytes if _is_feed(path) else self.limits.body_bytes
        declared = _header(scope, b"content-length")
        if declared is not None and (not declared.isdigit() or int(declared) > limit):
            too_big = _too_large(limit)
            await error_response(too_big, path, status=413)(scope, receive, send)
            return
        try:
            body = await _read_body(receive, limit)
        except _TooLarge:
            await error_response(_too_large(limit), path, status=413)(scope, receive, send)
            return
        if len(body) > _CHECK_IN_THREAD_BYTES:  # a large body is scanned off the event loop
            too_deep = await anyio.to_thread.run_sync(nesting_exceeds, body, self.limits.json_depth)
        else:
            too_deep = bool(body) and nesting_exceeds(body, self.limits.json_depth)
        if too_deep:
            deep = errors.InvalidRequest(
                f"The JSON nests deeper than {self.limits.json_depth} levels.",
                code="json_too_deep",
            )
            await error_response(deep, path)(scope, receive, send)
            return
        sent = False

        async def replay() -> Message:
            nonlocal sent
            if not sent:
                sent = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()  # after the body: the client's disconnect, as usual

        await self.app(scope, replay, send)

    def _refuse_head(self, scope: Scope) -> errors.InvalidRequest | None:
        headers: list[tuple[bytes, bytes]] = scope["headers"]
        total = 0
        for name, value in headers:
            total += len(name) + len(value)
            if len(value) > self.limits.header_bytes:
                return errors.InvalidRequest(
                    f"The {name.decode('latin-1')[:64]} header is longer than "
                    f"{self.limits.header_bytes} bytes.",
                    code="header_too_large",
                )
        if total > self.limits.headers_total_bytes:
            return errors.InvalidRequest(
                f"The headers are longer than {self.limits.headers_total_bytes} bytes in all.",
                code="header_too_large",
            )
        if len(scope.get("query_string", b"")) > self.limits.header_bytes:
            return errors.InvalidRequest(
                f"The query string is longer than {self.limits.header_bytes} bytes.",
                code="query_too_long",
            )
        path: str = scope["path"]
        if len(path) > self.limits.path_length or any(
            len(segment) > self.limits.path_segment_length for segment in path.split("/")
        ):
            return errors.InvalidRequest(
                f"Ids are at most {self.limits.path_segment_length} characters and paths "
                f"at most {self.limits.path_length}.",
                code="id_too_long",
            )
        return None


def _too_large(limit: int) -> errors.InvalidRequest:
    return errors.InvalidRequest(
        f"The request body is larger than {limit} bytes.", code="request_too_large"
    )


def _is_feed(path: str) -> bool:
    return path.startswith("/merchants/") and path.endswith("/feed")


def _header(scope: Scope, name: bytes) -> str | None:
    for key, value in scope["headers"]:
        if key == name:
            return str(value.decode("latin-1")).strip()
    return None


async def _read_body(receive: Receive, limit: int) -> bytes:
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] != "http.request":
            break  # the client went away; the app will see an empty body and answer no one
        chunk: bytes = message.get("body", b"")
        size += len(chunk)
        if size > limit:
            raise _TooLarge
        chunks.append(chunk)
        if not message.get("more_body", False):
            break
    return b"".join(chunks)

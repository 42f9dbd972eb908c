"""Refuses, at the HTTP edge, text the databases cannot store: NUL characters and lone surrogates.

PostgreSQL's text types cannot hold U+0000 and no UTF-8 column can hold an unpaired surrogate, so
such a value anywhere in a request (path, query string, header, a string inside a JSON body)
would fail deep inside a transaction as a server error. One ASGI layer answers 400 instead, in the
flat `{type, code, message, param}` envelope checkout and the assistant share, before any route
runs. Values decoded later from something the request carried (a cursor) are checked with
`is_storable`.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

__all__ = ["RefuseUnstorableText", "is_storable"]

_BODY_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})


def is_storable(text: str) -> bool:
    """Whether every database here can store `text` as it is."""
    if "\x00" in text:
        return False
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _json_strings(document: Any) -> list[str]:
    """Every key and string value of a parsed JSON document, without recursion (depth is free)."""
    found: list[str] = []
    pending = [document]
    while pending:
        value = pending.pop()
        if isinstance(value, str):
            found.append(value)
        elif isinstance(value, dict):
            found.extend(value)
            pending.extend(value.values())
        elif isinstance(value, list):
            pending.extend(value)
    return found


def _body_problem(body: bytes) -> str | None:
    if b"\x00" in body:
        return "$"
    # Only an escape (\u0000, \ud800) can smuggle these into valid JSON; most bodies have none.
    if b"\\u" not in body:
        return None
    try:
        document = json.loads(body)
    except (ValueError, RecursionError):
        return None  # not JSON this layer can read: the route gives its own answer
    return "$" if not all(is_storable(s) for s in _json_strings(document)) else None


def _target_problem(scope: Scope) -> str | None:
    if not is_storable(scope.get("path", "")):
        return "path"
    query: bytes = scope.get("query_string", b"")
    if b"\x00" in query or b"%00" in query:
        return "query"
    for name, value in scope.get("headers", ()):
        if b"\x00" in value:
            return f"header {name.decode('latin-1')}"
    return None


async def _refuse(send: Send, where: str, code: str = "invalid_text") -> None:
    body = json.dumps(
        {
            "type": "invalid_request",
            "code": code,
            "message": "Text may not contain NUL characters or unpaired surrogates "
            f"(found in the request's {where if where != '$' else 'body'}).",
            "param": where,
        }
    ).encode()
    await send(
        {
            "type": "http.response.start",
            "status": 400,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})


class RefuseUnstorableText:
    """ASGI middleware: 400 `invalid_text` for a request carrying text no database can store.

    A body is read whole (and handed on unchanged) only for methods that carry one.
    """

    def __init__(self, app: ASGIApp, code_for: Callable[[str], str] | None = None) -> None:
        self.app = app
        # The error code by request path, for routes whose protocol closes the list of codes.
        self.code_for = code_for or (lambda _path: "invalid_text")

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        where = _target_problem(scope)
        if where is not None:
            await _refuse(send, where, self.code_for(str(scope.get("path", ""))))
            return
        if scope["method"] not in _BODY_METHODS:
            await self.app(scope, receive, send)
            return
        chunks: list[bytes] = []
        ended: Message | None = None
        while True:
            message = await receive()
            if message["type"] != "http.request":
                ended = message  # the client left; the route sees it after the body
                break
            chunks.append(message.get("body", b""))
            if not message.get("more_body", False):
                break
        body = b"".join(chunks)
        where = _body_problem(body)
        if where is not None:
            await _refuse(send, where, self.code_for(str(scope.get("path", ""))))
            return
        replayed = False

        async def replay() -> Message:
            nonlocal replayed
            if not replayed:
                replayed = True
                return {"type": "http.request", "body": body, "more_body": False}
            if ended is not None:
                return ended
            return await receive()

        await self.app(scope, replay, send)

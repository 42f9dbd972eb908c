"""Watching the calls checkout makes to merchant platforms, for whoever wants to show them.

`observe(client, observer)` hooks an httpx client so that each finished call is handed to the
observer as a plain dict (method, URL, status, bodies, time). Credentials never leave: the
platforms' own auth headers are masked before the observer sees anything.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import httpx

PlatformCall = dict[str, Any]
SECRET_HEADERS = {"authorization", "x-shopify-access-token", "x-api-key"}
SHOWN_HEADERS = SECRET_HEADERS | {"content-type", "idempotency-key", "x-request-id"}
MAX_BODY_CHARS = 20_000


def _body(raw: bytes) -> Any:
    if not raw:
        return None
    try:
        return json.loads(raw)
    except ValueError:
        return raw[:MAX_BODY_CHARS].decode("utf-8", "replace")


def _shown(name: str, value: str) -> str:
    if name not in SECRET_HEADERS:
        return value
    return "••••" + value[-4:] if len(value) > 8 else "••••"


def _headers(headers: httpx.Headers) -> dict[str, str]:
    return {
        name: _shown(name, value)
        for name, value in ((k.lower(), v) for k, v in headers.items())
        if name in SHOWN_HEADERS
    }


def observe(client: httpx.AsyncClient, observer: Callable[[PlatformCall], None]) -> None:
    """Hand every call the client finishes to `observer` (which decides whether to keep it)."""

    async def on_request(request: httpx.Request) -> None:
        at = datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
        request.extensions["observed_start"] = (time.perf_counter(), at)

    async def on_response(response: httpx.Response) -> None:
        request = response.request
        began, at = request.extensions.get("observed_start", (time.perf_counter(), ""))
        content = await response.aread()
        observer(
            {
                "method": request.method,
                "url": str(request.url),
                "request_headers": _headers(request.headers),
                "request_body": _body(request.content),
                "status": response.status_code,
                "response_body": _body(content),
                "duration_ms": round((time.perf_counter() - began) * 1000, 1),
                "at": at,
            }
        )

    client.event_hooks["request"].append(on_request)
    client.event_hooks["response"].append(on_response)

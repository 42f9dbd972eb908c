"""The HTTP server's own limits: uvicorn's options for `serve`, and a protocol that closes
connections that never finish sending a request.

uvicorn closes an idle keep-alive connection after a response (`timeout_keep_alive`), but has no
deadline for a connection that sends nothing, sends half its headers, or trickles its body; each
such connection would be held for ever. `RequestDeadlineProtocol` gives every request a deadline
to arrive in full, from the moment the connection opens or the request's first byte comes.
A reverse proxy in front (see the README) buffers requests and adds its own limits too.
"""

from __future__ import annotations

import asyncio
import os
from functools import cache
from typing import Any

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

# Read from the environment by the worker (uvicorn starts workers from a pickled config that
# cannot carry our settings); `serve` puts the setting there before starting uvicorn.
READ_TIMEOUT_VARIABLE = "REQUEST_READ_TIMEOUT_SECONDS"
DEFAULT_READ_TIMEOUT_SECONDS = 30.0


@cache
def request_read_timeout() -> float:
    return float(os.environ.get(READ_TIMEOUT_VARIABLE, DEFAULT_READ_TIMEOUT_SECONDS))


class RequestDeadlineProtocol(HttpToolsProtocol):
    """httptools' protocol with a deadline for each request's headers and body to arrive."""

    _deadline: asyncio.TimerHandle | None = None

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._arm()  # a connection that never sends a byte is closed too

    def on_message_begin(self) -> None:
        super().on_message_begin()
        self._arm()

    def on_message_complete(self) -> None:
        super().on_message_complete()
        self._disarm()

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm()
        super().connection_lost(exc)

    def _arm(self) -> None:
        if self._deadline is None:
            self._deadline = self.loop.call_later(request_read_timeout(), self._too_slow)

    def _disarm(self) -> None:
        if self._deadline is not None:
            self._deadline.cancel()
            self._deadline = None

    def _too_slow(self) -> None:
        self._deadline = None
        if not self.transport.is_closing():
            self.logger.info("http.request_read_timeout client=%s", self.client)
            self.transport.close()


def server_options(*, keep_alive_seconds: int, worker_start_seconds: int) -> dict[str, Any]:
    """uvicorn.run's keyword arguments for the service's connection limits."""
    return {
        "http": "checkout.serving:RequestDeadlineProtocol",
        "timeout_keep_alive": keep_alive_seconds,
        # A worker answers the supervisor's pings only once imported; on a loaded machine that
        # takes longer than uvicorn's 5 s default, which killed workers mid-import.
        "timeout_worker_healthcheck": worker_start_seconds,
        "timeout_graceful_shutdown": 30,
    }

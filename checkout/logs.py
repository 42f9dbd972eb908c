"""How the service logs: one configuration applied in every worker, text or one JSON object a line,
each record carrying the id of the request it was written for."""

from __future__ import annotations

import json
import logging
import uuid
from contextvars import ContextVar
from datetime import UTC, datetime
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

# Set per request by RequestIdEcho; copied into the threads FastAPI runs plain endpoints in.
current_request_id: ContextVar[str | None] = ContextVar("request_id", default=None)

TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s %(message)s request_id=%(request_id)s"
_RECORD_FIELDS = frozenset(vars(logging.LogRecord("", 0, "", 0, "", (), None))) | {
    "message",
    "asctime",
    "request_id",
    "color_message",
}


class RequestIdFilter(logging.Filter):
    """Puts the current request's id (or "-") on every record."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.request_id = current_request_id.get() or "-"
        return True


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger, event (the message), request_id, extras."""

    def format(self, record: logging.LogRecord) -> str:
        document: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(),
            "level": record.levelname,
            "logger": record.name,
            "event": record.getMessage(),
            "request_id": getattr(record, "request_id", None),
            "process": record.process,
        }
        document.update(
            {k: v for k, v in vars(record).items() if k not in _RECORD_FIELDS and k != "process"}
        )
        if record.exc_info:
            document["exception"] = self.formatException(record.exc_info)
        return json.dumps(document, default=str)


def logging_config(level: str = "INFO", json_lines: bool = False) -> dict[str, Any]:
    """A `logging.config.dictConfig` for uvicorn's `log_config`: uvicorn applies it in each worker
    process it starts, so the application's records are written from every worker."""
    formatter: dict[str, Any] = (
        {"()": "checkout.logs.JsonFormatter"} if json_lines else {"format": TEXT_FORMAT}
    )
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "filters": {"request_id": {"()": "checkout.logs.RequestIdFilter"}},
        "formatters": {"service": formatter},
        "handlers": {
            "stderr": {
                "class": "logging.StreamHandler",
                "formatter": "service",
                "filters": ["request_id"],
                "stream": "ext://sys.stderr",
            }
        },
        "root": {"level": level, "handlers": ["stderr"]},
        # uvicorn's loggers write through the root handler, in the same format.
        "loggers": {
            **{
                name: {"level": level, "handlers": [], "propagate": True}
                for name in ("uvicorn", "uvicorn.error", "uvicorn.access")
            },
            # Alembic lists its plugins at INFO on every start; the migrations it runs stay.
            "alembic.runtime.plugins": {"level": "WARNING"},
        },
    }


class RequestIdEcho:
    """Gives every request an id (the caller's Request-Id, or a new one), logs under it, and
    echoes it on the response (plain ASGI: no per-request task overhead)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        sent = next((v for k, v in scope["headers"] if k == b"request-id"), None)
        request_id = sent[:200] if sent else f"req_{uuid.uuid4().hex[:24]}".encode()

        async def send_with_id(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = [*message.get("headers", []), (b"request-id", request_id)]
            await send(message)

        token = current_request_id.set(request_id.decode("latin-1"))
        try:
            await self.app(scope, receive, send_with_id)
        finally:
            current_request_id.reset(token)

"""Choosing the ACP dialect per request: the same domain state rendered in the version asked for."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel

from checkout.protocol import acp_2026_01_30, render
from checkout.protocol.render import Presentation


def accept(version: str, body: BaseModel | None) -> None:
    """Refuse request fields the version does not define (the 04-17 models accept a superset)."""
    if version == acp_2026_01_30.VERSION and body is not None:
        acp_2026_01_30.refuse_newer_fields(body)


def session(version: str, state: Any, view: Presentation) -> dict[str, Any]:
    body = render.session(state, view)
    if version == acp_2026_01_30.VERSION:
        return acp_2026_01_30.session(body)
    return body


def order_event(version: str, event_type: str, document: dict[str, Any]) -> dict[str, Any]:
    """An order_create/order_update webhook body, from the full 04-17 Order document."""
    if version == acp_2026_01_30.VERSION:
        return acp_2026_01_30.order_event(event_type, document)
    return {"type": event_type, "data": document}

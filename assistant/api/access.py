"""Who may call what on the assistant: a conversation's own token, or the operator key.

Anyone may start a conversation (it is the storefront's chat); its answer carries a secret
token, and every later call on that conversation must bear it, so a conversation id alone opens
nothing. Refreshing the product index is an operator action. Order events are signed by checkout.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from typing import Annotated

from fastapi import Depends, Header, Request

from assistant.service import AssistantService

TOKEN_PREFIX = "ct_"


class AccessRefused(Exception):
    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status, self.code, self.message = status, code, message


def new_conversation_token() -> tuple[str, str]:
    """A fresh token and the hash that is stored in its place."""
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    return token, token_hash(token)


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def _bearer(authorization: str | None) -> str | None:
    scheme, _, secret = (authorization or "").partition(" ")
    return secret.strip() if scheme.lower() == "bearer" and secret.strip() else None


async def conversation_access(
    conversation_id: str, request: Request, authorization: Annotated[str | None, Header()] = None
) -> str:
    """The conversation, once the caller showed its token (401 without one, 404 with another)."""
    token = _bearer(authorization)
    if token is None:
        raise AccessRefused(
            401,
            "conversation_token_required",
            "Send the conversation's token: 'Authorization: Bearer ct_...'.",
        )
    service: AssistantService = request.app.state.service
    stored = await service.token_hash_of(conversation_id)
    # A wrong token looks exactly like a missing conversation: ids are not secrets.
    if stored is None or not hmac.compare_digest(stored.encode(), token_hash(token).encode()):
        raise AccessRefused(
            404, "conversation_not_found", f"No conversation '{conversation_id[:64]}'."
        )
    return conversation_id


def operator_access(
    request: Request, authorization: Annotated[str | None, Header()] = None
) -> None:
    service: AssistantService = request.app.state.service
    secret = _bearer(authorization) or ""
    if not hmac.compare_digest(secret.encode(), service.settings.operator_api_key.encode()):
        raise AccessRefused(
            401, "unauthorized", "This is an operator action: send the operator key."
        )


ConversationAccess = Annotated[str, Depends(conversation_access)]
OperatorAccess = Annotated[None, Depends(operator_access)]

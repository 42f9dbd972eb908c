"""Chat, history, order webhooks and index refresh, relative to where the app is mounted.

Who may call what is in `assistant.api.access`: a conversation's token, or the operator key.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from typing import Annotated, Any

from fastapi import APIRouter, Header, Query, Request
from fastapi.responses import JSONResponse, Response, StreamingResponse

from assistant.acp.errors import CheckoutProblem
from assistant.api.access import ConversationAccess, OperatorAccess, new_conversation_token
from assistant.api.schemas import MessageRequest
from assistant.flows.receive_order_event import MalformedEvent
from assistant.flows.take_turn import ConversationNotFound, IncomingMessage, TurnOutcome
from assistant.service import AssistantService
from assistant.shopping.replies import StreamEvent

router = APIRouter()


def problem(status: int, code: str, message: str, kind: str = "invalid_request") -> JSONResponse:
    return JSONResponse({"type": kind, "code": code, "message": message}, status_code=status)


def not_found(conversation_id: str) -> JSONResponse:
    return problem(404, "conversation_not_found", f"No conversation '{conversation_id[:64]}'.")


def service_of(request: Request) -> AssistantService:
    service: AssistantService = request.app.state.service
    return service


def incoming(body: MessageRequest) -> IncomingMessage:
    return IncomingMessage(
        text=body.text,
        shipping_address=body.shipping_address.model_dump(exclude_none=True)
        if body.shipping_address
        else None,
        email=body.email,
        shipping=body.shipping,
    )


IdempotencyKey = Annotated[str | None, Header(alias="Idempotency-Key", max_length=255)]


@router.post("/conversations", status_code=201)
async def create_conversation(request: Request) -> dict[str, Any]:
    """Open to anyone; the answer's `token` is shown once and opens this conversation only."""
    token, digest = new_conversation_token()
    created = await service_of(request).new_conversation(token_hash=digest)
    return {**created, "token": token}


@router.get("/conversations/{conversation_id}")
async def get_conversation(conversation_id: ConversationAccess, request: Request) -> Response:
    history = await service_of(request).history(conversation_id)
    return JSONResponse(history) if history is not None else not_found(conversation_id)


@router.post("/conversations/{conversation_id}/messages")
async def post_message(
    conversation_id: ConversationAccess,
    body: MessageRequest,
    request: Request,
    key: IdempotencyKey = None,
) -> Response:
    try:
        outcome = await service_of(request).send(
            conversation_id, incoming(body), client_key=key or body.client_message_id
        )
    except ConversationNotFound:
        return not_found(conversation_id)
    headers = {"Idempotent-Replayed": "true"} if outcome.replayed else None
    return JSONResponse(outcome.body, status_code=outcome.status, headers=headers)


def sse(event: str, data: Any) -> bytes:
    return f"event: {event}\ndata: {json.dumps(data)}\n\n".encode()


@router.post("/conversations/{conversation_id}/messages/stream")
async def stream_message(
    conversation_id: ConversationAccess,
    body: MessageRequest,
    request: Request,
    key: IdempotencyKey = None,
) -> Response:
    """Server-sent events: `delta` text chunks and `part`s as the reply forms, then `done`."""
    service = service_of(request)
    queue: asyncio.Queue[StreamEvent] = asyncio.Queue()
    task = asyncio.create_task(
        service.send(
            conversation_id, incoming(body), client_key=key or body.client_message_id, queue=queue
        )
    )
    # The turn finishes (and is stored) even if the client goes away mid-stream.
    running: set[asyncio.Task[TurnOutcome]] = request.app.state.running
    running.add(task)
    task.add_done_callback(running.discard)

    async def events() -> AsyncIterator[bytes]:
        while True:
            getter = asyncio.ensure_future(queue.get())
            await asyncio.wait({getter, task}, return_when=asyncio.FIRST_COMPLETED)
            if getter.done():
                kind, data = getter.result()
                yield sse(kind, {"text": data} if kind == "delta" else data)
                continue
            getter.cancel()
            while not queue.empty():
                kind, data = queue.get_nowait()
                yield sse(kind, {"text": data} if kind == "delta" else data)
            try:
                outcome = task.result()
            except CheckoutProblem as exc:
                yield sse("error", {"code": exc.code, "message": exc.message})
                return
            if outcome.status != 200:
                yield sse("error", outcome.body)
                return
            if outcome.replayed:
                reply = outcome.body["reply"]
                yield sse("delta", {"text": reply["text"]})
                for part in reply["parts"]:
                    yield sse("part", part)
            yield sse(
                "done",
                {
                    key: outcome.body.get(key)
                    for key in ("conversation_id", "turn_id", "message_id", "orders_placed")
                }
                | {"replayed": outcome.replayed},
            )
            return

    return StreamingResponse(events(), media_type="text/event-stream")


@router.get("/conversations/{conversation_id}/inspector")
async def inspect_conversation(
    conversation_id: ConversationAccess,
    request: Request,
    after: Annotated[int, Query(ge=0, description="The last `seq` already shown.")] = 0,
) -> dict[str, Any]:
    """The ACP calls, delegated payments and order webhooks of this conversation, in order."""
    calls = service_of(request).inspector.calls(conversation_id, after)
    return {"conversation_id": conversation_id, "calls": calls}


@router.post("/webhooks/order_events")
async def order_events(
    request: Request,
    signature: Annotated[str | None, Header(alias="Merchant-Signature")] = None,
    request_id: Annotated[str | None, Header(alias="Request-Id")] = None,
) -> Response:
    service = service_of(request)
    raw = await request.body()
    if not service.verify_signature(signature, raw):
        return problem(401, "invalid_signature", "The Merchant-Signature header does not verify.")
    try:
        applied = await service.receive_order_event(
            raw, request_id, {k.lower(): v for k, v in request.headers.items()}
        )
    except MalformedEvent:
        return problem(400, "invalid_event", "The body is not an order event.")
    return JSONResponse({"received": True, "duplicate": not applied})


@router.post("/index/refresh")
async def refresh_index(request: Request, _operator: OperatorAccess) -> Response:
    try:
        info = await service_of(request).refresh_index()
    except CheckoutProblem as exc:
        return problem(503, "checkout_unavailable", exc.message, "service_unavailable")
    return JSONResponse(
        {
            "products": info.products,
            "variants": info.variants,
            "refreshed_at": info.refreshed_at.isoformat().replace("+00:00", "Z")
            if info.refreshed_at
            else None,
        }
    )

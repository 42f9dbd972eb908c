"""Taking one turn: mask the card, claim the message id, run the agent, store everything at once.

A message id seen before replays the stored turn (`replayed`), so a client retrying after a
timeout never runs a purchase twice; a different body under the same id is a conflict.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
import uuid
import weakref
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import anyio

from assistant.acp import errors
from assistant.dialogue.addresses import form_address
from assistant.dialogue.cards import CardVault, mask_card
from assistant.dialogue.language import Understanding, understand
from assistant.shopping.replies import ReplyBuilder, StreamEvent
from assistant.shopping.state import ConversationState
from assistant.shopping.turn import Turn
from assistant.store.conversations import ConversationStore, StaleState, TurnClaim
from assistant.store.ids import new_id

log = logging.getLogger("assistant.turns")
Responder = Callable[[Turn, Understanding], Awaitable[None]]


@dataclass(frozen=True, slots=True)
class IncomingMessage:
    text: str = ""
    shipping_address: dict[str, Any] | None = None
    email: str | None = None
    shipping: str | None = None


@dataclass(frozen=True, slots=True)
class TurnOutcome:
    status: int
    body: dict[str, Any]
    replayed: bool = False


class ConversationNotFound(Exception):
    pass


def _problem(status: int, code: str, message: str, kind: str = "invalid_request") -> TurnOutcome:
    return TurnOutcome(status, {"type": kind, "code": code, "message": message})


class TurnTaker:
    def __init__(
        self,
        store: ConversationStore,
        vault: CardVault,
        clock: Callable[[], datetime],
    ) -> None:
        self.store = store
        self.vault = vault
        self.clock = clock
        self._locks: weakref.WeakValueDictionary[str, asyncio.Lock] = weakref.WeakValueDictionary()

    def _lock(self, conversation_id: str) -> asyncio.Lock:
        lock = self._locks.get(conversation_id)
        if lock is None:
            lock = asyncio.Lock()
            self._locks[conversation_id] = lock
        return lock

    async def take(
        self,
        conversation_id: str,
        message: IncomingMessage,
        *,
        client_key: str | None,
        respond: Responder,
        queue: asyncio.Queue[StreamEvent] | None = None,
    ) -> TurnOutcome:
        masked, card = mask_card(message.text)
        fingerprint = json.dumps(
            {
                "text": masked,
                "address": message.shipping_address,
                "email": message.email,
                "shipping": message.shipping,
            },
            sort_keys=True,
        )
        request_hash = hashlib.sha256(fingerprint.encode()).hexdigest()
        key = client_key or str(uuid.uuid4())
        # The conversation's lock is taken before the claim, so the claim can also read the
        # state this turn starts from (one transaction); a retry of a message still being
        # answered here waits for it and replays its answer.
        async with self._lock(conversation_id):
            claim = await anyio.to_thread.run_sync(
                lambda: self.store.claim_turn(conversation_id, key, request_hash, self.clock())
            )
            if claim.kind == "missing":
                raise ConversationNotFound(conversation_id)
            if claim.kind == "replay" and claim.response is not None:
                return TurnOutcome(200, claim.response, replayed=True)
            if claim.kind == "conflict":
                return _problem(
                    422, "idempotency_conflict", "This message id was used for another message."
                )
            if claim.kind == "in_flight":
                return _problem(409, "message_in_flight", "This message is still being answered.")
            try:
                return await self._run(
                    conversation_id, claim, message, masked, card, respond, queue
                )
            except errors.CheckoutUnavailable:
                await anyio.to_thread.run_sync(self.store.fail_turn, claim.turn_id)
                return _problem(
                    503,
                    "checkout_unavailable",
                    "Checkout could not be reached; nothing was charged. Send the same message "
                    "again (same message id) to retry.",
                    "service_unavailable",
                )
            except StaleState:
                await anyio.to_thread.run_sync(self.store.fail_turn, claim.turn_id)
                return _problem(
                    409,
                    "conversation_changed",
                    "Another message changed this conversation first; send yours again.",
                )
            except BaseException:
                await anyio.to_thread.run_sync(self.store.fail_turn, claim.turn_id)
                raise

    async def _run(
        self,
        conversation_id: str,
        claim: TurnClaim,
        message: IncomingMessage,
        masked: str,
        card: Any,
        respond: Responder,
        queue: asyncio.Queue[StreamEvent] | None,
    ) -> TurnOutcome:
        turn_id, version = claim.turn_id, claim.version
        state = ConversationState.model_validate(claim.state or {})
        state.turn += 1
        if card is not None:
            self.vault.put(conversation_id, card)
        now = self.clock()
        turn = Turn(conversation_id, turn_id, masked, state, now, ReplyBuilder(queue), card)
        turn.purchases = claim.purchases
        u = understand(masked)
        if message.shipping_address:
            u.address = form_address(message.shipping_address)
        if message.email:
            u.email = message.email
        if message.shipping in ("standard", "express"):
            u.shipping = message.shipping
        try:
            await respond(turn, u)
        except errors.CheckoutUnavailable:
            raise
        except errors.CheckoutProblem as problem:
            log.info("turn.checkout_refused code=%s turn=%s", problem.code, turn_id)
            turn.reply.say(f"Checkout couldn't do that: {problem.message} Nothing was charged.")
        if not turn.reply.sentences:
            turn.reply.say("Okay.")
        response = {
            "conversation_id": conversation_id,
            "turn_id": turn_id,
            "message_id": new_id("msg"),
            "reply": turn.reply.build(),
            "orders_placed": turn.placed_orders,
            "created_at": now.isoformat().replace("+00:00", "Z"),
        }
        user_text = masked
        if message.shipping_address:
            user_text = (user_text + " [shipping address form]").strip()
        await anyio.to_thread.run_sync(
            lambda: self.store.finish_turn(
                conversation_id,
                turn_id,
                user_text=user_text,
                response=response,
                state=state.model_dump(mode="json"),
                expected_version=version,
                now=now,
            )
        )
        log.info("turn.done conversation=%s turn=%s", conversation_id, turn_id)
        return TurnOutcome(200, response)

"""AssistantService: builds and runs the assistant (database, checkout client, index, agents).

    service = AssistantService(settings, checkout_transport=httpx.ASGITransport(app=checkout))
    await service.start()      # migrate, open clients, load the index, start the refresh loop
    app.mount("/assistant", create_assistant_app(service))
    await service.stop()

Nothing connects anywhere before `start()`.
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import gc
import json
import logging
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import anyio
import httpx

from assistant.acp import signatures
from assistant.acp.client import CheckoutClient
from assistant.acp.errors import CheckoutProblem
from assistant.acp.inspector import Inspector, RecordingTransport, recording, webhook_exchange
from assistant.catalog.embeddings import Encoder, load_encoder
from assistant.catalog.index import ProductIndex
from assistant.catalog.indexing import CatalogIndexer
from assistant.catalog.products import products_from_feed
from assistant.dialogue.agent import OfflineAgent
from assistant.dialogue.cards import CardVault
from assistant.dialogue.language import Understanding
from assistant.flows.receive_order_event import receive_order_event
from assistant.flows.take_turn import IncomingMessage, TurnOutcome, TurnTaker
from assistant.llm.agent import HISTORY_FOR_LLM, LlmAgent
from assistant.llm.tools import ToolBox
from assistant.settings import AssistantSettings
from assistant.shopping.purchase import PurchaseDesk
from assistant.shopping.replies import StreamEvent
from assistant.shopping.turn import Turn
from assistant.store.conversations import ConversationStore
from assistant.store.db import Database, create_engine_for, upgrade_schema_once
from assistant.store.rows import ConversationRow

log = logging.getLogger("assistant")
RETRY_FIRST_LOAD_SECONDS = 2.0
# Conversations whose token hash is kept in memory (a hash never changes once created).
TOKEN_HASHES_KEPT = 10_000


def utc_now() -> datetime:
    return datetime.now(UTC)


# glibc's mallopt parameters (malloc.h).
M_MMAP_THRESHOLD, M_ARENA_MAX = -3, -8


def keep_heap_compact() -> None:
    """Ask glibc's allocator to keep a worker's heap from growing with each index refresh.

    A refresh builds on thread-pool threads, and glibc gives each thread its own heap (up to
    eight per core) and raises its mmap threshold after large frees, so freed index builds end
    up spread over heaps it cannot hand back. Measured with 100,000 products served as
    `benchmarks.worker_memory` serves them, three refreshes in a row took a worker from 274 to
    329, 349 and 359 MiB resident; with two heaps and a fixed 1 MiB threshold (large arrays
    always mapped, and so unmapped when freed), from 266 to 276 each time. Elsewhere (musl,
    macOS) it does nothing.
    """
    with contextlib.suppress(AttributeError, OSError):
        libc = ctypes.CDLL(None)
        libc.mallopt(M_ARENA_MAX, 2)
        libc.mallopt(M_MMAP_THRESHOLD, 1 << 20)


def return_freed_memory() -> None:
    """Give the heap freed by a replaced index and a build's transients back to the system.

    glibc keeps freed memory for reuse, so without this a worker's RSS stays at the build's peak
    (hundreds of MB for a large catalog). Elsewhere (musl, macOS) it only collects garbage.
    """
    gc.collect()
    with contextlib.suppress(AttributeError, OSError):
        ctypes.CDLL(None).malloc_trim(0)


@dataclass(frozen=True, slots=True)
class IndexInfo:
    products: int
    variants: int
    refreshed_at: datetime | None


class NotStarted(RuntimeError):
    pass


class AssistantService:
    def __init__(
        self,
        settings: AssistantSettings | None = None,
        *,
        checkout_transport: httpx.AsyncBaseTransport | None = None,
        openai_http_client: httpx.AsyncClient | None = None,
        clock: Callable[[], datetime] = utc_now,
        encoder: Encoder | None = None,
    ) -> None:
        self.settings = settings or AssistantSettings()
        self.checkout_transport = checkout_transport
        self.openai_http_client = openai_http_client
        self.clock = clock
        self.encoder = encoder
        self.vault = CardVault()
        self._index = ProductIndex([])
        self._refreshed_at: datetime | None = None
        self._database: Database | None = None
        self._http: httpx.AsyncClient | None = None
        self._llm: LlmAgent | None = None
        self._stop = asyncio.Event()
        self._refresher: asyncio.Task[None] | None = None
        self._refresh_lock = asyncio.Lock()
        self._token_hashes: OrderedDict[str, str] = OrderedDict()
        self.inspector = Inspector()

    # Lifecycle

    async def start(self) -> None:
        keep_heap_compact()
        url = self.settings.assistant_database_url
        self._database = Database(create_engine_for(url))
        await anyio.to_thread.run_sync(upgrade_schema_once, self._database, url)
        self.store = ConversationStore(self._database)
        self._http = httpx.AsyncClient(
            base_url=self.settings.checkout_base_url,
            transport=RecordingTransport(
                self.checkout_transport or httpx.AsyncHTTPTransport(), self.inspector
            ),
            timeout=self.settings.checkout_timeout_seconds,
        )
        self.checkout = CheckoutClient(self._http, self.settings.agent_api_key)
        self.desk = PurchaseDesk(self.checkout, self.store, self.vault)
        self.offline = OfflineAgent(lambda: self._index, self.desk)
        self.turns = TurnTaker(self.store, self.vault, self.clock)
        if self.settings.embeddings and self.encoder is None:
            self.encoder = await anyio.to_thread.run_sync(load_encoder)
        if self.settings.openai_api_key:  # (llm_enabled, narrowed for the key's type)
            self._llm = LlmAgent(
                api_key=self.settings.openai_api_key,
                model=self.settings.openai_model,
                base_url=self.settings.openai_base_url,
                http_client=self.openai_http_client,
                tools=ToolBox(lambda: self._index, self.desk),
                fallback=self.offline,
            )
        self._stop.clear()
        loaded = await self._try_refresh()
        if self.settings.catalog_refresh_seconds > 0 or not loaded:
            self._refresher = asyncio.create_task(self._refresh_forever(loaded))
        log.info(
            "assistant.started mode=%s products=%d checkout=%s",
            self.mode,
            len(self._index),
            self.settings.checkout_base_url,
        )

    async def stop(self) -> None:
        self._stop.set()
        if self._refresher is not None:
            self._refresher.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._refresher
            self._refresher = None
        if self._llm is not None:
            await self._llm.close()
        if self._http is not None:
            await self._http.aclose()
        if self._database is not None:
            self._database.dispose()

    @property
    def mode(self) -> str:
        return "llm" if self.settings.llm_enabled else "offline"

    # The product index

    @property
    def index(self) -> ProductIndex:
        return self._index

    def index_info(self) -> IndexInfo:
        return IndexInfo(len(self._index), self._index.variant_count, self._refreshed_at)

    async def refresh_index(self) -> IndexInfo:
        """Fetch checkout's catalog a page at a time into a fresh index and swap it in.

        Each page is indexed as it arrives and then dropped, so the feed is never held whole;
        the index in use keeps serving until the new one is complete.
        """
        async with self._refresh_lock:
            self._index = await self._build_index()
            self._refreshed_at = self.clock()
            await anyio.to_thread.run_sync(return_freed_memory)
        log.info("index.refreshed products=%d", len(self._index))
        return self.index_info()

    async def _build_index(self) -> ProductIndex:
        indexer = CatalogIndexer(self.encoder)
        async for page in self.checkout.catalog_pages():
            await anyio.to_thread.run_sync(indexer.add, products_from_feed(page))
        columns = await anyio.to_thread.run_sync(indexer.finish)
        return ProductIndex(columns=columns, encoder=self.encoder)

    async def _try_refresh(self) -> bool:
        try:
            await self.refresh_index()
        except CheckoutProblem as problem:
            log.warning("index.refresh_failed code=%s", problem.code)
            return False
        return True

    async def _refresh_forever(self, loaded: bool) -> None:
        while not self._stop.is_set():
            every = self.settings.catalog_refresh_seconds
            wait = every if loaded and every > 0 else RETRY_FIRST_LOAD_SECONDS
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stop.wait(), timeout=wait)
            if self._stop.is_set():
                return
            if loaded and every <= 0:
                return
            loaded = await self._try_refresh() or loaded

    # Conversations

    def _require_started(self) -> None:
        if self._database is None:
            raise NotStarted("AssistantService.start() has not been called")

    async def new_conversation(self, *, token_hash: str | None = None) -> dict[str, Any]:
        """A new conversation; `token_hash` is the hash of the token its callers must bear."""
        self._require_started()
        row = await anyio.to_thread.run_sync(
            lambda: self.store.create(self.mode, self.clock(), token_hash=token_hash)
        )
        if token_hash is not None:
            self._remember_token_hash(row.id, token_hash)
        return {
            "id": row.id,
            "mode": row.mode,
            "created_at": row.created_at.isoformat().replace("+00:00", "Z"),
        }

    def _remember_token_hash(self, conversation_id: str, digest: str) -> None:
        self._token_hashes[conversation_id] = digest
        self._token_hashes.move_to_end(conversation_id)
        while len(self._token_hashes) > TOKEN_HASHES_KEPT:
            self._token_hashes.popitem(last=False)

    async def token_hash_of(self, conversation_id: str) -> str | None:
        """The stored hash of a conversation's token; None when there is no such conversation.

        Asked on every call, so it is kept in memory: a conversation's token never changes.
        """
        self._require_started()
        digest = self._token_hashes.get(conversation_id)
        if digest is not None:
            self._token_hashes.move_to_end(conversation_id)
            return digest
        row = await anyio.to_thread.run_sync(self.store.get, conversation_id)
        if row is None or row.token_hash is None:
            return None
        self._remember_token_hash(conversation_id, row.token_hash)
        return row.token_hash

    async def send(
        self,
        conversation_id: str,
        message: IncomingMessage,
        *,
        client_key: str | None = None,
        queue: asyncio.Queue[StreamEvent] | None = None,
    ) -> TurnOutcome:
        self._require_started()
        if not len(self._index):
            await self._try_refresh()

        async def respond(turn: Turn, u: Understanding) -> None:
            if self._llm is None:
                await self.offline.respond(turn, u)
                return
            rows = await anyio.to_thread.run_sync(
                lambda: self.store.messages(conversation_id, last=HISTORY_FOR_LLM)
            )
            history = [(row.role, row.text) for row in rows]
            await self._llm.respond(turn, u, history)

        with recording(conversation_id):
            return await self.turns.take(
                conversation_id, message, client_key=client_key, respond=respond, queue=queue
            )

    async def conversation(self, conversation_id: str) -> ConversationRow | None:
        self._require_started()
        return await anyio.to_thread.run_sync(self.store.get, conversation_id)

    async def history(self, conversation_id: str) -> dict[str, Any] | None:
        self._require_started()
        row = await anyio.to_thread.run_sync(self.store.get, conversation_id)
        if row is None:
            return None
        messages = await anyio.to_thread.run_sync(self.store.messages, conversation_id)
        purchases = await anyio.to_thread.run_sync(self.store.purchases, conversation_id)
        _, state = await anyio.to_thread.run_sync(self.store.state, conversation_id)
        return {
            "id": row.id,
            "mode": row.mode,
            "created_at": _iso(row.created_at),
            "messages": [
                {
                    "id": m.id,
                    "seq": m.seq,
                    "role": m.role,
                    "text": m.text,
                    "parts": m.parts,
                    "turn_id": m.turn_id,
                    "created_at": _iso(m.created_at),
                }
                for m in messages
            ],
            "cart": state.get("cart", []),
            "checkouts": [
                {
                    "checkout_session_id": p.checkout_session_id,
                    "merchant": {"id": p.merchant_id, "name": p.merchant_name},
                    "status": p.status,
                    "total": p.total,
                    "currency": p.currency,
                    "order_id": p.order_id,
                    "order_number": p.order_number,
                    "order_status": p.order_status,
                }
                for p in purchases
            ],
        }

    # Order webhooks

    def verify_signature(self, header: str | None, body: bytes) -> bool:
        return signatures.verify(
            header,
            body,
            self.settings.order_webhook_secret,
            now=time.time(),
            tolerance=self.settings.webhook_tolerance_seconds,
        )

    async def receive_order_event(
        self, body: bytes, request_id: str | None, headers: dict[str, str] | None = None
    ) -> bool:
        self._require_started()
        now = self.clock()
        applied = await anyio.to_thread.run_sync(
            lambda: receive_order_event(self.store, body, request_id, now)
        )
        await anyio.to_thread.run_sync(self._inspect_webhook, body, headers or {}, applied)
        return applied

    def _inspect_webhook(self, body: bytes, headers: dict[str, str], applied: bool) -> None:
        """Show the signed event in its conversation's inspector (the body was just parsed)."""
        order = json.loads(body).get("data") or {}
        purchase = self.store.purchase_for_order(
            str(order.get("id")), order.get("checkout_session_id")
        )
        if purchase is not None:
            self.inspector.record(
                purchase.conversation_id, webhook_exchange(headers, body, 200, not applied)
            )


def _iso(moment: datetime) -> str:
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.isoformat().replace("+00:00", "Z")

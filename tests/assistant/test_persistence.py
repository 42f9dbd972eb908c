"""The assistant's storage: its own migrations beside checkout's, and conversations that outlive
the process."""

from __future__ import annotations

import httpx
import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import create_engine

from assistant.service import AssistantService
from assistant.store.db import VERSION_TABLE
from assistant.store.rows import AssistantTable
from tests.assistant.shopper import (
    ADDRESS,
    VISA,
    Shopper,
    assistant_settings,
    cards,
    checkout_rows,
    orders,
    pay_with,
    platform,
)

pytestmark = pytest.mark.anyio


def ours(name: str | None, kind: str, _parents: object) -> bool:
    """Only the assistant's tables (checkout's share the database and have their own check)."""
    if kind != "table":
        return True
    return name is not None and name.startswith("assistant_") and name != VERSION_TABLE


async def test_a_conversation_continues_after_a_restart_on_the_same_database(
    database_url: str,
) -> None:
    async with platform(database_url) as first:
        shopper = await first.shopper().start()
        shown = cards(await shopper.say("blue ceramic mug"))
        await shopper.say(f"ship to {ADDRESS}")
        before = await shopper.history()
    async with platform(database_url) as second:
        again = Shopper(second.http, shopper.conversation_id, shopper.token)
        assert (await again.history())["messages"] == before["messages"]
        bought = await again.say("buy the first one")
        session = next(p for p in bought["reply"]["parts"] if p["type"] == "checkout")
        assert session["sessions"][0]["line_items"][0]["variant_id"] == shown[0]["variant_id"]
        assert session["ready_for_payment"], "the address given before the restart is kept"
        await again.say(pay_with(VISA))
        assert len(orders(await again.say("yes, place the order"))) == 1


async def test_its_migrations_keep_their_own_version_table_beside_checkouts(
    database_url: str,
) -> None:
    async with platform(database_url):
        pass
    tables = {
        row[0]
        for row in checkout_rows(database_url, "SELECT name FROM sqlite_master WHERE type='table'")
    }
    assert {"alembic_version", "assistant_alembic_version", "assistant_conversations"} <= tables
    [(checkout_head,)] = checkout_rows(database_url, "SELECT version_num FROM alembic_version")
    [(assistant_head,)] = checkout_rows(
        database_url, "SELECT version_num FROM assistant_alembic_version"
    )
    assert assistant_head == "a0003" and checkout_head != assistant_head

    engine = create_engine(database_url)
    with engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"include_name": ours})
        differences = compare_metadata(context, AssistantTable.metadata)
    engine.dispose()
    assert differences == []


async def test_every_state_change_is_a_new_row(database_url: str) -> None:
    async with platform(database_url) as running:
        shopper = await running.shopper().start()
        for text in ("candle", "cheaper", "add the first one to my cart"):
            await shopper.say(text)
    versions = checkout_rows(
        database_url,
        "SELECT version FROM assistant_states WHERE conversation_id = :c ORDER BY version",
        c=shopper.conversation_id,
    )
    assert [v for (v,) in versions] == [0, 1, 2, 3]


async def test_the_service_starts_even_while_checkout_is_unreachable(database_url: str) -> None:
    def refuse(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("connection refused", request=request)

    service = AssistantService(
        assistant_settings(database_url, checkout_base_url="http://checkout.down"),
        checkout_transport=httpx.MockTransport(refuse),
    )
    await service.start()
    try:
        assert len(service.index) == 0
        conversation = await service.new_conversation()
        assert conversation["id"].startswith("conv_")
    finally:
        await service.stop()

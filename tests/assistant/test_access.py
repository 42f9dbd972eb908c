"""Who may call the assistant: a conversation's own token opens it alone; the index is the operator's."""

from __future__ import annotations

from tests.assistant.shopper import Platform, Shopper
from tests.support import AGENT_KEY, OPERATOR_KEY


async def test_a_conversation_id_alone_opens_nothing(stack: Platform, shopper: Shopper) -> None:
    await shopper.say("a blue ceramic mug")
    path = f"/assistant/conversations/{shopper.conversation_id}"
    for call in (
        stack.http.get(path),
        stack.http.post(f"{path}/messages", json={"text": "buy it"}),
        stack.http.post(f"{path}/messages/stream", json={"text": "buy it"}),
    ):
        answer = await call
        assert answer.status_code == 401
        assert answer.json()["code"] == "conversation_token_required"


async def test_another_conversations_token_does_not_open_this_one(
    stack: Platform, shopper: Shopper
) -> None:
    await shopper.say("pay with 4242 4242 4242 4242 exp 12/30 cvc 123")
    intruder = await Shopper(stack.http).start()
    path = f"/assistant/conversations/{shopper.conversation_id}"
    history = await stack.http.get(path, headers=intruder.auth)
    sent = await stack.http.post(f"{path}/messages", json={"text": "yes"}, headers=intruder.auth)
    for answer in (history, sent):
        assert answer.status_code == 404
        assert answer.json()["code"] == "conversation_not_found"
    assert len((await shopper.history())["messages"]) == 2  # the intruder's message was not taken


async def test_the_token_is_returned_once_and_never_stored_in_the_clear(
    stack: Platform, shopper: Shopper
) -> None:
    history = await shopper.history()
    assert "token" not in history
    row = await stack.service.conversation(shopper.conversation_id)
    assert row is not None and row.token_hash and shopper.token not in row.token_hash


async def test_refreshing_the_index_is_an_operator_action(stack: Platform) -> None:
    for headers in ({}, {"Authorization": f"Bearer {AGENT_KEY}"}):
        refused = await stack.http.post("/assistant/index/refresh", headers=headers)
        assert refused.status_code == 401
    allowed = await stack.http.post(
        "/assistant/index/refresh", headers={"Authorization": f"Bearer {OPERATOR_KEY}"}
    )
    assert allowed.status_code == 200

"""Checkout sessions: authoritative state on every response, statuses, and business messages."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from fastapi.testclient import TestClient

from checkout.app import create_app
from tests.conftest import make_settings
from tests.support import (
    CLAY,
    NORTHWIND,
    Agent,
    fulfillment,
    message_codes,
    pick,
    price_of,
    total_of,
)

REQUIRED_KEYS = {
    "id",
    "status",
    "currency",
    "line_items",
    "totals",
    "fulfillment_options",
    "messages",
    "links",
    "capabilities",
}


def test_a_new_session_without_an_address_is_not_ready_and_says_what_is_missing(
    agent: Agent,
) -> None:
    response = agent.create((pick(), 2))
    assert response.status_code == 201
    session = response.json()
    assert set(session) >= REQUIRED_KEYS
    assert session["status"] == "not_ready_for_payment"
    assert "missing" in message_codes(session)
    line = session["line_items"][0]
    assert line["quantity"] == 2
    assert line["unit_amount"] == price_of(pick())
    assert total_of(session, "items_base_amount") == 2 * price_of(pick())


def test_an_address_makes_the_session_ready_with_shipping_and_tax(agent: Agent) -> None:
    session = agent.create(pick()).json()
    updated = agent.update(session["id"], fulfillment_details=fulfillment()).json()
    assert updated["status"] == "ready_for_payment"
    kinds = [t["type"] for t in updated["totals"]]
    assert kinds == ["items_base_amount", "subtotal", "fulfillment", "tax", "total"]
    assert all(isinstance(t["amount"], int) for t in updated["totals"])
    assert total_of(updated) == sum(
        total_of(updated, k) for k in ("subtotal", "fulfillment", "tax")
    )
    shipping = [o for o in updated["fulfillment_options"] if o["type"] == "shipping"]
    assert [o["title"] for o in shipping] == ["Standard", "Express"]
    assert all(o["earliest_delivery_time"] < o["latest_delivery_time"] for o in shipping)
    assert updated["selected_fulfillment_options"][0]["option_id"] == shipping[0]["id"]


def test_choosing_express_shipping_changes_the_totals(agent: Agent) -> None:
    session = agent.ready_session(pick())
    express = next(o for o in session["fulfillment_options"] if o["title"] == "Express")
    updated = agent.update(
        session["id"],
        selected_fulfillment_options=[
            {
                "type": "shipping",
                "option_id": express["id"],
                "item_ids": [session["line_items"][0]["id"]],
            }
        ],
    ).json()
    assert updated["selected_fulfillment_options"][0]["option_id"] == express["id"]
    assert total_of(updated, "fulfillment") == express["totals"][0]["amount"]


def test_an_unknown_fulfillment_option_is_an_invalid_message(agent: Agent) -> None:
    session = agent.ready_session(pick())
    updated = agent.update(
        session["id"],
        selected_fulfillment_options=[
            {"type": "shipping", "option_id": "teleport", "item_ids": []}
        ],
    ).json()
    assert updated["status"] == "not_ready_for_payment"
    message = next(m for m in updated["messages"] if m["code"] == "invalid")
    assert message["param"] == "$.selected_fulfillment_options[0].option_id"


def test_tax_follows_the_destination(agent: Agent) -> None:
    california = agent.ready_session(pick())
    oregon = agent.ready_session(pick(), state="OR", postal_code="97201", city="Portland")
    assert total_of(california, "tax") > 0
    assert total_of(oregon, "tax") == 0


def test_an_invalid_address_is_a_message_not_an_error(agent: Agent) -> None:
    response = agent.create(pick(), fulfillment_details=fulfillment(state="XX", postal_code="nope"))
    assert response.status_code == 201
    session = response.json()
    assert session["status"] == "not_ready_for_payment"
    params = {m["param"] for m in session["messages"] if m["code"] == "invalid"}
    assert params == {
        "$.fulfillment_details.address.state",
        "$.fulfillment_details.address.postal_code",
    }


def test_a_country_not_shipped_to_is_region_restricted(agent: Agent) -> None:
    session = agent.create(
        pick(), fulfillment_details=fulfillment(country="BR", state="SP", postal_code="01000-000")
    ).json()
    assert "region_restricted" in message_codes(session)


def test_a_sold_out_item_is_not_ready_with_out_of_stock(agent: Agent) -> None:
    session = agent.create(pick(stock=0), fulfillment_details=fulfillment()).json()
    assert session["status"] == "not_ready_for_payment"
    message = next(m for m in session["messages"] if m["code"] == "out_of_stock")
    assert message["type"] == "error"
    assert message["param"] == "$.line_items[0]"
    assert session["line_items"][0]["availability_status"] == "out_of_stock"


def test_asking_for_more_than_is_in_stock_is_quantity_exceeded(agent: Agent) -> None:
    session = agent.create((pick(stock=2), 3), fulfillment_details=fulfillment()).json()
    assert "quantity_exceeded" in message_codes(session)
    fixed = agent.update(session["id"], line_items=[{"id": pick(stock=2), "quantity": 2}]).json()
    assert fixed["status"] == "ready_for_payment"
    assert "low_stock" in message_codes(fixed)


def test_an_unknown_item_is_400_invalid_item_id(agent: Agent) -> None:
    response = agent.create("var_does_not_exist")
    assert response.status_code == 400
    assert response.json()["code"] == "invalid_item_id"
    assert response.json()["param"] == "$.line_items[0].id"


def test_items_of_two_merchants_cannot_share_a_session(agent: Agent) -> None:
    response = agent.create(pick(CLAY), pick(NORTHWIND))
    assert response.status_code == 400
    assert response.json()["code"] == "multiple_merchants"
    assert response.json()["param"] == "$.line_items[1].id"


def test_a_currency_the_merchant_does_not_sell_in_is_400(agent: Agent) -> None:
    response = agent.post(
        "/checkout_sessions",
        {"line_items": [{"id": pick()}], "currency": "eur", "capabilities": {}},
    )
    assert response.status_code == 400
    assert response.json()["param"] == "$.currency"


def test_a_digital_only_cart_offers_digital_delivery_and_needs_an_email(agent: Agent) -> None:
    digital = pick(digital=True)
    session = agent.create(digital).json()
    assert [o["type"] for o in session["fulfillment_options"]] == ["digital"]
    assert session["status"] == "not_ready_for_payment"
    ready = agent.update(session["id"], buyer={"email": "ada@example.com"}).json()
    assert ready["status"] == "ready_for_payment"
    assert total_of(ready, "fulfillment") == 0


def test_a_price_change_is_shown_once_and_then_applies(agent: Agent, settings) -> None:  # type: ignore[no-untyped-def]
    variant = pick()
    session = agent.ready_session(variant)
    _set_price(settings.database_url, variant, price_of(variant) + 500)
    changed = agent.get(session["id"]).json()
    assert "price_change" in message_codes(changed)
    assert changed["line_items"][0]["unit_amount"] == price_of(variant) + 500
    acknowledged = agent.update(session["id"], fulfillment_details=fulfillment()).json()
    assert "price_change" in message_codes(acknowledged)
    assert "price_change" not in message_codes(agent.get(session["id"]).json())


def _set_price(url: str, variant_id: str, price: int) -> None:
    from sqlalchemy import create_engine, text

    engine = create_engine(url)
    with engine.begin() as connection:
        connection.execute(
            text("UPDATE variants SET price = :p WHERE id = :v"), {"p": price, "v": variant_id}
        )
    engine.dispose()


def test_repeated_items_are_one_line_with_the_quantities_added(agent: Agent) -> None:
    variant = pick()
    session = agent.create((variant, 1), (variant, 2)).json()
    assert [(line["item"]["id"], line["quantity"]) for line in session["line_items"]] == [
        (variant, 3)
    ]


def test_get_returns_the_same_state_as_the_last_update(agent: Agent) -> None:
    session = agent.ready_session(pick())
    fetched = agent.get(session["id"]).json()
    for key in ("status", "totals", "line_items", "selected_fulfillment_options"):
        assert fetched[key] == session[key]


def test_write_only_fields_are_never_echoed(agent: Agent) -> None:
    session = agent.create(
        pick(),
        affiliate_attribution={"provider": "impact", "token": "tok_1"},
        capabilities={"interventions": {"supported": ["3ds", "biometric"]}, "extensions": []},
    ).json()
    fetched = agent.get(session["id"]).json()
    for body in (session, fetched):
        assert "affiliate_attribution" not in body
        assert body["capabilities"]["interventions"]["supported"] == ["3ds"]
        assert "extensions" not in body["capabilities"]


def test_the_payment_handler_names_the_merchant_for_the_allowance(agent: Agent) -> None:
    session = agent.create(pick(NORTHWIND)).json()
    handler = session["capabilities"]["payment"]["handlers"][0]
    assert handler["id"] == "card_tokenized"
    assert handler["config"]["merchant_id"] == NORTHWIND
    assert handler["requires_delegate_payment"] is True


def test_cancel_records_the_intent_trace_without_echoing_it(agent: Agent, settings) -> None:  # type: ignore[no-untyped-def]
    session = agent.create(pick()).json()
    canceled = agent.cancel(
        session["id"],
        {
            "intent_trace": {
                "reason_code": "found_it_cheaper_on_the_moon",
                "trace_summary": "later",
                "metadata": {"weeks": 2, "flag": True},
            }
        },
    )
    assert canceled.status_code == 200
    assert canceled.json()["status"] == "canceled"
    assert "intent_trace" not in canceled.json()
    from sqlalchemy import create_engine, text

    engine = create_engine(settings.database_url)
    with engine.connect() as connection:
        row = connection.execute(
            text("SELECT reason_code FROM intent_traces WHERE session_id = :s"),
            {"s": session["id"]},
        ).one()
    engine.dispose()
    assert row[0] == "other"


def test_cancel_without_a_body_works_and_a_second_cancel_is_405(agent: Agent) -> None:
    session = agent.create(pick()).json()
    first = agent.client.post(
        f"/checkout_sessions/{session['id']}/cancel", headers=agent.headers("c-1")
    )
    assert first.status_code == 200
    again = agent.cancel(session["id"], {})
    assert again.status_code == 405
    replay = agent.client.post(
        f"/checkout_sessions/{session['id']}/cancel", headers=agent.headers("c-1")
    )
    assert replay.status_code == 200
    assert replay.headers["idempotent-replayed"] == "true"


def test_nested_intent_trace_metadata_is_400_invalid_type(agent: Agent) -> None:
    session = agent.create(pick()).json()
    response = agent.cancel(
        session["id"], {"intent_trace": {"reason_code": "other", "metadata": {"deep": {"x": 1}}}}
    )
    assert response.status_code == 400
    assert response.json()["code"] == "invalid_type"
    assert response.json()["param"] == "$.intent_trace.metadata.deep"


def test_a_canceled_session_cannot_be_updated_or_completed(agent: Agent) -> None:
    session = agent.ready_session(pick())
    agent.cancel(session["id"], {})
    update = agent.update(session["id"], fulfillment_details=fulfillment())
    assert update.status_code == 400
    assert update.json()["code"] == "checkout_session_canceled"
    complete = agent.complete(session["id"], "vt_whatever")
    assert complete.status_code == 400
    assert complete.json()["code"] == "checkout_session_canceled"


def test_sessions_expire_after_the_configured_time(database_url: str) -> None:
    now = [datetime.now(UTC)]
    app = create_app(make_settings(database_url, session_ttl_minutes=30), clock=lambda: now[0])
    with TestClient(app) as client:
        agent = Agent(client)
        session = agent.ready_session(pick())
        now[0] += timedelta(minutes=31)
        fetched = agent.get(session["id"]).json()
        assert fetched["status"] == "expired"
        update = agent.update(session["id"], fulfillment_details=fulfillment())
        assert update.json()["code"] == "checkout_session_expired"
        assert agent.cancel(session["id"], {}).status_code == 405


def test_one_agent_cannot_see_another_agents_session(agent: Agent, client: TestClient) -> None:
    session = agent.create(pick()).json()
    from checkout.api.services import Services

    services: Services = client.app.state.services  # type: ignore[attr-defined]
    services.agent_keys.register(
        "agt_other", "Other agent", "other_agent_key_01", datetime.now(UTC)
    )
    other = Agent(client, key="other_agent_key_01")
    assert other.get(session["id"]).status_code == 404

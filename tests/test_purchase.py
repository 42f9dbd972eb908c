"""The whole purchase, as an agent makes it, ending in a signed order_create at the agent's receiver."""

from __future__ import annotations

import hashlib
import hmac
import time

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import create_engine, text

from checkout.app import create_app
from checkout.store.catalog import Catalog
from checkout.store.db import Database, create_database_engine
from checkout.store.rows import VariantRow
from tests.conftest import make_settings
from tests.servers import Delivery, webhook_receiver
from tests.support import (
    OPERATOR_KEY,
    Agent,
    both_backends,
    fulfillment,
    pick,
    seed_variant,
    total_of,
)

SECRET = "whsec_test_secret"


def verify_signature(delivery: Delivery, secret: str = SECRET, tolerance: int = 300) -> None:
    header = delivery.headers["Merchant-Signature"]
    parts = dict(part.split("=", 1) for part in header.split(","))
    timestamp = int(parts["t"])
    assert abs(time.time() - timestamp) <= tolerance
    expected = hmac.new(
        secret.encode(), f"{timestamp}.".encode() + delivery.body, hashlib.sha256
    ).hexdigest()
    assert hmac.compare_digest(parts["v1"], expected)


@both_backends
def test_a_full_purchase_ends_with_a_signed_order_create(database_url: str) -> None:
    variant = pick()
    with webhook_receiver() as receiver:
        settings = make_settings(
            database_url,
            background_jobs=True,
            order_webhook_url=receiver.url,
            outbox_poll_seconds=0.05,
        )
        with TestClient(create_app(settings)) as client:
            agent = Agent(client)
            created = agent.create((variant, 2))
            assert created.status_code == 201
            session = created.json()
            assert session["status"] == "not_ready_for_payment"

            updated = agent.update(session["id"], fulfillment_details=fulfillment())
            assert updated.status_code == 200
            express = next(
                o for o in updated.json()["fulfillment_options"] if o["title"] == "Express"
            )
            updated = agent.update(
                session["id"],
                selected_fulfillment_options=[
                    {
                        "type": "shipping",
                        "option_id": express["id"],
                        "item_ids": express.get("item_ids", []),
                    }
                ],
            )
            ready = updated.json()
            assert ready["status"] == "ready_for_payment"

            token = agent.delegate(ready)
            assert token.status_code == 201
            completed = agent.complete(
                ready["id"],
                token.json()["id"],
                buyer={"email": "ada@example.com", "first_name": "Ada"},
            )
            assert completed.status_code == 200
            order = completed.json()["order"]

            [delivery] = receiver.wait_for(1)
            verify_signature(delivery)
            event = delivery.json
            assert event["type"] == "order_create"
            data = event["data"]
            assert data["type"] == "order"
            assert data["id"] == order["id"]
            assert data["checkout_session_id"] == ready["id"]
            assert data["line_items"][0]["quantity"] == {"ordered": 2, "current": 2, "fulfilled": 0}
            assert next(t["amount"] for t in data["totals"] if t["type"] == "total") == total_of(
                ready
            )

            fetched = client.get(f"/orders/{order['id']}", headers=agent.headers())
            assert fetched.status_code == 200
            assert fetched.json() == data

    engine = create_engine(database_url)
    with engine.connect() as connection:
        stock = connection.execute(
            text("SELECT inventory FROM variants WHERE id = :v"), {"v": variant}
        ).scalar()
        orders = connection.execute(text("SELECT count(*) FROM orders")).scalar()
        outbox = connection.execute(
            text("SELECT delivered_at IS NOT NULL FROM outbox_events")
        ).all()
    engine.dispose()
    assert stock == seed_variant(variant)["inventory"] - 2
    assert orders == 1
    assert outbox == [(True,)]


def test_a_receiver_that_is_down_for_a_while_loses_nothing(database_url: str) -> None:
    with webhook_receiver() as receiver:
        receiver.down = True
        settings = make_settings(
            database_url,
            background_jobs=True,
            order_webhook_url=receiver.url,
            outbox_poll_seconds=0.05,
        )
        with TestClient(create_app(settings)) as client:
            agent = Agent(client)
            first = agent.buy(pick()).json()["order"]
            second = agent.buy(pick(skip=1)).json()["order"]
            deadline = time.monotonic() + 10
            while receiver.refused < 4 and time.monotonic() < deadline:
                time.sleep(0.05)
            assert receiver.refused >= 4  # both events were tried and retried
            receiver.down = False
            deliveries = receiver.wait_for(2, timeout=20)
    assert {d.json["data"]["id"] for d in deliveries} == {first["id"], second["id"]}
    for delivery in deliveries:
        verify_signature(delivery)


def test_a_shipment_sends_order_update_with_tracking(database_url: str) -> None:
    with webhook_receiver() as receiver:
        settings = make_settings(
            database_url,
            background_jobs=True,
            order_webhook_url=receiver.url,
            outbox_poll_seconds=0.05,
        )
        with TestClient(create_app(settings)) as client:
            order = Agent(client).buy(pick()).json()["order"]
            shipped = client.post(
                f"/orders/{order['id']}/fulfillments",
                headers={"Authorization": f"Bearer {OPERATOR_KEY}"},
                json={"carrier": "USPS", "tracking_number": "9400111899223"},
            )
            assert shipped.status_code == 201
            create, update = receiver.wait_for(2)
    assert create.json["type"] == "order_create"
    assert update.json["type"] == "order_update"
    data = update.json["data"]
    assert data["status"] == "shipped"
    assert data["fulfillments"][0]["tracking_number"] == "9400111899223"
    assert data["line_items"][0]["status"] == "fulfilled"


def test_shipping_needs_the_operator_key(agent: Agent) -> None:
    order = agent.buy(pick()).json()["order"]
    response = agent.client.post(
        f"/orders/{order['id']}/fulfillments",
        headers=agent.headers(),
        json={"carrier": "USPS", "tracking_number": "1"},
    )
    assert response.status_code == 401


@pytest.mark.parametrize("number", ["4242424242424242", "5555555555554444", "378282246310005"])
def test_every_succeeding_test_card_buys(agent: Agent, number: str) -> None:
    assert agent.buy(pick(), number=number).status_code == 200


def test_a_reservation_that_falls_short_keeps_none_of_the_stock(database_url: str) -> None:
    """Two buyers racing for a cart's last unit: the loser's refusal is committed, so the
    units it did get must go back with it."""
    plenty, last = pick(min_stock=5), pick(stock=1)
    database = Database(create_database_engine(database_url))
    with database.write() as db:
        before = {v: db.get(VariantRow, v).inventory for v in (plenty, last)}  # type: ignore[union-attr]
        short = Catalog(db).reserve({plenty: 2, last: 2})
    with database.read() as db:
        after = {v: db.get(VariantRow, v).inventory for v in (plenty, last)}  # type: ignore[union-attr]
    database.dispose()
    assert short == [last]
    assert after == before

"""Test builders: an ACP agent speaking HTTP to the app, and request bodies with sensible defaults."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient

API_VERSION = "2026-04-17"
AGENT_KEY = "agent_test_key_0001"
OPERATOR_KEY = "operator_test_key_0001"
VISA = "4242424242424242"
DECLINED = "4000000000000002"
INSUFFICIENT_FUNDS = "4000000000009995"
THREE_DS = "4000002760003184"

both_backends = pytest.mark.parametrize(
    "backend", ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)], indirect=True
)

# Seeded catalog items the tests rely on (seeds/*.json).
CLAY = "mch_clay_and_kiln"
NORTHWIND = "mch_northwind_supply"


def address(**overrides: Any) -> dict[str, Any]:
    return {
        "name": "Ada Lovelace",
        "line_one": "1234 Chat Road",
        "city": "San Francisco",
        "state": "CA",
        "country": "US",
        "postal_code": "94131",
        **overrides,
    }


def fulfillment(**overrides: Any) -> dict[str, Any]:
    return {
        "name": "Ada Lovelace",
        "email": "ada@example.com",
        "phone_number": "+15551234567",
        "address": address(**overrides),
    }


class Agent:
    """What an ACP agent does, one method per call, each returning the raw HTTP response."""

    def __init__(self, client: TestClient, key: str = AGENT_KEY) -> None:
        self.client = client
        self.key = key

    def headers(self, idempotency_key: str | None = None, **extra: str) -> dict[str, str]:
        headers = {"Authorization": f"Bearer {self.key}", "API-Version": API_VERSION, **extra}
        if idempotency_key is not None:
            headers["Idempotency-Key"] = idempotency_key
        return headers

    def post(self, path: str, body: Any, *, key: str | None = None, **extra: str) -> Any:
        return self.client.post(
            path, json=body, headers=self.headers(key or str(uuid.uuid4()), **extra)
        )

    def create(self, *items: str | tuple[str, int], key: str | None = None, **fields: Any) -> Any:
        line_items = [
            {"id": i} if isinstance(i, str) else {"id": i[0], "quantity": i[1]} for i in items
        ]
        body = {
            "line_items": line_items,
            "currency": "usd",
            "capabilities": {"interventions": {"supported": ["3ds"]}},
            **fields,
        }
        return self.post("/checkout_sessions", body, key=key)

    def update(self, session_id: str, key: str | None = None, **fields: Any) -> Any:
        return self.post(f"/checkout_sessions/{session_id}", fields, key=key)

    def get(self, session_id: str) -> Any:
        return self.client.get(f"/checkout_sessions/{session_id}", headers=self.headers())

    def delegate(
        self,
        session: dict[str, Any],
        *,
        number: str = VISA,
        max_amount: int | None = None,
        merchant_id: str | None = None,
        session_id: str | None = None,
        currency: str = "usd",
        expires_in: timedelta = timedelta(minutes=15),
        key: str | None = None,
    ) -> Any:
        handler = session["capabilities"]["payment"]["handlers"][0]
        body = {
            "payment_method": {
                "type": "card",
                "card_number_type": "fpan",
                "number": number,
                "exp_month": "12",
                "exp_year": "2030",
                "cvc": "123",
                "display_card_funding_type": "credit",
                "display_last4": number[-4:],
                "metadata": {},
            },
            "allowance": {
                "reason": "one_time",
                "max_amount": total_of(session) if max_amount is None else max_amount,
                "currency": currency,
                "checkout_session_id": session_id or session["id"],
                "merchant_id": merchant_id or handler["config"]["merchant_id"],
                "expires_at": (datetime.now(UTC) + expires_in).isoformat(),
            },
            "risk_signals": [],
            "metadata": {"source": "tests"},
        }
        return self.post("/agentic_commerce/delegate_payment", body, key=key)

    def complete(
        self, session_id: str, token: str, *, key: str | None = None, **fields: Any
    ) -> Any:
        body = {
            "payment_data": {
                "handler_id": "card_tokenized",
                "instrument": {"type": "card", "credential": {"type": "spt", "token": token}},
            },
            **fields,
        }
        return self.post(f"/checkout_sessions/{session_id}/complete", body, key=key)

    def cancel(self, session_id: str, body: Any = None, *, key: str | None = None) -> Any:
        return self.post(f"/checkout_sessions/{session_id}/cancel", body, key=key)

    def ready_session(
        self, *items: str | tuple[str, int], **address_overrides: Any
    ) -> dict[str, Any]:
        created = self.create(*items, fulfillment_details=fulfillment(**address_overrides))
        assert created.status_code == 201, created.text
        body: dict[str, Any] = created.json()
        assert body["status"] == "ready_for_payment", body["messages"]
        return body

    def buy(self, *items: str | tuple[str, int], number: str = VISA) -> Any:
        session = self.ready_session(*items)
        token = self.delegate(session, number=number).json()["id"]
        return self.complete(session["id"], token)


def total_of(session: dict[str, Any], kind: str = "total") -> int:
    return next(t["amount"] for t in session["totals"] if t["type"] == kind)


def message_codes(session: dict[str, Any]) -> list[str]:
    return [m.get("code", "") for m in session["messages"]]


def seeded_variants() -> list[dict[str, Any]]:
    """Every variant in seeds/*.json with its merchant, price, stock and whether it is digital."""
    import json
    from pathlib import Path

    variants = []
    for path in sorted((Path(__file__).resolve().parent.parent / "seeds").glob("*.json")):
        document = json.loads(path.read_text())
        merchant = document["merchant"]["id"]
        for product in document["products"]:
            for variant in product["variants"]:
                variants.append(
                    {
                        **variant,
                        "merchant_id": merchant,
                        "product_id": product["id"],
                        "digital": bool(product.get("digital")),
                    }
                )
    return variants


# Seed SKU -> our catalog variant id. The catalog reaches us through the platform sandboxes, which
# assign their own ids; conftest fills this from the migrated, onboarded template database.
CATALOG_IDS: dict[str, str] = {}


def catalog_id_for(seed_variant: dict[str, Any]) -> str:
    assert CATALOG_IDS, "the catalog map is filled by the sqlite_template fixture"
    return CATALOG_IDS[seed_variant["sku"]]


def pick(
    merchant_id: str = CLAY,
    *,
    min_stock: int = 5,
    stock: int | None = None,
    digital: bool = False,
    skip: int = 0,
) -> str:
    """A seeded variant id of this merchant with the stock asked for (exactly, or at least)."""
    matches = [
        v["sku"]
        for v in seeded_variants()
        if v["merchant_id"] == merchant_id
        and v["digital"] == digital
        and v["sku"] in CATALOG_IDS  # a listing sold out on Etsy is not in the catalog at all
        and (v["inventory"] == stock if stock is not None else v["inventory"] >= min_stock)
    ]
    assert len(matches) > skip, f"the seeds have no such variant for {merchant_id}"
    assert CATALOG_IDS, "the catalog map is filled by the sqlite_template fixture"
    return CATALOG_IDS[matches[skip]]


def seed_variant(variant_id: str) -> dict[str, Any]:
    """The seed entry behind a catalog variant id (or a seed id)."""
    sku = next((sku for sku, vid in CATALOG_IDS.items() if vid == variant_id), None)
    return next(v for v in seeded_variants() if v["sku"] == sku or v["id"] == variant_id)


def price_of(variant_id: str) -> int:
    return int(seed_variant(variant_id)["price"])

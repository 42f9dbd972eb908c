"""The 2026-04-08 shapes, from the 2026-01-11 documents: registries keyed by name in `ucp`
(capabilities, services, payment handlers), signed totals (discounts negative), handlers moved
from `payment` into `ucp.payment_handlers`, and orders that state their currency."""

from __future__ import annotations

from typing import Any

VERSION = "2026-04-08"


def _handlers(handlers: list[dict[str, Any]], *, full: bool) -> dict[str, list[dict[str, Any]]]:
    registry: dict[str, list[dict[str, Any]]] = {}
    for handler in handlers:
        entry: dict[str, Any] = {
            "id": handler["id"],
            "version": VERSION,
            "config": handler["config"],
        }
        if full:
            entry |= {"spec": handler["spec"], "schema": handler["config_schema"]}
        registry.setdefault(handler["name"], []).append(entry)
    return registry


def _signed(totals: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [
        {**t, "amount": -t["amount"]} if t["type"] in ("discount", "items_discount") else t
        for t in totals
    ]


def checkout(document: dict[str, Any]) -> dict[str, Any]:
    body = dict(document)
    payment = body.pop("payment")
    body["ucp"] = {
        "version": VERSION,
        "status": "success",
        "capabilities": {
            c["name"]: [{"version": VERSION}] for c in document["ucp"]["capabilities"]
        },
        "payment_handlers": _handlers(payment["handlers"], full=False),
    }
    body["totals"] = _signed(document["totals"])
    instruments = [
        {**i, "selected": i.get("id") == payment.get("selected_instrument_id")}
        for i in payment.get("instruments", [])
        if all(isinstance(i.get(k), str) for k in ("id", "handler_id", "type"))
    ]
    body["payment"] = {"instruments": instruments}
    return body


def order(document: dict[str, Any], currency: str) -> dict[str, Any]:
    body = dict(document)
    body["ucp"] = {
        "version": VERSION,
        "status": "success",
        "capabilities": {"dev.ucp.shopping.order": [{"version": VERSION}]},
    }
    body["currency"] = currency.upper()
    body["totals"] = _signed(document["totals"])
    body["line_items"] = [
        {**line, "quantity": {**line["quantity"], "original": line["quantity"]["total"]}}
        for line in document["line_items"]
    ]
    return body


def profile(document: dict[str, Any], older_profiles: dict[str, str]) -> dict[str, Any]:
    """The business profile; each older version we speak has its own profile URI."""
    ucp = document["ucp"]
    services = {
        name: [
            {
                "version": VERSION,
                "spec": service["spec"],
                "transport": "rest",
                "endpoint": service["rest"]["endpoint"],
                "schema": service["rest"]["schema"],
            }
        ]
        for name, service in ucp["services"].items()
    }
    capabilities = {
        c["name"]: [
            {
                "version": VERSION,
                "spec": c["spec"],
                "schema": c["schema"],
                **({"extends": c["extends"]} if "extends" in c else {}),
            }
        ]
        for c in ucp["capabilities"]
    }
    return {
        **{k: v for k, v in document.items() if k not in ("ucp", "payment")},
        "ucp": {
            "version": VERSION,
            "supported_versions": older_profiles,
            "services": services,
            "capabilities": capabilities,
            "payment_handlers": _handlers(document["payment"]["handlers"], full=True),
        },
    }

"""CheckoutClient: ACP over httpx (sessions, delegate_payment, orders, the catalog feed).

Every POST carries an idempotency key derived from the assistant's own ids, so a bounded retry
after a timeout or a 5xx can never buy twice. Errors leave as `assistant.acp.errors` types.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx

from assistant.acp.errors import CheckoutProblem, CheckoutUnavailable, problem_from

log = logging.getLogger("assistant.acp")
API_VERSION = "2026-04-17"
RETRY_DELAYS = (0.2, 0.6)
PAGE_LIMIT = 100


class CheckoutClient:
    def __init__(self, http: httpx.AsyncClient, api_key: str) -> None:
        self.http = http
        self.api_key = api_key

    def _headers(self, key: str | None = None) -> dict[str, str]:
        headers = {"Authorization": f"Bearer {self.api_key}", "API-Version": API_VERSION}
        if key is not None:
            headers["Idempotency-Key"] = key
        return headers

    async def _call(
        self,
        method: str,
        path: str,
        *,
        key: str | None = None,
        body: Any = None,
        params: dict[str, Any] | None = None,
    ) -> dict[str, Any]:
        for attempt in range(len(RETRY_DELAYS) + 1):
            try:
                response = await self.http.request(
                    method, path, json=body, params=params, headers=self._headers(key)
                )
            except httpx.HTTPError as exc:
                problem: CheckoutProblem = CheckoutUnavailable(
                    f"Checkout could not be reached ({type(exc).__name__}).", status=0
                )
                problem.__cause__ = exc
            else:
                try:
                    payload = response.json()
                except ValueError:
                    payload = {}
                if response.is_success:
                    return dict(payload)
                problem = problem_from(response.status_code, payload)
            log.info(
                "acp.call_failed method=%s path=%s status=%s code=%s attempt=%d",
                method,
                path,
                problem.status,
                problem.code,
                attempt + 1,
            )
            if not isinstance(problem, CheckoutUnavailable) or attempt == len(RETRY_DELAYS):
                raise problem
            await asyncio.sleep(RETRY_DELAYS[attempt])
        raise AssertionError("unreachable")

    async def catalog(self) -> list[dict[str, Any]]:
        """Every product of the platform catalog, following the feed's cursor to the end."""
        return [product async for page in self.catalog_pages() for product in page]

    async def catalog_pages(self) -> AsyncIterator[list[dict[str, Any]]]:
        """The platform catalog a page at a time, so a large one is never held whole."""
        cursor: str | None = None
        while True:
            params: dict[str, Any] = {"limit": PAGE_LIMIT}
            if cursor:
                params["cursor"] = cursor
            page = await self._call("GET", "/catalog/products", params=params)
            yield list(page.get("products") or [])
            cursor = page.get("next_cursor")
            if not cursor:
                return

    async def create_session(
        self,
        line_items: list[dict[str, Any]],
        *,
        key: str,
        fulfillment_details: dict[str, Any] | None = None,
        buyer: dict[str, Any] | None = None,
    ) -> dict[str, Any]:
        body: dict[str, Any] = {
            "line_items": line_items,
            "currency": "usd",
            "capabilities": {"interventions": {"supported": ["3ds"]}},
        }
        if fulfillment_details:
            body["fulfillment_details"] = fulfillment_details
        if buyer:
            body["buyer"] = buyer
        return await self._call("POST", "/checkout_sessions", key=key, body=body)

    async def update_session(
        self, session_id: str, changes: dict[str, Any], *, key: str
    ) -> dict[str, Any]:
        return await self._call("POST", f"/checkout_sessions/{session_id}", key=key, body=changes)

    async def get_session(self, session_id: str) -> dict[str, Any]:
        return await self._call("GET", f"/checkout_sessions/{session_id}")

    async def cancel_session(self, session_id: str, *, key: str, reason: str) -> dict[str, Any]:
        body = {"intent_trace": {"reason_code": reason, "trace_summary": "Shopper canceled."}}
        return await self._call(
            "POST", f"/checkout_sessions/{session_id}/cancel", key=key, body=body
        )

    async def delegate_payment(
        self,
        card: dict[str, Any],
        *,
        session_id: str,
        merchant_id: str,
        amount: int,
        currency: str,
        key: str,
        now: datetime | None = None,
    ) -> str:
        """A single-use token whose allowance is exactly `amount` for this session and merchant."""
        expires = (now or datetime.now(UTC)) + timedelta(minutes=15)
        body = {
            "payment_method": {
                "type": "card",
                "card_number_type": "fpan",
                "display_card_funding_type": "credit",
                "metadata": {},
                **card,
            },
            "allowance": {
                "reason": "one_time",
                "max_amount": amount,
                "currency": currency.lower(),
                "checkout_session_id": session_id,
                "merchant_id": merchant_id,
                "expires_at": expires.isoformat().replace("+00:00", "Z"),
            },
            "risk_signals": [],
            "metadata": {"source": "assistant"},
        }
        token = await self._call("POST", "/agentic_commerce/delegate_payment", key=key, body=body)
        return str(token["id"])

    async def complete(
        self,
        session_id: str,
        token: str,
        *,
        key: str,
        buyer: dict[str, Any] | None = None,
        authentication_result: dict[str, Any] | None = None,
    ) -> dict[str, Any]:
        body: dict[str, Any] = {
            "payment_data": {
                "handler_id": "card_tokenized",
                "instrument": {"type": "card", "credential": {"type": "spt", "token": token}},
            }
        }
        if buyer:
            body["buyer"] = buyer
        if authentication_result:
            body["authentication_result"] = authentication_result
        return await self._call(
            "POST", f"/checkout_sessions/{session_id}/complete", key=key, body=body
        )

    async def order(self, order_id: str) -> dict[str, Any]:
        return await self._call("GET", f"/orders/{order_id}")

"""GraphQL requests to one shop: throttling and bounded retries, errors translated to ours."""

from __future__ import annotations

import logging
import random
from collections.abc import Awaitable, Callable, Mapping, Sequence
from datetime import datetime
from typing import Any, NoReturn

import httpx

from merchant_adapters import (
    CredentialsRevoked,
    PlatformInvalidRequest,
    PlatformNotFound,
    PlatformUnavailable,
    RateLimited,
)
from merchant_adapters.retrying import retry_after_seconds

log = logging.getLogger("merchant_adapters.shopify")

THROTTLE_JITTER = 0.25  # seconds, so clients throttled together do not retry together
RETRY_BASE = 0.5  # seconds before the first retry of a failed read; doubles each time


def _retry_after(value: str | None) -> float:
    if not value:
        return 1.0
    seconds = retry_after_seconds(value, lambda: datetime.now().astimezone())
    return 1.0 if seconds is None else max(seconds, 0.0)


def _throttle_wait(extensions: object) -> float:
    """Seconds until the bucket holds the query's cost: (requested - available) / restore rate."""
    try:
        cost = extensions["cost"]  # type: ignore[index]
        status = cost["throttleStatus"]
        missing = float(cost["requestedQueryCost"]) - float(status["currentlyAvailable"])
        return max(missing, 0.0) / float(status["restoreRate"])
    except (KeyError, TypeError, ValueError, ZeroDivisionError):
        return 1.0


class _Throttled(Exception):
    def __init__(self, message: str, wait: float) -> None:
        super().__init__(message)
        self.wait = wait


class _Unavailable(Exception):
    """5xx, timeout, connection failure or a malformed answer: another read may succeed."""


def shape_error(operation: str, exc: Exception) -> PlatformUnavailable:
    return PlatformUnavailable(
        f"Shopify answered {operation} in an unexpected shape ({exc.__class__.__name__}: {exc})"
    )


def messages(errors: Sequence[object]) -> str:
    return "; ".join(
        str(error.get("message", error)) if isinstance(error, dict) else str(error)
        for error in errors
    )


class ShopifyTransport:
    """POSTs to one shop's graphql.json over a caller-owned httpx.AsyncClient (which sets the
    timeout)."""

    def __init__(
        self,
        client: httpx.AsyncClient,
        *,
        shop_domain: str,
        endpoint: str,
        access_token: str,
        max_retries: int,
        max_retry_wait: float,
        sleep: Callable[[float], Awaitable[None]],
    ) -> None:
        self._client = client
        self._shop_domain = shop_domain
        self._endpoint = endpoint
        self._headers = {"X-Shopify-Access-Token": access_token, "Accept": "application/json"}
        self._max_retries = max_retries
        self._max_retry_wait = max_retry_wait
        self._sleep = sleep

    async def execute(
        self, operation: str, query: str, variables: Mapping[str, Any], *, write: bool = False
    ) -> dict[str, Any]:
        """`data` of one GraphQL request, with bounded retries.

        Reads are idempotent, so they are retried on throttling and on 5xx/timeouts. A write is
        retried only when throttled: Shopify refuses a throttled request before running it, so the
        outcome is known. After a 5xx or a timeout a write's outcome is unknown and the caller
        resolves it with find_order instead.
        """
        attempt = 0
        while True:
            try:
                return await self._send(operation, query, variables)
            except _Throttled as throttled:
                if attempt >= self._max_retries or throttled.wait > self._max_retry_wait:
                    # A wait longer than we may hold the caller is handed back to the caller.
                    raise RateLimited(str(throttled), retry_after=throttled.wait) from None
                delay = min(
                    throttled.wait + random.uniform(0, THROTTLE_JITTER), self._max_retry_wait
                )
                reason = str(throttled)
            except _Unavailable as unavailable:
                if write or attempt >= self._max_retries:
                    raise PlatformUnavailable(str(unavailable)) from unavailable.__cause__
                delay = min(
                    RETRY_BASE * 2**attempt * random.uniform(1.0, 1.2), self._max_retry_wait
                )
                reason = str(unavailable)
            attempt += 1
            log.warning(
                "shopify.graphql.retry shop=%s operation=%s attempt=%d wait=%.2f reason=%s",
                self._shop_domain,
                operation,
                attempt,
                delay,
                reason,
            )
            await self._sleep(delay)

    async def _send(
        self, operation: str, query: str, variables: Mapping[str, Any]
    ) -> dict[str, Any]:
        try:
            response = await self._client.post(
                self._endpoint, json={"query": query, "variables": variables}, headers=self._headers
            )
        except httpx.TimeoutException as exc:
            raise _Unavailable(f"Shopify did not answer {operation} in time") from exc
        except httpx.RequestError as exc:  # connection, protocol, decoding
            raise _Unavailable(f"could not reach Shopify for {operation} ({exc!r})") from exc
        status = response.status_code
        where = (
            f"{operation} on {self._shop_domain} (request {response.headers.get('x-request-id')})"
        )
        if status == 429:
            wait = _retry_after(response.headers.get("retry-after"))
            raise _Throttled(f"Shopify answered 429 to {where}", wait)
        if status in (401, 403):
            # 401: token revoked or app uninstalled. 403: a scope is missing or needs merchant
            # approval. Both need the merchant to authorise again, which is what checkout does on
            # CredentialsRevoked; retrying cannot help.
            raise CredentialsRevoked(
                f"Shopify refused the access token (HTTP {status}) for {where}"
            )
        if status in (402, 423):
            # Frozen for unpaid bills or locked: the token is fine and the shop comes back once
            # the merchant sorts it out, so "try later" fits better than "re-onboard".
            raise PlatformUnavailable(f"the shop is frozen or locked (HTTP {status}) for {where}")
        if status == 404:
            raise PlatformNotFound(f"Shopify has no such shop or API version: {where}")
        if status >= 500:
            raise _Unavailable(f"Shopify answered {status} to {where}")
        if status != 200:
            raise PlatformInvalidRequest(f"Shopify answered {status} to {where}: {response.text[:200]}")
        try:
            payload = response.json()
        except ValueError as exc:
            raise _Unavailable(f"Shopify answered {where} with a body that is not JSON") from exc
        if not isinstance(payload, dict):
            raise _Unavailable(f"Shopify answered {where} with JSON that is not an object")
        if payload.get("errors"):
            self._raise_graphql_errors(where, payload["errors"], payload.get("extensions"))
        data = payload.get("data")
        if not isinstance(data, dict):
            raise _Unavailable(f"Shopify answered {where} without `data`")
        return data

    def _raise_graphql_errors(self, where: str, errors: object, extensions: object) -> NoReturn:
        listed: list[Any] = errors if isinstance(errors, list) else [{"message": str(errors)}]
        codes = {
            (error.get("extensions") or {}).get("code")
            for error in listed
            if isinstance(error, dict)
        }
        text = messages(listed)
        if "THROTTLED" in codes:
            raise _Throttled(f"Shopify throttled {where}", _throttle_wait(extensions))
        if "ACCESS_DENIED" in codes:
            raise CredentialsRevoked(f"Shopify denied access for {where}: {text}")
        if "INTERNAL_SERVER_ERROR" in codes:
            raise _Unavailable(f"Shopify failed internally on {where}: {text}")
        raise PlatformInvalidRequest(f"Shopify rejected {where}: {text}")

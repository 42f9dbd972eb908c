"""Calls to Etsy Open API v3 with its limits honoured: auth headers, retries, errors translated."""

from __future__ import annotations

import logging
import random
from collections.abc import Awaitable, Callable, Container, Mapping
from datetime import datetime
from typing import Any

import httpx

from merchant_adapters import (
    CredentialsRevoked,
    PlatformInvalidRequest,
    PlatformNotFound,
    PlatformUnavailable,
    RateLimited,
)
from merchant_adapters.retrying import retry_after_seconds

logger = logging.getLogger("merchant_adapters.etsy")

ETSY_BASE_URL = "https://openapi.etsy.com/v3/application"
PAGE_LIMIT = 100  # Etsy's maximum `limit`, for pages and for batch listing_ids alike
# Etsy counts the daily quota over a rolling 24 h window and does not say when a bucket frees
# up, so an exhausted day pauses the merchant for an hour rather than retrying in a loop.
DAILY_LIMIT_PAUSE_SECONDS = 3600.0

Json = dict[str, Any]


def _error_text(response: httpx.Response) -> str:
    try:
        body = response.json()
    except ValueError:
        return response.text[:200]
    if isinstance(body, dict):
        return " ".join(str(body[k]) for k in ("error", "error_description") if body.get(k))
    return str(body)[:200]


def results(body: Any, what: str) -> list[Json]:
    if not isinstance(body, dict) or not isinstance(body.get("results"), list):
        raise PlatformUnavailable(f"Etsy answered {what} without a results list")
    return [r for r in body["results"] if isinstance(r, dict)]


class EtsyTransport:
    """One shop's requests through an httpx client the caller owns; `max_retries`,
    `max_retry_wait` and `sleep` are public because an inventory PUT retries by itself."""

    def __init__(
        self,
        client: httpx.AsyncClient,
        *,
        api_key: str,
        shared_secret: str,
        access_token: str,
        base_url: str,
        max_retries: int,
        max_retry_wait: float,
        timeout: float,
        sleep: Callable[[float], Awaitable[None]],
        clock: Callable[[], datetime],
    ) -> None:
        self._client = client
        self._base_url = base_url.rstrip("/")
        self.max_retries = max_retries
        self.max_retry_wait = max_retry_wait
        self._timeout = timeout
        self.sleep = sleep
        self._clock = clock
        self._random = random.Random()
        self._headers = {
            "x-api-key": f"{api_key}:{shared_secret}",
            "authorization": f"Bearer {access_token}",
            "accept": "application/json",
        }
        self._remaining_today: int | None = None

    async def get(self, path: str, *, params: Mapping[str, Any] | None = None) -> Any:
        return self.json(await self.send("GET", path, params=params, retry=True), f"GET {path}")

    def json(self, response: httpx.Response, what: str) -> Any:
        try:
            return response.json()
        except ValueError as exc:
            raise PlatformUnavailable(f"Etsy answered {what} with a body that is not JSON") from exc

    async def send(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, Any] | None = None,
        json: Any = None,
        retry: bool,
        passthrough: Container[int] = (),
    ) -> httpx.Response:
        """One call with Etsy's limits honoured: retries 429 always, and 5xx or transport
        errors only when `retry` (reads and idempotent writes)."""
        what = f"{method} {path}"
        for attempt in range(self.max_retries + 1):
            last = attempt >= self.max_retries
            try:
                response = await self._client.request(
                    method,
                    f"{self._base_url}{path}",
                    params=params,
                    json=json,
                    headers=self._headers,
                    timeout=self._timeout,
                )
            except httpx.TransportError as exc:  # timeouts, connect and protocol errors
                if not retry or last:
                    raise PlatformUnavailable(
                        f"Etsy {what} failed: {exc.__class__.__name__}"
                    ) from exc
                await self.sleep(self._backoff(attempt))
                continue
            self._note_limits(response)
            status = response.status_code
            if status < 400 or status in passthrough:
                return response
            if status == 429:
                wait, daily = self._rate_limit_wait(response)
                # A PUT refused with 429 was not applied; the inventory PUT retries it after a
                # re-read (EtsyInventory.put).
                if daily or last or method == "PUT" or wait > self.max_retry_wait:
                    raise RateLimited(f"Etsy rate limit on {what}", retry_after=wait)
                logger.info("etsy.request.rate_limited path=%s wait=%.2f", path, wait)
                await self.sleep(wait)
                continue
            if status >= 500:
                if not retry or last:
                    raise PlatformUnavailable(f"Etsy answered {status} to {what}")
                await self.sleep(self._backoff(attempt))
                continue
            text = _error_text(response)
            if status in (401, 403):
                raise CredentialsRevoked(f"Etsy refused the credentials ({status}): {text}")
            if status == 404:
                raise PlatformNotFound(f"Etsy has no such resource ({what}): {text}")
            raise PlatformInvalidRequest(f"Etsy rejected {what} ({status}): {text}")
        raise AssertionError("unreachable: the last attempt always returns or raises")

    def _note_limits(self, response: httpx.Response) -> None:
        remaining = response.headers.get("x-remaining-today")
        if remaining is not None and remaining.strip().isdigit():
            self._remaining_today = int(remaining)

    def _rate_limit_wait(self, response: httpx.Response) -> tuple[float, bool]:
        """Seconds to wait after a 429, and whether the daily quota (not QPS) is exhausted."""
        retry_after = response.headers.get("retry-after")
        if retry_after:
            seconds = retry_after_seconds(retry_after, self._clock)
            if seconds is not None:
                return max(0.0, seconds), False
        if self._remaining_today == 0:
            return DAILY_LIMIT_PAUSE_SECONDS, True
        # A per-second limit: wait for the next second, jittered so workers do not stampede.
        to_next_second = 1.0 - self._clock().microsecond / 1_000_000
        return to_next_second + self._random.uniform(0.0, 0.25), False

    def _backoff(self, attempt: int) -> float:
        return min(self.max_retry_wait, 0.5 * 2.0**attempt + self._random.uniform(0.0, 0.25))

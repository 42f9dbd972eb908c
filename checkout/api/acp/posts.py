"""What every ACP POST settles before its work, resolved as one dependency."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Annotated, Any

from fastapi import Depends, Request
from fastapi.responses import Response

from checkout.api.acp.versions import versioned_idempotency_key
from checkout.api.deps import agent_of, api_version, services_of
from checkout.api.idempotency import (
    AsyncWork,
    Idempotency,
    Work,
    run_idempotently,
    run_idempotently_async,
)
from checkout.protocol.render import Presentation
from checkout.settings import Settings


@dataclass(frozen=True, slots=True)
class AcpPost:
    """The calling agent, its API-Version, the Idempotency-Key and the raw body, with what a POST
    works with: one dependency instead of one per part, because FastAPI's resolution of each
    dependency (its own parameters, validation and cache key) was a tenth of a create's CPU."""

    agent: str
    version: str
    key: str
    raw: bytes
    idempotency: Idempotency
    clock: Callable[[], datetime]
    presentation: Presentation
    settings: Settings

    async def run(self, path: str, work: Work) -> Response:
        """`work` in one transaction under this POST's key (see `run_idempotently`)."""
        return await run_idempotently(
            self.idempotency, agent_id=self.agent, path=path, key=self.key, raw=self.raw, work=work
        )

    async def run_async(self, path: str, work: AsyncWork) -> Response:
        """A saga under this POST's key (see `run_idempotently_async`)."""
        return await run_idempotently_async(
            self.idempotency, agent_id=self.agent, path=path, key=self.key, raw=self.raw, work=work
        )


async def acp_post(request: Request) -> AcpPost:
    # The headers are read here rather than declared as FastAPI parameters: resolving and
    # validating three optional strings that way was 4 % of a create's CPU (measured in
    # process). `acp_post_headers` puts them in the OpenAPI document as declared ones were.
    headers = request.headers
    authorization = headers.get("authorization")
    version = headers.get("api-version")
    key = headers.get("idempotency-key")
    # Checked in the order the separate dependencies had: who, which version, which key.
    services = services_of(request)
    agent = await agent_of(services.agent_keys, authorization)
    accepted = await api_version(version)
    return AcpPost(
        agent=agent,
        version=accepted,
        key=await versioned_idempotency_key(accepted, key),
        # Fingerprinting uses the raw JSON, so fields the models do not know still count.
        raw=await request.body(),
        idempotency=services.idempotent_posts,
        clock=services.clock,
        presentation=services.presentation,
        settings=services.settings,
    )


AcpPostDep = Annotated[AcpPost, Depends(acp_post)]


def acp_post_headers() -> dict[str, Any]:
    """A route's `openapi_extra` for the headers `acp_post` reads, as FastAPI documents an
    optional string header (appended after the route's path parameters)."""
    return {
        "parameters": [
            {
                "name": name,
                "in": "header",
                "required": False,
                "schema": {"anyOf": [{"type": "string"}, {"type": "null"}], "title": title},
            }
            for name, title in (
                ("authorization", "Authorization"),
                ("API-Version", "Api-Version"),
                ("Idempotency-Key", "Idempotency-Key"),
            )
        ]
    }

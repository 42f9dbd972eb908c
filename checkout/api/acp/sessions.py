"""ACP checkout session endpoints: create, update, get, complete, cancel."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from fastapi import APIRouter, Body
from fastapi.responses import Response
from sqlmodel import Session

from checkout.api.acp.openapi import ERRORS, GET_ERRORS, session_responses
from checkout.api.acp.posts import AcpPostDep, acp_post_headers
from checkout.api.acp.versions import BrowserHeadersDep, remembering_channel
from checkout.api.deps import (
    AgentDep,
    ApiVersionDep,
    ClockDep,
    CompletionDep,
    DatabaseDep,
    PresentationDep,
)
from checkout.api.idempotency import Keep
from checkout.api.problems import error_body, json_response, status_for
from checkout.flows import checkout_sessions as sessions
from checkout.flows.purchase.complete import complete_checkout
from checkout.flows.purchase.steps import CompleteOutcome
from checkout.protocol import dialects
from checkout.protocol.render import to_json
from checkout.protocol.requests import (
    CancelSessionRequest,
    CheckoutSessionCompleteRequest,
    CheckoutSessionCreateRequest,
    CheckoutSessionUpdateRequest,
)

router = APIRouter(tags=["checkout"])


@router.post(
    "/checkout_sessions",
    status_code=201,
    responses=session_responses(201),
    openapi_extra=acp_post_headers(),
    operation_id="createCheckoutSession",
)
async def create_checkout_session(body: CheckoutSessionCreateRequest, post: AcpPostDep) -> Response:
    dialects.accept(post.version, body)

    def work(db: Session) -> tuple[int, dict[str, Any]]:
        state = sessions.create_session(
            db,
            body,
            agent_id=post.agent,
            now=post.clock(),
            ttl=timedelta(minutes=post.settings.session_ttl_minutes),
            api_version=post.version,
        )
        return 201, dialects.session(post.version, state, post.presentation)

    return await post.run("/checkout_sessions", work)


@router.post(
    "/checkout_sessions/{checkout_session_id}",
    responses=session_responses(200),
    openapi_extra=acp_post_headers(),
    operation_id="updateCheckoutSession",
)
async def update_checkout_session(
    checkout_session_id: str, body: CheckoutSessionUpdateRequest, post: AcpPostDep
) -> Response:
    dialects.accept(post.version, body)

    def work(db: Session) -> tuple[int, dict[str, Any]]:
        state = sessions.update_session(
            db, checkout_session_id, body, agent_id=post.agent, now=post.clock()
        )
        return 200, dialects.session(post.version, state, post.presentation)

    return await post.run(f"/checkout_sessions/{checkout_session_id}", work)


@router.get(
    "/checkout_sessions/{checkout_session_id}",
    responses=GET_ERRORS | session_responses(200),
    operation_id="getCheckoutSession",
)
async def get_checkout_session(
    checkout_session_id: str,
    agent: AgentDep,
    version: ApiVersionDep,
    database: DatabaseDep,
    clock: ClockDep,
    presentation: PresentationDep,
) -> Response:
    def read() -> dict[str, Any]:
        with database.read() as db:
            state = sessions.get_session(db, checkout_session_id, agent_id=agent, now=clock())
            return dialects.session(version, state, presentation)

    return json_response(200, to_json(await database.run(read)))


@router.post(
    "/checkout_sessions/{checkout_session_id}/complete",
    responses=session_responses(200, with_order=True) | {402: ERRORS[400], 503: ERRORS[500]},
    openapi_extra=acp_post_headers(),
    operation_id="completeCheckoutSession",
)
async def complete_checkout_session(
    checkout_session_id: str,
    body: CheckoutSessionCompleteRequest,
    post: AcpPostDep,
    completion: CompletionDep,
    browser: BrowserHeadersDep,
) -> Response:
    path = f"/checkout_sessions/{checkout_session_id}/complete"
    dialects.accept(post.version, body)

    def reply(outcome: CompleteOutcome) -> tuple[int, dict[str, Any]]:
        if outcome.refusal is not None:
            return status_for(outcome.refusal), error_body(outcome.refusal, path)
        return 200, dialects.session(post.version, outcome.state, post.presentation)

    async def work(keep: Keep) -> tuple[int, dict[str, Any]]:
        outcome = await complete_checkout(
            completion,
            checkout_session_id,
            body,
            agent_id=post.agent,
            respond=remembering_channel(
                post.version,
                body.risk_signals,
                browser,
                lambda db, decided: keep(db, *reply(decided)),
            ),
        )
        return reply(outcome)

    return await post.run_async(path, work)


@router.post(
    "/checkout_sessions/{checkout_session_id}/cancel",
    responses=session_responses(200) | {405: ERRORS[400]},
    openapi_extra=acp_post_headers(),
    operation_id="cancelCheckoutSession",
)
async def cancel_checkout_session(
    checkout_session_id: str,
    post: AcpPostDep,
    body: CancelSessionRequest | None = Body(default=None),
) -> Response:
    def work(db: Session) -> tuple[int, dict[str, Any]]:
        state = sessions.cancel_session(
            db, checkout_session_id, body, agent_id=post.agent, now=post.clock()
        )
        return 200, dialects.session(post.version, state, post.presentation)

    return await post.run(f"/checkout_sessions/{checkout_session_id}/cancel", work)

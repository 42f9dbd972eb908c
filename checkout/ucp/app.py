"""The UCP REST binding, served under /ucp: the shopping service's checkout sessions and orders,
with UCP's own error shape; /.well-known/ucp (the business profile) is served at the root."""

from __future__ import annotations

import hmac
from datetime import timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Depends, FastAPI, Header, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, Response
from pydantic import ValidationError
from sqlmodel import Session
from starlette.exceptions import HTTPException as StarletteHTTPException

from checkout.api.idempotency import Keep
from checkout.api.problems import json_document, json_response
from checkout.api.services import Services
from checkout.domain.errors import CheckoutError, InvalidRequest, NotFound
from checkout.flows import checkout_sessions as sessions
from checkout.flows import ucp_sessions
from checkout.flows.fulfill_order import ship_order
from checkout.flows.purchase.steps import CompleteOutcome
from checkout.flows.session_state import SessionState
from checkout.protocol import ucp_requests as ucp
from checkout.protocol.render import to_json
from checkout.store.catalog import shipping_rules
from checkout.store.orders import Orders
from checkout.store.platform_items import PlatformItems
from checkout.store.rows import OrderRow
from checkout.store.sessions import CheckoutSessions
from checkout.ucp import discovery, render, render_2026_04_08
from checkout.ucp.idempotency import refusal, run_once, run_write_once
from checkout.ucp.negotiation import VERSIONS, UcpAgent, negotiate, parse_ucp_agent
from checkout.ucp.problems import Forbidden, error_body, status_for
from checkout.ucp.signing import SigningKey
from checkout.ucp.webhooks import OrderEventSender


async def _services(request: Request) -> Services:
    services: Services = request.app.state.services
    return services


async def _agent(ucp_agent: Annotated[str | None, Header(alias="UCP-Agent")] = None) -> UcpAgent:
    if not ucp_agent:
        raise InvalidRequest(
            'Send the UCP-Agent header with your profile: profile="https://...".',
            code="missing_ucp_agent",
        )
    return parse_ucp_agent(ucp_agent)


async def _raw(request: Request) -> bytes:
    return await request.body()


ServicesDep = Annotated[Services, Depends(_services)]
AgentDep = Annotated[UcpAgent, Depends(_agent)]
RawDep = Annotated[bytes, Depends(_raw)]
KeyDep = Annotated[str | None, Header(alias="Idempotency-Key", max_length=255)]


def _parse(model: type[Any], raw: bytes) -> Any:
    """The body as the model reads it; refused with 400 and where it is wrong."""
    try:
        return model.model_validate_json(raw or b"{}")
    except ValidationError as exc:
        first = exc.errors()[0]
        where = "$" + "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in first["loc"])
        raise InvalidRequest(f"{where}: {first['msg']}", param=where) from exc


def _checkout_body(
    db: Session, services: Services, state: SessionState, version: str
) -> dict[str, Any]:
    item_ids = PlatformItems(db).item_ids(lt.line.offer.variant_id for lt in state.quote.lines)
    body = render.checkout(
        state,
        version=version,
        item_ids=item_ids,
        shipping=shipping_rules(state.merchant),
        base_url=services.settings.public_base_url,
        order=state.order,
    )
    return render_2026_04_08.checkout(body) if version == render_2026_04_08.VERSION else body


def _order_body(db: Session, services: Services, order: OrderRow, version: str) -> dict[str, Any]:
    session = CheckoutSessions(db).get_any(order.checkout_session_id)
    assert session is not None
    state = sessions.get_session(db, session.id, agent_id=session.agent_id, now=services.clock())
    extra = Orders(db).protocol_state(order.id)
    item_ids = PlatformItems(db).item_ids(lt.line.offer.variant_id for lt in state.quote.lines)
    body = render.order_document(
        state,
        order,
        version=version,
        item_ids=item_ids,
        shipping=shipping_rules(state.merchant),
        extra=extra.state if extra else {},
    )
    if version == render_2026_04_08.VERSION:
        return render_2026_04_08.order(body, order.currency)
    return body


def _agents_order(db: Session, order_id: str, agent: UcpAgent) -> OrderRow:
    order = Orders(db).get(order_id)
    if (
        order is None
        or CheckoutSessions(db).get(order.checkout_session_id, agent_id=agent.agent_id) is None
    ):
        raise NotFound(f"Order '{order_id}' does not exist.", code="order_not_found")
    return order


def _agent_version(db: Session, order: OrderRow) -> str:
    """The version the order's agent spoke when it created the checkout."""
    session = CheckoutSessions(db).get_any(order.checkout_session_id)
    return str(
        ((session.protocol_state or {}) if session else {}).get("version") or negotiate(None)
    )


def _event_for(services: Services, order_id: str) -> tuple[str | None, dict[str, Any]] | None:
    """The agent's profile and the order as it stands, for an order event."""
    with services.database.read() as db:
        order = Orders(db).get(order_id)
        session = CheckoutSessions(db).get_any(order.checkout_session_id) if order else None
        if order is None or session is None:
            return None
        profile = (session.protocol_state or {}).get("profile")
        return profile, _order_body(db, services, order, _agent_version(db, order))


router = APIRouter(tags=["ucp"])


@router.post("/checkout-sessions", status_code=201, operation_id="ucpCreateCheckout")
async def create_checkout(
    agent: AgentDep, raw: RawDep, services: ServicesDep, key: KeyDep = None
) -> Response:
    body = _parse(ucp.CheckoutCreateRequest, raw)
    merchant_id = services.settings.ucp_merchant_id
    assert merchant_id is not None

    def op(db: Session) -> tuple[int, dict[str, Any]]:
        state = ucp_sessions.create_checkout(
            db,
            body,
            agent_id=agent.agent_id,
            profile=agent.profile,
            version=agent.version,
            merchant_id=merchant_id,
            ttl=timedelta(minutes=services.settings.session_ttl_minutes),
            now=services.clock(),
        )
        return 201, _checkout_body(db, services, state, agent.version)

    return await run_write_once(
        services,
        agent_id=agent.agent_id,
        version=agent.version,
        path="/checkout-sessions",
        key=key,
        raw=raw,
        op=op,
    )


@router.get("/checkout-sessions/{checkout_id}", operation_id="ucpGetCheckout")
def get_checkout(checkout_id: str, agent: AgentDep, services: ServicesDep) -> Response:
    with services.database.read() as db:
        state = sessions.get_session(db, checkout_id, agent_id=agent.agent_id, now=services.clock())
        body = _checkout_body(db, services, state, agent.version)
    return json_document(body)


@router.put("/checkout-sessions/{checkout_id}", operation_id="ucpUpdateCheckout")
async def update_checkout(
    checkout_id: str, agent: AgentDep, raw: RawDep, services: ServicesDep, key: KeyDep = None
) -> Response:
    body = _parse(ucp.CheckoutUpdateRequest, raw)

    def op(db: Session) -> tuple[int, dict[str, Any]]:
        state = ucp_sessions.update_checkout(
            db, checkout_id, body, agent_id=agent.agent_id, now=services.clock()
        )
        return 200, _checkout_body(db, services, state, agent.version)

    return await run_write_once(
        services,
        agent_id=agent.agent_id,
        version=agent.version,
        path=f"/checkout-sessions/{checkout_id}",
        key=key,
        raw=raw,
        op=op,
    )


@router.post("/checkout-sessions/{checkout_id}/cancel", operation_id="ucpCancelCheckout")
async def cancel_checkout(
    checkout_id: str, agent: AgentDep, raw: RawDep, services: ServicesDep, key: KeyDep = None
) -> Response:
    def op(db: Session) -> tuple[int, dict[str, Any]]:
        state = sessions.cancel_session(
            db, checkout_id, None, agent_id=agent.agent_id, now=services.clock()
        )
        return 200, _checkout_body(db, services, state, agent.version)

    return await run_write_once(
        services,
        agent_id=agent.agent_id,
        version=agent.version,
        path=f"/checkout-sessions/{checkout_id}/cancel",
        key=key,
        raw=raw,
        op=op,
    )


@router.post("/checkout-sessions/{checkout_id}/complete", operation_id="ucpCompleteCheckout")
async def complete_checkout(
    checkout_id: str,
    agent: AgentDep,
    raw: RawDep,
    services: ServicesDep,
    key: KeyDep = None,
) -> Response:
    body = _parse(ucp.CompleteRequest, raw)

    def answer(db: Session, outcome: CompleteOutcome) -> tuple[int, dict[str, Any]]:
        if outcome.refusal is not None:
            return refusal(outcome.refusal, agent.version)
        return 200, _checkout_body(db, services, outcome.state, agent.version)

    async def work(keep: Keep) -> tuple[int, dict[str, Any]]:
        def vault() -> str | None:
            with services.database.write() as db:
                return ucp_sessions.vault_instrument(
                    db,
                    checkout_id,
                    body.payment_data,
                    agent_id=agent.agent_id,
                    idempotency_key=key or "",
                    provider=services.provider,
                    now=services.clock(),
                )

        token = await services.database.run(vault)
        outcome = await ucp_sessions.complete_with_token(
            services.completion,
            checkout_id,
            token or "vt_none",
            agent_id=agent.agent_id,
            respond=lambda db, decided: keep(db, *answer(db, decided)),
        )

        def final() -> tuple[int, dict[str, Any]]:
            with services.database.read() as db:
                return answer(db, outcome)

        # The order_placed event left with the order, through the outbox.
        return await services.database.run(final)

    return await run_once(
        services,
        agent_id=agent.agent_id,
        version=agent.version,
        path=f"/checkout-sessions/{checkout_id}/complete",
        key=key,
        raw=raw,
        work=work,
    )


@router.post("/tokenize", operation_id="ucpTokenize")
async def tokenize(
    agent: AgentDep, raw: RawDep, services: ServicesDep, key: KeyDep = None
) -> Response:
    """The sandbox tokenizer's tokenize (handlers/tokenization/openapi.json): a card in, a token
    bound to the checkout out. There is no detokenize: the card number is never stored."""
    body = _parse(ucp.TokenizeRequest, raw)

    def op(db: Session) -> tuple[int, dict[str, Any]]:
        token = ucp_sessions.tokenize(
            db, body, agent_id=agent.agent_id, provider=services.provider, now=services.clock()
        )
        return 200, {"token": token}

    return await run_write_once(
        services,
        agent_id=agent.agent_id,
        version=agent.version,
        path="/tokenize",
        key=key,
        raw=raw,
        op=op,
    )


@router.get("/orders/{order_id}", operation_id="ucpGetOrder")
def get_order(order_id: str, agent: AgentDep, services: ServicesDep) -> Response:
    with services.database.read() as db:
        order = _agents_order(db, order_id, agent)
        body = _order_body(db, services, order, agent.version)
    return json_document(body)


@router.put("/orders/{order_id}", operation_id="ucpUpdateOrder")
def update_order(
    order_id: str, body: ucp.OrderUpdateRequest, agent: AgentDep, services: ServicesDep
) -> Response:
    """Record fulfillment events and adjustments on the order (the append-only logs UCP orders
    carry); everything else about the order stays as sold."""
    with services.database.write() as db:
        order = _agents_order(db, order_id, agent)
        row = Orders(db).protocol_state(order.id, for_update=True)
        state = dict(row.state) if row else {}
        if body.fulfillment is not None and body.fulfillment.events is not None:
            state["events"] = [
                e.model_dump(mode="json", exclude_none=True) for e in body.fulfillment.events
            ]
        if body.adjustments is not None:
            state["adjustments"] = [
                a.model_dump(mode="json", exclude_none=True) for a in body.adjustments
            ]
        Orders(db).keep_protocol_state(order.id, state, services.clock())
        document = _order_body(db, services, order, agent.version)
    return json_document(document)


simulation = APIRouter(tags=["ucp simulation"])


@simulation.post("/testing/simulate-shipping/{order_id}", operation_id="ucpSimulateShipping")
async def simulate_shipping(
    order_id: str,
    services: ServicesDep,
    secret: Annotated[str | None, Header(alias="Simulation-Secret")] = None,
) -> Response:
    """Ship an order as the merchant would (the core's shipment, then order_shipped)."""
    expected = services.settings.simulation_secret or ""
    if not secret or not expected or not hmac.compare_digest(secret.encode(), expected.encode()):
        raise Forbidden("The Simulation-Secret header is missing or wrong.")
    document = await services.database.run(_ship, services, order_id)
    return json_document(document)


def _ship(services: Services, order_id: str) -> dict[str, Any]:
    """The core's shipment (as the operator records one): the order's events and the
    order_shipped event to its agent follow from it."""
    with services.database.write() as db:
        order = Orders(db).get(order_id)
        if order is None:
            raise NotFound(f"Order '{order_id}' does not exist.", code="order_not_found")
        shipped = ship_order(
            db,
            order_id,
            carrier="Simulated Carrier",
            tracking_number=f"SIM{order.order_number}",
            tracking_url=None,
            now=services.clock(),
        )
        return _order_body(db, services, shipped, _agent_version(db, shipped))


@router.get("/handlers/sandbox_tokenizer", response_class=HTMLResponse, include_in_schema=False)
def handler_spec() -> str:
    return (
        "<!doctype html><html><head><title>Sandbox tokenizer</title></head><body>"
        "<h1>Sandbox tokenizer payment handler</h1><p>Completes checkouts with a card credential "
        "(<code>type: card</code>, an FPAN) or a token it issued (<code>type: token</code>). "
        "The sandbox provider's test tokens <code>success_token</code> and "
        "<code>fail_token</code> stand for Stripe's 4242&hellip; and declined test cards.</p>"
        "</body></html>"
    )


@router.get("/handlers/sandbox_tokenizer/config.json", include_in_schema=False)
def handler_config_schema() -> Response:
    return json_document(
        {
            "$schema": "https://json-schema.org/draft/2020-12/schema",
            "type": "object",
            "properties": {
                "credential_types": {
                    "type": "array",
                    "items": {"type": "string", "enum": ["token", "card"]},
                }
            },
        }
    )


@router.get("/policies/{kind}", response_class=HTMLResponse, include_in_schema=False)
def policy(kind: str) -> str:
    if kind not in render.LINK_TYPES:
        raise NotFound(f"No policy '{kind}'.")
    title = kind.replace("_", " ").capitalize()
    return f"<!doctype html><html><head><title>{title}</title></head><body><h1>{title}</h1></body></html>"


well_known = APIRouter(tags=["ucp"])


@well_known.get(
    "/.well-known/ucp",
    operation_id="ucpBusinessProfile",
    responses={
        200: {
            "description": "The business profile (discovery/profile_schema.json).",
            "content": {
                "application/json": {
                    "schema": {
                        "type": "object",
                        "required": ["ucp"],
                        "properties": {"ucp": {"type": "object"}},
                        "description": "UCP's business profile; its schema is the specification's "
                        "discovery/profile_schema.json of the negotiated version.",
                    }
                }
            },
        },
        400: {"description": "A version this business does not speak (version_unsupported)."},
        404: {"description": "This platform serves no UCP business profile."},
    },
)
def business_profile(
    request: Request,
    ucp_agent: Annotated[str | None, Header(alias="UCP-Agent")] = None,
    version: Annotated[str | None, Query(max_length=10)] = None,
) -> Response:
    """The profile in the version asked for (the `version` query names an older version's
    profile, as 2026-04-08's `supported_versions` links to it); 2026-01-11 by default."""
    services: Services = request.app.state.services
    if services.settings.ucp_merchant_id is None:
        raise NotFound("This platform serves no UCP business profile (UCP_MERCHANT_ID).")
    try:
        chosen = negotiate(version) if version else parse_ucp_agent(ucp_agent).version
    except CheckoutError as exc:
        return json_response(status_for(exc), to_json(error_body(exc)))
    base_url = services.settings.public_base_url
    body = discovery.profile(base_url, chosen)
    body["signing_keys"] = [request.app.state.ucp_signing_key.jwk()]
    if chosen == render_2026_04_08.VERSION:
        older = {v: f"{base_url}/.well-known/ucp?version={v}" for v in VERSIONS if v < chosen}
        body = render_2026_04_08.profile(body, older)
    return json_document(body)


def _version_of(request: Request) -> str:
    """The version an error is told in: the request's, or the default when it named none we
    speak (that refusal itself is told in the default)."""
    try:
        return parse_ucp_agent(request.headers.get("UCP-Agent")).version
    except CheckoutError:
        return negotiate(None)


def create_ucp_app(services: Services) -> FastAPI:
    """A sub-application so UCP errors leave in UCP's shape, not ACP's."""
    app = FastAPI(title="UCP shopping service", version="2026-01-11")
    app.state.services = services
    app.include_router(router)
    if services.settings.simulation_secret:
        app.include_router(simulation)

    @app.exception_handler(CheckoutError)
    async def checkout_error(request: Request, exc: CheckoutError) -> Response:
        return json_response(status_for(exc), to_json(error_body(exc, _version_of(request))))

    @app.exception_handler(RequestValidationError)
    async def validation_error(request: Request, exc: RequestValidationError) -> Response:
        first = (exc.errors() or [{"loc": (), "msg": "invalid request"}])[0]
        where = "$" + "".join(
            f"[{p}]" if isinstance(p, int) else f".{p}" for p in tuple(first.get("loc", ()))[1:]
        )
        problem = InvalidRequest(f"{where}: {first.get('msg')}", param=where)
        return json_response(422, to_json(error_body(problem, _version_of(request))))

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> Response:
        problem = (
            NotFound(f"No resource at {request.url.path}.")
            if exc.status_code == 404
            else InvalidRequest(str(exc.detail))
        )
        return json_response(exc.status_code, to_json(error_body(problem, _version_of(request))))

    return app


def install_ucp(
    app: FastAPI, services: Services, events: OrderEventSender, key: SigningKey
) -> None:
    """Serve UCP beside ACP when the settings name the merchant it sells for (its business
    profile is served by `install_business_profile`).

    Install it before ACP's routes: requests are matched against routes in order, and a UCP
    request would otherwise be tried against every ACP route first (5 % of a UCP create's time).
    """
    app.state.ucp_signing_key = key
    app.state.ucp_events = events
    events.render = lambda order_id: _event_for(services, order_id)
    if services.settings.ucp_merchant_id is not None:
        ucp_app = create_ucp_app(services)
        # The profile is also found relative to the service's own root, for clients given that.
        ucp_app.state.ucp_signing_key = key
        ucp_app.include_router(well_known)
        app.mount("/ucp", ucp_app)


def install_business_profile(app: FastAPI) -> None:
    """`/.well-known/ucp`, served whether or not a UCP merchant is set (see the profile route)."""
    app.include_router(well_known)

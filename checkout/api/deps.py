"""Request dependencies, named so route signatures read as sentences and say what a route touches.

Everything here is built once per app by create_app (`app.state.services`); a route asks only for
the parts it uses (`DatabaseDep`, `ClockDep`, `PresentationDep`, ...), never for the whole set.
"""

from __future__ import annotations

import hmac
from collections.abc import Callable
from datetime import datetime
from typing import Annotated

import anyio
from fastapi import Depends, Header, Request

from checkout.api.idempotency import Idempotency
from checkout.api.services import AgentKeys, Services, key_hash
from checkout.domain.errors import (
    IdempotencyKeyRequired,
    InvalidRequest,
    Unauthenticated,
    UnsupportedApiVersion,
)
from checkout.flows.purchase.saga import Completion
from checkout.flows.refund_order import Refunding
from checkout.flows.stripe_events import StripeInbox
from checkout.payments.provider import ConnectedAccounts, PaymentProvider
from checkout.platforms import MerchantPlatforms
from checkout.protocol import SUPPORTED_VERSIONS
from checkout.protocol.render import Presentation
from checkout.settings import Settings
from checkout.store.db import Database
from checkout.store.merchants import Merchants


def services_of(request: Request) -> Services:
    services: Services = request.app.state.services
    return services


async def _database(request: Request) -> Database:
    return services_of(request).database


async def _clock(request: Request) -> Callable[[], datetime]:
    return services_of(request).clock


async def _settings(request: Request) -> Settings:
    return services_of(request).settings


async def _agent_keys(request: Request) -> AgentKeys:
    return services_of(request).agent_keys


async def _provider(request: Request) -> PaymentProvider:
    return services_of(request).provider


async def _accounts(request: Request) -> ConnectedAccounts:
    return services_of(request).accounts


async def _platforms(request: Request) -> MerchantPlatforms:
    return services_of(request).platforms


async def _presentation(request: Request) -> Presentation:
    return services_of(request).presentation


async def _completion(request: Request) -> Completion:
    return services_of(request).completion


async def _refunding(request: Request) -> Refunding:
    return services_of(request).refunding


async def _stripe_inbox(request: Request) -> StripeInbox:
    return services_of(request).stripe_inbox


async def _idempotency(request: Request) -> Idempotency:
    return services_of(request).idempotent_posts


# Dependencies that only read the app's state or the headers are coroutines: FastAPI runs a
# plain function dependency in the thread pool, a hop per dependency per request, which was a
# tenth of a create's CPU. Those that may touch the database stay plain functions.
DatabaseDep = Annotated[Database, Depends(_database)]
ClockDep = Annotated[Callable[[], datetime], Depends(_clock)]
SettingsDep = Annotated[Settings, Depends(_settings)]
AgentKeysDep = Annotated[AgentKeys, Depends(_agent_keys)]
ProviderDep = Annotated[PaymentProvider, Depends(_provider)]
AccountsDep = Annotated[ConnectedAccounts, Depends(_accounts)]
PlatformsDep = Annotated[MerchantPlatforms, Depends(_platforms)]
PresentationDep = Annotated[Presentation, Depends(_presentation)]
CompletionDep = Annotated[Completion, Depends(_completion)]
RefundingDep = Annotated[Refunding, Depends(_refunding)]
StripeInboxDep = Annotated[StripeInbox, Depends(_stripe_inbox)]
IdempotencyDep = Annotated[Idempotency, Depends(_idempotency)]


def _bearer(authorization: str | None) -> str:
    scheme, _, secret = (authorization or "").partition(" ")
    if scheme.lower() != "bearer" or not secret.strip():
        raise Unauthenticated("Missing or malformed Authorization header; send 'Bearer <api key>'.")
    return secret.strip()


async def authenticated_agent(
    agent_keys: AgentKeysDep, authorization: Annotated[str | None, Header()] = None
) -> str:
    return await agent_of(agent_keys, authorization)


async def agent_of(agent_keys: AgentKeys, authorization: str | None) -> str:
    """The agent whose API key the Authorization header carries; 401 otherwise."""
    secret = _bearer(authorization)
    found, agent_id = agent_keys.known(secret)
    if not found:
        agent_id = await anyio.to_thread.run_sync(agent_keys.agent_for, secret)
    if agent_id is None:
        raise Unauthenticated("The API key is not valid.")
    return agent_id


async def authenticated_operator(
    settings: SettingsDep, authorization: Annotated[str | None, Header()] = None
) -> str:
    secret = _bearer(authorization)
    if not hmac.compare_digest(secret.encode(), settings.operator_api_key.encode()):
        raise Unauthenticated("The operator API key is not valid.")
    return "operator"


def merchant_or_operator(
    merchant_id: str,
    settings: SettingsDep,
    database: DatabaseDep,
    authorization: Annotated[str | None, Header()] = None,
) -> str:
    """The operator, or the merchant itself with its own key, reading the merchant's money."""
    secret = _bearer(authorization)
    if hmac.compare_digest(secret.encode(), settings.operator_api_key.encode()):
        return "operator"
    digest = key_hash(secret)
    with database.read() as db:
        merchant = Merchants(db).get(merchant_id)
    if merchant is None or merchant.api_key_hash is None:
        raise Unauthenticated("The API key is not valid for this merchant.")
    if not hmac.compare_digest(digest.encode(), merchant.api_key_hash.encode()):
        raise Unauthenticated("The API key is not valid for this merchant.")
    return merchant_id


async def api_version(
    api_version: Annotated[str | None, Header(alias="API-Version")] = None,
) -> str:
    if not api_version:
        raise UnsupportedApiVersion(
            "The API-Version header is required.",
            supported=SUPPORTED_VERSIONS,
            code="missing_api_version",
        )
    if api_version not in SUPPORTED_VERSIONS:
        raise UnsupportedApiVersion(
            f"API-Version '{api_version[:40]}' is not supported.", supported=SUPPORTED_VERSIONS
        )
    return api_version


def idempotency_key(key: Annotated[str | None, Header(alias="Idempotency-Key")] = None) -> str:
    if key is None or key == "":
        raise IdempotencyKeyRequired("An Idempotency-Key header is required on every POST.")
    if len(key) > 255:
        raise InvalidRequest(
            "Idempotency-Key is at most 255 characters.", code="invalid_idempotency_key"
        )
    return key


async def raw_body(request: Request) -> bytes:
    # Fingerprinting uses the raw JSON, so fields the models do not know still count (ACP §6.7).
    return await request.body()


AgentDep = Annotated[str, Depends(authenticated_agent)]
OperatorDep = Annotated[str, Depends(authenticated_operator)]
MerchantReaderDep = Annotated[str, Depends(merchant_or_operator)]
ApiVersionDep = Annotated[str, Depends(api_version)]


async def _idempotency_key_header(
    key: Annotated[str | None, Header(alias="Idempotency-Key")] = None,
) -> str:
    return idempotency_key(key)


IdempotencyKeyDep = Annotated[str, Depends(_idempotency_key_header)]
RawBodyDep = Annotated[bytes, Depends(raw_body)]

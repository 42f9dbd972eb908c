"""Request dependencies, named so route signatures read as sentences."""

from __future__ import annotations

import hmac
from typing import Annotated

from fastapi import Depends, Header, Request

from checkout.api.services import Services, key_hash
from checkout.domain.errors import (
    IdempotencyKeyRequired,
    InvalidRequest,
    Unauthenticated,
    UnsupportedApiVersion,
)
from checkout.protocol import SUPPORTED_VERSIONS
from checkout.store.merchants import Merchants


def get_services(request: Request) -> Services:
    services: Services = request.app.state.services
    return services


ServicesDep = Annotated[Services, Depends(get_services)]


def _bearer(authorization: str | None) -> str:
    scheme, _, secret = (authorization or "").partition(" ")
    if scheme.lower() != "bearer" or not secret.strip():
        raise Unauthenticated("Missing or malformed Authorization header; send 'Bearer <api key>'.")
    return secret.strip()


def authenticated_agent(
    services: ServicesDep, authorization: Annotated[str | None, Header()] = None
) -> str:
    agent_id = services.agent_keys.agent_for(_bearer(authorization))
    if agent_id is None:
        raise Unauthenticated("The API key is not valid.")
    return agent_id


def authenticated_operator(
    services: ServicesDep, authorization: Annotated[str | None, Header()] = None
) -> str:
    secret = _bearer(authorization)
    if not hmac.compare_digest(secret.encode(), services.settings.operator_api_key.encode()):
        raise Unauthenticated("The operator API key is not valid.")
    return "operator"


def merchant_or_operator(
    merchant_id: str, services: ServicesDep, authorization: Annotated[str | None, Header()] = None
) -> str:
    """The operator, or the merchant itself with its own key, reading the merchant's money."""
    secret = _bearer(authorization)
    if hmac.compare_digest(secret.encode(), services.settings.operator_api_key.encode()):
        return "operator"
    digest = key_hash(secret)
    with services.database.read() as db:
        merchant = Merchants(db).get(merchant_id)
    if merchant is None or merchant.api_key_hash is None:
        raise Unauthenticated("The API key is not valid for this merchant.")
    if not hmac.compare_digest(digest.encode(), merchant.api_key_hash.encode()):
        raise Unauthenticated("The API key is not valid for this merchant.")
    return merchant_id


def api_version(api_version: Annotated[str | None, Header(alias="API-Version")] = None) -> str:
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
IdempotencyKeyDep = Annotated[str, Depends(idempotency_key)]
RawBodyDep = Annotated[bytes, Depends(raw_body)]

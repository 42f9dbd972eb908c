"""What the operator's and merchants' routes answer, as models the OpenAPI document shows.

These routes build their answers as plain documents (the views in `checkout.api.merchants`,
`checkout.api.refunds` and `checkout.api.ledger`); the models here describe those documents for
clients and /docs, keyed by operation id, and `document_responses` puts them into the schema.
Tests hold real answers to them.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field
from pydantic.json_schema import models_json_schema


class _Document(BaseModel):
    model_config = ConfigDict(populate_by_name=True)


class MerchantPayments(_Document):
    account_id: str | None
    status: str | None
    reason: str | None


class MerchantCommission(_Document):
    rate_bps: int
    category_bps: dict[str, int]
    minimum: int | None
    fixed: int


class MerchantView(_Document):
    id: str
    name: str
    platform: str
    shop_id: str | None
    shop_name: str | None
    currency: str | None
    country: str | None
    status: str
    status_reason: str | None
    commission: MerchantCommission
    payments: MerchantPayments
    links: dict[str, str]
    shipping: dict[str, Any] | None
    support_email: str | None
    active_products: int
    last_synced_at: str | None
    created_at: str


class SyncCounts(_Document):
    created: int
    updated: int
    unavailable: int
    pages: int


class MerchantCreated(MerchantView):
    api_key: str = Field(description="The merchant's own key (mk_...), shown once.")
    sync: SyncCounts | None
    warnings: list[dict[str, Any]]


class MerchantList(_Document):
    merchants: list[MerchantView]


class MerchantKey(_Document):
    merchant_id: str
    api_key: str


class OnboardingLinkView(_Document):
    merchant_id: str
    url: str
    expires_at: str
    payments: MerchantPayments


class OnboardingReturn(MerchantPayments):
    merchant_id: str


class SyncResult(SyncCounts):
    merchant_id: str
    mode: str


class FeedResult(SyncCounts):
    merchant_id: str


class WebhookReceipt(_Document):
    received: bool
    outcome: str | None = None


class StripeWebhookReceipt(WebhookReceipt):
    event: str


class RefundView(_Document):
    id: str
    order_id: str
    amount: int
    commission_refunded: int
    currency: str
    status: str
    reason: str | None
    source: str
    provider_refund_id: str | None
    created_at: str


class RefundWithOrder(RefundView):
    order: dict[str, Any] = Field(description="The ACP Order after the refund.")


class RefundList(_Document):
    order_id: str
    refunds: list[RefundView]


class CommissionTermsView(_Document):
    version: int
    rate_bps: int
    category_bps: dict[str, int]
    minimum: int | None
    fixed: int
    effective_at: str | None


class CommissionHistory(_Document):
    merchant_id: str
    current: CommissionTermsView
    history: list[CommissionTermsView]


class CommissionChanged(_Document):
    merchant_id: str
    current: CommissionTermsView
    warnings: list[dict[str, Any]]


class LedgerEntryView(_Document):
    id: int
    movement: str
    kind: str
    account: str
    amount: int
    currency: str
    order_id: str | None
    reference: str | None
    occurred_at: str


class LedgerPage(_Document):
    merchant_id: str
    entries: list[LedgerEntryView]
    next_cursor: int | None


class Statement(_Document):
    merchant_id: str
    currency: str | None
    from_: str | None = Field(alias="from")
    to: str | None
    orders: int
    gross_sales: int
    commission: int
    refunds: int
    commission_refunded: int
    disputes: int
    net: int
    commission_terms: CommissionTermsView


class RevenueSums(_Document):
    currency: str
    commission: int
    commission_refunded: int
    processor_fees: int
    refunds_and_disputes: int
    net: int


class MerchantRevenue(RevenueSums):
    merchant_id: str
    name: str | None


class DayRevenue(RevenueSums):
    date: str


class PlatformRevenue(_Document):
    from_: str | None = Field(alias="from")
    to: str | None
    totals: list[RevenueSums]
    by_merchant: list[MerchantRevenue]
    by_day: list[DayRevenue]


class AcpDiscovery(_Document):
    protocol: dict[str, Any]
    api_base_url: str
    transports: list[str]
    capabilities: dict[str, Any]


# operation id -> (success status, model of its answer)
RESPONSES: dict[str, tuple[str, type[BaseModel]]] = {
    "getDiscovery": ("200", AcpDiscovery),
    "createMerchant": ("201", MerchantCreated),
    "listMerchants": ("200", MerchantList),
    "getMerchant": ("200", MerchantView),
    "rotateMerchantKey": ("200", MerchantKey),
    "createOnboardingLink": ("200", OnboardingLinkView),
    "returnFromOnboarding": ("200", OnboardingReturn),
    "syncMerchant": ("200", SyncResult),
    "ingestFeed": ("200", FeedResult),
    "receivePlatformWebhook": ("200", WebhookReceipt),
    "refundOrder": ("201", RefundWithOrder),
    "listRefunds": ("200", RefundList),
    "getCommission": ("200", CommissionHistory),
    "changeCommission": ("200", CommissionChanged),
    "getLedger": ("200", LedgerPage),
    "getStatement": ("200", Statement),
    "getPlatformRevenue": ("200", PlatformRevenue),
    "receiveStripeEvent": ("200", StripeWebhookReceipt),
}
# Answered with a redirect to the provider's hosted onboarding, not a document.
REDIRECTS = {"refreshOnboardingLink": "303"}


def document_responses(schema: dict[str, Any]) -> dict[str, Any]:
    """Put each route's answer model (and the redirects) into an OpenAPI document."""
    _, definitions = models_json_schema(
        [(model, "serialization") for _, model in RESPONSES.values()],
        ref_template="#/components/schemas/{model}",
    )
    components = schema.setdefault("components", {}).setdefault("schemas", {})
    for name, definition in definitions.get("$defs", {}).items():
        components.setdefault(name, definition)
    for operations in schema.get("paths", {}).values():
        for operation in operations.values():
            operation_id = operation.get("operationId")
            if operation_id in RESPONSES:
                status, model = RESPONSES[operation_id]
                answer = operation["responses"].pop("200", None) or operation["responses"].get(
                    status, {}
                )
                operation["responses"][status] = {
                    "description": answer.get("description") or "Success",
                    "content": {
                        "application/json": {
                            "schema": {"$ref": f"#/components/schemas/{model.__name__}"}
                        }
                    },
                }
            elif operation_id in REDIRECTS:
                operation["responses"].pop("200", None)
                operation["responses"][REDIRECTS[operation_id]] = {
                    "description": "A redirect to a fresh onboarding link.",
                    "headers": {"Location": {"schema": {"type": "string"}}},
                }
    return schema

"""The ACP 2026-01-30 dialect: what differs from 2026-04-17, and turning our bodies into its shape.

The checkout core and `render` speak 2026-04-17. An agent that sends `API-Version: 2026-01-30`
gets the same sessions, stock, payments and orders; only the wire shape changes, here, at the
edge. The list below comes from diffing `spec/2026-01-30` against `spec/2026-04-17` (the OpenAPI
files and the JSON Schema bundles, ACP commit c2afc86) property by property.

Requests (01-30 is a subset of 04-17; everything else is identical, Item still has no quantity)
- `order_notes` on create, update and complete, `marketing_consents` on complete and
  `Address.company` are new in 04-17. A 01-30 agent sending them gets 400 `invalid_request`
  naming the field (01-30 declares `additionalProperties: false`). The leniencies we grant
  04-17 (an integer `quantity` on an item, unknown intent-trace reason codes) apply to both.
- `Idempotency-Key` is optional in 01-30 (declared at path level) and required on every POST
  in 04-17 (400 `idempotency_key_required`). A 01-30 POST without one is served as a fresh
  request under a key of our own, echoed in the `Idempotency-Key` response header. A 01-30
  POST with a key gets the full 04-17 treatment (replay, 422 `idempotency_conflict`, 409
  `idempotency_in_flight` + `Retry-After`): 01-30 documents only `4XX` there, and its Error
  accepts these codes. Keys are scoped to agent and path, not version (as the spec scopes
  them), so a replay returns the response as first sent, in the first request's version.

Responses (every 01-30 object is `additionalProperties: false`, so new fields must go)
- `protocol.version` says `2026-01-30`.
- `messages[].resolution` is new in 04-17: dropped.
- `PaymentHandler.display_name` (and the JSON-Schema-only `display_order`) are new: dropped.
- `marketing_consent_options` on the session is new (we do not send it in either version).
- `Total.type` `amount_refunded` is new: such totals are dropped (only orders carry it).
- `AuthenticationMetadata.channel` `{type: "browser", browser: {accept_header, ip_address,
  javascript_enabled, language, user_agent, ...}}` is *required* in 01-30 and gone in 04-17. We
  fill it from what the agent sent with the complete request that met the 3-D Secure challenge
  (`risk_signals`, else its own headers); see `authentication_channel`.
- `Order` (the `order` on a completed session): 01-30 has `id, checkout_session_id,
  permalink_url, order_number, status, estimated_delivery, confirmation, support` only, and
  `status` is the closed enum `confirmed|processing|shipped|delivered` (04-17: an open string,
  `completed` in place of `delivered`, plus `created`, `manual_review`, `canceled`). Statuses
  01-30 cannot say are left out (status is optional there).
- `Error`: 01-30 has no `supported_versions` and also allows the type `request_not_idempotent`
  (which we never send). Our error bodies are otherwise identical in both versions; the 400 for
  an unsupported or missing API-Version has no dialect to speak and stays in 04-17 shape, with
  `supported_versions`.
- Headers: 04-17 adds `Idempotent-Replayed` on replays and `Retry-After` on 409. Both are sent
  to 01-30 agents too (headers a version does not declare are harmless).

Webhooks (`openapi.agentic_checkout_webhook.yaml`)
- 01-30 `WebhookEvent{type: order_create|order_update (closed enum), data: EventDataOrder}`, and
  `EventDataOrder` is `{type: "order", checkout_session_id, permalink_url, status, refunds}`,
  all required, nothing else allowed (no `id`). `status` is the closed enum `created,
  manual_review, confirmed, canceled, shipped, fulfilled`; `refunds[]` are `{type:
  store_credit|original_payment, amount}`.
- 04-17 sends the full Order (with `id`, `line_items`, `fulfillments`, `adjustments`, `totals`);
  `refunds` became `adjustments`.
- `Merchant-Signature`: free-form "HMAC over the raw body" in 01-30, `t=<unix>,v1=<hex>` over
  `"{t}.{body}"` in 04-17. Our 04-17 signature is one such HMAC, so both get the same header.

Not versioned: our own extensions (`GET /orders/{id}`, refunds, catalog, discovery) answer in
04-17 shapes; discovery lists both versions in `supported_versions`.

delegate_payment (same route, same vault)
- `Idempotency-Key` optional in 01-30 (as above). `risk_signals` has `minItems: 1` and `iin`
  `maxLength: 6` in 01-30; we accept the looser 04-17 forms from both. 01-30's Error.code enum
  lacks `idempotency_key_required` (cannot happen, the key is optional) and
  `idempotency_in_flight` (a 01-30 agent racing itself with one key still gets that code).
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel

from checkout.domain.errors import InvalidRequest

VERSION = "2026-01-30"

# 04-17 order status -> the 01-30 Order.status enum; statuses not listed are left out.
SESSION_ORDER_STATUS = {
    "confirmed": "confirmed",
    "processing": "processing",
    "shipped": "shipped",
    "delivered": "delivered",
    "completed": "delivered",
}
# 04-17 order status -> the 01-30 webhook EventDataOrder.status enum (required there).
EVENT_ORDER_STATUS = {
    "created": "created",
    "manual_review": "manual_review",
    "confirmed": "confirmed",
    "processing": "confirmed",
    "canceled": "canceled",
    "shipped": "shipped",
    "delivered": "fulfilled",
    "completed": "fulfilled",
    "fulfilled": "fulfilled",
}
ORDER_FIELDS = (
    "id",
    "checkout_session_id",
    "permalink_url",
    "order_number",
    "estimated_delivery",
    "confirmation",
    "support",
)
CONFIRMATION_FIELDS = (
    "confirmation_number",
    "confirmation_email_sent",
    "receipt_url",
    "invoice_number",
)
HANDLER_FIELDS_NEW_IN_0417 = ("display_name", "display_order")


def refuse_newer_fields(body: BaseModel) -> None:
    """A 01-30 request must not carry what only 04-17 defines (01-30 forbids extra properties)."""
    for name in ("order_notes", "marketing_consents"):
        if getattr(body, name, None) is not None:
            raise _unknown(f"$.{name}")
    for path, owner in (
        ("$.fulfillment_details.address", getattr(body, "fulfillment_details", None)),
        ("$.payment_data.billing_address", getattr(body, "payment_data", None)),
    ):
        address = getattr(owner, "address", None) or getattr(owner, "billing_address", None)
        if address is not None and address.company is not None:
            raise _unknown(f"{path}.company")


def _unknown(param: str) -> InvalidRequest:
    return InvalidRequest(
        f"{param}: not a field of API-Version {VERSION} (it was added in 2026-04-17).",
        param=param,
        code="invalid",
    )


def session(body: dict[str, Any]) -> dict[str, Any]:
    """A 2026-04-17 CheckoutSession (as `render.session` builds it) in the 2026-01-30 shape."""
    out = dict(body)
    if "protocol" in out:
        out["protocol"] = {**out["protocol"], "version": VERSION}
    out.pop("marketing_consent_options", None)
    out["messages"] = [
        {k: v for k, v in message.items() if k != "resolution"} for message in body["messages"]
    ]
    out["totals"] = _totals(body["totals"])
    out["line_items"] = [{**line, "totals": _totals(line["totals"])} for line in body["line_items"]]
    capabilities = dict(body["capabilities"])
    if "payment" in capabilities:
        payment = dict(capabilities["payment"])
        payment["handlers"] = [
            {k: v for k, v in handler.items() if k not in HANDLER_FIELDS_NEW_IN_0417}
            for handler in payment.get("handlers", [])
        ]
        capabilities["payment"] = payment
    out["capabilities"] = capabilities
    metadata = out.get("authentication_metadata")
    if metadata is not None and "channel" not in metadata:
        # Stored with the session when a 01-30 agent met the challenge; otherwise nobody told us.
        out["authentication_metadata"] = {**metadata, "channel": authentication_channel({}, {})}
    if "order" in out:
        out["order"] = session_order(out["order"])
    return out


def _totals(totals: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [entry for entry in totals if entry["type"] != "amount_refunded"]


def session_order(order: dict[str, Any]) -> dict[str, Any]:
    """The 01-30 Order: the reference fields only, status from its closed enum or absent."""
    out = {name: order[name] for name in ORDER_FIELDS if name in order}
    if "confirmation" in out:
        out["confirmation"] = {
            k: v for k, v in out["confirmation"].items() if k in CONFIRMATION_FIELDS
        }
    status = SESSION_ORDER_STATUS.get(order.get("status", ""))
    if status is not None:
        out["status"] = status
    return out


def authentication_channel(risk_signals: dict[str, Any], headers: dict[str, str]) -> dict[str, Any]:
    """The browser a 01-30 3DS server authenticates in, as the agent described it.

    04-17 dropped the field because the merchant never sees the buyer's browser; 01-30 requires
    it. We pass on what the agent told us: its `risk_signals` on the complete request, else the
    headers of that request; what nobody told us stays an empty string rather than a guess.
    `javascript_enabled` is false because we know nothing of the screen, which 01-30 requires
    whenever it is true.
    """
    return {
        "type": "browser",
        "browser": {
            "accept_header": str(headers.get("accept") or "")[:1024],
            "ip_address": str(risk_signals.get("ip_address") or headers.get("x-client-ip") or "")[
                :45
            ],
            "javascript_enabled": False,
            "language": str(
                risk_signals.get("accept_language") or headers.get("accept-language") or ""
            )[:35],
            "user_agent": str(risk_signals.get("user_agent") or headers.get("user-agent") or "")[
                :1024
            ],
        },
    }


def refunds(document: dict[str, Any]) -> list[dict[str, Any]]:
    """The 01-30 `refunds[]`: the refunds that went through, back to the original payment."""
    return [
        {"type": "original_payment", "amount": adjustment["amount"]}
        for adjustment in document.get("adjustments", [])
        if adjustment.get("type") == "refund" and adjustment.get("status") == "completed"
    ]


def order_event(event_type: str, document: dict[str, Any]) -> dict[str, Any]:
    """A 01-30 WebhookEvent from the full 04-17 Order document."""
    return {
        "type": event_type,
        "data": {
            "type": "order",
            "checkout_session_id": document["checkout_session_id"],
            "permalink_url": document["permalink_url"],
            "status": EVENT_ORDER_STATUS.get(document.get("status", ""), "confirmed"),
            "refunds": refunds(document),
        },
    }

"""A small stateful fake of the Stripe API endpoints the checkout platform calls, served by respx.

It keeps Stripe's objects in dicts and behaves the way the provider relies on: keyed POSTs replay
their first answer (a different request under a used key is an idempotency_error), a manual
capture PaymentIntent waits in requires_capture, capture makes the charge's transfer and
application fee, refunds reverse the transfer and give the fee back pro rata (half-up on the
running total, so a full refund returns the whole fee), and Connect accounts start pending until
`enable()`. Every request is recorded with its form params and headers, and failures can be
injected per endpoint (before Stripe acts, or after it acted with the answer lost).

    with FakeStripe() as stripe_api:
        account = stripe_api.add_account()
        token = stripe_api.grant_token(max_amount=5000)
        ...
        stripe_api.calls("payment_intents.create")[0].form["amount"]
"""

from __future__ import annotations

import itertools
import json
import re
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any, Literal
from urllib.parse import parse_qs

import httpx
import respx

from tests.stripe_contract import ContractViolation, check_object, check_request, fixtures

API = "https://api.stripe.com"
SECRET_KEY = "sk_test_51FakePlatformKey000000000000"
WEBHOOK_SECRET = "whsec_fake_platform_0123456789abcdef"
CONNECT_WEBHOOK_SECRET = "whsec_fake_connect_fedcba9876543210"
PREVIEW_VERSION = "2026-09-30.preview"
ACQUIRER_BIN = "411111"
ACQUIRER_MERCHANT_ID = "stripe-acq-mid-0001"
ACCOUNT_DUE = ["business_type", "external_account", "tos_acceptance.date", "tos_acceptance.ip"]

Outcome = Literal["succeed", "decline", "requires_action"]
FailureKind = Literal["timeout", "server_error", "rate_limit"]
Body = dict[str, Any]

# Stripe's test PaymentMethods and what a server-side confirm does with each.
TEST_PAYMENT_METHODS: dict[str, tuple[Outcome, str | None]] = {
    "pm_card_visa": ("succeed", None),
    "pm_card_mastercard": ("succeed", None),
    "pm_card_visa_chargeDeclined": ("decline", "generic_decline"),
    "pm_card_visa_chargeDeclinedInsufficientFunds": ("decline", "insufficient_funds"),
    "pm_card_authenticationRequired": ("requires_action", None),
}
DECLINE_MESSAGES = {
    "insufficient_funds": "Your card has insufficient funds.",
    "expired_card": "Your card has expired.",
}


class StripeAnswer(Exception):
    """A handler's non-2xx answer."""

    def __init__(self, status: int, error: Body) -> None:
        super().__init__(error.get("message"))
        self.status = status
        self.error = error


def invalid(message: str, *, param: str | None = None, code: str | None = None) -> StripeAnswer:
    error: Body = {"type": "invalid_request_error", "message": message}
    if param:
        error["param"] = param
    if code:
        error["code"] = code
    return StripeAnswer(400, error)


def missing(kind: str, object_id: str, param: str = "id") -> StripeAnswer:
    return StripeAnswer(
        404,
        {
            "type": "invalid_request_error",
            "code": "resource_missing",
            "param": param,
            "message": f"No such {kind}: '{object_id}'",
        },
    )


def half_up(numerator: int, denominator: int) -> int:
    """numerator / denominator rounded half-up, for non-negative integers."""
    return (2 * numerator + denominator) // (2 * denominator)


def flat_form(content: bytes) -> dict[str, str]:
    """A form-encoded body (or query), one value per key (Stripe's encoding never repeats one)."""
    text = content.decode()
    if not text:
        return {}
    fields = parse_qs(text, keep_blank_values=True, strict_parsing=True)
    assert all(len(values) == 1 for values in fields.values()), fields
    return {key: values[0] for key, values in fields.items()}


def nested(params: dict[str, str], prefix: str) -> dict[str, str]:
    """`metadata[a]=1&metadata[b]=2` as {"a": "1", "b": "2"}."""
    start = f"{prefix}["
    return {
        key[len(start) : -1]: value
        for key, value in params.items()
        if key.startswith(start) and key.endswith("]") and key.count("[") == 1
    }


def truthy(value: str | None) -> bool:
    return value == "true"


@dataclass
class Call:
    """One request as Stripe received it."""

    name: str
    method: str
    path: str
    query: dict[str, str]
    form: dict[str, str]
    headers: httpx.Headers
    status: int | None = None  # None when the request never got an answer (a timeout)
    replayed: bool = False
    injected: str | None = None  # the failure injected into this call, if any

    @property
    def idempotency_key(self) -> str | None:
        key: str | None = self.headers.get("Idempotency-Key")
        return key


@dataclass
class Failure:
    kind: FailureKind
    after: bool  # Stripe acted on the request, then the answer was lost


@dataclass
class _Kept:
    name: str
    path: str
    form: dict[str, str]
    status: int
    body: Body


@dataclass
class FakeStripe:
    base_url: str = API
    api_key: str = SECRET_KEY  # the platform's secret key; any other is refused with a 401
    clock: Callable[[], int] = field(default=lambda: int(time.time()))
    accounts: dict[str, Body] = field(default_factory=dict)
    account_links: list[Body] = field(default_factory=list)
    tokens: dict[str, Body] = field(default_factory=dict)
    payment_intents: dict[str, Body] = field(default_factory=dict)
    charges: dict[str, Body] = field(default_factory=dict)
    refunds: dict[str, Body] = field(default_factory=dict)
    application_fees: dict[str, Body] = field(default_factory=dict)
    fee_refunds: dict[str, list[Body]] = field(default_factory=dict)  # by fee, newest first
    transfer_reversals: list[Body] = field(default_factory=list)
    disputes: dict[str, Body] = field(default_factory=dict)
    balance_transactions: dict[str, Body] = field(default_factory=dict)
    transfers: dict[str, Body] = field(default_factory=dict)
    # Stripe's US list price: 2.9% + 30 cents per charge, 15 dollars per dispute.
    fee_percent_bps: int = 290
    fee_fixed: int = 30
    dispute_fee: int = 1500
    refund_fee_returned: int = 0  # Stripe's fee given back on a refund (none in the US)
    requests: list[Call] = field(default_factory=list)
    # What the fake was asked or answered that Stripe would not (tests/stripe_contract.py);
    # leaving the `with` block with any fails the test that caused it.
    violations: list[str] = field(default_factory=list)
    # The events Stripe would send the platform's endpoint, in the order Stripe emits them.
    emitted: list[Body] = field(default_factory=list)
    check_contract: bool = True
    unrecognized: list[Call] = field(default_factory=list)
    refund_status: str = "succeeded"  # what new refunds start as ("pending" for slow ones)

    def __post_init__(self) -> None:
        self._sequence = itertools.count(1)
        self._lock = threading.RLock()
        self._kept: dict[str, _Kept] = {}
        self._failures: dict[str, list[Failure]] = {}
        self._outcomes: dict[str, tuple[Outcome, str | None]] = {}
        self._disconnected: set[str] = set()
        self._mock: respx.MockRouter | None = None
        self._routes: list[tuple[str, re.Pattern[str], str, Callable[..., tuple[int, Body]]]] = [
            ("POST", re.compile(r"/v1/accounts"), "accounts.create", self._create_account),
            ("GET", re.compile(r"/v1/accounts/(?P<id>[^/]+)"), "accounts.retrieve", self._account),
            ("POST", re.compile(r"/v1/account_links"), "account_links.create", self._create_link),
            (
                "GET",
                re.compile(r"/v1/shared_payment/granted_tokens/(?P<id>[^/]+)"),
                "granted_tokens.retrieve",
                self._token,
            ),
            (
                "POST",
                re.compile(r"/v1/test_helpers/shared_payment/granted_tokens"),
                "granted_tokens.create",
                self._mint_token,
            ),
            ("POST", re.compile(r"/v1/payment_intents"), "payment_intents.create", self._create_pi),
            (
                "GET",
                re.compile(r"/v1/payment_intents/search"),
                "payment_intents.search",
                self._search_pi,
            ),
            (
                "GET",
                re.compile(r"/v1/payment_intents/(?P<id>[^/]+)"),
                "payment_intents.retrieve",
                self._retrieve_pi,
            ),
            (
                "POST",
                re.compile(r"/v1/payment_intents/(?P<id>[^/]+)/capture"),
                "payment_intents.capture",
                self._capture,
            ),
            (
                "POST",
                re.compile(r"/v1/payment_intents/(?P<id>[^/]+)/cancel"),
                "payment_intents.cancel",
                self._cancel,
            ),
            (
                "POST",
                re.compile(r"/v1/payment_intents/(?P<id>[^/]+)/confirm"),
                "payment_intents.confirm",
                self._confirm,
            ),
            ("GET", re.compile(r"/v1/charges/(?P<id>[^/]+)"), "charges.retrieve", self._charge),
            ("POST", re.compile(r"/v1/refunds"), "refunds.create", self._create_refund),
            ("GET", re.compile(r"/v1/refunds"), "refunds.list", self._list_refunds),
            ("POST", re.compile(r"/v1/transfers"), "transfers.create", self._create_transfer),
            (
                "GET",
                re.compile(r"/v1/transfers/(?P<id>[^/]+)"),
                "transfers.retrieve",
                self._transfer,
            ),
            (
                "POST",
                re.compile(r"/v1/transfers/(?P<id>[^/]+)/reversals"),
                "transfer_reversals.create",
                self._create_reversal,
            ),
            ("GET", re.compile(r"/v1/refunds/(?P<id>[^/]+)"), "refunds.retrieve", self._refund),
            (
                "GET",
                re.compile(r"/v1/application_fees/(?P<id>[^/]+)"),
                "application_fees.retrieve",
                self._fee,
            ),
            (
                "GET",
                re.compile(r"/v1/application_fees/(?P<id>[^/]+)/refunds"),
                "application_fees.refunds.list",
                self._list_fee_refunds,
            ),
        ]

    # --- lifecycle ----------------------------------------------------------------------------

    def __enter__(self) -> FakeStripe:
        self._mock = respx.mock(base_url=self.base_url, assert_all_called=False)
        router = self._mock.__enter__()
        router.route().mock(side_effect=self._dispatch)
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        assert self._mock is not None
        self._mock.__exit__(kind, error, trace)
        self._mock = None
        if kind is None and self.check_contract and self.violations:
            raise ContractViolation("Stripe's contract broken:\n" + "\n".join(self.violations))

    # --- levers for tests ---------------------------------------------------------------------

    def new_id(self, prefix: str) -> str:
        return f"{prefix}_1Fake{next(self._sequence):010d}"

    def fail(
        self, name: str, times: int = 1, kind: FailureKind = "timeout", *, after: bool = False
    ) -> None:
        """The next `times` calls to endpoint `name` fail: a timeout (ConnectTimeout, or
        ReadTimeout with `after`), a 500 or a 429. With `after`, Stripe acts on the request
        (and keeps its answer for the Idempotency-Key) before the answer is lost."""
        with self._lock:
            self._failures.setdefault(name, []).extend(Failure(kind, after) for _ in range(times))

    def add_account(self, *, enabled: bool = True, account_id: str | None = None) -> str:
        """A connected account made outside the platform's calls (e.g. assigned with SQL)."""
        account = self._new_account(account_id or self.new_id("acct"), {"country": "US"})
        self.accounts[account["id"]] = account
        if enabled:
            self.enable(account["id"])
        return str(account["id"])

    def enable(self, account_id: str) -> Body:
        """The merchant finished onboarding: charges enabled, transfers active."""
        account = self.accounts[account_id]
        account.update(charges_enabled=True, payouts_enabled=True, details_submitted=True)
        account["capabilities"] = {"card_payments": "active", "transfers": "active"}
        account["requirements"] = {
            **account["requirements"],
            "currently_due": [],
            "eventually_due": [],
            "past_due": [],
            "disabled_reason": None,
        }
        return json.loads(json.dumps(account))  # type: ignore[no-any-return]

    def disconnect(self, account_id: str) -> None:
        """The merchant removed the platform's access (account.application.deauthorized)."""
        self._disconnected.add(account_id)

    def disable(self, account_id: str, reason: str = "rejected.fraud") -> Body:
        account = self.accounts[account_id]
        account.update(charges_enabled=False, payouts_enabled=False)
        account["capabilities"] = {"card_payments": "inactive", "transfers": "inactive"}
        account["requirements"] = {**account["requirements"], "disabled_reason": reason}
        return json.loads(json.dumps(account))  # type: ignore[no-any-return]

    def snapshot(self, kind: str, object_id: str) -> Body:
        """A deep copy of a stored object (what an event carries as data.object)."""
        store: dict[str, Body] = {
            "account": self.accounts,
            "payment_intent": self.payment_intents,
            "charge": self.charges,
            "refund": self.refunds,
            "application_fee": self.application_fees,
            "dispute": self.disputes,
            "transfer": self.transfers,
        }[kind]
        body: Body = json.loads(json.dumps(store[object_id]))
        body.pop("_token", None)
        return body

    def grant_token(
        self,
        *,
        max_amount: int,
        currency: str = "usd",
        outcome: Outcome = "succeed",
        decline_code: str = "generic_decline",
        checkout_session_id: str | None = None,
        expires_in: int = 3600,
        brand: str = "visa",
        last4: str = "4242",
        token_id: str | None = None,
    ) -> str:
        """A SharedPaymentGrantedToken an agent minted for this seller, and what its card does."""
        token_id = token_id or self.new_id("spt")
        now = self.clock()
        self.tokens[token_id] = {
            "id": token_id,
            "object": "shared_payment.granted_token",
            "created": now,
            "livemode": False,
            "deactivated_at": None,
            "deactivated_reason": None,
            "agent_details": {"network_business_profile": "profile_1FakeAgent"},
            "payment_method_details": {
                "type": "card",
                "card": {
                    "brand": brand,
                    "last4": last4,
                    "funding": "credit",
                    "exp_month": 12,
                    "exp_year": 2030,
                    "country": "US",
                },
            },
            "shared_metadata": (
                {"checkout_session_id": checkout_session_id} if checkout_session_id else {}
            ),
            "usage_details": {"amount_captured": {"value": 0, "currency": currency}},
            "usage_limits": {
                "currency": currency,
                "max_amount": max_amount,
                "expires_at": now + expires_in,
            },
        }
        self._outcomes[token_id] = (outcome, decline_code if outcome == "decline" else None)
        return token_id

    def refund_in_dashboard(
        self,
        payment_intent_id: str,
        amount: int,
        *,
        refund_application_fee: bool = False,
        reverse_transfer: bool = True,
    ) -> Body:
        """Someone refunds in the Stripe Dashboard: no API call of the platform's."""
        intent = self.payment_intents[payment_intent_id]
        with self._lock:
            return self._refund_charge(
                self.charges[intent["latest_charge"]],
                amount,
                reverse_transfer=reverse_transfer,
                refund_application_fee=refund_application_fee,
                reason="requested_by_customer",
                metadata={},
            )

    def finish_refund(self, refund_id: str, status: str = "succeeded") -> Body:
        """A pending refund settles at Stripe (what refund.updated then reports)."""
        refund = self.refunds[refund_id]
        refund["status"] = status
        self._emit("refund.updated", "refund", refund_id)
        if status == "failed":
            self._emit("refund.failed", "refund", refund_id)
        return self.snapshot("refund", refund_id)

    def forget_idempotency_keys(self) -> None:
        """Stripe prunes keys after 24 hours: a request under an old key runs again."""
        with self._lock:
            self._kept.clear()

    def open_dispute(
        self, payment_intent_id: str, amount: int | None = None, *, inquiry: bool = False
    ) -> Body:
        """The buyer's bank disputes the charge. A chargeback withdraws the amount and the
        dispute fee from the platform's balance at once (funds_withdrawn); an inquiry
        (`warning_needs_response`) moves no money."""
        intent = self.payment_intents[payment_intent_id]
        charge = self.charges[intent["latest_charge"]]
        now = self.clock()
        dispute = {
            "id": self.new_id("dp"),
            "object": "dispute",
            "amount": charge["amount"] if amount is None else amount,
            "balance_transactions": [],
            "charge": charge["id"],
            "payment_intent": payment_intent_id,
            "currency": charge["currency"],
            "created": now,
            "enhanced_eligibility_types": [],
            # Every evidence field starts empty, as in Stripe's example.
            "evidence": {key: None for key in fixtures()["dispute"]["evidence"]}
            | {"enhanced_evidence": {}},
            "evidence_details": {
                "due_by": now + 7 * 86_400,
                "enhanced_eligibility": {},
                "has_evidence": False,
                "past_due": False,
                "submission_count": 0,
            },
            "is_charge_refundable": False,
            "livemode": False,
            "metadata": {},
            "payment_method_details": {
                "card": {
                    "brand": charge["payment_method_details"]["card"]["brand"],
                    "case_type": "inquiry" if inquiry else "chargeback",
                    "network_reason_code": "10.4",
                },
                "type": "card",
            },
            "reason": "fraudulent",
            "status": "warning_needs_response" if inquiry else "needs_response",
        }
        charge["disputed"] = True
        self.disputes[dispute["id"]] = dispute
        self._emit("charge.dispute.created", "dispute", dispute["id"])
        if not inquiry:
            self._dispute_moves(dispute, -dispute["amount"], self.dispute_fee)
            self._emit("charge.dispute.funds_withdrawn", "dispute", dispute["id"])
        return self.snapshot("dispute", dispute["id"])

    def event(
        self,
        event_type: str,
        obj: Body,
        *,
        account: str | None = None,
        created: int | None = None,
        event_id: str | None = None,
    ) -> Body:
        """An Event as a webhook delivers it (its payload, to be signed)."""
        body: Body = {
            "id": event_id or self.new_id("evt"),
            "object": "event",
            "api_version": "2026-10-28.endive",
            "created": self.clock() if created is None else created,
            "data": {"object": obj},
            "livemode": False,
            "pending_webhooks": 1,
            "request": {"id": None, "idempotency_key": None},
            "type": event_type,
        }
        if account is not None:
            body["account"] = account
        self._check_answer(body)
        self._check_answer(obj)
        return body

    def _emit(self, event_type: str, kind: str, object_id: str) -> None:
        self.emitted.append(self.event(event_type, self.snapshot(kind, object_id)))

    def events_of(self, *types: str) -> list[Body]:
        """The events emitted so far (of these types, if given), oldest first."""
        return [e for e in self.emitted if not types or e["type"] in types]

    # --- what was asked -------------------------------------------------------------------------

    def calls(self, name: str, *, answered: bool = False) -> list[Call]:
        with self._lock:
            found = [c for c in self.requests if c.name == name]
        return [c for c in found if c.status is not None] if answered else found

    def keys(self, name: str) -> list[str | None]:
        return [c.idempotency_key for c in self.calls(name)]

    def intents_for(self, checkout_session_id: str) -> list[Body]:
        return [
            pi
            for pi in self.payment_intents.values()
            if pi["metadata"].get("checkout_session_id") == checkout_session_id
        ]

    def fee_of(self, payment_intent_id: str) -> Body:
        charge = self.charges[self.payment_intents[payment_intent_id]["latest_charge"]]
        return self.application_fees[charge["application_fee"]]

    # --- dispatch -----------------------------------------------------------------------------

    def _dispatch(self, request: httpx.Request) -> httpx.Response:
        path = request.url.path
        method = request.method
        query = flat_form(request.url.query)
        form = flat_form(request.content) if method == "POST" else {}
        found = self._route(method, path)
        if found is None:
            call = Call("unrecognized", method, path, query, form, request.headers)
            call.status = 404
            with self._lock:
                self.requests.append(call)
                self.unrecognized.append(call)
            return self._json(
                404,
                {
                    "error": {
                        "type": "invalid_request_error",
                        "message": f"Unrecognized request URL ({method}: {path}).",
                    }
                },
            )
        name, handler, ids = found
        call = Call(name, method, path, query, form, request.headers)
        with self._lock:
            self.requests.append(call)
        if request.headers.get("Authorization") != f"Bearer {self.api_key}":
            call.status = 401
            shown = request.headers.get("Authorization", "").removeprefix("Bearer ")
            return self._json(
                401,
                {
                    "error": {
                        "type": "invalid_request_error",
                        "message": f"Invalid API Key provided: {shown[:8]}****{shown[-4:]}",
                    }
                },
                {"Request-Id": f"req_{next(self._sequence):012d}"},
            )
        problems = check_request(name, form if method == "POST" else query)
        if problems:
            with self._lock:
                self.violations.extend(problems)
            call.status = 400
            return self._json(
                400,
                {
                    "error": {
                        "type": "invalid_request_error",
                        "message": f"Received unknown or invalid parameter: {problems[0]}",
                    }
                },
                {"Request-Id": f"req_{next(self._sequence):012d}"},
            )
        with self._lock:
            failures = self._failures.get(name) or []
            failure = failures.pop(0) if failures else None
        if failure is not None:
            call.injected = f"{failure.kind}{' after' if failure.after else ''}"
        if failure is not None and not failure.after:
            return self._failed(request, call, failure, lost=False)
        status, body, replayed = self._answer(name, handler, call, ids)
        if failure is not None:
            return self._failed(request, call, failure, lost=True)
        call.status, call.replayed = status, replayed
        self._check_answer(body)
        headers = {"Request-Id": f"req_{next(self._sequence):012d}"}
        if replayed:
            headers["Idempotent-Replayed"] = "true"
        return self._json(status, body, headers)

    def _route(
        self, method: str, path: str
    ) -> tuple[str, Callable[..., tuple[int, Body]], dict[str, str]] | None:
        for route_method, pattern, name, handler in self._routes:
            match = pattern.fullmatch(path)
            if route_method == method and match:
                return name, handler, match.groupdict()
        return None

    def _answer(
        self, name: str, handler: Callable[..., tuple[int, Body]], call: Call, ids: dict[str, str]
    ) -> tuple[int, Body, bool]:
        key = call.idempotency_key if call.method == "POST" else None
        with self._lock:
            if key is not None and key in self._kept:
                kept = self._kept[key]
                if (kept.name, kept.path, kept.form) != (name, call.path, call.form):
                    return (
                        400,
                        {
                            "error": {
                                "type": "idempotency_error",
                                "message": "Keys for idempotent requests can only be used with "
                                "the same parameters they were first used with.",
                            }
                        },
                        False,
                    )
                return kept.status, json.loads(json.dumps(kept.body)), True
            try:
                status, body = handler(call, **ids)
            except StripeAnswer as answer:
                status, body = answer.status, {"error": answer.error}
            body = json.loads(json.dumps(body))
            # Stripe keeps the answer once it began executing; a refused validation is not kept.
            if key is not None and status in (200, 402) and key not in self._kept:
                self._kept[key] = _Kept(name, call.path, call.form, status, body)
        return status, body, False

    def _failed(
        self, request: httpx.Request, call: Call, failure: Failure, *, lost: bool
    ) -> httpx.Response:
        if failure.kind == "timeout":
            call.status = None
            if lost:
                raise httpx.ReadTimeout("fake: the answer never came", request=request)
            raise httpx.ConnectTimeout("fake: could not connect", request=request)
        status = 500 if failure.kind == "server_error" else 429
        call.status = status
        kind = "api_error" if status == 500 else "rate_limit_error"
        body: Body = {
            "error": {"type": kind, "message": "An error occurred with our connection to Stripe."}
        }
        key = call.idempotency_key if call.method == "POST" else None
        if status == 500 and key is not None:
            # Stripe keeps a 500 like any answer once the endpoint began executing, and replays
            # it under the same key until the key is pruned (24 hours at least).
            with self._lock:
                self._kept[key] = _Kept(call.name, call.path, call.form, status, body)
        return self._json(status, body, {"Request-Id": f"req_{next(self._sequence):012d}"})

    def _check_answer(self, body: Body) -> None:
        problems = check_object(body)
        if problems:
            with self._lock:
                self.violations.extend(problems)

    @staticmethod
    def _json(status: int, body: Body, headers: dict[str, str] | None = None) -> httpx.Response:
        return httpx.Response(status, json=body, headers=headers)

    # --- Connect ------------------------------------------------------------------------------

    def _new_account(self, account_id: str, params: dict[str, str]) -> Body:
        return {
            "id": account_id,
            "object": "account",
            "business_profile": {"mcc": None, "name": None, "url": None},
            "business_type": None,
            "capabilities": {"card_payments": "pending", "transfers": "pending"},
            "charges_enabled": False,
            "controller": {
                "fees": {"payer": params.get("controller[fees][payer]", "account")},
                "is_controller": True,
                "losses": {"payments": params.get("controller[losses][payments]", "stripe")},
                "requirement_collection": "stripe",
                "stripe_dashboard": {
                    "type": params.get("controller[stripe_dashboard][type]", "full")
                },
                "type": "application",
            },
            "country": params.get("country", "US"),
            "created": self.clock(),
            "default_currency": "usd",
            "details_submitted": False,
            "email": params.get("email"),
            "external_accounts": {
                "object": "list",
                "data": [],
                "has_more": False,
                "url": f"/v1/accounts/{account_id}/external_accounts",
            },
            "future_requirements": {
                "alternatives": [],
                "current_deadline": None,
                "currently_due": [],
                "disabled_reason": None,
                "errors": [],
                "eventually_due": [],
                "past_due": [],
                "pending_verification": [],
            },
            "metadata": nested(params, "metadata"),
            "payouts_enabled": False,
            "requirements": {
                "alternatives": [],
                "current_deadline": None,
                "currently_due": list(ACCOUNT_DUE),
                "disabled_reason": "requirements.past_due",
                "errors": [],
                "eventually_due": list(ACCOUNT_DUE),
                "past_due": list(ACCOUNT_DUE),
                "pending_verification": [],
            },
            "settings": {
                "dashboard": {"display_name": None, "timezone": "Etc/UTC"},
                "payouts": {
                    "debit_negative_balances": True,
                    "schedule": {"delay_days": 2, "interval": "daily"},
                    "statement_descriptor": None,
                },
            },
            "tos_acceptance": {"date": None, "ip": None, "user_agent": None},
            "type": "express",
        }

    def _create_account(self, call: Call) -> tuple[int, Body]:
        params = call.form
        capabilities = {
            key.split("[")[1].rstrip("]")
            for key, value in params.items()
            if key.startswith("capabilities[") and key.endswith("[requested]") and truthy(value)
        }
        account = self._new_account(self.new_id("acct"), params)
        account["capabilities"] = {name: "pending" for name in sorted(capabilities)}
        self.accounts[account["id"]] = account
        return 200, account

    def _account(self, call: Call, id: str) -> tuple[int, Body]:
        if id not in self.accounts or id in self._disconnected:
            raise StripeAnswer(
                403,
                {
                    "type": "invalid_request_error",
                    "code": "account_invalid",
                    "message": "The provided key does not have access to account "
                    f"'{id}' (or that account does not exist).",
                },
            )
        return 200, self.accounts[id]

    def _create_link(self, call: Call) -> tuple[int, Body]:
        params = call.form
        for required in ("account", "type"):
            if required not in params:
                raise invalid(f"Missing required param: {required}.", param=required)
        if params["account"] not in self.accounts:
            raise missing("account", params["account"], "account")
        if params["type"] == "account_onboarding" and "return_url" not in params:
            raise invalid("Missing required param: return_url.", param="return_url")
        now = self.clock()
        link = {
            "object": "account_link",
            "created": now,
            "expires_at": now + 300,
            "url": f"https://connect.stripe.com/setup/e/{params['account']}/"
            f"{self.new_id('link').removeprefix('link_')}",
        }
        self.account_links.append({**link, "params": dict(params)})
        return 200, link

    # --- Shared Payment Tokens ----------------------------------------------------------------

    def _mint_token(self, call: Call) -> tuple[int, Body]:
        """Stripe's test helper: a granted token for a test PaymentMethod (the demo's way)."""
        if not call.headers.get("Stripe-Version", "").endswith(".preview"):
            raise invalid(f"Unrecognized request URL (POST: {call.path}).")
        params = call.form
        token_id = self.grant_token(
            max_amount=int(params["usage_limits[max_amount]"]),
            currency=params["usage_limits[currency]"],
            checkout_session_id=params.get("shared_metadata[checkout_session_id]"),
        )
        return 200, self.tokens[token_id]

    def _token(self, call: Call, id: str) -> tuple[int, Body]:
        if not call.headers.get("Stripe-Version", "").endswith(".preview"):
            raise invalid(f"Unrecognized request URL (GET: {call.path}).")
        if id not in self.tokens:
            raise missing("shared_payment.granted_token", id)
        return 200, self.tokens[id]

    # --- PaymentIntents -----------------------------------------------------------------------

    def _expand(self, intent: Body, expand: list[str]) -> Body:
        body = json.loads(json.dumps(intent))
        if "latest_charge" in expand and intent.get("latest_charge"):
            charge = json.loads(json.dumps(self.charges[intent["latest_charge"]]))
            balance = charge.get("balance_transaction")
            if "latest_charge.balance_transaction" in expand and balance:
                charge["balance_transaction"] = json.loads(
                    json.dumps(self.balance_transactions[balance])
                )
            body["latest_charge"] = charge
        return body  # type: ignore[no-any-return]

    def _balance(
        self, amount: int, fee: int, currency: str, source: str, kind: str, category: str
    ) -> str:
        """A balance transaction: money moved on the platform's balance, and Stripe's fee."""
        now = self.clock()
        txn: Body = {
            "id": self.new_id("txn"),
            "object": "balance_transaction",
            "amount": amount,
            "available_on": now + 2 * 86_400,
            "balance_type": "payments",
            "created": now,
            "currency": currency,
            "description": None,
            "exchange_rate": None,
            "fee": fee,
            "fee_details": [
                {
                    "amount": fee,
                    "application": None,
                    "currency": currency,
                    "description": "Stripe processing fees",
                    "type": "stripe_fee",
                }
            ]
            if fee
            else [],
            "net": amount - fee,
            "reporting_category": category,
            "source": source,
            "status": "pending",
            "type": kind,
        }
        self.balance_transactions[txn["id"]] = txn
        return str(txn["id"])

    @staticmethod
    def _expand_list(params: dict[str, str]) -> list[str]:
        return [value for key, value in params.items() if key.startswith("expand[")]

    def _create_pi(self, call: Call) -> tuple[int, Body]:
        p = call.form
        if any(key.startswith("payment_method_types[") for key in p):
            # Documented: changelog/endive/2026-09-30/removes-the-payment-method-types-parameter-
            # from-payment-intents-and-setup-intents (and 2026-08-26.preview).
            raise invalid(
                "The payment_method_types parameter is no longer supported; use "
                "allowed_payment_method_types or automatic_payment_methods instead.",
                param="payment_method_types",
                code="payment_method_types_no_longer_supported",
            )
        for required in ("amount", "currency"):
            if required not in p:
                raise invalid(f"Missing required param: {required}.", param=required)
        amount = int(p["amount"])
        if amount < 50:
            raise invalid(
                "Amount must be at least $0.50 usd", param="amount", code="amount_too_small"
            )
        fee = int(p["application_fee_amount"]) if "application_fee_amount" in p else None
        destination = p.get("transfer_data[destination]")
        spt = p.get("payment_method_data[shared_payment_granted_token]")
        if fee is not None and destination is None and "on_behalf_of" not in p:
            raise invalid(
                "Can only apply an application_fee_amount when the PaymentIntent is attempting "
                "a direct payment (using an OAuth key or Stripe-Account header) or destination "
                "payment (using `transfer_data[destination]`).",
                param="application_fee_amount",
            )
        if fee is not None and fee > amount:
            raise invalid(
                "The application fee cannot exceed the amount.", param="application_fee_amount"
            )
        if destination is not None:
            account = self.accounts.get(destination)
            if account is None:
                raise invalid(
                    f"No such destination: '{destination}'", param="transfer_data[destination]"
                )
            if account["capabilities"].get("transfers") != "active":
                raise invalid(
                    "Your destination account needs to have at least one of the following "
                    "capabilities enabled: transfers, crypto_transfers, legacy_payments",
                    param="transfer_data[destination]",
                    code="insufficient_capabilities_for_transfer",
                )
        on_behalf_of = p.get("on_behalf_of")
        if on_behalf_of is not None and on_behalf_of not in self.accounts:
            raise invalid(f"No such account: '{on_behalf_of}'", param="on_behalf_of")
        if spt is not None:
            outcome = self._spend_check(call, spt, amount, p["currency"])
        elif "payment_method" in p:
            if p["payment_method"] not in TEST_PAYMENT_METHODS:
                raise missing("PaymentMethod", p["payment_method"], "payment_method")
            outcome = TEST_PAYMENT_METHODS[p["payment_method"]]
        else:
            outcome = ("succeed", None)
        intent: Body = {
            "id": self.new_id("pi"),
            "object": "payment_intent",
            "amount": amount,
            "amount_capturable": 0,
            "amount_details": {"tip": {}},
            "amount_received": 0,
            "application": None,
            "application_fee_amount": fee,
            "automatic_payment_methods": None,
            "canceled_at": None,
            "cancellation_reason": None,
            "capture_method": p.get("capture_method", "automatic"),
            "client_secret": None,
            "confirmation_method": "automatic",
            "created": self.clock(),
            "currency": p["currency"],
            "customer": None,
            "customer_account": None,
            "description": p.get("description"),
            "excluded_payment_method_types": None,
            "last_payment_error": None,
            "latest_charge": None,
            "livemode": False,
            "managed_payments": None,
            "metadata": nested(p, "metadata"),
            "next_action": None,
            "on_behalf_of": on_behalf_of,
            "payment_method": None,
            "payment_method_configuration_details": None,
            "payment_method_options": {
                "card": {
                    "installments": None,
                    "mandate_options": None,
                    "network": None,
                    "request_three_d_secure": "automatic",
                }
            },
            "payment_method_types": [
                v for k, v in p.items() if k.startswith("allowed_payment_method_types[")
            ]
            or ["card"],
            "processing": None,
            "receipt_email": None,
            "review": None,
            "setup_future_usage": None,
            "shipping": None,
            "source": None,
            "statement_descriptor": None,
            "statement_descriptor_suffix": None,
            "status": "requires_payment_method",
            "transfer_data": {"destination": destination} if destination else None,
            "transfer_group": None,
        }
        intent["client_secret"] = f"{intent['id']}_secret_fake"
        self.payment_intents[intent["id"]] = intent
        intent["_token"] = spt
        if spt is not None or "payment_method" in p:
            intent["payment_method"] = self.new_id("pm")
        if not truthy(p.get("confirm")):
            intent["status"] = (
                "requires_confirmation" if intent["payment_method"] else intent["status"]
            )
            return 200, self._public(intent)
        return self._confirm_with(intent, outcome)

    def _spend_check(
        self, call: Call, token_id: str, amount: int, currency: str
    ) -> tuple[Outcome, str | None]:
        param = "payment_method_data[shared_payment_granted_token]"
        # Stripe documents no error codes for a token that is deactivated, over its limits or
        # expired (docs/stripe-notes.md 2.3), so none is sent: the provider must handle any.
        if not call.headers.get("Stripe-Version", "").endswith(".preview"):
            raise invalid(
                "Received unknown parameter: payment_method_data[shared_payment_granted_token]",
                param=param,
            )
        token = self.tokens.get(token_id)
        if token is None:
            raise missing("shared_payment.granted_token", token_id, param)
        limits = token["usage_limits"]
        if token["deactivated_at"] is not None:
            raise invalid(
                "This SharedPaymentGrantedToken was deactivated.",
                param=param,
            )
        if currency != limits["currency"] or amount > limits["max_amount"]:
            raise invalid(
                "The amount exceeds the SharedPaymentGrantedToken's usage limits.",
                param=param,
            )
        if limits["expires_at"] is not None and limits["expires_at"] < self.clock():
            raise invalid(
                "This SharedPaymentGrantedToken has expired.",
                param=param,
            )
        return self._outcomes[token_id]

    def _public(self, intent: Body, expand: list[str] | None = None) -> Body:
        body = self._expand(intent, expand or [])
        body.pop("_token", None)
        return body

    def _new_charge(self, intent: Body, status: str) -> Body:
        card = self._card_of(intent)
        charge: Body = {
            "id": self.new_id("ch"),
            "object": "charge",
            "amount": intent["amount"],
            "amount_captured": 0,
            "amount_refunded": 0,
            "application": None,
            "application_fee": None,
            "application_fee_amount": intent["application_fee_amount"],
            "balance_transaction": None,
            "billing_details": {
                "address": {
                    "city": None,
                    "country": None,
                    "line1": None,
                    "line2": None,
                    "postal_code": None,
                    "state": None,
                },
                "email": None,
                "name": None,
                "phone": None,
                "tax_id": None,
            },
            "calculated_statement_descriptor": "AGENTIC CHECKOUT",
            "captured": False,
            "created": self.clock(),
            "currency": intent["currency"],
            "customer": None,
            "description": intent["description"],
            "disputed": False,
            "failure_balance_transaction": None,
            "failure_code": None,
            "failure_message": None,
            "fraud_details": {},
            "livemode": False,
            "metadata": dict(intent["metadata"]),
            "on_behalf_of": intent["on_behalf_of"],
            "outcome": {
                "advice_code": None,
                "network_advice_code": None,
                "network_decline_code": None,
                "network_status": "approved_by_network"
                if status == "succeeded"
                else "declined_by_network",
                "reason": None,
                "risk_level": "normal",
                "seller_message": "Payment complete."
                if status == "succeeded"
                else "The bank did not return any further details with this decline.",
                "type": "authorized" if status == "succeeded" else "issuer_declined",
            },
            "paid": status == "succeeded",
            "payment_intent": intent["id"],
            "payment_method": intent["payment_method"],
            "payment_method_details": {"card": card, "type": "card"},
            "receipt_email": None,
            "receipt_number": None,
            "receipt_url": None,
            "refunded": False,
            "review": None,
            "shipping": None,
            "source": None,
            "source_transfer": None,
            "statement_descriptor": None,
            "statement_descriptor_suffix": None,
            "status": status,
            "transfer": None,
            "transfer_data": intent["transfer_data"],
            "transfer_group": None,
        }
        self.charges[charge["id"]] = charge
        intent["latest_charge"] = charge["id"]
        return charge

    def _card_of(self, intent: Body) -> Body:
        token = self.tokens.get(intent.get("_token") or "")
        card = token["payment_method_details"]["card"] if token else {}
        return {
            "brand": card.get("brand", "visa"),
            "country": card.get("country", "US"),
            "exp_month": card.get("exp_month", 12),
            "exp_year": card.get("exp_year", 2030),
            "funding": card.get("funding", "credit"),
            "last4": card.get("last4", "4242"),
            "network": card.get("brand", "visa"),
            "three_d_secure": None,
        }

    def _authorized(self, intent: Body) -> None:
        self._new_charge(intent, "succeeded")
        intent["next_action"] = None
        token = intent.get("_token")
        if token in self.tokens:
            self.tokens[token]["deactivated_at"] = self.clock()
            self.tokens[token]["deactivated_reason"] = "consumed"
        if intent["capture_method"] == "manual":
            intent["status"] = "requires_capture"
            intent["amount_capturable"] = intent["amount"]
            self._emit("payment_intent.amount_capturable_updated", "payment_intent", intent["id"])
        else:
            self._settle_capture(intent, intent["amount"])

    def _confirm_with(self, intent: Body, outcome: tuple[Outcome, str | None]) -> tuple[int, Body]:
        kind, decline_code = outcome
        if kind == "succeed":
            self._authorized(intent)
            return 200, self._public(intent)
        if kind == "requires_action":
            intent["status"] = "requires_action"
            intent["next_action"] = {
                "type": "use_stripe_sdk",
                "use_stripe_sdk": {
                    "type": "three_d_secure_redirect",
                    "stripe_js": "https://hooks.stripe.com/fake",
                },
            }
            return 200, self._public(intent)
        charge = self._new_charge(intent, "failed")
        message = DECLINE_MESSAGES.get(decline_code or "", "Your card was declined.")
        error = {
            "type": "card_error",
            "code": "card_declined",
            "decline_code": decline_code,
            "message": message,
            "charge": charge["id"],
            "doc_url": "https://stripe.com/docs/error-codes/card-declined",
        }
        intent["status"] = "requires_payment_method"
        intent["last_payment_error"] = {
            k: v for k, v in error.items() if k in ("type", "code", "decline_code", "message")
        }
        return 402, {"error": {**error, "payment_intent": self._public(intent)}}

    def _intent(self, id: str) -> Body:
        intent = self.payment_intents.get(id)
        if intent is None:
            raise missing("payment_intent", id)
        return intent

    def _search_pi(self, call: Call) -> tuple[int, Body]:
        """Only the metadata query the provider makes; Stripe's search may lag a write by up to
        a minute, which the fake does not model (it answers at once)."""
        match = re.fullmatch(r"metadata\['(\w+)'\]:'([^']*)'", call.query.get("query", ""))
        if match is None:
            raise invalid("The fake searches by one metadata key only.", param="query")
        key, value = match.groups()
        found = [
            self._public(pi)
            for pi in self.payment_intents.values()
            if pi["metadata"].get(key) == value
        ]
        return 200, {
            "object": "search_result",
            "data": found,
            "has_more": False,
            "next_page": None,
            "url": "/v1/payment_intents/search",
        }

    def _retrieve_pi(self, call: Call, id: str) -> tuple[int, Body]:
        return 200, self._public(self._intent(id), self._expand_list(call.query))

    def _unexpected(self, intent: Body, action: str) -> StripeAnswer:
        return StripeAnswer(
            400,
            {
                "type": "invalid_request_error",
                "code": "payment_intent_unexpected_state",
                "message": f"This PaymentIntent could not be {action} because it has a status "
                f"of {intent['status']}.",
                "payment_intent": self._public(intent),
            },
        )

    def _settle_capture(self, intent: Body, amount: int) -> None:
        charge = self.charges[intent["latest_charge"]]
        charge.update(captured=True, amount_captured=amount, paid=True)
        fee = half_up(amount * self.fee_percent_bps, 10_000) + self.fee_fixed
        charge["balance_transaction"] = self._balance(
            amount, fee, charge["currency"], charge["id"], "charge", "charge"
        )
        fee_amount = min(intent["application_fee_amount"] or 0, amount)
        destination = (charge["transfer_data"] or {}).get("destination")
        if destination:
            charge["transfer"] = self._new_transfer(
                amount, charge["currency"], destination, charge["id"]
            )
        if intent["application_fee_amount"] is not None:
            fee: Body = {
                "id": self.new_id("fee"),
                "object": "application_fee",
                "account": destination or intent["on_behalf_of"],
                "amount": fee_amount,
                "amount_refunded": 0,
                "application": "ca_1FakePlatform",
                "balance_transaction": self.new_id("txn"),
                "charge": charge["id"],
                "created": self.clock(),
                "currency": intent["currency"],
                "fee_source": {"charge": charge["id"], "type": "charge"},
                "livemode": False,
                "originating_transaction": None,
                "refunded": False,
                "refunds": None,  # set below, once the fee has its id
            }
            fee["refunds"] = {
                "object": "list",
                "data": [],
                "has_more": False,
                "url": f"/v1/application_fees/{fee['id']}/refunds",
            }
            self.application_fees[fee["id"]] = fee
            self.fee_refunds[fee["id"]] = []
            charge["application_fee"] = fee["id"]
        intent.update(status="succeeded", amount_received=amount, amount_capturable=0)
        self._emit("payment_intent.succeeded", "payment_intent", intent["id"])

    def _capture(self, call: Call, id: str) -> tuple[int, Body]:
        intent = self._intent(id)
        if intent["status"] != "requires_capture":
            raise self._unexpected(intent, "captured")
        amount = int(call.form.get("amount_to_capture") or intent["amount_capturable"])
        if amount > intent["amount_capturable"]:
            raise invalid(
                "The amount to capture exceeds the amount capturable.", param="amount_to_capture"
            )
        self._settle_capture(intent, amount)
        return 200, self._public(intent, self._expand_list(call.form))

    def _cancel(self, call: Call, id: str) -> tuple[int, Body]:
        intent = self._intent(id)
        if intent["status"] in ("succeeded", "canceled", "processing"):
            raise self._unexpected(intent, "canceled")
        intent.update(
            status="canceled",
            canceled_at=self.clock(),
            cancellation_reason=call.form.get("cancellation_reason", "requested_by_customer"),
            amount_capturable=0,
            next_action=None,
        )
        return 200, self._public(intent)

    def _confirm(self, call: Call, id: str) -> tuple[int, Body]:
        intent = self._intent(id)
        # Assumed: an intent waiting in requires_action may be confirmed again (Stripe
        # documents confirm with imported 3DS results, not from which states).
        if intent["status"] not in (
            "requires_confirmation",
            "requires_payment_method",
            "requires_action",
        ):
            raise self._unexpected(intent, "confirmed")
        if "payment_method_options[card][three_d_secure][cryptogram]" in call.form:
            # The agent's own 3-D Secure result (Stripe's 3DS import): the issuer's challenge
            # is answered, so the card authorises as it would after Stripe's own 3DS.
            self._authorized(intent)
            return 200, self._public(intent)
        token = intent.get("_token")
        outcome = self._outcomes.get(token, ("succeed", None)) if token else ("succeed", None)
        return self._confirm_with(intent, outcome)

    def _charge(self, call: Call, id: str) -> tuple[int, Body]:
        if id not in self.charges:
            raise missing("charge", id)
        return 200, self.charges[id]

    # --- refunds and application fees ---------------------------------------------------------

    def _refund_charge(
        self,
        charge: Body,
        amount: int | None,
        *,
        reverse_transfer: bool,
        refund_application_fee: bool,
        reason: str | None,
        metadata: dict[str, str],
    ) -> Body:
        if not charge["captured"]:
            raise invalid("This charge has not been captured.")
        remaining = charge["amount_captured"] - charge["amount_refunded"]
        if remaining <= 0:
            raise invalid(
                f"Charge {charge['id']} has already been refunded.",
                code="charge_already_refunded",
            )
        amount = remaining if amount is None else amount
        if not 0 < amount <= remaining:
            raise invalid(
                f"Refund amount ({amount}) is greater than unrefunded amount on charge "
                f"({remaining})",
                param="amount",
            )
        now = self.clock()
        refund_id = self.new_id("re")
        refund: Body = {
            "id": refund_id,
            "object": "refund",
            "amount": amount,
            # Stripe returns no processing fee on a refund: its balance transaction's fee is 0.
            "balance_transaction": self._balance(
                -amount,
                -self.refund_fee_returned,
                charge["currency"],
                refund_id,
                "refund",
                "refund",
            ),
            "charge": charge["id"],
            "created": now,
            "currency": charge["currency"],
            "customer": None,
            "customer_account": None,
            "destination_details": {"type": "card", "card": {"type": "refund"}},
            "metadata": metadata,
            "payment_intent": charge["payment_intent"],
            "payment_method": charge["payment_method"],
            "reason": reason,
            "receipt_number": None,
            "source_transfer_reversal": None,
            "status": self.refund_status,
            "transfer_reversal": None,
        }
        charge["amount_refunded"] += amount
        charge["refunded"] = charge["amount_refunded"] == charge["amount_captured"]
        if reverse_transfer and charge["transfer"]:
            reversal = self._reverse(charge["transfer"], amount, {}, source_refund=refund["id"])
            refund["transfer_reversal"] = reversal["id"]
        fee_id = charge["application_fee"]
        if refund_application_fee and fee_id:
            fee = self.application_fees[fee_id]
            if charge["refunded"]:
                target = fee["amount"]
            else:
                target = half_up(
                    fee["amount"] * charge["amount_refunded"], charge["amount_captured"]
                )
            back = target - fee["amount_refunded"]
            if back > 0:
                fee_refund = {
                    "id": self.new_id("fr"),
                    "object": "fee_refund",
                    "amount": back,
                    "balance_transaction": self.new_id("txn"),
                    "created": now,
                    "currency": fee["currency"],
                    "fee": fee_id,
                    "metadata": {},
                }
                fee["amount_refunded"] += back
                fee["refunded"] = fee["amount_refunded"] == fee["amount"]
                self.fee_refunds[fee_id].insert(0, fee_refund)
                fee["refunds"]["data"].insert(0, fee_refund)
        self.refunds[refund["id"]] = refund
        self._emit("refund.created", "refund", refund["id"])
        self._emit("charge.refunded", "charge", charge["id"])
        return json.loads(json.dumps(refund))  # type: ignore[no-any-return]

    # --- transfers ----------------------------------------------------------------------------

    def _new_transfer(self, amount: int, currency: str, destination: str, source: str) -> str:
        transfer_id = self.new_id("tr")
        self.transfers[transfer_id] = {
            "id": transfer_id,
            "object": "transfer",
            "amount": amount,
            "amount_reversed": 0,
            "balance_transaction": self._balance(
                -amount, 0, currency, transfer_id, "transfer", "transfer"
            ),
            "created": self.clock(),
            "currency": currency,
            "description": None,
            "destination": destination,
            "destination_payment": self.new_id("py"),
            "livemode": False,
            "metadata": {},
            "reversals": {
                "object": "list",
                "data": [],
                "has_more": False,
                "url": f"/v1/transfers/{transfer_id}/reversals",
            },
            "reversed": False,
            "source_transaction": source,
            "source_type": "card",
            "transfer_group": None,
        }
        return transfer_id

    def _reverse(
        self, transfer_id: str, amount: int, metadata: dict[str, str], source_refund: str | None
    ) -> Body:
        transfer = self.transfers[transfer_id]
        if amount > transfer["amount"] - transfer["amount_reversed"]:
            raise invalid(
                "The amount exceeds the transfer's amount not yet reversed.", param="amount"
            )
        reversal: Body = {
            "id": self.new_id("trr"),
            "object": "transfer_reversal",
            "amount": amount,
            "balance_transaction": self._balance(
                amount, 0, transfer["currency"], transfer_id, "transfer_refund", "transfer_reversal"
            ),
            "created": self.clock(),
            "currency": transfer["currency"],
            "destination_payment_refund": self.new_id("pyr"),
            "metadata": metadata,
            "source_refund": source_refund,
            "transfer": transfer_id,
        }
        transfer["amount_reversed"] += amount
        transfer["reversed"] = transfer["amount_reversed"] == transfer["amount"]
        transfer["reversals"]["data"].insert(0, reversal)
        self.transfer_reversals.append(reversal)
        return reversal

    def _transfer(self, call: Call, id: str) -> tuple[int, Body]:
        if id not in self.transfers:
            raise missing("transfer", id)
        return 200, self.transfers[id]

    def _create_reversal(self, call: Call, id: str) -> tuple[int, Body]:
        if id not in self.transfers:
            raise missing("transfer", id)
        amount = int(call.form.get("amount", 0)) or (
            self.transfers[id]["amount"] - self.transfers[id]["amount_reversed"]
        )
        return 200, self._reverse(id, amount, nested(call.form, "metadata"), None)

    def _create_transfer(self, call: Call) -> tuple[int, Body]:
        p = call.form
        if p.get("destination") not in self.accounts:
            raise invalid(f"No such destination: '{p.get('destination')}'", param="destination")
        transfer_id = self._new_transfer(
            int(p["amount"]), p["currency"], p["destination"], p.get("source_transaction", "")
        )
        self.transfers[transfer_id]["metadata"] = nested(p, "metadata")
        return 200, self.transfers[transfer_id]

    # --- disputes -------------------------------------------------------------------------------

    def _dispute_moves(self, dispute: Body, amount: int, fee: int) -> None:
        txn = self._balance(
            amount, fee, dispute["currency"], dispute["id"], "adjustment", "dispute"
        )
        dispute["balance_transactions"].append(
            json.loads(json.dumps(self.balance_transactions[txn]))
        )

    def close_dispute(self, dispute_id: str, *, won: bool) -> Body:
        """The issuer decides: a won dispute gives the amount back (funds_reinstated) and, as
        assumed here, the dispute fee; an inquiry just closes (warning_closed)."""
        dispute = self.disputes[dispute_id]
        if dispute["status"].startswith("warning_"):
            dispute["status"] = "warning_closed"
        elif won:
            dispute["status"] = "won"
            self._dispute_moves(dispute, dispute["amount"], -self.dispute_fee)
            self._emit("charge.dispute.funds_reinstated", "dispute", dispute_id)
        else:
            dispute["status"] = "lost"
        self._emit("charge.dispute.closed", "dispute", dispute_id)
        return self.snapshot("dispute", dispute_id)

    def _create_refund(self, call: Call) -> tuple[int, Body]:
        p = call.form
        if "payment_intent" in p:
            intent = self._intent(p["payment_intent"])
            if intent["latest_charge"] is None:
                raise invalid("This PaymentIntent has no charge to refund.")
            charge = self.charges[intent["latest_charge"]]
        elif "charge" in p:
            if p["charge"] not in self.charges:
                raise missing("charge", p["charge"], "charge")
            charge = self.charges[p["charge"]]
        else:
            raise invalid("One of `charge` or `payment_intent` is required.")
        if "reason" in p and p["reason"] not in (
            "duplicate",
            "fraudulent",
            "requested_by_customer",
        ):
            raise invalid("Invalid reason.", param="reason")
        refund = self._refund_charge(
            charge,
            int(p["amount"]) if "amount" in p else None,
            reverse_transfer=truthy(p.get("reverse_transfer")),
            refund_application_fee=truthy(p.get("refund_application_fee")),
            reason=p.get("reason"),
            metadata=nested(p, "metadata"),
        )
        return 200, self._expand_refund(refund, self._expand_list(p))

    def _expand_refund(self, refund: Body, expand: list[str]) -> Body:
        body = json.loads(json.dumps(refund))
        if {"balance_transaction", "data.balance_transaction"} & set(expand):
            body["balance_transaction"] = json.loads(
                json.dumps(self.balance_transactions[refund["balance_transaction"]])
            )
        return body  # type: ignore[no-any-return]

    @staticmethod
    def _list(url: str, items: list[Body], limit: int) -> Body:
        return {"object": "list", "data": items[:limit], "has_more": len(items) > limit, "url": url}

    def _list_refunds(self, call: Call) -> tuple[int, Body]:
        items = list(reversed(self.refunds.values()))
        if "charge" in call.query:
            items = [r for r in items if r["charge"] == call.query["charge"]]
        if "payment_intent" in call.query:
            items = [r for r in items if r["payment_intent"] == call.query["payment_intent"]]
        expand = self._expand_list(call.query)
        items = [self._expand_refund(r, expand) for r in items]
        return 200, self._list("/v1/refunds", items, int(call.query.get("limit", 10)))

    def _refund(self, call: Call, id: str) -> tuple[int, Body]:
        if id not in self.refunds:
            raise missing("refund", id)
        return 200, self.refunds[id]

    def _fee(self, call: Call, id: str) -> tuple[int, Body]:
        if id not in self.application_fees:
            raise missing("application fee", id)
        return 200, self.application_fees[id]

    def _list_fee_refunds(self, call: Call, id: str) -> tuple[int, Body]:
        if id not in self.application_fees:
            raise missing("application fee", id)
        return 200, self._list(
            f"/v1/application_fees/{id}/refunds",
            self.fee_refunds[id],
            int(call.query.get("limit", 10)),
        )


# --- the checkout app on the fake --------------------------------------------------------------


def stripe_settings(database_url: str, **overrides: Any) -> Any:
    """The test settings with Stripe as the provider (no SDK retries unless asked)."""
    from tests.conftest import make_settings

    values: dict[str, Any] = {
        "payment_provider": "stripe",
        "stripe_secret_key": SECRET_KEY,
        "stripe_max_network_retries": 0,
        "stripe_webhook_secret": WEBHOOK_SECRET,
        "stripe_connect_webhook_secret": CONNECT_WEBHOOK_SECRET,
        "stripe_timeout_seconds": 5.0,
        # What Stripe gives a platform enabled for 3DS import (test values).
        "stripe_3ds_acquirer_bin": ACQUIRER_BIN,
        "stripe_3ds_acquirer_merchant_id": ACQUIRER_MERCHANT_ID,
        **overrides,
    }
    return make_settings(database_url, **values)


def sql(database_url: str, statement: str, **params: Any) -> list[tuple[Any, ...]]:
    from sqlalchemy import create_engine, text

    engine = create_engine(database_url)
    try:
        with engine.begin() as connection:
            result = connection.execute(text(statement), params)
            return [tuple(row) for row in result] if result.returns_rows else []
    finally:
        engine.dispose()


def assign_account(database_url: str, merchant_id: str, account_id: str) -> None:
    """Give a demo merchant (onboarded with the sandbox provider) a Stripe account of the fake's."""
    sql(
        database_url,
        "UPDATE merchants SET payment_account_id = :account, payment_status = 'payable', "
        "payment_status_reason = NULL WHERE id = :merchant",
        account=account_id,
        merchant=merchant_id,
    )

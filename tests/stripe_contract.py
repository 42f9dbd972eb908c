"""The contract the Stripe fake (tests/fake_stripe.py) is held to: Stripe's own definitions.

Requests: every form body or query the fake receives is decoded the way Stripe decodes it
(`a[b][0]=v`) and checked against the installed SDK's generated parameter TypedDicts
(`stripe.params.*`): an unknown key, a wrong nesting or type, or a missing required key is a
violation. Keys that stable stripe-python does not know because they are in private preview are
listed in PREVIEW_PARAMS, each with the Stripe page that documents it.

Responses: every object the fake returns is checked against the SDK's resource classes (which
fields exist, their types, which may be null) and against Stripe's published example objects
(`tests/stripe_fixtures/openapi/fixtures3.json` and `fixtures3.private_preview.json`, from
stripe/openapi, MIT): the fake returns exactly the fields Stripe's example has, minus the ones Stripe leaves out
unless expanded or included (OMITTED_BY_DEFAULT, each with its source).
"""

from __future__ import annotations

import importlib
import json
import re
import sys
import types
import typing
from collections.abc import Callable, Mapping
from functools import cache
from pathlib import Path
from typing import Any, NotRequired, Required

import stripe
import stripe.params as stripe_params
from stripe._list_object import ListObject
from stripe._object_classes import OBJECT_CLASSES, get_object_class
from stripe._request_options import RequestOptions
from stripe._stripe_object import StripeObject, UntypedStripeObject
from typing_extensions import is_typeddict

# Stripe's published examples, vendored (MIT, see SOURCE.md there) so the fake is never run
# without its contract.
FIXTURES = Path(__file__).resolve().parent / "stripe_fixtures" / "openapi"
_FIXTURE_DIRS = (FIXTURES,)

# The fake's endpoint names and the SDK params each one takes.
REQUEST_PARAMS: dict[str, str] = {
    "accounts.create": "AccountCreateParams",
    "accounts.retrieve": "AccountRetrieveParams",
    "account_links.create": "AccountLinkCreateParams",
    "payment_intents.create": "PaymentIntentCreateParams",
    "payment_intents.retrieve": "PaymentIntentRetrieveParams",
    "payment_intents.search": "PaymentIntentSearchParams",
    "payment_intents.capture": "PaymentIntentCaptureParams",
    "payment_intents.cancel": "PaymentIntentCancelParams",
    "payment_intents.confirm": "PaymentIntentConfirmParams",
    "payment_methods.retrieve": "PaymentMethodRetrieveParams",
    "charges.retrieve": "ChargeRetrieveParams",
    "refunds.create": "RefundCreateParams",
    "refunds.list": "RefundListParams",
    "refunds.retrieve": "RefundRetrieveParams",
    "application_fees.retrieve": "ApplicationFeeRetrieveParams",
    "application_fees.refunds.list": "ApplicationFeeRefundListParams",
    "balance_transactions.retrieve": "BalanceTransactionRetrieveParams",
    "transfer_reversals.create": "TransferReversalCreateParams",
    "transfers.create": "TransferCreateParams",
    "transfers.retrieve": "TransferRetrieveParams",
    "transfer_reversals.list": "TransferReversalListParams",
    "disputes.retrieve": "DisputeRetrieveParams",
}

_SPT_DOCS = (
    "https://docs.stripe.com/agentic-commerce/concepts/shared-payment-tokens; "
    "https://docs.stripe.com/changelog/dahlia/2026-04-22/shared-payment-granted-token"
)
# Private-preview parameters stable stripe-python 16.1.0 does not type: (endpoint, key path).
PREVIEW_PARAMS: dict[tuple[str, str], str] = {
    ("payment_intents.create", "payment_method_data.shared_payment_granted_token"): _SPT_DOCS,
    ("payment_intents.confirm", "payment_method_data.shared_payment_granted_token"): _SPT_DOCS,
}
# Whole preview endpoints: their params as the preview docs list them (name -> required).
PREVIEW_ENDPOINTS: dict[str, tuple[str, dict[str, bool]]] = {
    "granted_tokens.retrieve": (
        "https://docs.stripe.com/api/shared-payment/granted-token/retrieve",
        {"expand": False},
    ),
    "granted_tokens.create": (
        "https://docs.stripe.com/api/shared-payment/granted-token/create",
        {
            "payment_method": True,
            "usage_limits": True,
            "customer": False,
            "shared_metadata": False,
            "seller_details": False,
        },
    ),
}

# Fields Stripe's example objects carry that a default response leaves out.
OMITTED_BY_DEFAULT: dict[str, dict[str, str]] = {
    "charge": {
        "refunds": "https://docs.stripe.com/upgrades#2022-11-15: Charge.refunds is no longer "
        "included by default (expand it, or list refunds by charge)",
    },
}

# Fields the SDK types that Stripe's example leaves out because only one kind of object has
# them: the fake sends them on that kind only.
VARIANT_FIELDS: dict[str, dict[str, str]] = {
    "charge": {
        "transfer": "SDK Charge.transfer: only on a charge made with a destination",
    },
    "event": {
        "account": "https://docs.stripe.com/connect/webhooks: only on events from a connected account",
    },
}


# Error codes Stripe documents that the SDK's code enum (PaymentIntent.LastPaymentError.code)
# does not list yet, each with its page. Any other code the fake sends is an invented one.
DOCUMENTED_ERROR_CODES: dict[str, str] = {
    "insufficient_capabilities_for_transfer": "https://docs.stripe.com/error-codes",
    "payment_method_types_no_longer_supported": "https://docs.stripe.com/changelog/endive/"
    "2026-09-30/removes-the-payment-method-types-parameter-from-payment-intents-and-setup-intents",
}


@cache
def _sdk_error_codes() -> frozenset[str]:
    codes: set[str] = set()
    annotation = stripe.PaymentIntent.LastPaymentError.__annotations__["code"]
    for arm in typing.get_args(annotation):
        if typing.get_origin(arm) is typing.Literal:
            codes.update(typing.get_args(arm))
    return frozenset(codes)


def check_error(body: Mapping[str, Any]) -> list[str]:
    """An error answer: a type Stripe has, and a code Stripe documents (or none)."""
    error = body.get("error")
    if not isinstance(error, Mapping):
        return ["error: not an object"]
    problems: list[str] = []
    if error.get("type") not in (
        "api_error",
        "card_error",
        "idempotency_error",
        "invalid_request_error",
        "rate_limit_error",
    ):
        problems.append(f"error.type {error.get('type')!r} is not one of Stripe's")
    code = error.get("code")
    if code is not None and code not in _sdk_error_codes() and code not in DOCUMENTED_ERROR_CODES:
        problems.append(f"error.code {code!r} is not documented by Stripe")
    if isinstance(error.get("payment_intent"), dict):
        problems.extend(check_object(error["payment_intent"], "error."))
    return problems


class ContractViolation(AssertionError):
    """The fake was asked, or answered, something Stripe would not."""


# --- requests ------------------------------------------------------------------------------


def decode(flat: Mapping[str, str]) -> dict[str, Any]:
    """Stripe's form encoding back into nesting: `a[b][0]=v` -> {"a": {"b": ["v"]}}."""
    root: dict[str, Any] = {}
    for key, value in flat.items():
        parts = re.findall(r"[^\[\]]+", key)
        node = root
        for part in parts[:-1]:
            node = node.setdefault(part, {})
            if not isinstance(node, dict):
                raise ContractViolation(f"{key}: a value and an object under one name")
        node[parts[-1]] = value
    return _lists(root)


def _lists(node: Any) -> Any:
    if not isinstance(node, dict):
        return node
    converted = {key: _lists(value) for key, value in node.items()}
    if converted and all(key.isdigit() for key in converted):
        indices = sorted(int(key) for key in converted)
        if indices == list(range(len(indices))):
            return [converted[str(i)] for i in indices]
    return converted


def check_request(name: str, params: Mapping[str, str]) -> list[str]:
    """What is wrong with these params for this endpoint, by the SDK's types (empty: nothing)."""
    try:
        decoded = decode(params)
    except ContractViolation as error:
        return [str(error)]
    if name in PREVIEW_ENDPOINTS:
        _, allowed = PREVIEW_ENDPOINTS[name]
        problems = [f"{name}: unknown parameter {k}" for k in decoded if k not in allowed]
        problems += [
            f"{name}: missing {k}" for k, req in allowed.items() if req and k not in decoded
        ]
        return problems
    if name not in REQUEST_PARAMS:
        return [f"{name}: no SDK parameter type is mapped for this endpoint"]
    typed = getattr(stripe_params, REQUEST_PARAMS[name])
    problems: list[str] = []
    _check_typed(decoded, typed, "", name, problems)
    return problems


@cache
def _type_checking_imports(module_name: str) -> dict[str, tuple[str, str]]:
    """`from stripe._card import Card as CardResource` lines the SDK hides behind TYPE_CHECKING."""
    source = Path(str(sys.modules[module_name].__file__)).read_text()
    found = re.findall(r"from (stripe[\w.]*) import (\w+)(?: as (\w+))?", source)
    return {alias or name: (module, name) for module, name, alias in found}


class _SdkNames(dict[str, Any]):
    """Names in the SDK's annotation text: the owner's module, then its type-only imports."""

    def __init__(self, module_name: str) -> None:
        super().__init__(vars(sys.modules[module_name]))
        self.module_name = module_name

    def __missing__(self, name: str) -> Any:
        if name == "UntypedStripeObject":
            return UntypedStripeObject
        if hasattr(typing, name):
            return getattr(typing, name)
        module, real = _type_checking_imports(self.module_name)[name]
        return getattr(importlib.import_module(module), real)


def _resolve(annotation: Any, owner: Any) -> Any:
    if isinstance(annotation, typing.ForwardRef):
        annotation = annotation.__forward_arg__
    if isinstance(annotation, str):
        names = _SdkNames(owner.__module__)
        annotation = eval(annotation, {}, names)  # the SDK's own generated annotation text
    return annotation


def _fields(typed: Any) -> dict[str, Any]:
    """A params TypedDict's keys; the request options it inherits travel as headers."""
    skipped = set(RequestOptions.__annotations__)
    return {k: v for k, v in typed.__annotations__.items() if k not in skipped}


def _check_typed(value: Any, typed: Any, path: str, name: str, problems: list[str]) -> None:
    if not isinstance(value, dict):
        problems.append(f"{name}: {path or 'body'} must be an object, got {value!r}")
        return
    fields = _fields(typed)
    required = set(typed.__required_keys__) & set(fields)
    for key, item in value.items():
        where = f"{path}.{key}" if path else key
        if (name, where) in PREVIEW_PARAMS:
            if not isinstance(item, str):
                problems.append(f"{name}: {where} must be a string")
            continue
        if key not in fields:
            problems.append(f"{name}: unknown parameter {where}")
            continue
        _check_value(item, _resolve(fields[key], typed), typed, where, name, problems)
    preview_present = any(
        endpoint == name
        and key_path.startswith(f"{path}.")
        and key_path.count(".") == 1
        and key_path.split(".")[1] in value
        for endpoint, key_path in PREVIEW_PARAMS
    )
    for key in sorted(required - set(value)):
        if preview_present:
            # A preview key stands in for the variant's required `type` (the SPT form).
            continue
        problems.append(f"{name}: missing required parameter {path + '.' if path else ''}{key}")


def _best_arm(
    value: Any,
    arms: tuple[Any, ...],
    owner: Any,
    check: Callable[[Any, list[str]], None],
) -> list[str]:
    """No problems when any arm of a union fits; else those of the arm shaped like the value
    (an object for an object), or the nearest."""
    attempts: list[tuple[bool, list[str]]] = []
    for arm in arms:
        resolved = _resolve(arm, owner)
        found: list[str] = []
        check(resolved, found)
        if not found:
            return []
        attempts.append((_same_shape(value, resolved), found))
    return min(attempts, key=lambda a: (not a[0], len(a[1])))[1] if attempts else []


def _same_shape(value: Any, annotation: Any) -> bool:
    origin = typing.get_origin(annotation)
    if origin in (NotRequired, Required):
        return _same_shape(value, typing.get_args(annotation)[0])
    if isinstance(value, dict):
        return is_typeddict(annotation) or origin in (dict, typing.Dict)  # noqa: UP006
    if isinstance(value, list):
        return origin in (list, typing.List)  # noqa: UP006
    return not is_typeddict(annotation) and origin not in (list, dict, typing.List, typing.Dict)  # noqa: UP006


def _check_value(
    value: Any, annotation: Any, owner: Any, path: str, name: str, problems: list[str]
) -> None:
    origin = typing.get_origin(annotation)
    args = typing.get_args(annotation)
    if origin in (NotRequired, Required):
        _check_value(value, _resolve(args[0], owner), owner, path, name, problems)
        return
    if origin in (typing.Union, types.UnionType):
        problems.extend(
            _best_arm(
                value,
                args,
                owner,
                lambda arm, found: _check_value(value, arm, owner, path, name, found),
            )
        )
        return
    if origin is typing.Literal:
        if value not in [str(a).lower() if isinstance(a, bool) else str(a) for a in args]:
            problems.append(f"{name}: {path}={value!r} is not one of {list(args)}")
        return
    if origin in (list, typing.List):  # noqa: UP006
        if not isinstance(value, list):
            problems.append(f"{name}: {path} must be a list")
            return
        for index, item in enumerate(value):
            _check_value(item, _resolve(args[0], owner), owner, f"{path}[{index}]", name, problems)
        return
    if origin in (dict, typing.Dict) or (  # noqa: UP006
        isinstance(origin, type) and issubclass(origin, UntypedStripeObject)
    ):
        if not isinstance(value, dict) or not all(isinstance(v, str) for v in value.values()):
            problems.append(f"{name}: {path} must be a map of strings")
        return
    if is_typeddict(annotation):
        _check_typed(value, annotation, path, name, problems)
        return
    if annotation is Any:
        return
    if not isinstance(value, str):
        problems.append(f"{name}: {path} must be a scalar, got {value!r}")
        return
    if annotation is bool:
        ok = value in ("true", "false")
    elif annotation is int:
        ok = re.fullmatch(r"-?\d+", value) is not None
    elif annotation is float:
        ok = re.fullmatch(r"-?\d+(\.\d+)?", value) is not None
    elif annotation is str:
        ok = True
    else:
        problems.append(f"{name}: {path}: unchecked annotation {annotation!r}")
        return
    if not ok:
        problems.append(f"{name}: {path}={value!r} is not a {annotation.__name__}")


# --- responses -----------------------------------------------------------------------------


@cache
def fixtures() -> dict[str, Any]:
    for folder in _FIXTURE_DIRS:
        if (folder / "fixtures3.json").exists():
            resources: dict[str, Any] = json.loads((folder / "fixtures3.json").read_text())[
                "resources"
            ]
            preview = json.loads((folder / "fixtures3.private_preview.json").read_text())
            return {**preview["resources"], **resources}
    raise FileNotFoundError(f"Stripe's fixtures3.json is missing from {FIXTURES}")


@cache
def _resource_class(object_name: str) -> type[StripeObject] | None:
    """The SDK's class for an `object` value (what the SDK itself deserializes it into)."""
    if object_name not in OBJECT_CLASSES:
        return None
    klass: type[StripeObject] = get_object_class("V1", object_name)
    return klass


def check_object(body: Any, path: str = "", *, complete: bool = True) -> list[str]:
    """What is wrong with an object (or list of objects) the fake answers with."""
    problems: list[str] = []
    if not isinstance(body, dict):
        return problems
    if "error" in body and "object" not in body:
        return check_error(body)
    kind = body.get("object")
    if kind in ("list", "search_result"):
        for index, item in enumerate(body.get("data") or []):
            problems += check_object(item, f"{path}data[{index}].")
        fields = {"object", "data", "has_more", "url"}
        if kind == "search_result":
            fields |= {"next_page", "total_count"}
        unknown = set(body) - fields
        if unknown:
            problems.append(f"{path}list: fields Stripe does not send: {sorted(unknown)}")
        return problems
    example = fixtures().get(str(kind))
    if example is None:
        return [f"{path}{kind}: Stripe publishes no example of this object"]
    omitted = OMITTED_BY_DEFAULT.get(str(kind), {})
    variant = set(VARIANT_FIELDS.get(str(kind), {}))
    expected = set(example) - set(omitted)
    extra = set(body) - set(example) - variant
    if extra:
        problems.append(f"{path}{kind}: fields Stripe does not send: {sorted(extra)}")
    missing = expected - set(body) - variant
    if missing and complete:
        problems.append(f"{path}{kind}: fields Stripe sends that are missing: {sorted(missing)}")
    shown = set(body) & set(omitted)
    if shown:
        problems.append(f"{path}{kind}: fields Stripe leaves out by default: {sorted(shown)}")
    klass = _resource_class(str(kind))
    for key, value in body.items():
        if key not in example and key not in variant:
            continue
        where = f"{path}{kind}.{key}"
        if klass is not None and key in klass.__annotations__:
            _check_field(value, _resolve(klass.__annotations__[key], klass), klass, where, problems)
        else:
            _like_example(value, example[key], where, problems)
    return problems


def _like_example(value: Any, example: Any, where: str, problems: list[str]) -> None:
    """Preview objects (no SDK class): the example's type, where the example is not null."""
    if value is None or example is None:
        return
    if isinstance(example, dict):
        if not isinstance(value, dict):
            problems.append(f"{where}: expected an object, got {value!r}")
            return
        if example:
            # Polymorphic objects name their variant in `type` and carry its details under a
            # key of that name; the example shows one variant only.
            variant = value.get("type")
            for key in set(value) - set(example) - {variant}:
                problems.append(f"{where}: field Stripe does not send: {key}")
            for key, item in value.items():
                if key in example:
                    _like_example(item, example[key], f"{where}.{key}", problems)
        return
    if isinstance(example, bool) or isinstance(value, bool):
        if type(example) is not type(value):
            problems.append(f"{where}: expected {type(example).__name__}, got {value!r}")
        return
    if not isinstance(value, type(example)):
        problems.append(f"{where}: expected {type(example).__name__}, got {value!r}")


def _check_field(value: Any, annotation: Any, owner: Any, where: str, problems: list[str]) -> None:
    origin = typing.get_origin(annotation)
    args = typing.get_args(annotation)
    if annotation is type(None):
        if value is not None:
            problems.append(f"{where}: must be null")
        return
    if origin in (typing.Union, types.UnionType):
        arms = tuple(a for a in args if value is None or a is not type(None))
        problems.extend(
            _best_arm(
                value, arms, owner, lambda arm, found: _check_field(value, arm, owner, where, found)
            )
        )
        return
    if value is None:
        problems.append(f"{where}: Stripe never sends null here")
        return
    if origin is typing.Literal:
        if value not in args:
            problems.append(f"{where}={value!r} is not one of {list(args)}")
        return
    if origin in (list, typing.List):  # noqa: UP006
        if not isinstance(value, list):
            problems.append(f"{where}: expected a list, got {value!r}")
            return
        for index, item in enumerate(value):
            _check_field(item, _resolve(args[0], owner), owner, f"{where}[{index}]", problems)
        return
    if origin in (dict, typing.Dict):  # noqa: UP006
        if not isinstance(value, dict):
            problems.append(f"{where}: expected a map, got {value!r}")
        return
    if isinstance(origin, type) and issubclass(origin, ListObject):
        if not isinstance(value, dict) or value.get("object") != "list":
            problems.append(f"{where}: expected a list object, got {value!r}")
            return
        problems.extend(check_object(value, f"{where}."))
        return
    if isinstance(annotation, type) and issubclass(annotation, UntypedStripeObject):
        if not isinstance(value, dict):
            problems.append(f"{where}: expected a map, got {value!r}")
        return
    if isinstance(origin, type) and issubclass(origin, UntypedStripeObject):
        if not isinstance(value, dict):
            problems.append(f"{where}: expected a map, got {value!r}")
        return
    if isinstance(annotation, type) and issubclass(annotation, StripeObject):
        if not isinstance(value, dict):
            problems.append(f"{where}: expected an object, got {value!r}")
            return
        if getattr(annotation, "OBJECT_NAME", None):
            problems.extend(check_object(value, f"{where}."))
            return
        fields = {
            k: v
            for k, v in annotation.__annotations__.items()
            if typing.get_origin(v) is not typing.ClassVar
        }
        for key, item in value.items():
            if key not in fields:
                problems.append(f"{where}: field Stripe does not send: {key}")
                continue
            _check_field(
                item, _resolve(fields[key], annotation), annotation, f"{where}.{key}", problems
            )
        return
    if annotation is Any:
        return
    if annotation is str and isinstance(value, dict) and "object" in value:
        # An id field Stripe also expands (the SDK types only the id): the expanded object,
        # which Stripe's examples show as a stub.
        problems.extend(check_object(value, f"{where}.", complete=False))
        return
    if annotation is bool:
        ok = isinstance(value, bool)
    elif annotation is int:
        ok = isinstance(value, int) and not isinstance(value, bool)
    elif annotation is float:
        ok = isinstance(value, int | float) and not isinstance(value, bool)
    elif annotation is str:
        ok = isinstance(value, str)
    else:
        problems.append(f"{where}: unchecked annotation {annotation!r}")
        return
    if not ok:
        problems.append(f"{where}: expected {annotation.__name__}, got {value!r}")

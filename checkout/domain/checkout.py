"""A checkout session's authoritative state: its lines, fulfillment options, totals, problems, status."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, time, timedelta
from enum import StrEnum

from checkout.domain import tax
from checkout.domain.discounts import AppliedDiscount, DiscountCode, apply_discounts
from checkout.domain.money import apply_bps, format_amount


class Status(StrEnum):
    NOT_READY_FOR_PAYMENT = "not_ready_for_payment"
    READY_FOR_PAYMENT = "ready_for_payment"
    AUTHENTICATION_REQUIRED = "authentication_required"
    COMPLETE_IN_PROGRESS = "complete_in_progress"
    COMPLETED = "completed"
    CANCELED = "canceled"
    EXPIRED = "expired"


FINAL_STATUSES = frozenset({Status.COMPLETED, Status.CANCELED, Status.EXPIRED})
# Sessions a buyer may still change or pay; these (and only these) expire when their time is up.
OPEN_STATUSES = frozenset(
    {Status.NOT_READY_FOR_PAYMENT, Status.READY_FOR_PAYMENT, Status.AUTHENTICATION_REQUIRED}
)
MAX_QUANTITY_PER_LINE = 99
# At or below this many units left, a buyer is told stock is low (session, order, feed).
LOW_STOCK = 2


@dataclass(frozen=True, slots=True)
class Offer:
    """A variant as the catalog sells it right now."""

    variant_id: str
    product_id: str
    merchant_id: str
    name: str
    description: str
    unit_amount: int
    currency: str
    available_quantity: int
    digital: bool
    images: tuple[str, ...] = ()
    url: str | None = None
    sku: str | None = None
    category: str | None = None
    options: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True, slots=True)
class ShippingRate:
    id: str
    title: str
    amount: int
    carrier: str
    min_days: int
    max_days: int
    # A rate for one destination country replaces the merchant's default rate of the same level.
    country: str | None = None
    service_level: str | None = None


@dataclass(frozen=True, slots=True)
class ShippingRules:
    rates: tuple[ShippingRate, ...]
    free_shipping_threshold: int | None = None
    # Variants whose presence in a cart makes the cheapest rate free.
    free_shipping_variants: frozenset[str] = frozenset()
    collects_tax: bool = True
    # "full": a shippable address must be complete; "country": the country alone prices it.
    address_detail: str = "full"

    def rates_for(self, country: str | None) -> tuple[ShippingRate, ...]:
        country = country.upper() if country else None
        specific = {r.service_level for r in self.rates if r.country and r.country == country}
        return tuple(
            r
            for r in self.rates
            if (r.country is None and (r.service_level is None or r.service_level not in specific))
            or (r.country is not None and r.country == country)
        )

    def amount_for(
        self,
        rate: ShippingRate,
        items_subtotal: int,
        *,
        applicable: Sequence[ShippingRate] | None = None,
        variant_ids: Sequence[str] = (),
    ) -> int:
        """The cheapest rate is free once the items reach the free-shipping threshold, or when
        the cart holds an item the merchant ships free."""
        cheapest = min(applicable or self.rates, key=lambda r: r.amount)
        threshold = self.free_shipping_threshold
        if rate is cheapest and (
            (threshold is not None and items_subtotal >= threshold)
            or not self.free_shipping_variants.isdisjoint(variant_ids)
        ):
            return 0
        return rate.amount


@dataclass(frozen=True, slots=True)
class Address:
    name: str
    line_one: str
    city: str
    state: str
    country: str
    postal_code: str
    line_two: str | None = None


@dataclass(frozen=True, slots=True)
class Line:
    """One line of a session: an item, how many, and the unit price the buyer was last shown."""

    id: str
    offer: Offer
    quantity: int
    unit_amount: int


@dataclass(frozen=True, slots=True)
class Problem:
    """A session message (ACP `messages[]`): errors block payment, warnings and info do not."""

    severity: str  # "error" | "warning" | "info"
    code: str | None
    content: str
    param: str | None = None
    resolution: str | None = None
    # A notice about something that happened (a decline) is shown as an error but does not block.
    blocks: bool = True


@dataclass(frozen=True, slots=True)
class FulfillmentOption:
    id: str
    type: str  # "shipping" | "digital"
    title: str
    amount: int
    item_ids: tuple[str, ...]
    description: str | None = None
    carrier: str | None = None
    earliest: datetime | None = None
    latest: datetime | None = None


@dataclass(frozen=True, slots=True)
class Selection:
    type: str
    option_id: str
    item_ids: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class LineTotals:
    line: Line
    base: int
    subtotal: int
    tax: int
    total: int


@dataclass(frozen=True, slots=True)
class Totals:
    items_base: int
    subtotal: int
    fulfillment: int | None
    tax: int
    total: int
    discount: int = 0


@dataclass(frozen=True, slots=True)
class Quote:
    """Everything a session response shows, computed from its inputs and the catalog."""

    lines: tuple[LineTotals, ...]
    options: tuple[FulfillmentOption, ...]
    selections: tuple[Selection, ...]
    totals: Totals
    problems: tuple[Problem, ...]
    discounts: tuple[AppliedDiscount, ...] = ()

    @property
    def blocking(self) -> tuple[Problem, ...]:
        return tuple(p for p in self.problems if p.severity == "error" and p.blocks)

    @property
    def payable(self) -> bool:
        return not self.blocking


@dataclass(slots=True)
class QuoteInput:
    lines: Sequence[Line]
    shipping: ShippingRules
    currency: str
    address: Address | None
    contact_email: str | None
    selections: Sequence[Selection]
    now: datetime
    notices: Sequence[Problem] = field(default_factory=tuple)
    discount_codes: Sequence[DiscountCode] = ()
    # ACP shows the cheapest option chosen until the buyer picks; UCP charges only a choice made.
    default_selections: bool = True


_POSTAL_PATTERNS = {
    "US": re.compile(r"^\d{5}(-\d{4})?$"),
    "CA": re.compile(r"^[A-Za-z]\d[A-Za-z] ?\d[A-Za-z]\d$"),
    "GB": re.compile(r"^[A-Za-z]{1,2}\d[A-Za-z\d]? ?\d[A-Za-z]{2}$"),
    "DE": re.compile(r"^\d{5}$"),
    "FR": re.compile(r"^\d{5}$"),
    "NL": re.compile(r"^\d{4} ?[A-Za-z]{2}$"),
}


def address_problems(address: Address, detail: str = "full") -> list[Problem]:
    """Whether the platform can ship to an address and the address is well-formed."""
    base = "$.fulfillment_details.address"
    country = address.country.upper()
    if country not in tax.SHIPPING_COUNTRIES:
        return [
            Problem(
                "error",
                "region_restricted",
                f"This shop does not ship to {address.country}.",
                f"{base}.country",
                "requires_buyer_input",
            )
        ]
    problems: list[Problem] = []
    if detail == "country":
        return problems
    regions = tax.subdivisions(country)
    if regions is not None and address.state.upper() not in regions:
        problems.append(
            Problem(
                "error",
                "invalid",
                f"'{address.state}' is not a state or province of {country}.",
                f"{base}.state",
                "requires_buyer_input",
            )
        )
    pattern = _POSTAL_PATTERNS.get(country)
    if pattern is not None and not pattern.match(address.postal_code.strip()):
        problems.append(
            Problem(
                "error",
                "invalid",
                f"'{address.postal_code}' is not a valid postal code for {country}.",
                f"{base}.postal_code",
                "requires_buyer_input",
            )
        )
    for name in ("name", "line_one", "city"):
        if not getattr(address, name).strip():
            problems.append(
                Problem(
                    "error",
                    "invalid",
                    f"The address {name} is empty.",
                    f"{base}.{name}",
                    "requires_buyer_input",
                )
            )
    return problems


def add_business_days(start: datetime, days: int) -> datetime:
    current = start
    while days > 0:
        current += timedelta(days=1)
        if current.weekday() < 5:
            days -= 1
    return current


def fulfillment_options(
    lines: Sequence[Line],
    shipping: ShippingRules,
    now: datetime,
    items_subtotal: int,
    country: str | None = None,
) -> tuple[FulfillmentOption, ...]:
    physical = tuple(line.id for line in lines if not line.offer.digital)
    digital = tuple(line.id for line in lines if line.offer.digital)
    options: list[FulfillmentOption] = []
    applicable = shipping.rates_for(country)
    variant_ids = [line.offer.variant_id for line in lines]
    for rate in sorted(applicable, key=lambda r: r.amount) if physical else ():
        earliest = add_business_days(now, rate.min_days)
        latest = add_business_days(now, rate.max_days)
        amount = shipping.amount_for(
            rate, items_subtotal, applicable=applicable, variant_ids=variant_ids
        )
        options.append(
            FulfillmentOption(
                id=rate.id,
                type="shipping",
                title=rate.title,
                amount=amount,
                item_ids=physical,
                carrier=rate.carrier,
                description=f"Arrives in {rate.min_days}-{rate.max_days} business days"
                + (" (free over the threshold)" if amount == 0 and rate.amount else ""),
                earliest=datetime.combine(earliest.date(), time(8), earliest.tzinfo),
                latest=datetime.combine(latest.date(), time(20), latest.tzinfo),
            )
        )
    if digital:
        options.append(
            FulfillmentOption(
                id="digital_delivery",
                type="digital",
                title="Digital delivery",
                amount=0,
                item_ids=digital,
                description="A download link is emailed once the order is placed",
            )
        )
    return tuple(options)


def resolve_selections(
    options: Sequence[FulfillmentOption], requested: Sequence[Selection], *, defaults: bool = True
) -> tuple[tuple[Selection, ...], list[Problem]]:
    """The buyer's choices where valid, else the cheapest option of each type (a sensible default)."""
    by_id = {option.id: option for option in options}
    chosen: dict[str, Selection] = {}
    problems: list[Problem] = []
    for index, selection in enumerate(requested):
        option = by_id.get(selection.option_id)
        if option is None:
            problems.append(
                Problem(
                    "error",
                    "invalid",
                    f"'{selection.option_id}' is not a fulfillment option of this session.",
                    f"$.selected_fulfillment_options[{index}].option_id",
                    "requires_buyer_input",
                )
            )
            continue
        chosen[option.type] = Selection(option.type, option.id, option.item_ids)
    for option in options if defaults else ():  # sorted cheapest first within a type
        chosen.setdefault(option.type, Selection(option.type, option.id, option.item_ids))
    return tuple(chosen.values()), problems


def stock_problems(lines: Sequence[Line]) -> list[Problem]:
    problems = []
    for index, line in enumerate(lines):
        param = f"$.line_items[{index}]"
        available = line.offer.available_quantity
        if available <= 0:
            problems.append(
                Problem(
                    "error",
                    "out_of_stock",
                    f"'{line.offer.name}' is out of stock.",
                    param,
                    "requires_buyer_input",
                )
            )
        elif line.quantity > available:
            problems.append(
                Problem(
                    "error",
                    "quantity_exceeded",
                    f"Only {available} of '{line.offer.name}' left; {line.quantity} requested.",
                    param,
                    "requires_buyer_input",
                )
            )
        elif available <= LOW_STOCK:
            problems.append(
                Problem(
                    "warning", "low_stock", f"Only {available} of '{line.offer.name}' left.", param
                )
            )
    return problems


def price_problems(lines: Sequence[Line]) -> list[Problem]:
    """Lines whose catalog price moved away from the price the buyer was last shown."""
    problems = []
    for index, line in enumerate(lines):
        if line.offer.unit_amount != line.unit_amount:
            before = format_amount(line.unit_amount, line.offer.currency)
            after = format_amount(line.offer.unit_amount, line.offer.currency)
            problems.append(
                Problem(
                    "warning",
                    "price_change",
                    f"The price of '{line.offer.name}' changed from {before} to {after}.",
                    f"$.line_items[{index}]",
                    "requires_buyer_review",
                )
            )
    return problems


def build_quote(data: QuoteInput) -> Quote:
    """Price a session: current catalog prices, shipping, tax by destination, and what blocks payment."""
    problems: list[Problem] = list(data.notices)
    problems += price_problems(data.lines)
    problems += stock_problems(data.lines)

    needs_shipping = any(not line.offer.digital for line in data.lines)
    rate_bps = 0
    if data.address is None:
        if needs_shipping:
            problems.append(
                Problem(
                    "error",
                    "missing",
                    "A shipping address is needed.",
                    "$.fulfillment_details.address",
                    "requires_buyer_input",
                )
            )
    else:
        address_issues = address_problems(data.address, data.shipping.address_detail)
        problems += address_issues
        if not address_issues and data.shipping.collects_tax:
            rate_bps = tax.rate_bps(data.address.country.upper(), data.address.state.upper())
    if not needs_shipping and not data.contact_email:
        problems.append(
            Problem(
                "error",
                "missing",
                "An email address is needed for digital delivery.",
                "$.buyer.email",
                "requires_buyer_input",
            )
        )

    line_totals = []
    for line in data.lines:
        base = line.offer.unit_amount * line.quantity
        line_tax = apply_bps(base, rate_bps)
        line_totals.append(LineTotals(line, base, base, line_tax, base + line_tax))
    items = sum(lt.base for lt in line_totals)

    country = data.address.country if data.address is not None else None
    options = fulfillment_options(data.lines, data.shipping, data.now, items, country)
    selections, selection_issues = resolve_selections(
        options, data.selections, defaults=data.default_selections
    )
    problems += selection_issues
    if (
        not data.default_selections
        and needs_shipping
        and data.address is not None
        and not any(s.type == "shipping" for s in selections)
    ):
        problems.append(
            Problem(
                "error",
                "missing",
                "A shipping option must be chosen.",
                "$.fulfillment",
                "requires_buyer_input",
            )
        )
    by_id = {option.id: option for option in options}
    fulfillment = sum(by_id[s.option_id].amount for s in selections)
    discounts = apply_discounts(items, data.discount_codes)
    discount = sum(d.amount for d in discounts)
    # Tax is due on what the buyer pays for the items, after any discount.
    items_tax = (
        apply_bps(items - discount, rate_bps) if discount else sum(lt.tax for lt in line_totals)
    )
    total_tax = items_tax + apply_bps(fulfillment, rate_bps)
    totals = Totals(
        items_base=items,
        subtotal=items,
        fulfillment=fulfillment if selections else None,
        tax=total_tax,
        total=items - discount + fulfillment + total_tax,
        discount=discount,
    )
    return Quote(tuple(line_totals), options, selections, totals, tuple(problems), discounts)


def status_of(stored: Status, quote: Quote) -> Status:
    """A final or authentication state is kept; otherwise the quote decides readiness."""
    if stored in FINAL_STATUSES or stored in (
        Status.AUTHENTICATION_REQUIRED,
        Status.COMPLETE_IN_PROGRESS,
    ):
        return stored
    return Status.READY_FOR_PAYMENT if quote.payable else Status.NOT_READY_FOR_PAYMENT

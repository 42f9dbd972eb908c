"""Double-entry movements of money between the buyer, the platform and the merchant.

Every movement is a set of postings that sums to zero. Accounts:
  buyer            money from (negative) and back to (positive) the buyer's card
  clearing         the charge while it is being split; zero again once a movement is complete
  merchant         what the merchant is owed (its connected account's share)
  platform         the platform's commission revenue, less what it pays the processor
  processor        the card processor's fees (Stripe's, on every charge and dispute)

A sale is three movements: `charge` (buyer -> clearing), `commission` (clearing -> platform) and
`merchant_share` (clearing -> merchant). A refund reverses them in proportion: `refund`
(clearing -> buyer), `commission_refund` (platform -> clearing), `merchant_refund` (merchant ->
clearing). Stripe's fee on the charge (`processing_fee`) is the platform's (platform ->
processor). A dispute on a destination charge is debited from the PLATFORM: the disputed amount
(`dispute`, platform -> buyer) and the dispute fee (`dispute_fee`, platform -> processor); the
platform recovers the amount from the merchant by reversing the transfer (`transfer_reversal`,
merchant -> platform). A won dispute returns the amount (`dispute_reversal`) and the fee if
Stripe gives it back (`dispute_fee_return`), and the platform pays the merchant back
(`transfer`). An inquiry moves no money. The commission is not given back on a dispute.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date
from enum import StrEnum


class Account(StrEnum):
    BUYER = "buyer"
    CLEARING = "clearing"
    MERCHANT = "merchant"
    PLATFORM = "platform"
    PROCESSOR = "processor"  # the card processor (Stripe): its fees


class MovementKind(StrEnum):
    CHARGE = "charge"
    COMMISSION = "commission"
    MERCHANT_SHARE = "merchant_share"
    REFUND = "refund"
    COMMISSION_REFUND = "commission_refund"
    MERCHANT_REFUND = "merchant_refund"
    DISPUTE = "dispute"
    PLATFORM_FUNDED_REFUND = "platform_funded_refund"
    PROCESSING_FEE = "processing_fee"
    PROCESSING_FEE_RETURN = "processing_fee_return"
    DISPUTE_FEE = "dispute_fee"
    DISPUTE_FEE_RETURN = "dispute_fee_return"
    TRANSFER_REVERSAL = "transfer_reversal"
    TRANSFER = "transfer"
    DISPUTE_REVERSAL = "dispute_reversal"


@dataclass(frozen=True, slots=True)
class Posting:
    account: Account
    amount: int  # signed minor units: positive is money arriving in the account


@dataclass(frozen=True, slots=True)
class Movement:
    kind: MovementKind
    postings: tuple[Posting, Posting]

    def __post_init__(self) -> None:
        if sum(p.amount for p in self.postings) != 0:
            raise ValueError("a movement's postings sum to zero")


def _move(kind: MovementKind, source: Account, target: Account, amount: int) -> Movement:
    if amount < 0:
        raise ValueError("movements carry non-negative amounts")
    return Movement(kind, (Posting(source, -amount), Posting(target, amount)))


def sale(*, charged: int, commission: int, processing_fee: int = 0) -> list[Movement]:
    """The charge split between platform and merchant, and the processor's fee, which Stripe
    takes from the platform's balance on a destination charge."""
    if not 0 <= commission <= charged:
        raise ValueError("the commission is between nothing and the whole charge")
    return [
        _move(MovementKind.CHARGE, Account.BUYER, Account.CLEARING, charged),
        _move(MovementKind.COMMISSION, Account.CLEARING, Account.PLATFORM, commission),
        _move(
            MovementKind.MERCHANT_SHARE, Account.CLEARING, Account.MERCHANT, charged - commission
        ),
        _move(MovementKind.PROCESSING_FEE, Account.PLATFORM, Account.PROCESSOR, processing_fee),
    ]


def refund(*, amount: int, commission_refunded: int, fee_returned: int = 0) -> list[Movement]:
    """A refund taken back from the merchant and the commission in proportion; `fee_returned`
    is whatever the processor gave back of its fee (Stripe: the refund's balance transaction)."""
    if not 0 <= commission_refunded <= amount:
        raise ValueError("a refund's commission share is between nothing and the refund")
    return [
        _move(MovementKind.REFUND, Account.CLEARING, Account.BUYER, amount),
        _move(
            MovementKind.COMMISSION_REFUND, Account.PLATFORM, Account.CLEARING, commission_refunded
        ),
        _move(
            MovementKind.MERCHANT_REFUND,
            Account.MERCHANT,
            Account.CLEARING,
            amount - commission_refunded,
        ),
        # Last: a movement's first kind keys it in the ledger, and this one is often zero.
        _move(
            MovementKind.PROCESSING_FEE_RETURN, Account.PROCESSOR, Account.PLATFORM, fee_returned
        ),
    ]


def refund_by_platform(*, amount: int, commission_refunded: int) -> list[Movement]:
    """A refund that left the merchant's transfer alone (made in Stripe without reversing it):
    the platform's balance paid the buyer, and any commission given back went to the merchant."""
    if not 0 <= commission_refunded <= amount:
        raise ValueError("a refund's commission share is between nothing and the refund")
    return [
        _move(MovementKind.REFUND, Account.CLEARING, Account.BUYER, amount),
        _move(MovementKind.PLATFORM_FUNDED_REFUND, Account.PLATFORM, Account.CLEARING, amount),
        _move(
            MovementKind.COMMISSION_REFUND, Account.PLATFORM, Account.MERCHANT, commission_refunded
        ),
    ]


def dispute_withdrawn(*, amount: int, fee: int) -> list[Movement]:
    """Stripe takes a disputed destination charge's amount and its dispute fee from the
    platform's balance (charge.dispute.funds_withdrawn), whoever sold it."""
    return [
        _move(MovementKind.DISPUTE, Account.PLATFORM, Account.BUYER, amount),
        _move(MovementKind.DISPUTE_FEE, Account.PLATFORM, Account.PROCESSOR, fee),
    ]


def dispute_reinstated(*, amount: int, fee_returned: int) -> list[Movement]:
    """A won dispute: Stripe gives the amount back to the platform (funds_reinstated), and
    the fee when its balance transaction says so."""
    return [
        _move(MovementKind.DISPUTE_REVERSAL, Account.BUYER, Account.PLATFORM, amount),
        _move(MovementKind.DISPUTE_FEE_RETURN, Account.PROCESSOR, Account.PLATFORM, fee_returned),
    ]


def transfer_reversal(*, amount: int) -> list[Movement]:
    """The platform takes back part of the merchant's transfer (to recover a dispute)."""
    return [_move(MovementKind.TRANSFER_REVERSAL, Account.MERCHANT, Account.PLATFORM, amount)]


def transfer(*, amount: int) -> list[Movement]:
    """The platform pays the merchant (what it recovered for a dispute the merchant won)."""
    return [_move(MovementKind.TRANSFER, Account.PLATFORM, Account.MERCHANT, amount)]


@dataclass(frozen=True, slots=True)
class Entry:
    """A posting as the ledger holds it, for summaries."""

    kind: MovementKind
    account: Account
    amount: int
    order_id: str | None = None


@dataclass(frozen=True, slots=True)
class Statement:
    """A merchant's money over a period, as the merchant reads it."""

    gross_sales: int
    commission: int
    refunds: int
    commission_refunded: int
    disputes: int
    net: int  # what the merchant keeps: its account's balance change
    orders: int  # orders sold in the period


def statement(entries: Iterable[Entry]) -> Statement:
    gross = commission = refunds = commission_back = disputes = net = 0
    sold: set[str | None] = set()
    for entry in entries:
        if entry.account is Account.MERCHANT:
            net += entry.amount
            # What the platform took back of the merchant's transfers for disputes, net of
            # what it paid back for disputes the merchant won.
            if entry.kind in (MovementKind.TRANSFER_REVERSAL, MovementKind.TRANSFER):
                disputes -= entry.amount
            continue
        # Read each movement from its clearing, buyer or platform leg, which names the amount.
        if entry.kind is MovementKind.CHARGE and entry.account is Account.CLEARING:
            gross += entry.amount
            sold.add(entry.order_id)
        elif entry.kind is MovementKind.COMMISSION and entry.account is Account.CLEARING:
            commission -= entry.amount
        elif entry.kind is MovementKind.REFUND and entry.account is Account.BUYER:
            refunds += entry.amount
        elif (
            entry.kind is MovementKind.PLATFORM_FUNDED_REFUND and entry.account is Account.PLATFORM
        ):
            refunds += entry.amount  # negative: the platform paid it, not the merchant
        elif entry.kind is MovementKind.COMMISSION_REFUND and entry.account is Account.PLATFORM:
            commission_back -= entry.amount
    return Statement(
        gross_sales=gross,
        commission=commission,
        refunds=refunds,
        commission_refunded=commission_back,
        disputes=disputes,
        net=net,
        orders=len(sold),
    )


@dataclass(frozen=True, slots=True)
class Earned:
    """The platform's money over some slice of the ledger: its own account's movements."""

    commission: int = 0  # gross commission earned on sales
    commission_refunded: int = 0  # given back with refunds
    processor_fees: int = 0  # Stripe's processing and dispute fees, net of any it returned
    other: int = 0  # refunds the platform funded, disputed amounts and what it recovered

    @property
    def net(self) -> int:
        return self.commission - self.commission_refunded - self.processor_fees + self.other

    def __add__(self, other: Earned) -> Earned:
        return Earned(
            self.commission + other.commission,
            self.commission_refunded + other.commission_refunded,
            self.processor_fees + other.processor_fees,
            self.other + other.other,
        )


_PROCESSOR_KINDS = frozenset(
    {
        MovementKind.PROCESSING_FEE,
        MovementKind.PROCESSING_FEE_RETURN,
        MovementKind.DISPUTE_FEE,
        MovementKind.DISPUTE_FEE_RETURN,
    }
)


def earned(kind: MovementKind, platform_amount: int) -> Earned:
    """One of the platform's postings, by what it is."""
    if kind is MovementKind.COMMISSION:
        return Earned(commission=platform_amount)
    if kind is MovementKind.COMMISSION_REFUND:
        return Earned(commission_refunded=-platform_amount)
    if kind in _PROCESSOR_KINDS:
        return Earned(processor_fees=-platform_amount)
    return Earned(other=platform_amount)


@dataclass(frozen=True, slots=True)
class Revenue:
    totals: dict[str, Earned]  # by currency
    by_merchant: dict[tuple[str, str], Earned]  # (merchant, currency)
    by_day: dict[tuple[date, str], Earned]  # (UTC day, currency)


def revenue(rows: Iterable[tuple[str, str, date, MovementKind, int]]) -> Revenue:
    """Sum the platform's postings, as (merchant, currency, day, kind, amount), three ways."""
    result = Revenue({}, {}, {})
    for merchant_id, currency, day, kind, amount in rows:
        part = earned(kind, amount)
        result.totals[currency] = result.totals.get(currency, Earned()) + part
        key = (merchant_id, currency)
        result.by_merchant[key] = result.by_merchant.get(key, Earned()) + part
        day_key = (day, currency)
        result.by_day[day_key] = result.by_day.get(day_key, Earned()) + part
    return result

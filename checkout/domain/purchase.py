"""The states a purchase and its payment go through, and the one table of moves between them.

The string values are the ones stored in `purchases.state` and `payments.status`; they never
change (a renamed value would need a migration of every stored row).
"""

from __future__ import annotations

from collections.abc import Mapping
from enum import StrEnum


class PurchaseState(StrEnum):
    AUTHORIZING = "authorizing"  # the token is spent and our stock reserved; the hold is asked
    AUTHORIZED = "authorized"  # the provider holds the money; the platform order is next
    PLACED = "placed"  # the merchant's platform has the order; the capture is next
    COMPLETED = "completed"  # captured; our order and the ledger are written
    UNWOUND = "unwound"  # nothing sold: stock and token given back, the hold released


class PaymentStatus(StrEnum):
    AUTHORIZING = "authorizing"  # asked of the provider, no answer recorded yet
    REQUIRES_ACTION = "requires_action"  # waiting for the buyer's 3-D Secure authentication
    REQUIRES_CAPTURE = "requires_capture"  # held on the card
    SUCCEEDED = "succeeded"  # captured
    VOID_PENDING = "void_pending"  # to be released; the provider has not confirmed it yet
    CANCELED = "canceled"  # released: nothing was charged
    DECLINED = "declined"  # the card or the issuer said no
    FAILED = "failed"  # the provider refused our request: nothing reached the card
    SUPERSEDED = "superseded"  # a 3-D Secure wait continued by the authenticated retry's payment


# Purchases a sweep may carry on: an answer is awaited from the provider or the platform.
UNFINISHED = frozenset({PurchaseState.AUTHORIZING, PurchaseState.AUTHORIZED, PurchaseState.PLACED})
# A purchase holds our copy of its stock until the platform has the order (then the platform's
# own figure counts it).
HOLDING_STOCK = (PurchaseState.AUTHORIZING, PurchaseState.AUTHORIZED)

PURCHASE_MOVES: Mapping[PurchaseState, frozenset[PurchaseState]] = {
    PurchaseState.AUTHORIZING: frozenset({PurchaseState.AUTHORIZED, PurchaseState.UNWOUND}),
    PurchaseState.AUTHORIZED: frozenset({PurchaseState.PLACED, PurchaseState.UNWOUND}),
    # A capture the provider refuses cancels the platform order: nothing sold after all.
    PurchaseState.PLACED: frozenset({PurchaseState.COMPLETED, PurchaseState.UNWOUND}),
    PurchaseState.COMPLETED: frozenset(),
    # A new attempt after an unwound one starts over on the same row.
    PurchaseState.UNWOUND: frozenset({PurchaseState.AUTHORIZING}),
}

PAYMENT_MOVES: Mapping[PaymentStatus, frozenset[PaymentStatus]] = {
    PaymentStatus.AUTHORIZING: frozenset(
        {
            PaymentStatus.REQUIRES_CAPTURE,
            PaymentStatus.REQUIRES_ACTION,
            PaymentStatus.VOID_PENDING,
            PaymentStatus.DECLINED,
            PaymentStatus.FAILED,
        }
    ),
    PaymentStatus.REQUIRES_ACTION: frozenset(
        {PaymentStatus.SUPERSEDED, PaymentStatus.VOID_PENDING}
    ),
    PaymentStatus.REQUIRES_CAPTURE: frozenset(
        {PaymentStatus.SUCCEEDED, PaymentStatus.VOID_PENDING}
    ),
    PaymentStatus.VOID_PENDING: frozenset({PaymentStatus.CANCELED}),
    PaymentStatus.SUCCEEDED: frozenset(),
    PaymentStatus.CANCELED: frozenset(),
    PaymentStatus.DECLINED: frozenset(),
    PaymentStatus.FAILED: frozenset(),
    PaymentStatus.SUPERSEDED: frozenset(),
}


class IllegalMove(AssertionError):
    """A step tried a move the tables above do not allow: a bug in the saga, never bad input."""


def purchase_moves(current: str, to: PurchaseState) -> str:
    """The value to store for `to`, when a purchase in state `current` may move there."""
    if to not in PURCHASE_MOVES[PurchaseState(current)]:
        raise IllegalMove(f"a purchase cannot move from {current} to {to}")
    return to.value


def payment_moves(current: str, to: PaymentStatus) -> str:
    """The value to store for `to`, when a payment in status `current` may move there."""
    if to not in PAYMENT_MOVES[PaymentStatus(current)]:
        raise IllegalMove(f"a payment cannot move from {current} to {to}")
    return to.value

"""A conversation's state: the last search, what was shown, the cart, delivery details.

Stored as a new `assistant_states` row after every turn that changes it. Checkout sessions and
orders are not here: they are `assistant_purchases` rows, found by the webhook as well.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field

from assistant.catalog.query import SearchQuery


class ShownItem(BaseModel):
    product_id: str
    variant_id: str
    title: str
    variant_title: str = ""
    price: int
    currency: str = "usd"
    merchant_id: str
    merchant_name: str


class CartLine(BaseModel):
    variant_id: str
    product_id: str
    merchant_id: str
    merchant_name: str
    title: str
    variant_title: str = ""
    quantity: int = 1
    unit_amount: int
    currency: str = "usd"

    @property
    def label(self) -> str:
        return f"{self.title} ({self.variant_title})" if self.variant_title else self.title


class TotalsShown(BaseModel):
    """When checkout's totals were last shown: a confirmation must come in a later turn."""

    turn: int
    fingerprint: str
    amount: int
    currency: str = "usd"


class PendingChoice(BaseModel):
    """A product waiting for the shopper to pick an option (a size) before it goes in the cart."""

    product_id: str
    option: str
    quantity: int = 1
    then_buy: bool = True


class ConversationState(BaseModel):
    turn: int = 0
    query: SearchQuery | None = None
    shown: list[ShownItem] = Field(default_factory=list)
    focus: list[int] = Field(default_factory=list)
    # Shown positions whose variant the shopper picked by naming options ("the 12 oz one").
    chosen: list[int] = Field(default_factory=list)
    cart: list[CartLine] = Field(default_factory=list)
    shipping_address: dict[str, Any] | None = None
    email: str | None = None
    shipping_choice: str | None = None
    totals_shown: TotalsShown | None = None
    card_label: str | None = None
    pending: PendingChoice | None = None

    def cart_line(self, variant_id: str) -> CartLine | None:
        return next((line for line in self.cart if line.variant_id == variant_id), None)

"""Cards typed in chat: found, masked at once, and kept only in memory for a short while.

`mask_card()` runs on every shopper message before anything is stored or logged, so the full
number and the CVC never reach a row, a log line or a language model.
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass

NUMBER = re.compile(r"(?<![\d])(?:\d[ -]?){12,18}\d(?![\d])")
EXPIRY = re.compile(
    r"\b(?:exp(?:iry|iration|ires)?\.?:?\s*)?(0?[1-9]|1[0-2])\s*/\s*(\d{4}|\d{2})\b"
)
CVC = re.compile(r"\b(cvc2?|cvv2?|csc|security code)\s*:?\s*(\d{3,4})\b", re.IGNORECASE)
CARD_TTL_SECONDS = 15 * 60


@dataclass(frozen=True, slots=True)
class Card:
    number: str
    exp_month: str | None = None
    exp_year: str | None = None
    cvc: str | None = None

    @property
    def last4(self) -> str:
        return self.number[-4:]

    @property
    def brand(self) -> str:
        n = self.number
        if n.startswith("4"):
            return "Visa"
        if n[:2] in ("34", "37"):
            return "Amex"
        if n[:2] in {"51", "52", "53", "54", "55"} or "2221" <= n[:4] <= "2720":
            return "Mastercard"
        if n.startswith(("6011", "65")):
            return "Discover"
        return "Card"

    @property
    def label(self) -> str:
        return f"{self.brand} ending {self.last4}"

    @property
    def luhn_valid(self) -> bool:
        total = 0
        for index, digit in enumerate(reversed(self.number)):
            value = int(digit)
            if index % 2 == 1:
                value = value * 2 - 9 if value > 4 else value * 2
            total += value
        return total % 10 == 0

    def as_payment_method(self) -> dict[str, str]:
        method = {"number": self.number, "display_last4": self.last4}
        if self.exp_month and self.exp_year:
            method["exp_month"] = self.exp_month.zfill(2)
            method["exp_year"] = self.exp_year if len(self.exp_year) == 4 else "20" + self.exp_year
        if self.cvc:
            method["cvc"] = self.cvc
        return method


def mask_card(text: str) -> tuple[str, Card | None]:
    """The text with any card number and CVC masked, and the card found (if any)."""
    match = NUMBER.search(text)
    if match is None:
        return CVC.sub(lambda m: f"{m.group(1)} •••", text), None
    digits = re.sub(r"\D", "", match.group(0))
    rest = text[match.end() :]
    expiry = EXPIRY.search(rest)
    cvc = CVC.search(text)
    card = Card(
        number=digits,
        exp_month=expiry.group(1) if expiry else None,
        exp_year=expiry.group(2) if expiry else None,
        cvc=cvc.group(2) if cvc else None,
    )
    masked = text[: match.start()] + f"•••• {card.last4}" + text[match.end() :]
    return CVC.sub(lambda m: f"{m.group(1)} •••", masked), card


class CardVault:
    """Cards by conversation, in this process's memory only, forgotten after 15 minutes.

    Deliberately not persisted: after a restart the shopper types the card again.
    """

    def __init__(self, ttl: float = CARD_TTL_SECONDS) -> None:
        self.ttl = ttl
        self._cards: dict[str, tuple[Card, float]] = {}

    def put(self, conversation_id: str, card: Card) -> None:
        self._cards[conversation_id] = (card, time.monotonic() + self.ttl)

    def get(self, conversation_id: str) -> Card | None:
        entry = self._cards.get(conversation_id)
        if entry is None:
            return None
        if entry[1] < time.monotonic():
            del self._cards[conversation_id]
            return None
        return entry[0]

    def forget(self, conversation_id: str) -> None:
        self._cards.pop(conversation_id, None)

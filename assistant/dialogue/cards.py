"""Cards typed in chat: found, masked at once, and kept only in memory for a short while.

`mask_card()` runs on every shopper message before anything is stored or logged, so the full
number and the CVC never reach a row, a log line or a language model; the masked text keeps the
last four digits and the expiry as "exp MM/YY".
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass

# A run of digits with spaces or dashes anywhere; the card is its first 13-19 digits.
DIGIT_RUN = re.compile(r"(?<![\d/])\d(?:[ -]?\d){12,}")
MONTHS = {
    m: i + 1
    for i, names in enumerate(
        [
            ("jan", "january"),
            ("feb", "february"),
            ("mar", "march"),
            ("apr", "april"),
            ("may",),
            ("jun", "june"),
            ("jul", "july"),
            ("aug", "august"),
            ("sep", "sept", "september"),
            ("oct", "october"),
            ("nov", "november"),
            ("dec", "december"),
        ]
    )
    for m in names
}
MONTH_NAMES = "|".join(sorted(MONTHS, key=len, reverse=True))
EXPIRY = re.compile(
    r"^[\s,;:-]*(?:(?:exp(?:iry|iration|ires)?|expiring|valid\s+(?:thru|through|until))\.?\s*:?\s*)?"
    r"(?:(?P<month>0?[1-9]|1[0-2])\s*[/-]\s*(?P<year>20\d{2}|\d{2})(?!\d)"
    rf"|(?P<month_name>{MONTH_NAMES})\.?\s*,?\s*(?P<year_named>20\d{{2}}|'?\d{{2}})(?!\d))",
    re.IGNORECASE,
)
CVC = re.compile(r"\b(cvc2?|cvv2?|csc|security code)\s*:?\s*(\d{3,4})\b", re.IGNORECASE)
BARE_CVC = re.compile(r"^[\s,;:-]*(?:and\s+)?(\d{3,4})(?![\d/])")
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


def _card_length(digits: str) -> int:
    """How many of a run's digits are the card: by brand, as issuers print them."""
    if digits[:2] in ("34", "37"):
        return 15
    if digits[:2] in ("30", "36", "38"):
        return 14
    return 16


def _number_end(run: re.Match[str], length: int) -> int:
    """Where the card's last digit sits in the text (a run may go on into the expiry)."""
    seen = 0
    for offset, char in enumerate(run.group(0)):
        if char.isdigit():
            seen += 1
            if seen == length:
                return run.start() + offset + 1
    return run.end()


def mask_card(text: str) -> tuple[str, Card | None]:
    """The text with any card number and CVC masked, and the card found (if any).

    People type the expiry straight after the number ("4242 4242 4242 4242 12/30 123"), with
    spaces or dashes anywhere, as "12 / 2030" or "dec 2030"; a bare 3-4 digit number right after
    the expiry is the CVC.
    """
    run = DIGIT_RUN.search(text)
    if run is None:
        return CVC.sub(lambda m: f"{m.group(1)} •••", text), None
    all_digits = re.sub(r"\D", "", run.group(0))
    length = min(_card_length(all_digits), len(all_digits), 19)
    digits = all_digits[:length]
    end = _number_end(run, length)
    rest = text[end:]
    month = year = cvc = None
    expiry = EXPIRY.match(rest)
    tail = rest
    if expiry:
        if expiry.group("month"):
            month, year = expiry.group("month"), expiry.group("year")
        else:
            month = str(MONTHS[expiry.group("month_name").lower()])
            year = expiry.group("year_named").lstrip("'")
        tail = f" exp {month.zfill(2)}/{year[-2:]}" + rest[expiry.end() :]
        bare = BARE_CVC.match(rest[expiry.end() :])
        if bare:
            cvc = bare.group(1)
            tail = f" exp {month.zfill(2)}/{year[-2:]} cvc •••" + rest[expiry.end() + bare.end() :]
    named = CVC.search(text)
    if named:
        cvc = named.group(2)
    card = Card(number=digits, exp_month=month, exp_year=year, cvc=cvc)
    masked = text[: run.start()] + f"•••• {card.last4}" + tail
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

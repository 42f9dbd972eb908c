"""A product search as the shopper asked for it: words plus structured filters, and its refinement."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict

from assistant.money import format_money

SORT_NAMES = {
    "price": "cheapest first",
    "price_desc": "most expensive first",
    "rating": "best rated first",
    "popular": "most reviewed first",
}


class SearchQuery(BaseModel):
    """Prices are minor units (cents); `colour` and `material` are family names from text.py."""

    model_config = ConfigDict(frozen=True)

    text: str = ""
    min_price: int | None = None
    max_price: int | None = None
    colour: str | None = None
    size: str | None = None
    material: str | None = None
    merchant_id: str | None = None
    in_stock_only: bool = False
    prefer_cheap: bool = False
    sort: Literal["relevance", "price", "price_desc", "rating", "popular"] = "relevance"
    exclude: tuple[str, ...] = ()
    offset: int = 0

    def describe(self) -> str:
        """A short human description ("ceramic mug, in blue, under $40")."""
        bits = [self.text] if self.text else []
        if self.colour:
            bits.append(f"in {self.colour}")
        if self.size:
            bits.append(f"size {self.size}")
        if self.material and self.material not in self.text:
            bits.append(self.material)
        if self.min_price is not None and self.max_price is not None:
            bits.append(f"{format_money(self.min_price)}-{format_money(self.max_price)}")
        elif self.max_price is not None:
            bits.append(f"up to {format_money(self.max_price)}")
        elif self.min_price is not None:
            bits.append(f"from {format_money(self.min_price)}")
        if self.in_stock_only:
            bits.append("in stock")
        if self.exclude:
            bits.append("not " + " or ".join(self.exclude))
        if self.sort in SORT_NAMES:
            bits.append(SORT_NAMES[self.sort])
        return ", ".join(bits) or "anything"

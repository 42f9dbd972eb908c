"""ISO 4217 minor units for the platforms' decimal money: one exponent table for every adapter."""

from __future__ import annotations

# Exponents that are not 2; the platforms write money in major units with no exponent of their own.
CURRENCY_EXPONENTS: dict[str, int] = {
    "bif": 0, "clp": 0, "djf": 0, "gnf": 0, "isk": 0, "jpy": 0, "kmf": 0, "krw": 0, "pyg": 0,
    "rwf": 0, "ugx": 0, "vnd": 0, "vuv": 0, "xaf": 0, "xof": 0, "xpf": 0,
    "bhd": 3, "iqd": 3, "jod": 3, "kwd": 3, "lyd": 3, "omr": 3, "tnd": 3,
}  # fmt: skip


def exponent(currency: str) -> int:
    return CURRENCY_EXPONENTS.get(currency.lower(), 2)

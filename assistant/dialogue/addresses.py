"""Shipping addresses in free text ("Ada Lovelace, 1234 Chat Road, San Francisco, CA 94131"),
names ("my name is Ada Lovelace") and email addresses."""

from __future__ import annotations

import re
from typing import Any

US_ADDRESS = re.compile(
    r"(?i:(?:ship(?:ping)?|deliver|send|mail)(?:\s+(?:it|them|this|that|everything|all|the order))?"
    r"\s+to\s*:?\s*|(?:my\s+)?address\s*(?:is|:)\s*)?"
    r"(?:(?P<name>[A-Z][\w.'-]*(?:\s+[A-Z][\w.'-]*){0,3})\s*(?:,|\s+at\s+)\s*)?"
    r"(?P<line1>\d+[A-Za-z]?\s+[\w .'#-]+?)\s*,\s*"
    r"(?:(?P<line2>(?i:apt|apartment|suite|ste|unit|floor|fl|#)\.?\s*[\w-]+)\s*,\s*)?"
    r"(?P<city>[A-Za-z][A-Za-z .'-]*?)\s*,\s*"
    r"(?P<state>[A-Za-z]{2})\.?\s*,?\s*"
    r"(?P<zip>\d{5}(?:-\d{4})?)"
    r"(?:\s*,?\s*(?P<country>(?i:USA|U\.S\.A\.|US|United States(?: of America)?)))?",
)
EMAIL = re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+")
NAME = re.compile(r"\bmy name is\s+(?P<name>[A-Z][\w'-]*(?:\s+[A-Z][\w'-]*){0,3})")


def find_address(text: str) -> tuple[dict[str, Any] | None, tuple[int, int] | None]:
    """An ACP Address (without `name` when none was given) and where it was found."""
    match = US_ADDRESS.search(text)
    if match is None:
        return None, None
    address: dict[str, Any] = {
        "line_one": match["line1"].strip(),
        "city": match["city"].strip(),
        "state": match["state"].upper(),
        "postal_code": match["zip"],
        "country": "US",
    }
    if match["line2"]:
        address["line_two"] = match["line2"].strip()
    if match["name"]:
        address["name"] = match["name"].strip()
    return address, match.span()


def find_email(text: str) -> str | None:
    match = EMAIL.search(text)
    return match.group(0) if match else None


def find_name(text: str) -> str | None:
    match = NAME.search(text)
    return match["name"].strip() if match else None


def form_address(form: dict[str, Any]) -> dict[str, Any]:
    """The structured address form the API accepts, in ACP's Address shape."""
    address = {
        "line_one": str(form["line_one"]).strip(),
        "city": str(form["city"]).strip(),
        "state": str(form["state"]).strip().upper(),
        "postal_code": str(form["postal_code"]).strip(),
        "country": str(form.get("country") or "US").strip().upper(),
    }
    if form.get("line_two"):
        address["line_two"] = str(form["line_two"]).strip()
    if form.get("name"):
        address["name"] = str(form["name"]).strip()
    return address


def one_line(address: dict[str, Any]) -> str:
    """A short form for replies: street and city only, never the whole address in logs."""
    parts = [address.get("name"), address.get("line_one"), address.get("line_two")]
    parts += [address.get("city"), f"{address.get('state', '')} {address.get('postal_code', '')}"]
    return ", ".join(p.strip() for p in parts if p and p.strip())

"""Shipping addresses in free text, names ("my name is Ada Lovelace") and email addresses.

Addresses come in every common US shape: with or without commas, on several lines or split by
slashes, the state spelled out or abbreviated, "apt"/"unit"/"#", a name before or after the
street or introduced by a phrase ("it's for ..."), an email in the same line.
"""

from __future__ import annotations

import re
from typing import Any

# usaddress (a CRF model that ships in its wheel) labels the street part; this module only finds
# where an address sits in a message: a ZIP code, and the house number before it.
ZIP = re.compile(r"(?<![\d$.])\d{5}(?:-\d{4})?(?![\d.])")
HOUSE = re.compile(r"(?<![\w$.#/-])\d{1,6}[A-Za-z]?(?=\s+[A-Za-z0-9])")
COUNTRY = re.compile(r"^\s*,?\s*(?:USA|U\.S\.A\.?|US|U\.S\.|United States(?: of America)?)\b", re.I)
LEAD_IN = re.compile(
    r"(?i:\b(?:ship(?:ping)?|deliver(?:y)?|send|mail|post)(?:\s+(?:it|them|this|that|everything|all"
    r"|the\s+order|my\s+order))?\s+to\s*:?|\b(?:my\s+)?(?:shipping\s+)?address\s*(?:is|:)"
    r"|\bship\s+it\s*:)\s*"
)
EMAIL = re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+")
NAME = re.compile(r"\bmy name is\s+(?P<name>[A-Z][\w'-]*(?:\s+[A-Z][\w'-]*){0,3})")
NAME_WORD = r"[A-Z][A-Za-z'.-]*"
NAME_BEFORE = re.compile(rf"({NAME_WORD}(?:\s+{NAME_WORD}){{0,3}})\s*(?:,|\bat\b)?\s*$")
NAME_AFTER = re.compile(
    rf"^\s*[,;-]?\s*(?:(?:and\s+)?(?:it'?s|its|this\s+is)\s+)?(?:for|to|name(?:\s+is)?:?|attn:?"
    rf"|recipient:?|c/o)\s+({NAME_WORD}(?:\s+{NAME_WORD}){{0,3}})"
)
NOT_A_NAME = {
    "ship",
    "send",
    "deliver",
    "mail",
    "to",
    "it",
    "at",
    "and",
    "my",
    "address",
    "is",
    "the",
}
STATES = {
    "alabama": "AL",
    "alaska": "AK",
    "arizona": "AZ",
    "arkansas": "AR",
    "california": "CA",
    "colorado": "CO",
    "connecticut": "CT",
    "delaware": "DE",
    "florida": "FL",
    "georgia": "GA",
    "hawaii": "HI",
    "idaho": "ID",
    "illinois": "IL",
    "indiana": "IN",
    "iowa": "IA",
    "kansas": "KS",
    "kentucky": "KY",
    "louisiana": "LA",
    "maine": "ME",
    "maryland": "MD",
    "massachusetts": "MA",
    "michigan": "MI",
    "minnesota": "MN",
    "mississippi": "MS",
    "missouri": "MO",
    "montana": "MT",
    "nebraska": "NE",
    "nevada": "NV",
    "new hampshire": "NH",
    "new jersey": "NJ",
    "new mexico": "NM",
    "new york": "NY",
    "north carolina": "NC",
    "north dakota": "ND",
    "ohio": "OH",
    "oklahoma": "OK",
    "oregon": "OR",
    "pennsylvania": "PA",
    "rhode island": "RI",
    "south carolina": "SC",
    "south dakota": "SD",
    "tennessee": "TN",
    "texas": "TX",
    "utah": "UT",
    "vermont": "VT",
    "virginia": "VA",
    "washington": "WA",
    "west virginia": "WV",
    "wisconsin": "WI",
    "wyoming": "WY",
    "district of columbia": "DC",
    "washington dc": "DC",
    "washington d.c.": "DC",
    "puerto rico": "PR",
}
STREET_PARTS = (
    "AddressNumberPrefix",
    "AddressNumber",
    "AddressNumberSuffix",
    "StreetNamePreModifier",
    "StreetNamePreDirectional",
    "StreetNamePreType",
    "StreetName",
    "StreetNamePostType",
    "StreetNamePostDirectional",
)


def _flatten(text: str) -> str:
    """Line breaks and slashes between parts read as separators ("12 Oak St / Portland / OR").

    Same length as the text, so a span found here is a span of the message.
    """
    text = text.replace("\r\n", ", ").replace("\n", " ").replace("\r", " ")
    return re.sub(r"\s[/|]\s", " , ", text)


def _state(value: str) -> str | None:
    value = value.strip(" .,")
    if len(value) == 2 and value.isalpha():
        return value.upper()
    return STATES.get(value.lower())


def _labelled(street: str) -> dict[str, str] | None:
    """usaddress's labels for "55 Navy Way Arlington VA 22201", or None if it is no address."""
    import usaddress

    labels: dict[str, str] = {}
    for token, label in usaddress.parse(street):
        token = token.strip(",;")
        if token:
            labels[label] = f"{labels[label]} {token}" if label in labels else token
    needed = ("AddressNumber", "StreetName", "PlaceName", "StateName", "ZipCode")
    return labels if all(labels.get(k) for k in needed) else None


def find_address(text: str) -> tuple[dict[str, Any] | None, tuple[int, int] | None]:
    """An ACP Address (without `name` when none was given) and the span of the message it took.

    The span covers the lead-in ("ship to"), the recipient's name before or after the street,
    and the country, so none of it is read as a product search or an ordinal ("3rd Ave").
    """
    flat = _flatten(text)
    for zip_match in ZIP.finditer(flat):
        before = flat[: zip_match.start()]
        houses = [h for h in HOUSE.finditer(before) if zip_match.start() - h.start() < 120]
        for house in houses:
            address = _address_between(flat, house.start(), zip_match)
            if address is not None:
                return _with_name(flat, house.start(), zip_match.end(), address)
    return None, None


def _address_between(flat: str, start: int, zip_match: re.Match[str]) -> dict[str, Any] | None:
    labels = _labelled(flat[start : zip_match.end()])
    if labels is None or labels.get("ZipCode") != zip_match.group(0):
        return None
    state = _state(labels["StateName"])
    if state is None:
        return None
    address: dict[str, Any] = {
        "line_one": " ".join(labels[k] for k in STREET_PARTS if labels.get(k)),
        "city": labels["PlaceName"].strip(" ,"),
        "state": state,
        "postal_code": zip_match.group(0),
        "country": "US",
    }
    unit = " ".join(labels[k] for k in ("OccupancyType", "OccupancyIdentifier") if labels.get(k))
    if unit:
        address["line_two"] = unit.replace("# ", "#")
    return address


def _with_name(
    flat: str, start: int, end: int, address: dict[str, Any]
) -> tuple[dict[str, Any], tuple[int, int]]:
    country = COUNTRY.match(flat[end:])
    if country:
        end += country.end()
    after = NAME_AFTER.match(flat[end:])
    before_text = flat[:start]
    leads = list(LEAD_IN.finditer(before_text))
    lead = leads[-1] if leads else None
    name_zone_start = lead.end() if lead else 0
    before = NAME_BEFORE.search(before_text[name_zone_start:])
    if before and before.group(1).split()[0].lower() not in NOT_A_NAME:
        address["name"] = before.group(1).strip()
        start = name_zone_start + before.start()
    if after:
        address.setdefault("name", after.group(1).strip())
        end += after.end()
    if lead:
        start = min(start, lead.start())
    return address, (start, end)


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

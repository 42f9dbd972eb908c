"""Sales-tax and VAT rates by destination, in basis points: the documented rate table.

Rates are the state-level (US) or national standard rates; local surcharges are not modelled.
Tax applies to items and to shipping alike, rounded half-up per line and on shipping.
A destination missing from the table is one the platform does not ship to.
"""

from __future__ import annotations

# fmt: off
US_STATE_RATES_BPS: dict[str, int] = {
    "AL": 400, "AK": 0, "AZ": 560, "AR": 650, "CA": 725, "CO": 290, "CT": 635, "DE": 0,
    "DC": 600, "FL": 600, "GA": 400, "HI": 400, "ID": 600, "IL": 625, "IN": 700, "IA": 600,
    "KS": 650, "KY": 600, "LA": 445, "ME": 550, "MD": 600, "MA": 625, "MI": 600, "MN": 688,
    "MS": 700, "MO": 423, "MT": 0, "NE": 550, "NV": 685, "NH": 0, "NJ": 663, "NM": 488,
    "NY": 400, "NC": 475, "ND": 500, "OH": 575, "OK": 450, "OR": 0, "PA": 600, "RI": 700,
    "SC": 600, "SD": 420, "TN": 700, "TX": 625, "UT": 610, "VT": 600, "VA": 530, "WA": 650,
    "WV": 600, "WI": 500, "WY": 400, "PR": 1050,
}

# Canada: federal GST/HST by province (PST is not collected by out-of-province sellers here).
CA_PROVINCE_RATES_BPS: dict[str, int] = {
    "AB": 500, "BC": 500, "MB": 500, "NB": 1500, "NL": 1500, "NS": 1400, "NT": 500,
    "NU": 500, "ON": 1300, "PE": 1500, "QC": 500, "SK": 500, "YT": 500,
}

# fmt: on

COUNTRY_RATES_BPS: dict[str, int] = {"GB": 2000, "IE": 2300, "DE": 1900, "FR": 2000, "NL": 2100}

SHIPPING_COUNTRIES = frozenset({"US", "CA", *COUNTRY_RATES_BPS})


def subdivisions(country: str) -> dict[str, int] | None:
    """The table of regions a country's addresses must name, or None where any region is fine."""
    return {"US": US_STATE_RATES_BPS, "CA": CA_PROVINCE_RATES_BPS}.get(country)


def rate_bps(country: str, state: str) -> int:
    """The rate for a destination already known to be shippable and well-formed."""
    regions = subdivisions(country)
    if regions is not None:
        return regions[state]
    return COUNTRY_RATES_BPS[country]

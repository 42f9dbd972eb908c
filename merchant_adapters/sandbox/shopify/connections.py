"""Relay connections, opaque cursors, page sizes and search terms as Shopify serves them."""

from __future__ import annotations

import base64
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from merchant_adapters.sandbox.shopify.parser import GraphQLError


@dataclass
class Paged:
    """A list served Relay-style, cut by the `first`/`after` of the field that selects it."""

    items: list[dict[str, Any]]

    def __call__(self, args: Mapping[str, Any]) -> dict[str, Any]:
        first = page_size(args.get("first"))
        offset = decode_cursor(args["after"]).get("offset", -1) if args.get("after") else -1
        if not isinstance(offset, int):
            raise GraphQLError("Invalid cursor for current pagination sort.", "BAD_REQUEST")
        start = offset + 1
        window = self.items[start : start + first]
        cursors = [encode_cursor({"offset": start + i}) for i in range(len(window))]
        return relay_connection(window, cursors, start + first < len(self.items), start > 0)


def relay_connection(
    nodes: list[dict[str, Any]], cursors: list[str], has_next: bool, has_previous: bool
) -> dict[str, Any]:
    return {
        "nodes": nodes,
        "edges": [{"cursor": c, "node": n} for c, n in zip(cursors, nodes, strict=True)],
        "pageInfo": {
            "hasNextPage": has_next,
            "hasPreviousPage": has_previous,
            "startCursor": cursors[0] if cursors else None,
            "endCursor": cursors[-1] if cursors else None,
        },
    }


def encode_cursor(position: Mapping[str, Any]) -> str:
    return base64.b64encode(json.dumps(position, separators=(",", ":")).encode()).decode()


def decode_cursor(cursor: str) -> dict[str, Any]:
    try:
        decoded = json.loads(base64.b64decode(cursor, validate=True))
    except ValueError as exc:
        raise GraphQLError("Invalid cursor for current pagination sort.", "BAD_REQUEST") from exc
    if not isinstance(decoded, dict):
        raise GraphQLError("Invalid cursor for current pagination sort.", "BAD_REQUEST")
    return decoded


def page_size(first: Any) -> int:
    if not isinstance(first, int) or not 0 <= first <= 250:
        raise GraphQLError(
            "`first` must be between 0 and 250 (Shopify's page limit)", "BAD_REQUEST"
        )
    return first


_TERM = re.compile(r"(\w+):(>=|<=|>|<)?('(?:[^'\\]|\\.)*'|\"[^\"]*\"|\S+)|(AND)|(\S+)")


def search_terms(query: str | None, allowed: set[str]) -> list[tuple[str, str, str]]:
    """Shopify search syntax, the terms the adapter sends: `field:value`, `field:>'value'`, AND."""
    terms = []
    for match in _TERM.finditer(query or ""):
        if match.group(4):
            continue
        if match.group(5) or match.group(1) not in allowed:
            raise GraphQLError(
                f"The sandbox emulates only {sorted(allowed)} in search queries: {query!r}",
                "BAD_REQUEST",
            )
        raw = match.group(3)
        value = raw[1:-1].replace("\\'", "'") if raw[:1] in "'\"" else raw
        terms.append((match.group(1), match.group(2) or ":", value))
    return terms

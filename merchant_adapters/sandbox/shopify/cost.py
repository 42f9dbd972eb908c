"""Shopify's query cost: the static estimate before running a query, the actual cost after."""

from __future__ import annotations

from typing import Any

from merchant_adapters.sandbox.shopify.parser import Field, Fragment

MAX_COST = 1000
BUCKET = 2000.0  # an Advanced plan bucket: 2000 points, 100 restored per second
RESTORE_RATE = 100.0
MUTATION_COST = 10


def requested_cost(selections: list[Field | Fragment]) -> int:
    """Shopify's static estimate: scalars 0, objects 1, connections 2 + pageInfo + first x node."""
    total = 0
    for selection in selections:
        if isinstance(selection, Fragment):
            total += requested_cost(selection.selections)
        elif not selection.selections:
            continue
        elif "first" in selection.args or "last" in selection.args:
            size = int(selection.args.get("first") or selection.args.get("last") or 0)
            children = [s for s in selection.selections if isinstance(s, Field)]
            nodes = [s for s in children if s.name == "nodes"]
            for edges in (s for s in children if s.name == "edges"):
                nodes += [s for s in edges.selections if isinstance(s, Field) and s.name == "node"]
            page_info = [s for s in children if s.name == "pageInfo"]
            per_node = max((1 + requested_cost(node.selections) for node in nodes), default=0)
            total += 2 + requested_cost(list(page_info)) + size * per_node
        elif selection.name == "nodes" and "ids" in selection.args:
            total += len(selection.args["ids"] or []) * (1 + requested_cost(selection.selections))
        else:
            total += 1 + requested_cost(selection.selections)
    return total


def actual_cost(value: Any) -> int:
    if isinstance(value, list):
        return sum(actual_cost(item) for item in value)
    if isinstance(value, dict):
        return 1 + sum(actual_cost(item) for item in value.values())
    return 0

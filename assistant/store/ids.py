"""Identifiers: a short prefix naming the kind, then 24 random hex characters."""

from __future__ import annotations

import secrets


def new_id(prefix: str) -> str:
    return f"{prefix}_{secrets.token_hex(12)}"

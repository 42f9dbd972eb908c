"""Identifiers: a type prefix and 96 random bits, sortable by nothing, guessable by no one."""

import secrets


def new_id(prefix: str) -> str:
    return f"{prefix}_{secrets.token_hex(12)}"

"""Offline understanding of shopping language and the deterministic agent built on it."""

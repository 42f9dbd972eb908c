"""Persistence: rows, repositories, transactions, idempotency records and the outbox.

Repositories query: every select, update, insert and primary-key read of checkout lives here,
in the repository named for its noun (docs/architecture.md, "Layer rules")."""

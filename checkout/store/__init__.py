"""Persistence: SQLModel rows, repositories, transactions, idempotency records and the outbox."""

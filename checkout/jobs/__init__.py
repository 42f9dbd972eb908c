"""Background work: delivering order webhooks from the outbox, expiring sessions, purging old keys."""

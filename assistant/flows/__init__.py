"""Use cases, one per module: taking a conversation turn, receiving an order event."""

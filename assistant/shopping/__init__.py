"""The shopping operations both agents use (offline and LLM): search, cart, checkout, payment."""

"""Use cases, one per module, each running inside the caller's transaction."""

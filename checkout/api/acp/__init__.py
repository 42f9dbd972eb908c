"""The ACP surface: checkout sessions, delegate_payment and the discovery document."""

"""The marketplace as one product: the checkout platform, its sandboxes and the shopping assistant
composed in one process, and the `agentic-checkout` command that serves and demonstrates it."""

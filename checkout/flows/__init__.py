"""Use cases, one per module: flows decide (which repository to ask, which provider or platform
to call, what each answer means) and leave every query to checkout.store's repositories."""

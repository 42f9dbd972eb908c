"""Pure checkout logic: money, pricing, tax, session state, payment allowances, the purchase's
states and the error tree. No I/O here, and no framework (checked by lint-imports)."""

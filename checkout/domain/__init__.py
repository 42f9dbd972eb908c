"""Pure checkout logic: money, pricing, tax, session state and payment allowances. No I/O here."""

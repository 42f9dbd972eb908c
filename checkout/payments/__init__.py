"""Payment providers behind one interface: the offline sandbox today, Stripe beside it."""

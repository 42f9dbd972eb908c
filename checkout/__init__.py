"""The checkout platform: the ACP merchant API, payments, orders and their webhooks."""

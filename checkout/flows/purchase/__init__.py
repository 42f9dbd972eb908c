"""The purchase: completing a checkout session, from the first check to our order, as one saga.

Each step is its own short transaction recorded on the session's `purchases` row; no payment
provider or merchant platform call runs inside a transaction. The purchase's states
(`checkout.domain.purchase.PurchaseState`) and the steps between them:

    (session ready_for_payment)
            |  begin_purchase: guards, our stock reserved, the token spent       steps.py
            v
      authorizing --(declined, challenged, refused)--------------------+
            |  provider.authorize, then record_authorization           |     saga.py, steps.py
            v                                                          |
      authorized ---(platform refused, sold out, not there)------------+
            |  adapter.place_order, then note_placed                   |     saga.py, settlement.py
            v                                                          v
        placed ----(capture refused: platform order canceled)----> unwound  settlement.py
            |  provider.capture, then finish_purchase                        (hold voided after)
            v
       completed   our order, its commission and the ledger written; order_create queued

No charge without an order (capture only after the platform accepted the order) and no order
without a charge (our order is written only once the capture is in). When an answer is unknown
the purchase stays where it is and is carried on later by a retried complete (complete.py) or by
the recovery job (recovery.py); never guessed.

Modules:
    complete.py     the ACP complete request: fresh stock, a Shared Payment Token held, begin
    steps.py        begin_purchase (with its guards) and record_authorization
    saga.py         carry_on: from any state to the end, shared by requests and recovery
    settlement.py   the steps after the hold: placed, finished, unwound, hold released
    sale.py         the sale as charged (`Sale`), kept on the purchase row
    recovery.py     carrying on purchases a crashed or abandoned request left half-done
"""

"""Money moving back after a Stripe charge: refunds that take back the merchant's share and give
back the commission as Stripe computes them, and transfers to and from the merchant's account
for disputes. The provider in checkout.payments.stripe is built on this."""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any, cast

import stripe

from checkout.payments.provider import (
    PaymentRefused,
    Refund,
    RefundRequest,
    RefundStatus,
)
from checkout.payments.stripe_sdk import (
    CHARGE_EXPANDED,
    call,
    mapping,
    plain,
    provider_error,
    ref_id,
)

if TYPE_CHECKING:
    from stripe.params import RefundCreateParams

log = logging.getLogger("checkout.payments.stripe")

_REFUND_REASONS = frozenset({"duplicate", "fraudulent", "requested_by_customer"})
_METADATA_VALUE_MAX = 500  # Stripe's limit on one metadata value
_LIST_LIMIT = 100  # Stripe's largest page
# Keys tried in one call after Stripe kept a 500 under the previous one.
_REFUND_ATTEMPTS = 3


def _refund_status(status: Any) -> RefundStatus:
    if status == "succeeded":
        return RefundStatus.SUCCEEDED
    if status in ("failed", "canceled"):
        return RefundStatus.FAILED
    # pending, requires_action, and a refund too new to have a status yet
    return RefundStatus.PENDING


def _fee_refund_paired(
    refund_id: str,
    charge_refunds: Sequence[Mapping[str, Any]],
    fee_refunds: Sequence[Mapping[str, Any]],
) -> int | None:
    """The fee refund Stripe made together with charge refund `refund_id`, or None when the
    pairing is unsafe. Both lists are complete and in Stripe's order (newest first)."""
    if len(charge_refunds) != len(fee_refunds):
        return None
    # Equal lengths, so the n-th newest pairs with the n-th newest as well as oldest with oldest.
    ids = [refund.get("id") for refund in charge_refunds]
    if refund_id not in ids:
        return None
    position = ids.index(refund_id)
    fee_refund = fee_refunds[position]
    # Made in the same request; anything far apart means the lists do not line up.
    refund_created, fee_created = charge_refunds[position].get("created"), fee_refund.get("created")
    if not isinstance(refund_created, int) or not isinstance(fee_created, int):
        return None
    if abs(refund_created - fee_created) > 60:
        return None
    return int(fee_refund.get("amount", 0))


class StripeMoneyBack:
    """Refunds and transfers on destination charges, for StripePaymentProvider."""

    _client: stripe.StripeClient

    async def _intent_with_charge(self, payment_id: str, what: str) -> dict[str, Any]:
        """The PaymentIntent with its latest charge expanded (transfer, application fee)."""
        return plain(
            await call(
                what,
                self._client.v1.payment_intents.retrieve_async(
                    payment_id, {"expand": CHARGE_EXPANDED}
                ),
            )
        )

    async def refund(self, request: RefundRequest) -> Refund:
        """Refund part or all of a captured charge, taking back the merchant's share (reverse
        the transfer) and giving back the commission in proportion (refund the application
        fee), both as Stripe computes them.

        Stripe does not link a fee refund (fr_...) to the charge refund (re_...) that made it,
        and a retry whose refund already happened must report the same fee refund as the first
        call. Every refund we make carries `refund_application_fee`, which makes exactly one
        fee refund in the same request, so the charge's refunds and the fee's refunds line up
        one to one in creation order: the n-th refund's fee refund is the n-th fee refund.
        That reads the same on a retry. When the lists do not line up (a refund made in the
        Dashboard without the fee, a fee refunded on its own, more than one page), we fall back
        to the growth of the fee's `amount_refunded` across this call, which is right for a new
        refund and reads 0 for a repeated one; a warning says so.
        """
        what = f"refund {request.payment_id}"
        intent = await self._intent_with_charge(request.payment_id, what)
        if intent.get("currency") != request.currency:
            raise PaymentRefused(f"{what}: the charge is in {intent.get('currency')}")
        charge = mapping(intent.get("latest_charge"))
        charge_id = ref_id(charge)
        if charge_id is None:
            # Without the charge we cannot tell whether a transfer must be reversed.
            raise PaymentRefused(f"{what}: the payment has no charge to refund")
        fee_id = ref_id(charge.get("application_fee"))
        fee_before = await self._fee_refunded(fee_id) if fee_id else 0

        metadata = dict(request.metadata)
        params: dict[str, Any] = {
            "payment_intent": request.payment_id,
            "amount": request.amount,
            "expand": ["balance_transaction"],
        }
        if charge.get("transfer"):
            params["reverse_transfer"] = True
        if fee_id:
            params["refund_application_fee"] = True
        if request.reason in _REFUND_REASONS:
            params["reason"] = request.reason
        elif request.reason:
            # Stripe takes three reasons only; ours is kept where the Dashboard shows it.
            metadata["reason"] = request.reason[:_METADATA_VALUE_MAX]
        if metadata:
            params["metadata"] = metadata
        created = await self._find_or_create_refund(request, charge_id, params)
        refund_id = str(created["id"])
        fee_refunded = 0
        if fee_id:
            fee_refunded = await self._fee_refund_for(refund_id, charge_id, fee_id, fee_before)
        status = _refund_status(created.get("status"))
        log.info(
            "stripe.refund.created key=%s refund=%s status=%s fee_refunded=%d ours=%d",
            request.idempotency_key,
            refund_id,
            status.value,
            fee_refunded,
            request.application_fee_refund,
        )
        fee = mapping(created.get("balance_transaction")).get("fee")
        return Refund(
            refund_id=refund_id,
            status=status,
            application_fee_refunded=fee_refunded,
            application_fee_refunded_total=await self._fee_refunded(fee_id) if fee_id else 0,
            processing_fee_returned=max(0, -fee) if isinstance(fee, int) else 0,
        )

    async def _find_or_create_refund(
        self, request: RefundRequest, charge_id: str, params: dict[str, Any]
    ) -> dict[str, Any]:
        """The refund carrying our refund id if Stripe has one, else a new one.

        Looking first means a refund whose answer was lost is never made twice, even after its
        Idempotency-Key was pruned. Stripe keeps a 500 under its key and replays it for 24
        hours, so after one (the request finished at Stripe, so the list is complete) the next
        try looks again and then uses a key of its own.
        """
        ours = request.metadata.get("refund_id")
        what = f"refund {request.payment_id}"
        for attempt in range(_REFUND_ATTEMPTS):
            if ours:
                found = await self._refund_carrying(charge_id, ours, what)
                if found is not None:
                    log.info("stripe.refund.found refund=%s ours=%s", found.get("id"), ours)
                    return found
            key = (
                request.idempotency_key if attempt == 0 else f"{request.idempotency_key}:{attempt}"
            )
            log.info(
                "stripe.refund.create key=%s payment=%s amount=%d",
                key,
                request.payment_id,
                request.amount,
            )
            try:
                return plain(
                    await self._client.v1.refunds.create_async(
                        cast("RefundCreateParams", params), options={"idempotency_key": key}
                    )
                )
            except stripe.APIError as error:
                if error.http_status != 500 or attempt == _REFUND_ATTEMPTS - 1:
                    raise provider_error(error, what) from error
                provider_error(error, what)  # logged with its request id; looked up next
            except stripe.StripeError as error:
                raise provider_error(error, what) from error
        raise AssertionError("unreachable: the last attempt returns or raises")

    async def _refund_carrying(
        self, charge_id: str, refund_id: str, what: str
    ) -> dict[str, Any] | None:
        listed = plain(
            await call(
                what,
                self._client.v1.refunds.list_async(
                    {
                        "charge": charge_id,
                        "limit": _LIST_LIMIT,
                        "expand": ["data.balance_transaction"],
                    }
                ),
            )
        )
        for item in listed.get("data") or []:
            if mapping(item.get("metadata")).get("refund_id") == refund_id:
                return mapping(item)
        return None

    async def commission_returned(self, payment_id: str) -> int | None:
        intent = await self._intent_with_charge(payment_id, f"payment {payment_id}")
        fee_id = ref_id(mapping(intent.get("latest_charge")).get("application_fee"))
        return await self._fee_refunded(fee_id) if fee_id else 0

    async def recover_from_merchant(
        self, payment_id: str, amount: int, *, idempotency_key: str
    ) -> int:
        """Reverse up to `amount` of the charge's transfer: with destination charges Stripe takes
        a dispute from the platform, which recovers it from the merchant this way."""
        what = f"transfer reversal {payment_id}"
        charge = mapping((await self._intent_with_charge(payment_id, what)).get("latest_charge"))
        transfer_id = ref_id(charge.get("transfer"))
        if transfer_id is None:
            return 0
        transfer = plain(await call(what, self._client.v1.transfers.retrieve_async(transfer_id)))
        left = int(transfer.get("amount") or 0) - int(transfer.get("amount_reversed") or 0)
        amount = min(amount, left)
        if amount <= 0:
            return 0
        log.info("stripe.transfer_reversal.create transfer=%s amount=%d", transfer_id, amount)
        reversal = plain(
            await call(
                what,
                self._client.v1.transfers.reversals.create_async(
                    transfer_id,
                    {"amount": amount, "metadata": {"payment_intent": payment_id}},
                    options={"idempotency_key": idempotency_key},
                ),
            )
        )
        return int(reversal.get("amount") or 0)

    async def pay_merchant(self, payment_id: str, amount: int, *, idempotency_key: str) -> int:
        """A transfer to the charge's destination, funded by the charge itself."""
        what = f"transfer {payment_id}"
        intent = await self._intent_with_charge(payment_id, what)
        destination = mapping(intent.get("transfer_data")).get("destination")
        charge_id = ref_id(intent.get("latest_charge"))
        if not destination or charge_id is None or amount <= 0:
            return 0
        log.info("stripe.transfer.create payment=%s amount=%d", payment_id, amount)
        sent = plain(
            await call(
                what,
                self._client.v1.transfers.create_async(
                    {
                        "amount": amount,
                        "currency": str(intent.get("currency")),
                        "destination": str(ref_id(destination)),
                        "source_transaction": charge_id,
                        "metadata": {"payment_intent": payment_id},
                    },
                    options={"idempotency_key": idempotency_key},
                ),
            )
        )
        return int(sent.get("amount") or 0)

    async def _fee_refunded(self, fee_id: str) -> int:
        fee = plain(
            await call(
                f"application fee {fee_id}",
                self._client.v1.application_fees.retrieve_async(fee_id),
            )
        )
        return int(fee.get("amount_refunded") or 0)

    async def _fee_refund_for(
        self, refund_id: str, charge_id: str, fee_id: str, before: int
    ) -> int:
        what = f"application fee {fee_id}"
        charge_refunds = plain(
            await call(
                what,
                self._client.v1.refunds.list_async({"charge": charge_id, "limit": _LIST_LIMIT}),
            )
        )
        fee_refunds = plain(
            await call(
                what,
                self._client.v1.application_fees.refunds.list_async(fee_id, {"limit": _LIST_LIMIT}),
            )
        )
        if not charge_refunds.get("has_more") and not fee_refunds.get("has_more"):
            paired = _fee_refund_paired(
                refund_id, charge_refunds.get("data") or [], fee_refunds.get("data") or []
            )
            if paired is not None:
                return paired
        after = await self._fee_refunded(fee_id)
        log.warning(
            "stripe.refund.fee_unpaired refund=%s fee=%s reported=%d",
            refund_id,
            fee_id,
            after - before,
        )
        return after - before

"""The payment gate: verify -> reserve a job for the payment -> (the runner generates) -> settle or refund.

A job row is created in the same transaction that takes the payment, keyed by
the payment, so one payment can never pay for two generations. Asking again
with the same payment and the same request (an agent retrying after a dropped
connection) returns the same task, marked as a replay; anything else is refused
and names the task that consumed the payment. A replay that asks for other
settings (size, seed, model) gets the first task, with a note that its settings stand.

Free and credits payments have no key of their own, so a retry would pay again:
a caller's ``request_id`` (idempotency key) gives them one. The same wallet and
``request_id`` return the task they started, charging nothing; a different request
under a used ``request_id`` is refused, naming the task.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any, Literal, Protocol

from pydantic import BaseModel, Field
from x402.schemas import ResourceInfo

from sf_mcp.chain.payments import VerifiedPayment
from sf_mcp.chain.units import PRICE_DECIMALS, format_units
from sf_mcp.errors import InvalidRequest, PaymentConsumed, PaymentRejected, PriceAboveMax, RequestIdUsed
from sf_mcp.store import GenerationRow, Store


class FreePayment(BaseModel):
    method: Literal["free"] = Field(description="Use the wallet's free daily quota.")


class CreditsPayment(BaseModel):
    method: Literal["credits"] = Field(description="Spend one off-chain credit of the wallet.")


class CryptoPayment(BaseModel):
    method: Literal["crypto"] = Field(description="A payWithS / payWithUSDC / useCredits transaction on chain.")
    tx_hash: str = Field(pattern=r"^0x[0-9a-fA-F]{64}$", description="0x-prefixed 32-byte transaction hash.")


class X402Payment(BaseModel):
    method: Literal["x402"] = Field(
        description='Pay per call in USDC with a signed authorization (x402): without _meta["x402/payment"] the '
        "tool answers the payment terms; sign them and call again with the payment in _meta.")


Payment = FreePayment | CreditsPayment | CryptoPayment | X402Payment


class PaymentVerifier(Protocol):
    """Checks a transaction on chain (implemented in the chain package)."""

    async def verify_for(self, tx_hash: str, *, wallet: str, kind: str, prompt: str) -> VerifiedPayment: ...


class X402Reserver(Protocol):
    """Settles an x402 payment and creates its job (``jobs.x402.X402Gate``, which builds on this module)."""

    async def reserve(
        self, *, wallet: str, kind: str, prompt: str, params: dict[str, Any], payload: Any,
        resource: ResourceInfo, over_http: bool, max_price: Decimal | None = None,
    ) -> Reservation: ...


class Reservation(BaseModel):
    job: GenerationRow
    replay: bool = False  # this payment (or request_id) had already started this task at the caller's request
    note: str | None = None  # something the caller should know about how the task was started
    settlement: dict[str, Any] | None = None  # x402: the _meta["x402/payment-response"] of the result


class PaymentGate:
    def __init__(self, store: Store, *, free_daily_quota: int, verifier: PaymentVerifier | None = None,
                 x402: X402Reserver | None = None) -> None:
        self._store = store
        self._free_daily_quota = free_daily_quota
        self.verifier = verifier
        self.x402 = x402  # where the chain has an operator key (it settles x402 payments)

    async def reserve(
        self, *, wallet: str, kind: str, prompt: str, params: dict[str, Any], payment: Payment,
        request_id: str | None = None, max_price: Decimal | None = None, x402: dict[str, Any] | None = None,
    ) -> Reservation:
        """Take the payment and create its job, or return the job it (or ``request_id``) already started.

        ``max_price`` (in the payment's own unit) is checked before anything is taken. ``x402`` carries what an
        x402 payment needs from the request: ``payload`` (its ``_meta["x402/payment"]``), ``resource`` and
        ``over_http``; an x402 payment is its own idempotency key (the signed authorization), so ``request_id``
        is not used with it.
        """
        generations = self._store.generations
        if isinstance(payment, X402Payment):
            if self.x402 is None:
                raise PaymentRejected("payment: x402 payments need a chain connection, and this server has none")
            x402 = x402 or {}
            return await self.x402.reserve(
                wallet=wallet, kind=kind, prompt=prompt, params=params, payload=x402.get("payload"),
                resource=x402["resource"], over_http=bool(x402.get("over_http")), max_price=max_price)
        if request_id is not None:
            started = await generations.by_request_id(wallet, request_id)
            if started is not None:
                return _replay_of(started, request_id, kind=kind, prompt=prompt, params=params, payment=payment)
        try:
            return await self._reserve(wallet=wallet, kind=kind, prompt=prompt, params=params, payment=payment,
                                       request_id=request_id, max_price=max_price)
        except RequestIdUsed as used:  # a parallel retry under the same request_id created the task first
            started = await generations.get(used.task_id)
            if started is None:
                raise
            return _replay_of(started, request_id or "", kind=kind, prompt=prompt, params=params, payment=payment)

    async def _reserve(
        self, *, wallet: str, kind: str, prompt: str, params: dict[str, Any],
        payment: FreePayment | CreditsPayment | CryptoPayment,
        request_id: str | None, max_price: Decimal | None,
    ) -> Reservation:
        generations = self._store.generations
        if isinstance(payment, FreePayment):  # costs nothing: any max_price allows it
            job = await generations.reserve_free(
                wallet=wallet, kind=kind, prompt=prompt, params=params, daily_quota=self._free_daily_quota,
                request_id=request_id,
            )
            return Reservation(job=job)
        if isinstance(payment, CreditsPayment):
            check_max_price(max_price, token="credits", amount=1)
            job = await generations.reserve_credits(wallet=wallet, kind=kind, prompt=prompt, params=params,
                                                    request_id=request_id)
            return Reservation(job=job)
        no_max_price_for_crypto(max_price)
        if self.verifier is None:
            raise PaymentRejected("payment: crypto payments need a chain connection, and this server has none")
        verified = await self.verifier.verify_for(payment.tx_hash, wallet=wallet, kind=kind, prompt=prompt)
        job, created = await generations.reserve_keyed(
            payment_key=verified.payment_key,
            wallet=verified.payer,
            kind=verified.generation_type,
            prompt=verified.prompt,
            params=params,
            payment={"method": "crypto", **verified.details},
            chain_request_id=verified.request_id,
            request_id=request_id,
        )
        if created:
            return Reservation(job=job)
        if job.wallet == wallet and job.kind == kind and job.prompt == prompt:
            if job.payment.get("source") != "indexer":
                return Reservation(job=job, replay=True, note=_settings_note(job.params, params))
            # The indexer saw the payment first and queued it with default settings.
            adopted, applied = await generations.adopt_for_caller(job.task_id, params)
            if applied:
                return Reservation(job=adopted)
            return Reservation(job=adopted, note=(
                "the server saw this payment on chain and had already started the generation with default "
                "settings, so the size, seed and model given here were not applied; nothing was charged twice"))
        raise PaymentConsumed(
            f"payment: transaction {payment.tx_hash} already paid for task {job.task_id} "
            f"({job.kind}, prompt {job.prompt[:60]!r}); one payment pays for one generation",
            task_id=job.task_id,
        )


def _replay_of(
    job: GenerationRow, request_id: str, *, kind: str, prompt: str, params: dict[str, Any], payment: Payment
) -> Reservation:
    """The task ``request_id`` started, when this is the same request again; else refuse naming it."""
    same_payment = job.payment_method == payment.method and (
        not isinstance(payment, CryptoPayment)
        or str(job.payment.get("tx_hash", "")).lower() == payment.tx_hash.lower()
    )
    if job.kind == kind and job.prompt == prompt and job.params == params and same_payment:
        return Reservation(job=job, replay=True)
    raise InvalidRequest(
        f"request_id: {request_id!r} was already used for task {job.task_id} ({job.kind}, prompt "
        f"{job.prompt[:60]!r}, paid with {job.payment_method}) and this request differs; a request_id "
        "names one request: send a new one for a new request"
    )


def _settings_note(first: dict[str, Any], asked: dict[str, Any]) -> str | None:
    """Say which settings of a replayed payment differ from the ones asked for now (the first ones stand)."""
    changed = [
        f"{name} {_shown(first.get(name))} (asked {_shown(value)})"
        for name, value in asked.items()
        if first.get(name) != value
    ]
    if not changed:
        return None
    return (f"this payment had already started this task, so the first request's settings stand: "
            f"{', '.join(changed)}")


def _shown(value: Any) -> str:
    return "default" if value is None else str(value)


# -- the caller's max_price ------------------------------------------------------------------------
def check_max_price(max_price: Decimal | None, *, token: str, amount: int) -> None:
    """Refuse, before anything is charged, a price above what the caller agreed to (in the token's own unit)."""
    if max_price is None:
        return
    price = Decimal(amount).scaleb(-PRICE_DECIMALS[token])
    if price > max_price:
        unit = "credits" if token == "credits" else token
        raise PriceAboveMax(
            f"max_price: this generation costs {format_units(amount, PRICE_DECIMALS[token])} {unit}, above your "
            f"max_price {max_price.normalize():f} {unit}; nothing was charged (see the quote tool for prices)")


def no_max_price_for_crypto(max_price: Decimal | None) -> None:
    """A crypto payment was already made by the caller's own transaction: there is nothing left to bound."""
    if max_price is not None:
        raise InvalidRequest(
            "max_price: a crypto payment was already made by your transaction (prepare_payment's maxAmount bounds "
            "it); give max_price with free, credits or x402 payments only")

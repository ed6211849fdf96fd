"""x402 pay per call: the rules between a signed USDC authorization and its one generation job.

The x402 MCP transport: a generate tool called without a payment payload answers the
payment-required terms (scheme ``exact``, network ``eip155:<chain id>``, the price in USDC,
``payTo`` = the payment contract, the token's EIP-712 name/version). The client signs an
EIP-3009 ``TransferWithAuthorization`` and retries with it in ``_meta["x402/payment"]``.

Order, so that no payment is taken without its generation and none pays twice:
verify off chain (terms, signature, amount, window, nonce unused on the token, balance) ->
settle with the operator key (``payWithAuthorization``: the contract pulls the USDC and
splits it like any payment) -> create the job keyed by the authorization (token, payer,
nonce), the key the indexer also gives that settlement. A settlement that fails creates no
job and answers the spec's failure result. The same authorization again is the same task.
An authorization someone submitted straight to the token (front-running) moved the USDC to
the contract without a split: it still gets its one job (refunded on chain, like any crypto
payment, if the generation fails), and the contract keeps the amount as a visible surplus.
"""

from __future__ import annotations

import json
import re
from decimal import Decimal
from typing import Any

from x402.mechanisms.evm.types import ExactEIP3009Payload
from x402.schemas import PaymentPayload, PaymentRequired, PaymentRequirements, ResourceInfo, SettleResponse

from sf_mcp.chain.client import Signer
from sf_mcp.chain.txplan import Limits
from sf_mcp.chain.units import format_units
from sf_mcp.chain.x402 import Authorization, Settlement, X402Chain
from sf_mcp.errors import ChainError, ChainUnavailable, InsufficientFunds, PaymentConsumed, PaymentError
from sf_mcp.jobs.gate import Reservation, check_max_price
from sf_mcp.store import GenerationRow, Store
from sf_mcp.store.chain import x402_payment_key

META_PAYMENT = "x402/payment"
META_RESPONSE = "x402/payment-response"
SCHEME = "exact"
# An authorization must stay valid this long after we check it: the settlement is mined meanwhile.
SETTLE_MARGIN_S = 6
_NONCE = re.compile(r"^0x[0-9a-fA-F]{64}$")
_ADDRESS = re.compile(r"^0x[0-9a-fA-F]{40}$")


class X402Required(PaymentError):
    """Answer the spec's payment-required result: no payment yet, an invalid one, or a failed settlement."""

    def __init__(self, message: str, *, required: dict[str, Any], reason: str | None = None) -> None:
        super().__init__(message)
        self.required = required
        self.reason = reason

    def wrapped(self) -> str:
        """``content[0].text`` of the result: the ``x402/error`` wrapper around the terms."""
        return json.dumps({"x402/error": {"code": 402, "message": str(self), "data": self.required}})


class X402Gate:
    """Terms, verification, settlement and the job of x402 payments on one chain."""

    def __init__(self, store: Store, chain: X402Chain, *, max_timeout_s: int, agent: Signer | None = None,
                 limits: Limits | None = None) -> None:
        self._store = store
        self.chain = chain
        self._max_timeout_s = max_timeout_s
        self._agent = agent
        self._limits = limits
        self.disabled: str | None = None  # why x402 is off (the token's EIP-712 domain did not match), if it is

    async def check(self) -> str | None:
        """Check the token's EIP-712 domain on chain; x402 stays off (and says why) when it does not match."""
        self.disabled = await self.chain.check_domain()
        return self.disabled

    # -- terms ---------------------------------------------------------------------------------
    async def requirements(self) -> PaymentRequirements:
        return PaymentRequirements(
            scheme=SCHEME, network=self.chain.network, asset=self.chain.asset, amount=str(await self.chain.price()),
            pay_to=self.chain.pay_to, max_timeout_seconds=self._max_timeout_s,
            extra={"name": self.chain.token_name, "version": self.chain.token_version},
        )

    async def _required(self, message: str, *, resource: ResourceInfo, reason: str | None = None,
                        settlement: SettleResponse | None = None) -> X402Required:
        terms = PaymentRequired(error=message, resource=resource, accepts=[await self.requirements()])
        data = terms.model_dump(mode="json", by_alias=True, exclude_none=True)
        if settlement is not None:
            data[META_RESPONSE] = settlement.model_dump(mode="json", by_alias=True, exclude_none=True)
        return X402Required(message, required=data, reason=reason)

    # -- the payment -----------------------------------------------------------------------------
    async def reserve(
        self, *, wallet: str, kind: str, prompt: str, params: dict[str, Any], payload: Any,
        resource: ResourceInfo, over_http: bool, max_price: Decimal | None = None,
    ) -> Reservation:
        """Verify and settle the authorization in ``payload`` and return its job, or raise X402Required."""
        if self.disabled is not None:
            raise PaymentError(f"payment: x402 is not available on this server: {self.disabled}")
        if max_price is not None:
            check_max_price(max_price, token="USDC", amount=await self.chain.price())
        if payload is None:
            if not over_http and self._agent is not None and self._agent.address == wallet:
                return await self._pay_as_agent(wallet=wallet, kind=kind, prompt=prompt, params=params,
                                                resource=resource)
            raise await self._required("Payment required: sign the USDC authorization and call again with it in "
                                       f"_meta[{META_PAYMENT!r}]", resource=resource)
        auth = await self._parse(payload, resource)
        return await self._verify_and_settle(auth, wallet=wallet, kind=kind, prompt=prompt, params=params,
                                             resource=resource, over_http=over_http)

    async def _parse(self, payload: Any, resource: ResourceInfo) -> Authorization:
        async def invalid(why: str, reason: str) -> X402Required:
            return await self._required(f"Invalid payment: {why}", resource=resource, reason=reason)

        try:
            parsed = PaymentPayload.model_validate(payload)
        except Exception as exc:
            raise await invalid("_meta['x402/payment'] is not an x402 version 2 PaymentPayload",
                                "invalid_payload") from exc
        if parsed.x402_version != 2:
            raise await invalid(f"x402Version {parsed.x402_version} (this server speaks 2)", "invalid_x402_version")
        accepted = parsed.accepted
        if accepted.scheme != SCHEME:
            raise await invalid(f"scheme {accepted.scheme!r} (this server accepts 'exact')", "unsupported_scheme")
        if accepted.network != self.chain.network:
            raise await invalid(f"network {accepted.network!r} (this server is on {self.chain.network})",
                                "invalid_network")
        if accepted.asset.lower() != self.chain.asset.lower():
            raise await invalid(f"asset {accepted.asset} is not this server's USDC {self.chain.asset}",
                                "invalid_exact_evm_payload_asset")
        inner = ExactEIP3009Payload.from_dict(parsed.payload)
        a = inner.authorization
        try:
            signature = bytes.fromhex((inner.signature or "")[2:])
            if not (_ADDRESS.match(a.from_address) and _ADDRESS.match(a.to) and _NONCE.match(a.nonce)) or not signature:
                raise ValueError
            auth = Authorization(payer=a.from_address.lower(), to=a.to.lower(), value=int(a.value),
                                 valid_after=int(a.valid_after), valid_before=int(a.valid_before),
                                 nonce=a.nonce.lower(), signature=signature)
        except ValueError as exc:
            raise await invalid("payload.authorization needs from, to, value, validAfter, validBefore, a 32-byte "
                                "nonce and a signature", "invalid_exact_evm_payload") from exc
        if auth.to != self.chain.pay_to.lower():
            raise await invalid(f"authorization.to {a.to} is not payTo {self.chain.pay_to}",
                                "invalid_exact_evm_payload_recipient_mismatch")
        if self.chain.signer_of(auth) != auth.payer:
            raise await invalid("the signature is not authorization.from's over these terms (the token's EIP-712 "
                                f"domain {self.chain.token_name!r} version {self.chain.token_version!r})",
                                "invalid_exact_evm_payload_signature")
        return auth

    def _key(self, auth: Authorization) -> str:
        return x402_payment_key(self.chain.client.chain_id, self.chain.asset, auth.payer, auth.nonce)

    async def _verify_and_settle(
        self, auth: Authorization, *, wallet: str, kind: str, prompt: str, params: dict[str, Any],
        resource: ResourceInfo, over_http: bool,
    ) -> Reservation:
        if over_http and auth.payer != wallet:
            raise await self._required(f"Invalid payment: the authorization is signed by {auth.payer}, not by your "
                                       f"wallet {wallet}", resource=resource, reason="invalid_exact_evm_payload_payer")
        existing = await self._store.generations.by_payment_key(self._key(auth))
        if existing is not None:  # the same authorization again: the same task
            return self._replay(existing, auth, kind=kind, prompt=prompt)
        price = await self.chain.price()
        if auth.value != price:
            raise await self._required(
                f"Invalid payment: the authorization is for {format_units(auth.value, 6)} USDC and the price is "
                f"{format_units(price, 6)} USDC", resource=resource,
                reason="invalid_exact_evm_payload_authorization_value")
        now = await self.chain.now()
        if auth.valid_after >= now:
            raise await self._required(f"Invalid payment: the authorization is valid only after {auth.valid_after} "
                                       f"(chain time {now})", resource=resource,
                                       reason="invalid_exact_evm_payload_authorization_valid_after")
        if auth.valid_before <= now + SETTLE_MARGIN_S:
            raise await self._required(f"Invalid payment: the authorization expired (validBefore {auth.valid_before}, "
                                       f"chain time {now})", resource=resource,
                                       reason="invalid_exact_evm_payload_authorization_valid_before")
        if await self.chain.nonce_used(auth):
            return await self._nonce_used(auth, wallet=wallet, kind=kind, prompt=prompt, params=params,
                                          resource=resource)
        balance = await self.chain.balance(auth.payer)
        if balance < auth.value:
            raise await self._required(f"Invalid payment: {auth.payer} holds {format_units(balance, 6)} USDC and the "
                                       f"price is {format_units(auth.value, 6)} USDC", resource=resource,
                                       reason="insufficient_funds")
        try:
            settlement = await self.chain.settle(prompt, kind, auth)
        except ChainUnavailable:
            raise  # retryable: if it was mined, the indexer makes its job and the retry answers it
        except ChainError as exc:
            if "PaymentAuthorizationUsed" in str(exc):  # settled meanwhile, or submitted to the token first
                return await self._nonce_used(auth, wallet=wallet, kind=kind, prompt=prompt, params=params,
                                              resource=resource)
            failed = SettleResponse(success=False, error_reason="settlement_failed", error_message=str(exc)[:300],
                                    transaction="", network=self.chain.network, payer=auth.payer)
            raise await self._required(f"Payment settlement failed: {exc}; nothing was taken", resource=resource,
                                       reason="settlement_failed", settlement=failed) from exc
        return await self._job(auth, settlement, kind=kind, prompt=prompt, params=params)

    async def _nonce_used(self, auth: Authorization, *, wallet: str, kind: str, prompt: str, params: dict[str, Any],
                          resource: ResourceInfo) -> Reservation:
        """The token says this nonce is used: settled by us (join that), front-run (its one job), or cancelled."""
        settled = await self.chain.settled_by_us(auth)
        if settled is not None:
            return await self._job(auth, settled, kind=kind, prompt=prompt, params=params)
        front_run = await self.chain.used_at_token(auth)
        if front_run is not None:
            return await self._job(auth, front_run, kind=kind, prompt=prompt, params=params, front_run=True)
        raise await self._required("Invalid payment: this authorization's nonce was already used or cancelled at the "
                                   "token; sign a new one", resource=resource,
                                   reason="invalid_exact_evm_payload_authorization_nonce_used")

    async def _job(self, auth: Authorization, settlement: Settlement, *, kind: str, prompt: str,
                   params: dict[str, Any], front_run: bool = False) -> Reservation:
        client = self.chain.client
        payment = {
            "method": "crypto", "scheme": "x402", "network": self.chain.network, "chain_id": client.chain_id,
            "tx_hash": settlement.tx_hash, "block": settlement.block, "payer": auth.payer, "token": "USDC",
            "token_address": self.chain.asset.lower(), "amount": str(auth.value), "nonce": auth.nonce,
            "request_id": settlement.request_id,
        }
        if front_run:
            payment["front_run"] = ("submitted straight to the token, not through the payment contract: nothing was "
                                    "split, the contract holds the amount as surplus")
        job, created = await self._store.generations.reserve_keyed(
            payment_key=self._key(auth), wallet=auth.payer, kind=kind, prompt=prompt, params=params, payment=payment,
            chain_request_id=settlement.request_id,
        )
        if not created:
            if job.payment.get("source") == "indexer":  # the indexer saw the settlement first: this call started it
                job, _ = await self._store.generations.adopt_for_caller(job.task_id, params)
                return Reservation(job=job, settlement=self.response(job))
            return self._replay(job, auth, kind=kind, prompt=prompt)
        return Reservation(job=job, settlement=self.response(job))

    def _replay(self, job: GenerationRow, auth: Authorization, *, kind: str, prompt: str) -> Reservation:
        if job.kind == kind and job.prompt == prompt:
            return Reservation(job=job, replay=True, settlement=self.response(job))
        raise PaymentConsumed(
            f"payment: this x402 authorization (nonce {auth.nonce[:10]}…) already paid for task {job.task_id} "
            f"({job.kind}, prompt {job.prompt[:60]!r}); one payment pays for one generation", task_id=job.task_id)

    def response(self, job: GenerationRow) -> dict[str, Any]:
        """``_meta["x402/payment-response"]`` of a settled job."""
        settle = SettleResponse(success=True, transaction=str(job.payment.get("tx_hash", "")),
                                network=self.chain.network, payer=self.chain.client.w3.to_checksum_address(job.wallet))
        return settle.model_dump(mode="json", by_alias=True, exclude_none=True)

    # -- the server's own agent key (stdio) ---------------------------------------------------------
    async def _pay_as_agent(self, *, wallet: str, kind: str, prompt: str, params: dict[str, Any],
                            resource: ResourceInfo) -> Reservation:
        """Sign the authorization with the configured agent key, within its per-transaction and daily USDC limits."""
        assert self._agent is not None and self._limits is not None
        price = await self.chain.price()
        if price > self._limits.usdc_per_tx:
            raise InsufficientFunds(
                f"agent limit: an x402 payment of {format_units(price, 6)} USDC is above the agent key's "
                f"{format_units(self._limits.usdc_per_tx, 6)} USDC per payment (SF_AGENT_MAX_USDC_PER_TX); nothing was "
                "signed")
        spending = self._store.chain
        booked = await spending.reserve_spend(wallet=wallet, token="USDC", amount=price,
                                              per_day=self._limits.usdc_per_day)
        if booked is None:
            spent = await spending.spent_today(wallet=wallet, token="USDC")
            raise InsufficientFunds(
                f"agent limit: {format_units(spent, 6)} USDC spent today and this needs {format_units(price, 6)} more; "
                f"the daily limit is {format_units(self._limits.usdc_per_day, 6)} USDC (SF_AGENT_MAX_USDC_PER_DAY); "
                "nothing was signed")
        auth = self.chain.sign(self._agent, value=price,
                               valid_before=await self.chain.now() + self._max_timeout_s)
        try:
            reservation = await self._verify_and_settle(auth, wallet=wallet, kind=kind, prompt=prompt, params=params,
                                                        resource=resource, over_http=False)
        except Exception:
            if not await self.chain.nonce_used(auth):  # nothing moved: the booking is released
                await spending.settle_spend(booked, tx_hash=None)
            raise
        await spending.settle_spend(booked, tx_hash=str(reservation.job.payment.get("tx_hash")))
        return reservation

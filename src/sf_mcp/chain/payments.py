"""Checking a payment on chain: is this transaction a payment to our contract, by this wallet, for this request?

The checks, in order: a well-formed hash; the transaction is mined and did not
revert; our payment contract emitted ``GenerationRequested`` in it (the
transaction itself may go to a contract wallet, a Safe or an ERC-4337 entry
point, that called ours); it has the confirmations this server requires (blocks built on top of it; 0 on
dev chains, 1 on Sonic by default). Then, for a generation request: the payer
is the caller and the type and prompt match (after the same
:func:`~sf_mcp.prompt.clean_prompt` the tools apply).

A payment that already paid for a task is handed to the gate as is: the gate
answers a replay with the same task and refuses anything else naming the task.
Transport failures surface as :class:`ChainUnavailable`, which consumes nothing.
"""

from __future__ import annotations

import re
from typing import Any

from pydantic import BaseModel, Field

from sf_mcp.chain.client import ChainClient
from sf_mcp.chain.contracts import NATIVE_TOKEN, PAYMENT, ZERO_ADDRESS, chain_name
from sf_mcp.chain.logs import DecodedLog, EventDecoder, generation_requests
from sf_mcp.chain.units import format_s, format_usdc
from sf_mcp.errors import InvalidRequest, PaymentRejected, SfMcpError
from sf_mcp.prompt import clean_prompt
from sf_mcp.store import Store
from sf_mcp.store.chain import crypto_payment_key

_TX_HASH = re.compile(r"^0x[0-9a-fA-F]{64}$")

__all__ = ["VerifiedPayment", "crypto_key_prefix", "crypto_payment_key"]


def crypto_key_prefix(chain_id: int) -> str:
    """What every crypto payment key on ``chain_id`` starts with."""
    return f"crypto:{int(chain_id)}:"


class VerifiedPayment(BaseModel):
    """What the chain says a crypto payment paid for (``jobs.gate.PaymentVerifier`` answers it)."""

    payment_key: str  # crypto_payment_key(chain_id, tx_hash[, ordinal])
    payer: str
    generation_type: str
    prompt: str
    request_id: int
    details: dict[str, Any]


class PaymentVerdict(BaseModel):
    """What the chain says about a payment transaction."""

    valid: bool = Field(description="True when the transaction pays for a generation for the caller's request.")
    reason: str = Field(description="Why it is valid or not, in words.")
    tx_hash: str
    chain_id: int
    payer: str | None = None
    token: str | None = Field(default=None, description="S, USDC or credits")
    token_address: str | None = None
    amount: str | None = Field(default=None, description="Amount paid in base units (wei for S, 1e-6 for USDC).")
    amount_display: str | None = Field(default=None, description="Amount paid, human readable (e.g. '3 S').")
    generation_type: str | None = None
    prompt: str | None = None
    request_id: int | None = Field(default=None, description="The payment contract's request id (= generation id).")
    log_index: int | None = None
    block: int | None = None
    confirmations: int | None = Field(default=None, description="Blocks built on top of the payment's block.")
    required_confirmations: int
    consumed_by: str | None = Field(
        default=None,
        description="The task this payment already started (by a tool call, or by the server on seeing it on "
        "chain); generating with the same payment and prompt returns that task.",
    )


class Inspection(BaseModel):
    """A payment transaction as found on chain."""

    tx_hash: str
    chain_id: int
    payer: str
    token_address: str
    token: str
    amount: int
    generation_type: str
    prompt: str
    request_id: int
    log_index: int
    ordinal: int = 0  # which of our GenerationRequested events in this transaction (0 = the first)
    block: int
    confirmations: int

    @property
    def payment_key(self) -> str:
        return crypto_payment_key(self.chain_id, self.tx_hash, self.ordinal)

    def details(self) -> dict[str, Any]:
        return {
            "chain_id": self.chain_id, "tx_hash": self.tx_hash, "log_index": self.log_index, "ordinal": self.ordinal,
            "request_id": self.request_id, "payer": self.payer, "token": self.token,
            "token_address": self.token_address, "amount": str(self.amount), "block": self.block,
        }


def check_tx_hash(tx_hash: str) -> str:
    if not isinstance(tx_hash, str) or not _TX_HASH.match(tx_hash.strip()):
        raise InvalidRequest(
            f"tx_hash: {str(tx_hash)[:80]!r} is not a transaction hash (expected 0x followed by 64 hex digits)"
        )
    return tx_hash.strip().lower()


def token_of(client: ChainClient, address: str) -> str:
    address = address.lower()
    if address == NATIVE_TOKEN:
        return "S"
    if address == ZERO_ADDRESS:
        return "credits"
    if address == client.address_of("MockUSDC"):
        return "USDC"
    return address


def display_amount(token: str, amount: int) -> str:
    if token == "S":
        return f"{format_s(amount)} S"
    if token == "USDC":
        return f"{format_usdc(amount)} USDC"
    if token == "credits":
        return f"{amount} credit" + ("s" if amount != 1 else "")
    return f"{amount} of {token}"


def _pick(events: list[DecodedLog], *, wallet: str | None, kind: str | None, prompt: str | None) -> int:
    """The index of the event that best matches the caller's request (the first one when none does)."""
    def score(ev: DecodedLog) -> tuple[bool, bool, bool]:
        args = ev.args
        return (
            wallet is not None and str(args["user"]).lower() == wallet.lower(),
            kind is not None and str(args["generationType"]) == kind,
            prompt is not None and cleaned_or_none(str(args["prompt"])) == prompt,
        )

    best = max(range(len(events)), key=lambda i: (score(events[i]), -i))
    return best


def cleaned_or_none(prompt: str) -> str | None:
    """The cleaned form of a prompt paid on chain, or None when nothing printable is left.

    Never the raw text: a prompt that is only markup is not generated, stored or posted back on
    chain; its payment waits in the operator's review queue instead (it has no job).
    """
    try:
        return clean_prompt(prompt)
    except SfMcpError:
        return None


EMPTY_PROMPT_HELD = (
    "its prompt is empty once markup and control characters are removed, so it is not generated; the "
    "payment is held for the operator's review (sf-mcp review)"
)


class ChainPaymentVerifier:
    """``jobs.gate.PaymentVerifier`` on our payment contract."""

    def __init__(self, client: ChainClient, store: Store) -> None:
        self._client = client
        self._store = store
        # The receipt's logs are decoded with eth_abi directly: web3's process_receipt cost more than the RPC.
        self._decoder = EventDecoder({PAYMENT: client.address_of(PAYMENT)})

    async def inspect(
        self, tx_hash: str, *, wallet: str | None = None, kind: str | None = None, prompt: str | None = None
    ) -> Inspection:
        """Find the payment in ``tx_hash`` or raise PaymentRejected saying why it is none.

        The payment is a ``GenerationRequested`` event emitted by our payment contract, wherever the
        transaction was sent (a contract wallet calls ours). Where one transaction holds several,
        the one for ``wallet`` (and ``kind`` and ``prompt``, when given) is picked.
        """
        tx_hash = check_tx_hash(tx_hash)
        client = self._client
        where = chain_name(client.chain_id)
        receipt, head = await client.receipt_and_head(tx_hash)
        if receipt is None:
            pending = await client.is_known(tx_hash)
            if pending:
                exc = PaymentRejected(f"transaction {tx_hash} is not mined yet on {where}; try again in a few seconds")
                exc.retryable = True
                raise exc
            raise PaymentRejected(
                f"transaction {tx_hash} is unknown on {where} (chain id {client.chain_id}): check the hash and "
                "that it was sent on this network"
            )
        if receipt["status"] != 1:
            raise PaymentRejected(f"transaction {tx_hash} failed on chain (it reverted), so nothing was paid")
        payment_address = client.address_of(PAYMENT)
        to = (receipt.get("to") or "").lower()
        events = generation_requests(self._decoder, receipt, payment_address)
        if not events:
            if to != payment_address:
                raise PaymentRejected(
                    f"transaction {tx_hash} was sent to {to or 'no address (a contract creation)'}, not to the sf-mcp "
                    f"payment contract {payment_address} on {where}, and paid it nothing"
                )
            raise PaymentRejected(
                f"transaction {tx_hash} called the payment contract but did not pay for a generation "
                "(no GenerationRequested event)"
            )
        ordinal = _pick(events, wallet=wallet, kind=kind, prompt=prompt)
        ev = events[ordinal]
        args = ev.args
        token_address = str(args["paymentToken"]).lower()
        return Inspection(
            tx_hash=tx_hash, chain_id=client.chain_id, payer=str(args["user"]).lower(), token_address=token_address,
            token=token_of(client, token_address), amount=int(args["amount"]),
            generation_type=str(args["generationType"]), prompt=str(args["prompt"]), request_id=int(args["requestId"]),
            log_index=ev.log_index, ordinal=ordinal, block=int(receipt["blockNumber"]),
            confirmations=max(0, head - int(receipt["blockNumber"])),
        )

    def _check_confirmed(self, found: Inspection) -> None:
        need = self._client.confirmations
        if found.confirmations < need:
            exc = PaymentRejected(
                f"transaction {found.tx_hash} has {found.confirmations} of the {need} confirmations this server "
                "requires; try again in a few seconds"
            )
            exc.retryable = True
            raise exc

    async def verify_for(self, tx_hash: str, *, wallet: str, kind: str, prompt: str) -> VerifiedPayment:
        found = await self.inspect(tx_hash, wallet=wallet, kind=kind, prompt=prompt)
        consumed = await self._store.generations.by_payment_key(found.payment_key)
        if consumed is None:
            # A fresh payment must be exactly this caller's request; a used one goes to the gate,
            # which answers a replay with its task and refuses anything else naming the task.
            self._check_confirmed(found)
            self._check_matches(found, wallet=wallet, kind=kind, prompt=prompt)
        cleaned = cleaned_or_none(found.prompt)
        if cleaned is None:
            raise PaymentRejected(f"transaction {found.tx_hash} paid for a generation, but {EMPTY_PROMPT_HELD}")
        return VerifiedPayment(
            payment_key=found.payment_key, payer=found.payer, generation_type=found.generation_type,
            prompt=cleaned, request_id=found.request_id, details=found.details(),
        )

    def _check_matches(self, found: Inspection, *, wallet: str, kind: str | None, prompt: str | None) -> None:
        if found.payer != wallet.lower():
            raise PaymentRejected(
                f"transaction {found.tx_hash} was paid by {found.payer}, not by you ({wallet.lower()}); "
                "a payment only pays for its payer's generations"
            )
        if kind is not None and found.generation_type != kind:
            raise PaymentRejected(
                f"transaction {found.tx_hash} paid for a{'n' if found.generation_type == 'image' else ''} "
                f"{found.generation_type}, not a{'n' if kind == 'image' else ''} {kind}"
            )
        paid = cleaned_or_none(found.prompt)
        if paid is None:
            raise PaymentRejected(f"transaction {found.tx_hash} paid for a generation, but {EMPTY_PROMPT_HELD}")
        if prompt is not None and paid != prompt:
            raise PaymentRejected(
                f"transaction {found.tx_hash} paid for the prompt {paid[:80]!r}, "
                f"not {prompt[:80]!r}; use the prompt you paid for"
            )

    async def verdict(
        self, tx_hash: str, *, wallet: str, generation_type: str | None = None, prompt: str | None = None
    ) -> PaymentVerdict:
        """The ``verify_payment`` answer: a rejected payment is a verdict, not an error; outages are errors."""
        tx_hash = check_tx_hash(tx_hash)
        required = self._client.confirmations
        base = {"tx_hash": tx_hash, "chain_id": self._client.chain_id, "required_confirmations": required}
        cleaned = clean_prompt(prompt) if prompt is not None else None
        try:
            found = await self.inspect(tx_hash, wallet=wallet, kind=generation_type, prompt=cleaned)
        except PaymentRejected as exc:
            return PaymentVerdict(valid=False, reason=str(exc), **base)
        consumed = await self._store.generations.by_payment_key(found.payment_key)
        fields = {
            **base, "payer": found.payer, "token": found.token, "token_address": found.token_address,
            "amount": str(found.amount), "amount_display": display_amount(found.token, found.amount),
            "generation_type": found.generation_type, "prompt": found.prompt, "request_id": found.request_id,
            "log_index": found.log_index, "block": found.block, "confirmations": found.confirmations,
            "consumed_by": consumed.task_id if consumed else None,
        }
        try:
            self._check_confirmed(found)
            self._check_matches(found, wallet=wallet, kind=generation_type, prompt=cleaned)
        except PaymentRejected as exc:
            return PaymentVerdict(valid=False, reason=str(exc), **fields)
        if consumed is not None:
            # Still a genuine payment by the caller: often the indexer saw it first and started the task.
            return PaymentVerdict(
                valid=True,
                reason=f"a valid payment of {display_amount(found.token, found.amount)} by {found.payer}; its "
                f"generation already started as task {consumed.task_id}, and generating with this payment and "
                "prompt returns that task (nothing is charged twice)",
                **fields,
            )
        return PaymentVerdict(
            valid=True,
            reason=f"a valid payment of {display_amount(found.token, found.amount)} by {found.payer} for one "
            f"{found.generation_type} (request {found.request_id}), not used yet",
            **fields,
        )


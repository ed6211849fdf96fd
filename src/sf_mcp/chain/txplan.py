"""User transactions: unsigned EIP-1559 plans, or (with an agent key over stdio) signed and sent within limits.

The server never holds users' keys: ``stake``, ``vote`` and ``prepare_payment``
answer a :class:`TxPlan` the user's wallet signs. Where ``SF_AGENT_KEY`` is
configured (a local agent) the same plan is signed and sent here instead, and
the answer is a :class:`TxResult` with receipts. Spending by the agent key is
bounded per transaction and per UTC day for S and USDC; a plan over a limit is
refused whole, never clipped.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any, Literal

from eth_account import Account
from eth_account.typed_transactions import TypedTransaction
from hexbytes import HexBytes
from pydantic import BaseModel, Field

from sf_mcp.chain.client import ChainClient, Signer
from sf_mcp.chain.contracts import chain_name
from sf_mcp.errors import ChainError, InsufficientFunds, InvalidRequest, SfMcpError
from sf_mcp.store import Store


class PlannedTx(BaseModel):
    """One unsigned EIP-1559 transaction."""

    chain_id: int
    type: int = 2
    from_: str = Field(alias="from", serialization_alias="from")
    to: str
    nonce: int
    value: str = Field(description="Wei, as a decimal string.")
    data: str
    gas: int = Field(description="Gas limit: the node's estimate plus 20 %.")
    max_fee_per_gas: str
    max_priority_fee_per_gas: str
    summary: str = Field(description="What this transaction does, in words.")
    call: dict[str, Any] = Field(description="The decoded call: contract, function and arguments.")

    model_config = {"populate_by_name": True}


class TxPlan(BaseModel):
    """Transactions for the caller's wallet to sign and send, in order."""

    kind: Literal["plan"] = "plan"
    chain_id: int
    chain: str
    wallet: str
    summary: str
    transactions: list[PlannedTx]
    notes: list[str] = []


class SentTx(BaseModel):
    tx_hash: str
    status: Literal["success", "reverted"]
    block: int
    gas_used: int
    summary: str


class TxResult(BaseModel):
    """Transactions the server signed with the agent key and sent, with their receipts."""

    kind: Literal["sent"] = "sent"
    chain_id: int
    chain: str
    wallet: str
    summary: str
    transactions: list[SentTx]
    notes: list[str] = []


class Step(BaseModel):
    """One call to plan: a bound contract function, what it spends and how to say it."""

    model_config = {"arbitrary_types_allowed": True}

    fn: Any
    contract: str
    summary: str
    value: int = 0  # wei of S sent with the call
    spends_s: int = 0
    spends_usdc: int = 0
    estimate: bool = True  # False when an earlier step (an approve) must be mined before the node can estimate it
    gas_fallback: int = 500_000


class Limits(BaseModel):
    s_per_tx: int
    s_per_day: int
    usdc_per_tx: int
    usdc_per_day: int

    @classmethod
    def from_settings(cls, settings: Any) -> "Limits":
        return cls(
            s_per_tx=int(Decimal(str(settings.agent_max_s_per_tx)) * 10**18),
            s_per_day=int(Decimal(str(settings.agent_max_s_per_day)) * 10**18),
            usdc_per_tx=int(Decimal(str(settings.agent_max_usdc_per_tx)) * 10**6),
            usdc_per_day=int(Decimal(str(settings.agent_max_usdc_per_day)) * 10**6),
        )


class TxPlanner:
    def __init__(self, client: ChainClient, store: Store, *, agent: Signer | None = None,
                 limits: Limits | None = None) -> None:
        self._client = client
        self._store = store
        self.agent = agent
        self._limits = limits

    async def plan(self, wallet: str, steps: list[Step], summary: str, notes: list[str] | None = None) -> TxPlan:
        client = self._client
        base_nonce = await client.read("reading the nonce", lambda: client.w3.eth.get_transaction_count(
            client.w3.to_checksum_address(wallet), "pending"))
        txs: list[PlannedTx] = []
        for i, step in enumerate(steps):
            tx = await self._build(wallet, step, base_nonce + i, estimate=step.estimate)
            txs.append(tx)
        return TxPlan(chain_id=client.chain_id, chain=chain_name(client.chain_id), wallet=wallet, summary=summary,
                      transactions=txs, notes=notes or [])

    async def _build(self, wallet: str, step: Step, nonce: int, *, estimate: bool) -> PlannedTx:
        client = self._client
        w3 = client.w3
        sender = w3.to_checksum_address(wallet)
        block = await client.get_block("latest")
        tip = 10**9
        max_fee = 2 * int(block["baseFeePerGas"]) + tip
        fields = {"from": sender, "nonce": nonce, "chainId": client.chain_id, "value": step.value,
                  "maxPriorityFeePerGas": tip, "maxFeePerGas": max_fee, "type": 2}
        if estimate:
            tx = await client.read(f"estimating {step.fn.fn_name}", lambda: step.fn.build_transaction(fields))
            gas = int(tx["gas"] * 1.2)
        else:
            tx = await client.read(f"encoding {step.fn.fn_name}",
                                   lambda: step.fn.build_transaction({**fields, "gas": step.gas_fallback}))
            gas = step.gas_fallback
        return PlannedTx(
            chain_id=client.chain_id, **{"from": wallet}, to=str(tx["to"]).lower(), nonce=nonce, value=str(step.value),
            data=tx["data"] if isinstance(tx["data"], str) else "0x" + bytes(tx["data"]).hex(), gas=gas,
            max_fee_per_gas=str(max_fee), max_priority_fee_per_gas=str(tip), summary=step.summary,
            call={"contract": step.contract, "address": str(tx["to"]).lower(), "function": step.fn.fn_name,
                  "args": [_plain(a) for a in step.fn.args]},
        )

    async def execute(self, wallet: str, steps: list[Step], summary: str, notes: list[str] | None = None,
                      ) -> TxPlan | TxResult:
        """A plan for the caller's wallet, or, where the agent key is that wallet, the sent transactions."""
        if self.agent is None or self.agent.address != wallet:
            return await self.plan(wallet, steps, summary, notes)
        return await self._send(wallet, steps, summary, notes or [])

    async def _send(self, wallet: str, steps: list[Step], summary: str, notes: list[str]) -> TxResult:
        assert self.agent is not None and self._limits is not None
        limits = self._limits
        spend_s = sum(s.spends_s for s in steps)
        spend_usdc = sum(s.spends_usdc for s in steps)
        for token, amount, per_tx in (("S", spend_s, limits.s_per_tx), ("USDC", spend_usdc, limits.usdc_per_tx)):
            if amount > per_tx:
                raise InsufficientFunds(
                    f"agent limit: this would spend {_fmt(token, amount)} in one transaction and the agent key may "
                    f"spend at most {_fmt(token, per_tx)} (SF_AGENT_MAX_{token}_PER_TX); nothing was sent"
                )
        bookings: list[int] = []
        sent: list[SentTx] = []
        try:
            for token, amount, per_day in (("S", spend_s, limits.s_per_day), ("USDC", spend_usdc, limits.usdc_per_day)):
                if amount == 0:
                    continue
                booked = await self._store.chain.reserve_spend(wallet=wallet, token=token, amount=amount,
                                                               per_day=per_day)
                if booked is None:
                    spent = await self._store.chain.spent_today(wallet=wallet, token=token)
                    raise InsufficientFunds(
                        f"agent limit: {_fmt(token, spent)} spent today and this needs {_fmt(token, amount)} more; the "
                        f"daily limit is {_fmt(token, per_day)} (SF_AGENT_MAX_{token}_PER_DAY); nothing was sent"
                    )
                bookings.append(booked)
            for step in steps:
                try:
                    receipt = await self._client.send(self.agent, step.fn, value=step.value, what=step.summary)
                except ChainError:
                    if sent:
                        notes.append("an earlier transaction of this plan was sent; see its receipt")
                    raise
                sent.append(SentTx(tx_hash=receipt["transactionHash"].to_0x_hex(), status="success",
                                   block=receipt["blockNumber"], gas_used=receipt["gasUsed"], summary=step.summary))
        except SfMcpError:
            if not sent:  # nothing left this process: the booking is released
                for booked in bookings:
                    await self._store.chain.settle_spend(booked, tx_hash=None)
            raise
        for booked in bookings:
            await self._store.chain.settle_spend(booked, tx_hash=sent[-1].tx_hash)
        return TxResult(chain_id=self._client.chain_id, chain=chain_name(self._client.chain_id), wallet=wallet,
                        summary=summary, transactions=sent, notes=notes)


    async def relay(self, wallet: str, signed_tx: str) -> TxResult:
        """Broadcast a transaction ``wallet`` signed itself, to one of the deployment's contracts, and wait for it.

        For wallets that sign plans but have no RPC endpoint of their own (and the embedded chain,
        which has none). Refused unless it is a typed (EIP-1559) transaction for this chain, signed
        by ``wallet``, calling one of the sf-mcp contracts: the server relays, it never pays gas.
        """
        client = self._client
        raw = _raw_bytes(signed_tx)
        try:
            fields = TypedTransaction.from_bytes(HexBytes(raw)).as_dict()
            signer = str(Account.recover_transaction(raw)).lower()
        except Exception:
            raise InvalidRequest("signed_tx: not a signed EIP-1559 transaction (sign the plan's fields with type 2)") from None
        if int(fields["chainId"]) != client.chain_id:
            raise InvalidRequest(f"signed_tx: signed for chain id {fields['chainId']}, but this server is on "
                                 f"{chain_name(client.chain_id)} (chain id {client.chain_id})")
        if signer != wallet:
            raise InvalidRequest(f"signed_tx: signed by {signer}, not by your wallet ({wallet})")
        to = "0x" + bytes(fields.get("to") or b"").hex()
        known = {record.address.lower(): name for name, record in client.deployment.contracts.items()}
        if to not in known:
            raise InvalidRequest(f"signed_tx: sends to {to if len(to) == 42 else 'no address'}, which is not an sf-mcp "
                                 f"contract ({', '.join(sorted(known.values()))})")
        what = f"a {known[to]} transaction from {wallet}"
        receipt = await client.send_raw(raw, what=what)
        status: Literal["success", "reverted"] = "success" if receipt["status"] == 1 else "reverted"
        tx = SentTx(tx_hash=receipt["transactionHash"].to_0x_hex(), status=status, block=receipt["blockNumber"],
                    gas_used=receipt["gasUsed"], summary=f"{what} (nonce {fields['nonce']})")
        notes = [] if status == "success" else ["the transaction was mined but reverted: nothing changed except the gas spent"]
        return TxResult(chain_id=client.chain_id, chain=chain_name(client.chain_id), wallet=wallet,
                        summary=f"relayed {what}", transactions=[tx], notes=notes)


def _raw_bytes(signed_tx: str) -> bytes:
    text = signed_tx.strip()
    try:
        raw = bytes.fromhex(text.removeprefix("0x"))
    except ValueError:
        raise InvalidRequest("signed_tx: give the signed transaction as 0x-prefixed hex") from None
    if not raw or len(raw) > 128 * 1024:
        raise InvalidRequest("signed_tx: empty, or larger than 128 KiB")
    return raw


def _fmt(token: str, amount: int) -> str:
    if token == "S":
        return f"{Decimal(amount) / Decimal(10**18):f}".rstrip("0").rstrip(".") + " S"
    return f"{Decimal(amount) / Decimal(10**6):f}".rstrip("0").rstrip(".") + " USDC"


def _plain(value: Any) -> Any:
    if isinstance(value, (bytes, bytearray)):
        return "0x" + bytes(value).hex()
    if isinstance(value, int) and not isinstance(value, bool) and abs(value) >= 2**53:
        return str(value)
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, str) and value.startswith("0x") and len(value) == 42:
        return value.lower()
    return value

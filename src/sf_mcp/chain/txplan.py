"""User transactions: unsigned EIP-1559 plans, or (with an agent key over stdio) signed and sent within limits.

The server never holds users' keys: ``stake``, ``vote`` and ``prepare_payment``
answer a :class:`TxPlan` the user's wallet signs. Where ``SF_AGENT_KEY`` is
configured (a local agent) the same plan is signed and sent here instead, and
the answer is a :class:`TxResult` with receipts. Spending by the agent key is
bounded per transaction and per UTC day for S and USDC; a plan over a limit is
refused whole, never clipped.
"""

from __future__ import annotations

from typing import Any, Literal

from eth_account import Account
from eth_account.typed_transactions import TypedTransaction
from eth_utils import function_signature_to_4byte_selector
from hexbytes import HexBytes
from pydantic import BaseModel, Field

from sf_mcp.chain.client import ChainClient, Signer
from sf_mcp.chain.contracts import CORE_CONTRACTS, NFT, PAYMENT, STAKING, USDC, chain_name
from sf_mcp.chain.units import S_DECIMALS, USDC_DECIMALS, fee_fields, format_units, plain, to_base_units
from sf_mcp.config import LimitSettings
from sf_mcp.errors import ChainError, InsufficientFunds, InvalidRequest
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
    gas: int = Field(
        description="Gas limit: the node's estimate plus 20 %; for a call that cannot be estimated until an earlier "
        "transaction of the plan (an approval) is mined, a fixed allowance sized for the call (never above the "
        "block gas limit)."
    )
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
    gas_fallback: int = 500_000  # the gas limit when not estimated (capped by the block gas limit)


class Limits(BaseModel):
    s_per_tx: int
    s_per_day: int
    usdc_per_tx: int
    usdc_per_day: int

    @classmethod
    def from_settings(cls, limits: LimitSettings) -> Limits:
        return cls(
            s_per_tx=to_base_units(limits.agent_max_s_per_tx, S_DECIMALS),
            s_per_day=to_base_units(limits.agent_max_s_per_day, S_DECIMALS),
            usdc_per_tx=to_base_units(limits.agent_max_usdc_per_tx, USDC_DECIMALS),
            usdc_per_day=to_base_units(limits.agent_max_usdc_per_day, USDC_DECIMALS),
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
        fees = fee_fields(int(block["baseFeePerGas"]))
        tip, max_fee = fees["maxPriorityFeePerGas"], fees["maxFeePerGas"]
        fields = {"from": sender, "nonce": nonce, "chainId": client.chain_id, "value": step.value, **fees, "type": 2}
        if estimate:
            tx = await client.read(f"estimating {step.fn.fn_name}", lambda: step.fn.build_transaction(fields))
            gas = int(tx["gas"] * 1.2)
        else:
            gas = min(step.gas_fallback, int(block.get("gasLimit") or step.gas_fallback))
            tx = await client.read(f"encoding {step.fn.fn_name}",
                                   lambda: step.fn.build_transaction({**fields, "gas": gas}))
        return PlannedTx(
            chain_id=client.chain_id, **{"from": wallet}, to=str(tx["to"]).lower(), nonce=nonce, value=str(step.value),
            data=tx["data"] if isinstance(tx["data"], str) else "0x" + bytes(tx["data"]).hex(), gas=gas,
            max_fee_per_gas=str(max_fee), max_priority_fee_per_gas=str(tip), summary=step.summary,
            call={"contract": step.contract, "address": str(tx["to"]).lower(), "function": step.fn.fn_name,
                  "args": [plain(a) for a in step.fn.args]},
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
        broadcast: list[str] = []  # hashes the node accepted (the receipt may still be missing)
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

                async def on_sent(tx_hash: str) -> None:
                    # Broadcast: from here on the money may move, so the booking stays whatever happens next.
                    broadcast.append(tx_hash)
                    for booked in bookings:
                        await self._store.chain.settle_spend(booked, tx_hash=tx_hash)

                try:
                    receipt = await self._client.send(self.agent, step.fn, value=step.value, what=step.summary,
                                                      on_sent=on_sent)
                except ChainError:
                    if broadcast:
                        notes.append("an earlier transaction of this plan was sent; see its receipt")
                    raise
                sent.append(SentTx(tx_hash=receipt["transactionHash"].to_0x_hex(), status="success",
                                   block=receipt["blockNumber"], gas_used=receipt["gasUsed"], summary=step.summary))
        except Exception:
            if not broadcast:  # nothing left this process: the booking is released
                for booked in bookings:
                    await self._store.chain.settle_spend(booked, tx_hash=None)
            raise
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
        name = _relayable(client, to, bytes(fields.get("data") or b""))
        what = f"a {name} transaction from {wallet}"
        receipt = await client.send_raw(raw, what=what)
        status: Literal["success", "reverted"] = "success" if receipt["status"] == 1 else "reverted"
        tx = SentTx(tx_hash=receipt["transactionHash"].to_0x_hex(), status=status, block=receipt["blockNumber"],
                    gas_used=receipt["gasUsed"], summary=f"{what} (nonce {fields['nonce']})")
        notes = [] if status == "success" else ["the transaction was mined but reverted: nothing changed except the gas spent"]
        return TxResult(chain_id=client.chain_id, chain=chain_name(client.chain_id), wallet=wallet,
                        summary=f"relayed {what}", transactions=[tx], notes=notes)


_APPROVE = function_signature_to_4byte_selector("approve(address,uint256)")
_APPROVE_ALL = function_signature_to_4byte_selector("setApprovalForAll(address,bool)")


def _relayable(client: ChainClient, to: str, data: bytes) -> str:
    """The contract name when ``send_transaction`` may relay a call to ``to`` with ``data``; else InvalidRequest.

    Any call to the three core contracts, and the two approvals our plans ask for: a USDC
    ``approve`` of the payment contract and a BanditKidz ``setApprovalForAll`` of the staking contract.
    Token transfers and approvals of anyone else are not relayed.
    """
    core = {client.address_of(n): n for n in CORE_CONTRACTS}
    if to in core:
        return core[to]
    approvals = {USDC: (_APPROVE, PAYMENT), NFT: (_APPROVE_ALL, STAKING)}
    for token, (selector, spender_contract) in approvals.items():
        if token not in client.deployment.contracts or to != client.address_of(token):
            continue
        if data[:4] == selector and len(data) >= 36:
            spender = "0x" + data[16:36].hex()
            if spender == client.address_of(spender_contract):
                return token
        raise InvalidRequest(
            f"signed_tx: only an approval of the {spender_contract} contract is relayed to {token} ({to}); "
            "transfers and other calls to token contracts are not"
        )
    raise InvalidRequest(f"signed_tx: sends to {to if len(to) == 42 else 'no address'}, which is not an sf-mcp "
                         f"contract ({', '.join(sorted(CORE_CONTRACTS))})")


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
    return f"{format_units(amount, S_DECIMALS if token == 'S' else USDC_DECIMALS)} {token}"

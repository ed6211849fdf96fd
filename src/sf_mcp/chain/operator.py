"""The operator key's two jobs: refund a failed crypto generation, and enter a finished one in the contest.

Both go through :meth:`OperatorActions._send_once`, which makes sure the chain
sees at most one of them per task, even with ``sf-mcp serve`` and a standalone
``sf-mcp indexer`` retrying the same work, and across crashes:

1. **claim** the (task, action) row (:class:`~sf_mcp.store.OperatorTx`, whose states and
   transitions are :mod:`sf_mcp.store.operator_tx`) before signing; only the process that
   inserted it goes on (a claim with nothing signed is taken over after ``claim_stale_s``);
2. **record** the signed bytes, their hash (keccak of the raw transaction) and
   nonce, then broadcast: a crash after the broadcast finds the hash on restart;
3. a transaction still pending ``resend_after_s`` after it was recorded is **replaced
   with the same nonce** and higher fees, so at most one of them can be mined; a new
   nonce is used only once none of ours can be mined any more.

Why at most once. Every transaction of one (task, action) row shares one nonce n
(replacements reuse it) and its hash is recorded before it is broadcast, so the
row's ``hashes`` hold every transaction that can carry the action, and at most
one of them is ever mined. A second transaction (nonce m != n) is signed only
after the conditional RECLAIM moved the row from SENT back to CLAIMED, and that
update runs only on proof that none of ``hashes`` can be mined:

- one of them has a *reverted* receipt (nonce n is consumed by ours, no effect), or
- nonce n is consumed by a transaction that is not ours: the block k with
  ``nonce(operator, k-1) <= n < nonce(operator, k)`` (at least ``confirmations``
  deep) holds the one transaction with nonce n, and none of ``hashes`` is in it.

A missing receipt is never taken as proof: a receipt read answered by a lagging
node, or a transaction mined between the receipt read and the nonce read (the
bug this replaces: nonce read at "latest" after receipts), only says "not yet".
The proof reads state *at* block numbers and the transactions *of* block k,
which every node that has the block answers alike; a node that lacks it fails,
which delays the verdict and never inverts it. Two senders race only through
conditional updates on the row (CLAIM, TAKE_OVER, SIGN, REPLACE, RECLAIM), so
exactly one wins each step. A crash between any two steps leaves the row in a
state the next pass resumes: CLAIMED (nothing signed; taken over when stale),
SENT (the recorded bytes are re-broadcast, harmlessly), mined but unmarked
(its receipt is found).

Time enters only through the constructor (``clock``, ``resend_after_s``, ``claim_stale_s``,
``receipt_wait_s``; the service builds them from the settings), so tests drive the resume and
replace paths with a real chain and no patching.

Failures leave the job as it was (``failed`` and listed by
``pending_onchain_refunds``, or unsubmitted) for the indexer's next pass. A job
whose payment left the chain (a reorg) is held: neither refunded nor submitted.
"""

from __future__ import annotations

import logging
import os
import time
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

from eth_account.typed_transactions.typed_transaction import TypedTransaction
from eth_typing import HexStr
from eth_utils.crypto import keccak
from hexbytes import HexBytes
from pydantic import BaseModel

from sf_mcp.chain.client import ChainClient
from sf_mcp.chain.contracts import PAYMENT
from sf_mcp.chain.logs import EventDecoder, generation_requests
from sf_mcp.chain.payments import cleaned_or_none, crypto_key_prefix
from sf_mcp.errors import ChainError, ChainUnavailable, ConfigError, SfMcpError
from sf_mcp.store import GenerationRow, JobStatus, OperatorAction, OperatorTx, OperatorTxState, Store

logger = logging.getLogger(__name__)

RESEND_AFTER_S = 600.0  # a sent transaction with no receipt after this long is replaced (same nonce, higher fees)
CLAIM_STALE_S = 120.0  # a claim with nothing signed after this long belonged to a process that died
RECEIPT_WAIT_S = 120.0  # how long one call waits for its own transaction's receipt before answering "pending"
RESUME_WAIT_S = 5.0  # how long a resumed, re-broadcast transaction is waited for (at most RECEIPT_WAIT_S)
FEE_BUMP = 1.125  # nodes accept a replacement that pays at least 10 % more
MIN_TIP = 10**9  # 1 gwei: a replacement's priority fee is never below it


class Mined(BaseModel):
    """The successful receipt of the operator transaction that carried an action."""

    tx_hash: str
    block: int


class RefundRecord(BaseModel):
    """What a failed job's ``refund`` column keeps (the caller is told how to spend the credit)."""

    method: str = "onchain_credits"
    credits: int = 1
    tx_hash: str
    block: int
    chain_id: int
    note: str = "one credit was added to your wallet on the payment contract; spend it with useCredits"


class SubmissionRecord(BaseModel):
    """What a succeeded job's ``submission`` column keeps: its contest entry."""

    tx_hash: str | None = None  # None when the contest already had it ("already submitted")
    block: int | None = None
    generation_id: int
    result_url: str
    chain_id: int
    note: str | None = None


class OperatorActions:
    """``jobs.runner.Refunder`` and the contest submitter: ``refund(job)`` then ``generations.record_refund``."""

    def __init__(
        self, client: ChainClient, store: Store, *, resend_after_s: float = RESEND_AFTER_S,
        claim_stale_s: float = CLAIM_STALE_S, receipt_wait_s: float = RECEIPT_WAIT_S,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._client = client
        self._store = store
        self._txs = store.operator_txs
        self._owner = f"{os.getpid()}:{uuid.uuid4().hex[:12]}"
        self._resend_after_s = resend_after_s
        self._claim_stale_s = claim_stale_s
        self._receipt_wait_s = receipt_wait_s
        self._clock = clock  # wall-clock seconds, comparable with the rows' updated_at
        self._decoder = EventDecoder({PAYMENT: client.address_of(PAYMENT)})

    def _ours(self, job: GenerationRow) -> bool:
        return job.payment_key.startswith(crypto_key_prefix(self._client.chain_id)) and ":stale:" not in job.payment_key

    async def refund(self, job: GenerationRow) -> dict[str, Any]:
        """Give the payer one on-chain credit (``addCredits(payer, 1)``) for a failed crypto job, once."""
        client = self._client
        fresh = await self._store.generations.get(job.task_id) or job
        if fresh.status is JobStatus.REFUNDED and fresh.refund is not None:
            return fresh.refund
        if fresh.status is not JobStatus.FAILED or not self._ours(fresh):
            raise ChainError(f"task {job.task_id} is not a failed crypto job of {client.label}; nothing to refund")
        if fresh.payment_orphaned_at is not None:
            raise ChainError(f"the payment of task {job.task_id} left the chain in a reorg; its refund is held "
                             "for review")
        await self._payment_request_id(fresh)
        payer = client.w3.to_checksum_address(fresh.wallet)
        mined = await self._send_once(
            fresh, OperatorAction.REFUND, lambda: client.payment.functions.addCredits(payer, 1),
            f"refund (addCredits) for task {job.task_id}",
        )
        logger.info("refunded task %s with one on-chain credit", job.task_id)
        return RefundRecord(tx_hash=mined.tx_hash, block=mined.block, chain_id=client.chain_id).model_dump()

    async def submit(self, job: GenerationRow) -> dict[str, Any] | None:
        """Enter a succeeded crypto job into the current contest; None when it is not one to submit."""
        if job.status is not JobStatus.SUCCEEDED or job.chain_request_id is None or job.submission is not None:
            return None
        if not self._ours(job) or job.payment_orphaned_at is not None:
            return None
        client = self._client
        fresh = await self._store.generations.get(job.task_id)
        if fresh is None or fresh.submission is not None or fresh.payment_orphaned_at is not None:
            return None
        # Rows written before prompts were cleaned to a fixpoint may still hold markup: the contest shows
        # prompts to anyone, so only the cleaned text is ever posted, and a prompt that was only markup never.
        prompt = cleaned_or_none(fresh.prompt)
        if prompt is None:
            logger.warning("task %s not submitted: its prompt is empty once markup is removed", job.task_id)
            return None
        request_id = await self._payment_request_id(fresh)
        url = fresh.public_url or f"content://{fresh.content_sha256}"
        creator = client.w3.to_checksum_address(fresh.wallet)
        try:
            mined = await self._send_once(
                fresh, OperatorAction.SUBMIT,
                lambda: client.voting.functions.submitGeneration(request_id, creator, prompt, url),
                f"submitGeneration for task {job.task_id}",
            )
            record = SubmissionRecord(tx_hash=mined.tx_hash, block=mined.block, generation_id=request_id,
                                      result_url=url, chain_id=client.chain_id)
        except ChainError as exc:
            if "VotingGenerationExists" not in str(exc):
                raise
            record = SubmissionRecord(generation_id=request_id, result_url=url, chain_id=client.chain_id,
                                      note="already submitted")
        submission = record.model_dump(exclude_none=True)
        await self._store.generations.record_submission(job.task_id, submission)
        logger.info("submitted task %s as generation %s", job.task_id, request_id)
        return submission

    async def _payment_request_id(self, job: GenerationRow) -> int:
        """The payment's request id as the chain has it now; ChainError when the payment is not on chain."""
        client = self._client
        tx_hash = str(job.payment.get("tx_hash") or "")
        receipt = await client.receipt(tx_hash) if tx_hash else None
        events = generation_requests(self._decoder, receipt, client.address_of(PAYMENT)) \
            if receipt is not None and receipt.get("status") == 1 else []
        ordinal = int(job.payment.get("ordinal", 0))
        if ordinal >= len(events):
            raise ChainError(f"the payment {tx_hash or '(none)'} of task {job.task_id} is not on {client.label} "
                             "now (a reorg?); held until it is")
        return int(events[ordinal].args["requestId"])

    # -- at most one transaction per (task, action) ------------------------------
    async def _send_once(self, job: GenerationRow, action: OperatorAction, make: Callable[[], Any],
                         what: str) -> Mined:
        if self._client.operator is None:
            raise ConfigError(f"{what}: no operator key; set SF_OPERATOR_KEY to the key that holds OPERATOR_ROLE")
        row = await self._txs.claim(job.task_id, action, self._client.chain_id, self._owner)
        if row is not None:
            found = await self._resume(row, what)
            if found is not None:
                return found
        return await self._sign_and_send(job.task_id, action, make(), what)

    async def _resume(self, row: OperatorTx, what: str) -> Mined | None:
        """Follow up an earlier claim: its receipt, or None once this process holds a claim with nothing signed."""
        client, txs = self._client, self._txs
        now = self._clock()
        if row.status is OperatorTxState.CLAIMED:
            if await txs.take_over(row.task_id, row.action, self._owner, stale_before=now - self._claim_stale_s):
                return None
            raise ChainError(f"{what} is being sent by another process (since {now - row.updated_at:.0f} s)")
        hashes = row.candidates
        reverted = None
        for tx_hash in hashes:
            receipt = await client.receipt(tx_hash)
            if receipt is None:
                continue
            if receipt["status"] == 1:
                await txs.mark_mined(row.task_id, row.action, tx_hash)
                return _mined(tx_hash, receipt)
            reverted = tx_hash
        if row.status is OperatorTxState.MINED and reverted is None:
            raise ChainError(f"{what}: its transaction {row.tx_hash} is no longer on chain (a reorg?); held")
        raw = row.signed
        if row.nonce is None or raw is None or row.tx_hash is None:
            raise ChainError(f"{what}: transaction {row.tx_hash} has no receipt yet; it is awaited (not resent)")
        used = None if reverted is not None else await self._nonce_used_in(row.nonce)
        if used is not None:
            block, mined = used
            if not mined.isdisjoint(h.lower() for h in hashes):
                # Ours is in that block; the node that answered the receipt lags behind it.
                raise ChainError(f"{what}: transaction {row.tx_hash} was mined in block {block}; its "
                                 "receipt is not visible yet (a lagging node); retried later")
        if reverted is not None or used is not None:
            # None of ours can be mined any more: a fresh transaction cannot double the action.
            if await txs.reclaim(row.task_id, row.action, self._owner, tx_hash=row.tx_hash):
                return None
            raise ChainError(f"{what} is being re-sent by another process")
        await self._broadcast(raw, what, quiet=True)  # the node may have dropped it; the same bytes are harmless
        if now - row.updated_at < self._resend_after_s:
            receipt = await self._wait(row.tx_hash, what, timeout=min(RESUME_WAIT_S, self._receipt_wait_s))
            if receipt is not None and receipt["status"] == 1:
                await txs.mark_mined(row.task_id, row.action, row.tx_hash)
                return _mined(row.tx_hash, receipt)
            raise ChainError(f"{what}: transaction {row.tx_hash} is still pending")
        return await self._replace(row, raw, what)

    async def _nonce_used_in(self, nonce: int) -> tuple[int, set[str]] | None:
        """The block that mined the operator's transaction with ``nonce`` and its transaction hashes; None while
        no block ``confirmations`` deep has.

        Only block-pinned reads decide (the nonce *at* block b, the transactions *of* block k): every node
        that has those blocks answers them alike, and one that lacks them fails instead of answering older
        news. So a lagging node, or a receipt read and a nonce read answered by different nodes, can delay
        the verdict but never make a mined transaction look dropped.
        """
        client = self._client
        assert client.operator is not None
        operator = client.w3.to_checksum_address(client.operator.address)

        async def count(block: int) -> int:
            return int(await client.read(f"reading the operator nonce at block {block}",
                                         lambda: client.w3.eth.get_transaction_count(operator, block)))

        found = await block_that_used(nonce, await client.block_number() - client.confirmations, count)
        if found is None:
            return None
        block = await client.get_block(found)
        return found, {HexBytes(h).to_0x_hex().lower() for h in block["transactions"]}

    async def _replace(self, row: OperatorTx, raw: bytes, what: str) -> Mined:
        """Re-sign the stuck transaction with the same nonce and higher fees; at most one of them is mined."""
        client = self._client
        signer = client.operator
        assert signer is not None and row.tx_hash is not None
        fields = TypedTransaction.from_bytes(HexBytes(raw)).as_dict()
        for key in ("v", "r", "s"):
            fields.pop(key, None)
        base = int((await client.get_block("latest"))["baseFeePerGas"])
        # Both fees rise by FEE_BUMP (12.5 %; int() loses under 1 wei, and MIN_TIP covers fees under 40 wei).
        tip = max(int(fields["maxPriorityFeePerGas"] * FEE_BUMP), MIN_TIP)
        fields["maxPriorityFeePerGas"] = tip
        fields["maxFeePerGas"] = max(int(fields["maxFeePerGas"] * FEE_BUMP), 2 * base + tip)
        fields["to"] = client.w3.to_checksum_address("0x" + bytes(fields["to"]).hex())
        fields["data"] = bytes(fields["data"])
        new_raw = signer.sign(fields)
        new_hash = "0x" + keccak(new_raw).hex()
        if not await self._txs.record_replacement(row.task_id, row.action, self._owner, replaces=row.tx_hash,
                                                  nonce=int(fields["nonce"]), tx_hash=new_hash, raw_tx=new_raw):
            raise ChainError(f"{what} is being replaced by another process")
        logger.warning("%s: %s pending for %.0f s; replaced by %s (same nonce %s, higher fees)", what,
                       row.tx_hash, self._clock() - row.updated_at, new_hash, fields["nonce"])
        await self._broadcast(new_raw, what)
        receipt = await self._wait(new_hash, what)
        return await self._mined(row.task_id, row.action, new_hash, receipt, what)

    async def _sign_and_send(self, task_id: str, action: OperatorAction, fn: Any, what: str) -> Mined:
        """Under our claim: build, sign, record, then broadcast and wait."""
        client, txs = self._client, self._txs
        signer = client.operator
        assert signer is not None
        # One sender per operator key, in this process and across replicas: nonces are taken in order.
        async with signer.lock, self._store.exclusive(f"operator:{signer.address.lower()}"):
            try:
                tx = await client.build_tx(signer.address, fn)
            except BaseException:
                await txs.release(task_id, action, self._owner)
                raise
            raw = signer.sign(tx)
            tx_hash = "0x" + keccak(raw).hex()
            if not await txs.record_signed(task_id, action, self._owner, nonce=int(tx["nonce"]), tx_hash=tx_hash,
                                           raw_tx=raw):
                raise ChainError(f"{what}: another process took over this claim; not sending")
            try:
                await self._broadcast(raw, what)
            except SfMcpError as exc:
                if not isinstance(exc, ChainUnavailable):  # the node refused it: nothing was broadcast
                    await txs.release(task_id, action, self._owner)
                raise
        receipt = await self._wait(tx_hash, what)
        return await self._mined(task_id, action, tx_hash, receipt, what)

    async def _mined(self, task_id: str, action: OperatorAction, tx_hash: str, receipt: dict[str, Any] | None,
                     what: str) -> Mined:
        if receipt is None:
            raise ChainError(f"{what}: transaction {tx_hash} is still pending")
        if receipt["status"] != 1:
            raise ChainError(f"{what} transaction {tx_hash} reverted on chain")
        await self._txs.mark_mined(task_id, action, tx_hash)
        return _mined(tx_hash, receipt)

    async def _broadcast(self, raw: bytes, what: str, *, quiet: bool = False) -> None:
        try:
            await self._client.w3.eth.send_raw_transaction(raw)
        except Exception as exc:
            text = str(exc).lower()
            if quiet or "known" in text or "already" in text:
                return
            raise self._client.map_error(exc, f"sending {what}") from exc

    async def _wait(self, tx_hash: str, what: str, *, timeout: float | None = None) -> dict[str, Any] | None:
        try:
            receipt = await self._client.w3.eth.wait_for_transaction_receipt(
                HexStr(tx_hash), timeout=self._receipt_wait_s if timeout is None else timeout, poll_latency=0.1)
        except Exception as exc:
            if type(exc).__name__ == "TimeExhausted":
                return None
            raise self._client.map_error(exc, f"waiting for {what} ({tx_hash})") from exc
        self._client.mined(receipt)
        return dict(receipt)


async def block_that_used(nonce: int, top: int, count: Callable[[int], Awaitable[int]]) -> int | None:
    """The block k <= ``top`` whose transactions used ``nonce``: ``count(k-1) <= nonce < count(k)``, where
    ``count(b)`` is the account's nonce at block b (never decreasing; 0 before block 0). None when
    ``count(top) <= nonce`` (not used by block ``top``) or ``top`` < 0.

    Galloping back from ``top`` then bisecting finds k in O(log(top - k)) calls of ``count``: a transaction
    waits near the head, so k is usually a few blocks back however long the chain is.
    """
    if top < 0 or await count(top) <= nonce:
        return None
    hi, step = top, 1  # invariant: count(hi) > nonce
    lo = max(hi - step, 0)
    while lo > 0 and await count(lo) > nonce:
        hi, step = lo, step * 2
        lo = max(hi - step, 0)
    if lo == 0 and await count(0) > nonce:
        return 0
    while hi - lo > 1:  # invariant: count(lo) <= nonce < count(hi)
        mid = (lo + hi) // 2
        if await count(mid) > nonce:
            hi = mid
        else:
            lo = mid
    return hi


def _mined(tx_hash: str, receipt: dict[str, Any]) -> Mined:
    return Mined(tx_hash=tx_hash, block=int(receipt["blockNumber"]))

"""The operator key's two jobs: refund a failed crypto generation, and enter a finished one in the contest.

Both remember the transaction they sent (``store.chain`` operator_txs) before
waiting for it, so a retry after a timeout looks the first one up instead of
refunding twice. Failures leave the job as it was (``failed`` and listed by
``pending_onchain_refunds``, or unsubmitted) for the indexer's next pass.
"""

from __future__ import annotations

import logging
import time
from typing import Any

import anyio

from sf_mcp.chain.client import ChainClient
from sf_mcp.errors import ChainError
from sf_mcp.store import GenerationRow, Store

logger = logging.getLogger(__name__)

RESEND_AFTER_S = 600.0  # a sent refund with no receipt after this long is assumed dropped


class OperatorActions:
    """``jobs.runner.Refunder`` and the contest submitter."""

    def __init__(self, client: ChainClient, store: Store) -> None:
        self._client = client
        self._store = store
        self._lock = anyio.Lock()

    def _ours(self, job: GenerationRow) -> bool:
        return job.payment_key.startswith(f"crypto:{self._client.chain_id}:")

    async def refund(self, job: GenerationRow) -> dict[str, Any]:
        """Give the payer one on-chain credit (``addCredits(payer, 1)``) for a failed crypto job."""
        client = self._client
        async with self._lock:
            previous = await self._store.chain.operator_tx(job.task_id, "refund")
            if previous is not None:
                receipt = await client.receipt(previous["tx_hash"])
                if receipt is not None and receipt["status"] == 1:
                    return _refund_record(client, previous["tx_hash"], receipt)
                if receipt is None and time.time() - previous["created_at"] < RESEND_AFTER_S:
                    raise ChainError(f"the refund {previous['tx_hash']} of task {job.task_id} is still pending")

            async def remember(tx_hash: str) -> None:
                await self._store.chain.record_operator_tx(job.task_id, "refund", client.chain_id, tx_hash)

            payer = client.w3.to_checksum_address(job.wallet)
            receipt = await client.send_as_operator(
                client.payment.functions.addCredits(payer, 1), f"refund (addCredits) for task {job.task_id}",
                on_sent=remember,
            )
        logger.info("refunded task %s with one on-chain credit", job.task_id)
        return _refund_record(client, receipt["transactionHash"].to_0x_hex(), receipt)

    async def submit(self, job: GenerationRow) -> dict[str, Any] | None:
        """Enter a succeeded crypto job into the current contest; None when it is not one to submit."""
        if job.status != "succeeded" or job.chain_request_id is None or job.submission is not None:
            return None
        if not self._ours(job):
            return None
        client = self._client
        async with self._lock:
            fresh = await self._store.generations.get(job.task_id)
            if fresh is None or fresh.submission is not None:
                return None
            url = job.public_url or f"content://{job.content_sha256}"
            creator = client.w3.to_checksum_address(job.wallet)

            async def remember(tx_hash: str) -> None:
                await self._store.chain.record_operator_tx(job.task_id, "submit", client.chain_id, tx_hash)

            try:
                receipt = await client.send_as_operator(
                    client.voting.functions.submitGeneration(job.chain_request_id, creator, job.prompt, url),
                    f"submitGeneration for task {job.task_id}", on_sent=remember,
                )
                submission = {
                    "tx_hash": receipt["transactionHash"].to_0x_hex(), "block": receipt["blockNumber"],
                    "generation_id": job.chain_request_id, "result_url": url, "chain_id": client.chain_id,
                }
            except ChainError as exc:
                if "VotingGenerationExists" not in str(exc):
                    raise
                submission = {"generation_id": job.chain_request_id, "result_url": url, "chain_id": client.chain_id,
                              "note": "already submitted"}
            await self._store.generations.record_submission(job.task_id, submission)
        logger.info("submitted task %s as generation %s", job.task_id, job.chain_request_id)
        return submission


def _refund_record(client: ChainClient, tx_hash: str, receipt: dict[str, Any]) -> dict[str, Any]:
    return {
        "method": "onchain_credits", "credits": 1, "tx_hash": tx_hash, "block": receipt.get("blockNumber"),
        "chain_id": client.chain_id,
        "note": "one credit was added to your wallet on the payment contract; spend it with useCredits",
    }

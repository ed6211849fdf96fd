"""The operator's review queue: payments that could not be matched to a job or refunded.

Two kinds, both derived from what is already stored (nothing to keep in sync):

- ``refund_failed``: a crypto job failed and no refund is recorded (the on-chain
  ``addCredits`` was not sent or did not go through; the indexer keeps retrying
  while an operator key is configured);
- ``unmatched_payment``: an indexed ``GenerationRequested`` event with no job for
  its payment key (the indexer could not turn it into a job: an unknown
  generation type, or a prompt that is empty once markup is removed);
- ``payment_reorged``: a crypto job whose payment left the chain in a reorg and
  was not mined again (its refund and contest submission are held).
"""

from __future__ import annotations

import json
from typing import Any, Literal

from pydantic import BaseModel

from sf_mcp.store.db import Database

ReviewKind = Literal["refund_failed", "unmatched_payment", "payment_reorged"]


class ReviewItem(BaseModel):
    kind: ReviewKind
    chain_id: int | None = None
    tx_hash: str | None = None
    log_index: int | None = None
    wallet: str | None = None
    task_id: str | None = None
    request_id: int | None = None
    token: str | None = None  # "S", "USDC" or the token address
    amount: str | None = None  # base units
    at: float | None = None  # when the job failed / the event was indexed (unix seconds)
    reason: str


class ReviewQueue:
    def __init__(self, db: Database) -> None:
        self._db = db

    async def items(self, *, limit: int = 200) -> list[ReviewItem]:
        """Everything awaiting an operator, oldest first within each kind."""
        out: list[ReviewItem] = []
        failed = await self._db.fetchall(
            "SELECT task_id, wallet, payment, error, finished_at, chain_request_id FROM ai_generations "
            "WHERE status = 'failed' AND payment_method = 'crypto' AND payment_orphaned_at IS NULL "
            "ORDER BY finished_at, task_id LIMIT ?",
            (limit,),
        )
        for r in failed:
            payment: dict[str, Any] = json.loads(r["payment"])
            out.append(ReviewItem(
                kind="refund_failed", chain_id=payment.get("chain_id"), tx_hash=payment.get("tx_hash"),
                log_index=payment.get("log_index"), wallet=r["wallet"], task_id=r["task_id"],
                request_id=r["chain_request_id"], token=payment.get("token"), amount=_str(payment.get("amount")),
                at=r["finished_at"], reason=f"generation failed ({r['error'] or 'no error recorded'}); no refund recorded",
            ))
        unmatched = await self._db.fetchall(
            "SELECT e.chain_id, e.tx_hash, e.log_index, e.args, e.created_at FROM blockchain_transactions e "
            "WHERE e.event = 'GenerationRequested' AND NOT EXISTS (SELECT 1 FROM ai_generations g WHERE "
            "g.payment_key = e.payment_key) "
            "ORDER BY e.block_number, e.log_index LIMIT ?",
            (limit,),
        )
        for r in unmatched:
            args = json.loads(r["args"])
            out.append(ReviewItem(
                kind="unmatched_payment", chain_id=r["chain_id"], tx_hash=r["tx_hash"], log_index=r["log_index"],
                wallet=args.get("user"), request_id=_int(args.get("requestId")), token=args.get("paymentToken"),
                amount=_str(args.get("amount")), at=r["created_at"],
                reason=_unmatched_reason(args),
            ))
        reorged = await self._db.fetchall(
            "SELECT task_id, wallet, status, payment, payment_orphaned_at, chain_request_id FROM ai_generations "
            "WHERE payment_orphaned_at IS NOT NULL ORDER BY payment_orphaned_at, task_id LIMIT ?",
            (limit,),
        )
        for r in reorged:
            payment = json.loads(r["payment"])
            out.append(ReviewItem(
                kind="payment_reorged", chain_id=payment.get("chain_id"), tx_hash=payment.get("tx_hash"),
                log_index=payment.get("log_index"), wallet=r["wallet"], task_id=r["task_id"],
                request_id=r["chain_request_id"], token=payment.get("token"), amount=_str(payment.get("amount")),
                at=r["payment_orphaned_at"],
                reason=f"the payment left the chain (a reorg, or the dev chain was reset) and is not on it now; the "
                f"job is {r['status']}, its refund and contest entry are held",
            ))
        return out


def _unmatched_reason(args: dict[str, Any]) -> str:
    kind = str(args.get("generationType"))
    if kind in ("image", "video"):
        article = "an" if kind == "image" else "a"
        return f"payment for {article} {kind} has no job: its prompt is empty once markup is removed (not generated)"
    return f"payment for generation type {kind[:40]!r} has no job"


def _str(value: Any) -> str | None:
    return None if value is None else str(value)


def _int(value: Any) -> int | None:
    return None if value is None else int(value)

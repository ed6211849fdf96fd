"""The operator key's own transactions (refunds, contest submissions): at most one of each per job.

One row per (task, action). Its life: 'claimed' (a process won the right to sign; nothing signed yet)
-> 'sent' (signed bytes, hash and nonce recorded, then broadcast; a replacement reuses the nonce and
adds its hash) -> 'mined'. Only the process whose conditional update succeeds may broadcast, on any replica.
"""

from __future__ import annotations

import json
import time
from typing import Any

from sf_mcp.store.db import Database


class OperatorTxs:
    def __init__(self, db: Database) -> None:
        self._db = db

    async def operator_tx(self, task_id: str, action: str) -> dict[str, Any] | None:
        row = await self._db.fetchone(
            "SELECT * FROM operator_txs WHERE task_id = ? AND action = ?", (task_id, action)
        )
        return _operator_row(row)

    async def claim_operator_tx(
        self, task_id: str, action: str, chain_id: int, owner: str
    ) -> tuple[bool, dict[str, Any] | None]:
        """Claim the right to sign ``action`` for ``task_id``: ``(True, None)`` when won, else ``(False, row)``."""
        now = time.time()
        async with self._db.transaction() as tx:
            won = await tx.execute(
                "INSERT INTO operator_txs (task_id, action, chain_id, status, owner, created_at, updated_at) "
                "VALUES (?, ?, ?, 'claimed', ?, ?, ?) ON CONFLICT (task_id, action) DO NOTHING",
                (task_id, action, chain_id, owner, now, now),
            )
            if won:
                return True, None
            row = await tx.fetchone("SELECT * FROM operator_txs WHERE task_id = ? AND action = ?", (task_id, action))
            return False, _operator_row(row)

    async def take_over_operator_tx(
        self, task_id: str, action: str, owner: str, *, stale_before: float, expected_tx_hash: str | None = None
    ) -> bool:
        """Take a claim whose owner left nothing signed and went quiet, or (``expected_tx_hash``) one whose
        transactions can no longer be mined (reverted, or their nonce was used by another transaction)."""
        async with self._db.transaction() as tx:
            if expected_tx_hash is None:
                return bool(await tx.execute(
                    "UPDATE operator_txs SET owner = ?, updated_at = ? WHERE task_id = ? AND action = ? "
                    "AND status = 'claimed' AND updated_at < ?",
                    (owner, time.time(), task_id, action, stale_before),
                ))
            return bool(await tx.execute(
                "UPDATE operator_txs SET status = 'claimed', owner = ?, nonce = NULL, tx_hash = NULL, raw_tx = NULL, "
                "updated_at = ? WHERE task_id = ? AND action = ? AND status = 'sent' AND tx_hash = ?",
                (owner, time.time(), task_id, action, expected_tx_hash),
            ))

    async def record_operator_signed(
        self, task_id: str, action: str, owner: str, *, nonce: int, tx_hash: str, raw_tx: str,
        replaces: str | None = None,
    ) -> bool:
        """Record a signed transaction before it is broadcast; False when this process no longer holds the claim
        (then it must not broadcast). ``replaces``: the hash of the pending transaction this one replaces."""
        appended = "(hashes::jsonb || to_jsonb(CAST(? AS TEXT)))::text" if self._db.postgres else \
            "json_insert(hashes, '$[#]', ?)"
        async with self._db.transaction() as tx:
            if replaces is None:
                where, params = "status = 'claimed' AND owner = ?", (owner,)
            else:
                where, params = "status = 'sent' AND tx_hash = ?", (replaces,)
            return bool(await tx.execute(
                "UPDATE operator_txs SET status = 'sent', owner = ?, nonce = ?, tx_hash = ?, raw_tx = ?, "
                f"hashes = {appended}, updated_at = ? "
                f"WHERE task_id = ? AND action = ? AND {where}",
                (owner, nonce, tx_hash, raw_tx, tx_hash, time.time(), task_id, action, *params),
            ))

    async def release_operator_tx(self, task_id: str, action: str, owner: str) -> None:
        """Give up a claim under which nothing was broadcast (the node refused it, or building it failed)."""
        length = "jsonb_array_length(hashes::jsonb)" if self._db.postgres else "json_array_length(hashes)"
        async with self._db.transaction() as tx:
            await tx.execute(
                "DELETE FROM operator_txs WHERE task_id = ? AND action = ? AND owner = ? AND (status = 'claimed' "
                f"OR (status = 'sent' AND {length} = 1))",
                (task_id, action, owner),
            )

    async def mark_operator_mined(self, task_id: str, action: str, tx_hash: str) -> None:
        async with self._db.transaction() as tx:
            await tx.execute(
                "UPDATE operator_txs SET status = 'mined', tx_hash = ?, updated_at = ? WHERE task_id = ? AND action = ?",
                (tx_hash, time.time(), task_id, action),
            )


def _operator_row(row: dict[str, Any] | None) -> dict[str, Any] | None:
    if row is None:
        return None
    out = dict(row)
    out["hashes"] = json.loads(out.get("hashes") or "[]")
    return out

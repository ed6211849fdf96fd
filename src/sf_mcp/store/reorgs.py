"""Reorg handling: forgetting what left the chain and rewinding the indexer.

A reorg deletes the events above the fork point, rewinds the cursor and holds the jobs whose payment
left the chain; ``reset`` forgets a whole (embedded, restarted) chain.
"""

from __future__ import annotations

import time

from sf_mcp.store.db import Database, Transaction, dumps
from sf_mcp.store.events import ChainEvent, Cursor, apply_stake, event_from_row, set_cursor
from sf_mcp.store.read_models import forget_read_models


class Reorgs:
    def __init__(self, db: Database) -> None:
        self._db = db

    async def rollback(self, chain_id: int, *, to: Cursor) -> list[ChainEvent]:
        """Forget events above ``to.block_number`` (a reorg) and rewind the cursor; returns what was removed."""
        async with self._db.transaction() as tx:
            rows = await tx.fetchall(
                "SELECT * FROM blockchain_transactions WHERE chain_id = ? AND block_number > ? "
                "ORDER BY block_number, log_index", (chain_id, to.block_number),
            )
            # Jobs whose payment just left the chain: hold their submission and refund until it is mined
            # again (apply() clears the mark), and list them for review meanwhile.
            await tx.execute(
                "UPDATE ai_generations SET payment_orphaned_at = ? WHERE payment_key IN (SELECT payment_key FROM "
                "blockchain_transactions WHERE chain_id = ? AND block_number > ? AND payment_key IS NOT NULL)",
                (time.time(), chain_id, to.block_number),
            )
            await tx.execute(
                "DELETE FROM blockchain_transactions WHERE chain_id = ? AND block_number > ?", (chain_id, to.block_number)
            )
            await tx.execute(
                "DELETE FROM indexer_checkpoints WHERE chain_id = ? AND block_number > ?", (chain_id, to.block_number)
            )
            await set_cursor(tx, chain_id, to.block_number, to.block_hash, time.time())
            await _rebuild_stakes(tx, chain_id)
            await forget_read_models(tx, chain_id, above_block=to.block_number)
        return [event_from_row(r) for r in rows]

    async def reset(self, chain_id: int) -> None:
        """Forget a chain entirely (a new embedded chain of a data dir whose database knew an earlier one; never a
        real chain)."""
        prefix = f"crypto:{chain_id}:"
        async with self._db.transaction() as tx:
            tx.mark_changed("indexer_cursor")
            for table in ("blockchain_transactions", "indexer_cursor", "indexer_checkpoints", "nft_stakes"):
                await tx.execute(f"DELETE FROM {table} WHERE chain_id = ?", (chain_id,))
            await forget_read_models(tx, chain_id)
            await tx.execute("DELETE FROM operator_txs WHERE chain_id = ?", (chain_id,))
            # Jobs paid on the previous incarnation of this chain cannot be entered into the new one's contest,
            # nor refunded on it.
            await tx.execute(
                "UPDATE ai_generations SET submission = ? WHERE submission IS NULL AND substr(payment_key, 1, ?) = ?",
                (dumps({"skipped": "the chain was reset before this generation was submitted"}), len(prefix), prefix),
            )
            await tx.execute(
                "UPDATE ai_generations SET payment_orphaned_at = ? WHERE status = 'failed' AND payment_method = "
                "'crypto' AND substr(payment_key, 1, ?) = ? AND payment_key NOT LIKE '%:stale:%'",
                (time.time(), len(prefix), prefix),
            )
            # The new chain replays the same deterministic transactions (same hashes): re-key the old payments
            # so a new payment with an old hash makes a new job instead of answering the old one.
            await tx.execute(
                "UPDATE ai_generations SET payment_key = payment_key || ':stale:' || task_id "
                "WHERE substr(payment_key, 1, ?) = ? AND payment_key NOT LIKE '%:stale:%'",
                (len(prefix), prefix),
            )


async def _rebuild_stakes(tx: Transaction, chain_id: int) -> None:
    await tx.execute("DELETE FROM nft_stakes WHERE chain_id = ?", (chain_id,))
    rows = await tx.fetchall(
        "SELECT * FROM blockchain_transactions WHERE chain_id = ? AND event IN ('Staked', 'Unstaked', "
        "'EmergencyUnstaked') ORDER BY block_number, log_index", (chain_id,),
    )
    for r in rows:
        await apply_stake(tx, event_from_row(r))

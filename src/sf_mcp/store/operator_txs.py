"""The ``operator_txs`` table: each :class:`~sf_mcp.store.operator_tx.Transition` as one conditional statement.

Every method applies one transition of :data:`~sf_mcp.store.operator_tx.TRANSITIONS`; its ``WHERE`` names
the transition's source states (and the owner, or the hash the caller last saw), so the transition
happens for exactly one of the processes that race for it, on any replica, and the others learn that
they lost (False) and must not broadcast.
"""

from __future__ import annotations

import time

from sf_mcp.store.db import Database, Row
from sf_mcp.store.operator_tx import TRANSITIONS, OperatorAction, OperatorTx, OperatorTxState, Transition, sources

__all__ = ["OperatorTxs"]


def _from(transition: Transition) -> str:
    """``status IN (...)`` for the transition's source states (constants from the table, never input)."""
    return "status IN (" + ", ".join(f"'{s}'" for s in sources(transition)) + ")"


def _to(transition: Transition) -> str:
    target = TRANSITIONS[transition][1]
    assert target is not None
    return str(target)


class OperatorTxs:
    """The operator's refunds and submissions, at most one transaction with an effect per (task, action)."""

    def __init__(self, db: Database) -> None:
        self._db = db

    async def get(self, task_id: str, action: OperatorAction) -> OperatorTx | None:
        row = await self._db.fetchone(
            "SELECT * FROM operator_txs WHERE task_id = ? AND action = ?", (task_id, str(action))
        )
        return _tx(row)

    async def claim(self, task_id: str, action: OperatorAction, chain_id: int, owner: str) -> OperatorTx | None:
        """CLAIM the right to sign ``action`` for ``task_id``: None when this process won it, else the row an
        earlier claim left (which the caller resumes)."""
        now = time.time()
        async with self._db.transaction() as tx:
            won = await tx.execute(
                "INSERT INTO operator_txs (task_id, action, chain_id, status, owner, created_at, updated_at) "
                "VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (task_id, action) DO NOTHING",
                (task_id, str(action), chain_id, _to(Transition.CLAIM), owner, now, now),
            )
            if won:
                return None
            row = await tx.fetchone("SELECT * FROM operator_txs WHERE task_id = ? AND action = ?",
                                    (task_id, str(action)))
            return _tx(row)

    async def take_over(self, task_id: str, action: OperatorAction, owner: str, *, stale_before: float) -> bool:
        """TAKE_OVER a claim whose owner left nothing signed and has not moved since ``stale_before``."""
        async with self._db.transaction() as tx:
            return bool(await tx.execute(
                f"UPDATE operator_txs SET status = ?, owner = ?, updated_at = ? WHERE task_id = ? AND action = ? "
                f"AND {_from(Transition.TAKE_OVER)} AND updated_at < ?",
                (_to(Transition.TAKE_OVER), owner, time.time(), task_id, str(action), stale_before),
            ))

    async def reclaim(self, task_id: str, action: OperatorAction, owner: str, *, tx_hash: str) -> bool:
        """RECLAIM a row whose newest transaction is still ``tx_hash``, once none of its transactions can be
        mined (the caller proved it): the row is claimed again with nothing signed, so a new nonce may be."""
        async with self._db.transaction() as tx:
            return bool(await tx.execute(
                "UPDATE operator_txs SET status = ?, owner = ?, nonce = NULL, tx_hash = NULL, raw_tx = NULL, "
                f"updated_at = ? WHERE task_id = ? AND action = ? AND {_from(Transition.RECLAIM)} AND tx_hash = ?",
                (_to(Transition.RECLAIM), owner, time.time(), task_id, str(action), tx_hash),
            ))

    async def record_signed(self, task_id: str, action: OperatorAction, owner: str, *, nonce: int, tx_hash: str,
                            raw_tx: bytes) -> bool:
        """SIGN: record the claim owner's signed transaction before it is broadcast; False when this process
        no longer holds the claim (then it must not broadcast)."""
        return await self._record(Transition.SIGN, task_id, action, owner, "owner = ?", owner,
                                  nonce=nonce, tx_hash=tx_hash, raw_tx=raw_tx)

    async def record_replacement(self, task_id: str, action: OperatorAction, owner: str, *, replaces: str,
                                 nonce: int, tx_hash: str, raw_tx: bytes) -> bool:
        """REPLACE the pending ``replaces`` by a transaction with the same nonce, recorded before it is
        broadcast; False when another process replaced or reclaimed it first."""
        return await self._record(Transition.REPLACE, task_id, action, owner, "tx_hash = ?", replaces,
                                  nonce=nonce, tx_hash=tx_hash, raw_tx=raw_tx)

    async def _record(self, transition: Transition, task_id: str, action: OperatorAction, owner: str, guard: str,
                      guarded: str, *, nonce: int, tx_hash: str, raw_tx: bytes) -> bool:
        appended = "(hashes::jsonb || to_jsonb(CAST(? AS TEXT)))::text" if self._db.postgres else \
            "json_insert(hashes, '$[#]', ?)"
        async with self._db.transaction() as tx:
            return bool(await tx.execute(
                f"UPDATE operator_txs SET status = ?, owner = ?, nonce = ?, tx_hash = ?, raw_tx = ?, "
                f"hashes = {appended}, updated_at = ? "
                f"WHERE task_id = ? AND action = ? AND {_from(transition)} AND {guard}",
                (_to(transition), owner, nonce, tx_hash, raw_tx.hex(), tx_hash, time.time(), task_id, str(action),
                 guarded),
            ))

    async def release(self, task_id: str, action: OperatorAction, owner: str) -> None:
        """RELEASE a claim under which nothing reached the chain (building failed, or the node refused the
        only transaction signed under it)."""
        length = "jsonb_array_length(hashes::jsonb)" if self._db.postgres else "json_array_length(hashes)"
        async with self._db.transaction() as tx:
            await tx.execute(
                "DELETE FROM operator_txs WHERE task_id = ? AND action = ? AND owner = ? "
                f"AND {_from(Transition.RELEASE)} AND (status = ? OR {length} = 1)",
                (task_id, str(action), owner, str(OperatorTxState.CLAIMED)),
            )

    async def mark_mined(self, task_id: str, action: OperatorAction, tx_hash: str) -> None:
        """MINE: ``tx_hash`` (one of the row's) has a successful receipt."""
        async with self._db.transaction() as tx:
            await tx.execute(
                f"UPDATE operator_txs SET status = ?, tx_hash = ?, updated_at = ? "
                f"WHERE task_id = ? AND action = ? AND {_from(Transition.MINE)}",
                (_to(Transition.MINE), tx_hash, time.time(), task_id, str(action)),
            )


def _tx(row: Row | None) -> OperatorTx | None:
    return None if row is None else OperatorTx.model_validate(row)

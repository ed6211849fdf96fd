"""What the chain package keeps: indexed events, the indexer's cursor, operator transactions, agent spending.

Events are stored once per ``(chain_id, tx_hash, log_index)``. A batch of events,
the jobs their payments create and the new cursor are written in one
transaction, so a crash between them cannot lose a paid job or index an event
twice. A reorg deletes the events above the fork point and rewinds the cursor.
"""

from __future__ import annotations

import json
import time
from typing import Any

from pydantic import BaseModel

from sf_mcp.store.db import Database, Transaction, dumps
from sf_mcp.store.generations import GenerationRow, _insert, _new_task_id, utc_day

CHECKPOINTS_KEPT = 256


class ChainEvent(BaseModel):
    """One decoded contract event."""

    chain_id: int
    tx_hash: str
    log_index: int
    block_number: int
    block_hash: str
    contract: str
    event: str
    args: dict[str, Any]


class Cursor(BaseModel):
    chain_id: int
    block_number: int
    block_hash: str


class JobFromPayment(BaseModel):
    """A job the indexer creates for a GenerationRequested event (same key as the tool path)."""

    payment_key: str
    wallet: str
    kind: str
    prompt: str
    params: dict[str, Any]
    payment: dict[str, Any]
    chain_request_id: int


class AppliedBatch(BaseModel):
    events: list[ChainEvent] = []  # newly stored (not seen before)
    jobs: list[GenerationRow] = []  # jobs created by this batch
    joined: list[GenerationRow] = []  # jobs a tool call had already made for these payments


class ChainStore:
    def __init__(self, db: Database) -> None:
        self._db = db

    # -- the cursor -----------------------------------------------------------
    async def cursor(self, chain_id: int) -> Cursor | None:
        row = await self._db.fetchone("SELECT * FROM indexer_cursor WHERE chain_id = ?", (chain_id,))
        return Cursor(chain_id=chain_id, block_number=row["block_number"], block_hash=row["block_hash"]) if row else None

    async def checkpoints(self, chain_id: int) -> list[Cursor]:
        """Recent checkpoints, newest first."""
        rows = await self._db.fetchall(
            "SELECT block_number, block_hash FROM indexer_checkpoints WHERE chain_id = ? ORDER BY block_number DESC",
            (chain_id,),
        )
        return [Cursor(chain_id=chain_id, block_number=r["block_number"], block_hash=r["block_hash"]) for r in rows]

    async def apply(
        self, chain_id: int, *, events: list[ChainEvent], jobs: list[JobFromPayment], block_number: int,
        block_hash: str,
    ) -> AppliedBatch:
        """Store events (idempotently), create their jobs and move the cursor, all in one transaction."""
        now = time.time()
        out = AppliedBatch()
        async with self._db.transaction() as tx:
            for ev in events:
                changed = await tx.execute(
                    "INSERT INTO blockchain_transactions (chain_id, tx_hash, log_index, block_number, block_hash, "
                    "contract, event, args, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING",
                    (ev.chain_id, ev.tx_hash, ev.log_index, ev.block_number, ev.block_hash, ev.contract, ev.event,
                     dumps(ev.args), now),
                )
                if changed:
                    out.events.append(ev)
                    await _apply_stake(tx, ev)
            for job in jobs:
                existing = await tx.fetchone("SELECT * FROM ai_generations WHERE payment_key = ?", (job.payment_key,))
                if existing:
                    out.joined.append(GenerationRow.from_row(existing))
                    continue
                out.jobs.append(await _insert(
                    tx, _new_task_id(), job.wallet, job.kind, job.prompt, job.params, "crypto", job.payment_key,
                    job.payment, chain_request_id=job.chain_request_id,
                ))
            await _set_cursor(tx, chain_id, block_number, block_hash, now)
        return out

    async def advance(self, chain_id: int, block_number: int, block_hash: str) -> None:
        """Move the cursor over blocks without events."""
        async with self._db.transaction() as tx:
            await _set_cursor(tx, chain_id, block_number, block_hash, time.time())

    async def rollback(self, chain_id: int, *, to: Cursor) -> list[ChainEvent]:
        """Forget events above ``to.block_number`` (a reorg) and rewind the cursor; returns what was removed."""
        async with self._db.transaction() as tx:
            rows = await tx.fetchall(
                "SELECT * FROM blockchain_transactions WHERE chain_id = ? AND block_number > ? "
                "ORDER BY block_number, log_index", (chain_id, to.block_number),
            )
            await tx.execute(
                "DELETE FROM blockchain_transactions WHERE chain_id = ? AND block_number > ?", (chain_id, to.block_number)
            )
            await tx.execute(
                "DELETE FROM indexer_checkpoints WHERE chain_id = ? AND block_number > ?", (chain_id, to.block_number)
            )
            await _set_cursor(tx, chain_id, to.block_number, to.block_hash, time.time())
            await _rebuild_stakes(tx, chain_id)
        return [_event(r) for r in rows]

    async def reset(self, chain_id: int) -> None:
        """Forget a chain entirely (the embedded chain starts from genesis on every start)."""
        async with self._db.transaction() as tx:
            for table in ("blockchain_transactions", "indexer_cursor", "indexer_checkpoints", "nft_stakes"):
                await tx.execute(f"DELETE FROM {table} WHERE chain_id = ?", (chain_id,))
            # Jobs paid on the previous incarnation of this chain cannot be entered into the new one's contest.
            await tx.execute(
                "UPDATE ai_generations SET submission = ? WHERE submission IS NULL AND payment_key LIKE ?",
                (dumps({"skipped": "the chain was reset before this generation was submitted"}), f"crypto:{chain_id}:%"),
            )

    # -- reads ------------------------------------------------------------------
    async def events(self, chain_id: int, *, event: str | None = None, limit: int = 1000) -> list[ChainEvent]:
        if event:
            rows = await self._db.fetchall(
                "SELECT * FROM blockchain_transactions WHERE chain_id = ? AND event = ? "
                "ORDER BY block_number, log_index LIMIT ?", (chain_id, event, limit),
            )
        else:
            rows = await self._db.fetchall(
                "SELECT * FROM blockchain_transactions WHERE chain_id = ? ORDER BY block_number, log_index LIMIT ?",
                (chain_id, limit),
            )
        return [_event(r) for r in rows]

    async def event_count(self, chain_id: int, *, event: str | None = None) -> int:
        if event:
            row = await self._db.fetchone(
                "SELECT COUNT(*) AS n FROM blockchain_transactions WHERE chain_id = ? AND event = ?", (chain_id, event)
            )
        else:
            row = await self._db.fetchone(
                "SELECT COUNT(*) AS n FROM blockchain_transactions WHERE chain_id = ?", (chain_id,)
            )
        return int(row["n"]) if row else 0

    async def leaderboard(self, chain_id: int, *, contest_id: int | None, limit: int) -> list[dict[str, Any]]:
        """Creators by points (sum of vote weights), from indexed VoteCast events; one contest or all time."""
        sql = (
            "SELECT json_extract(args, '$.creator') AS creator, SUM(json_extract(args, '$.weight')) AS points, "
            "COUNT(*) AS votes, COUNT(DISTINCT json_extract(args, '$.generationId')) AS generations "
            "FROM blockchain_transactions WHERE chain_id = ? AND event = 'VoteCast'"
        )
        params: list[Any] = [chain_id]
        if contest_id is not None:
            sql += " AND json_extract(args, '$.contestId') = ?"
            params.append(contest_id)
        sql += " GROUP BY creator ORDER BY points DESC, MIN(block_number), creator LIMIT ?"
        params.append(limit)
        return await self._db.fetchall(sql, params)

    async def generation_votes(self, chain_id: int, generation_id: int) -> int:
        row = await self._db.fetchone(
            "SELECT COALESCE(SUM(json_extract(args, '$.weight')), 0) AS w FROM blockchain_transactions "
            "WHERE chain_id = ? AND event = 'VoteCast' AND json_extract(args, '$.generationId') = ?",
            (chain_id, generation_id),
        )
        return int(row["w"]) if row else 0

    async def staked_tokens(self, chain_id: int, wallet: str) -> list[int]:
        rows = await self._db.fetchall(
            "SELECT token_id FROM nft_stakes WHERE chain_id = ? AND wallet = ? AND unstaked_at IS NULL ORDER BY token_id",
            (chain_id, wallet),
        )
        return [int(r["token_id"]) for r in rows]

    async def job_by_request_id(self, chain_id: int, request_id: int) -> GenerationRow | None:
        row = await self._db.fetchone(
            "SELECT * FROM ai_generations WHERE chain_request_id = ? AND payment_key LIKE ? "
            "ORDER BY created_at DESC LIMIT 1",
            (request_id, f"crypto:{chain_id}:%"),
        )
        return GenerationRow.from_row(row) if row else None

    # -- operator transactions ------------------------------------------------
    async def operator_tx(self, task_id: str, action: str) -> dict[str, Any] | None:
        return await self._db.fetchone(
            "SELECT * FROM operator_txs WHERE task_id = ? AND action = ?", (task_id, action)
        )

    async def record_operator_tx(self, task_id: str, action: str, chain_id: int, tx_hash: str) -> None:
        async with self._db.transaction() as tx:
            await tx.execute(
                "INSERT INTO operator_txs (task_id, action, chain_id, tx_hash, created_at) VALUES (?, ?, ?, ?, ?) "
                "ON CONFLICT (task_id, action) DO UPDATE SET tx_hash = excluded.tx_hash, created_at = excluded.created_at",
                (task_id, action, chain_id, tx_hash, time.time()),
            )

    # -- agent spending ---------------------------------------------------------
    async def reserve_spend(self, *, wallet: str, token: str, amount: int, per_day: int) -> int | None:
        """Book ``amount`` against today's limit; None (nothing booked) when it would exceed it."""
        day = utc_day()
        async with self._db.transaction() as tx:
            rows = await tx.fetchall(
                "SELECT amount FROM agent_spend WHERE wallet = ? AND day = ? AND token = ?", (wallet, day, token)
            )
            spent = sum(int(r["amount"]) for r in rows)
            if spent + amount > per_day:
                return None
            return await tx.insert(
                "INSERT INTO agent_spend (wallet, day, token, amount, created_at) VALUES (?, ?, ?, ?, ?)",
                (wallet, day, token, str(amount), time.time()),
            )

    async def spent_today(self, *, wallet: str, token: str) -> int:
        rows = await self._db.fetchall(
            "SELECT amount FROM agent_spend WHERE wallet = ? AND day = ? AND token = ?", (wallet, utc_day(), token)
        )
        return sum(int(r["amount"]) for r in rows)

    async def settle_spend(self, spend_id: int, *, tx_hash: str | None) -> None:
        """Attach the transaction to a booking, or drop the booking (``None``) when nothing was sent."""
        async with self._db.transaction() as tx:
            if tx_hash is None:
                await tx.execute("DELETE FROM agent_spend WHERE spend_id = ?", (spend_id,))
            else:
                await tx.execute("UPDATE agent_spend SET tx_hash = ? WHERE spend_id = ?", (tx_hash, spend_id))


async def _set_cursor(tx: Transaction, chain_id: int, block_number: int, block_hash: str, now: float) -> None:
    await tx.execute(
        "INSERT INTO indexer_cursor (chain_id, block_number, block_hash, updated_at) VALUES (?, ?, ?, ?) "
        "ON CONFLICT (chain_id) DO UPDATE SET block_number = excluded.block_number, block_hash = excluded.block_hash, "
        "updated_at = excluded.updated_at",
        (chain_id, block_number, block_hash, now),
    )
    await tx.execute(
        "INSERT INTO indexer_checkpoints (chain_id, block_number, block_hash, created_at) VALUES (?, ?, ?, ?) "
        "ON CONFLICT (chain_id, block_number) DO UPDATE SET block_hash = excluded.block_hash",
        (chain_id, block_number, block_hash, now),
    )
    await tx.execute(
        "DELETE FROM indexer_checkpoints WHERE chain_id = ? AND block_number < (SELECT MIN(block_number) FROM "
        "(SELECT block_number FROM indexer_checkpoints WHERE chain_id = ? ORDER BY block_number DESC LIMIT ?))",
        (chain_id, chain_id, CHECKPOINTS_KEPT),
    )


async def _apply_stake(tx: Transaction, ev: ChainEvent) -> None:
    if ev.event == "Staked":
        await tx.execute(
            "INSERT INTO nft_stakes (chain_id, token_id, wallet, staked_at, unstaked_at) VALUES (?, ?, ?, ?, NULL) "
            "ON CONFLICT (chain_id, token_id) DO UPDATE SET wallet = excluded.wallet, staked_at = excluded.staked_at, "
            "unstaked_at = NULL",
            (ev.chain_id, int(ev.args["tokenId"]), str(ev.args["account"]).lower(), time.time()),
        )
    elif ev.event in ("Unstaked", "EmergencyUnstaked"):
        await tx.execute(
            "UPDATE nft_stakes SET unstaked_at = ? WHERE chain_id = ? AND token_id = ?",
            (time.time(), ev.chain_id, int(ev.args["tokenId"])),
        )


async def _rebuild_stakes(tx: Transaction, chain_id: int) -> None:
    await tx.execute("DELETE FROM nft_stakes WHERE chain_id = ?", (chain_id,))
    rows = await tx.fetchall(
        "SELECT * FROM blockchain_transactions WHERE chain_id = ? AND event IN ('Staked', 'Unstaked', "
        "'EmergencyUnstaked') ORDER BY block_number, log_index", (chain_id,),
    )
    for r in rows:
        await _apply_stake(tx, _event(r))


def _event(row: dict[str, Any]) -> ChainEvent:
    data = dict(row)
    data["args"] = json.loads(data["args"])
    data.pop("created_at", None)
    return ChainEvent(**data)

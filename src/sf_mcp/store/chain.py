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

from pydantic import BaseModel, model_validator

from sf_mcp.store.db import Database, Transaction, dumps
from sf_mcp.errors import ChainError
from sf_mcp.store.generations import GenerationRow, get_or_insert_keyed, utc_day

CHECKPOINTS_KEPT = 256


def crypto_payment_key(chain_id: int, tx_hash: str, ordinal: int = 0) -> str:
    """The one key of an on-chain payment: ``crypto:{chain_id}:{tx_hash}`` (re-exported by ``chain.payments``).

    Keyed by transaction, not by log index, so a transaction re-mined in another block after a
    reorg (same hash, new log index) is still the same payment. ``ordinal`` numbers the
    ``GenerationRequested`` events of our contract within one transaction (a contract wallet
    may pay twice in one transaction): the first has the plain key, the n-th further one ``#n``.
    """
    key = f"crypto:{int(chain_id)}:{tx_hash.lower()}"
    return key if ordinal == 0 else f"{key}#{ordinal}"


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
    payment_key: str | None = None  # GenerationRequested only: the key of the job it pays for

    @model_validator(mode="after")
    def _default_payment_key(self) -> "ChainEvent":
        if self.event == "GenerationRequested" and self.payment_key is None:
            self.payment_key = crypto_payment_key(self.chain_id, self.tx_hash)
        return self


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
                    "contract, event, args, created_at, payment_key) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?) "
                    "ON CONFLICT DO NOTHING",
                    (ev.chain_id, ev.tx_hash, ev.log_index, ev.block_number, ev.block_hash, ev.contract, ev.event,
                     dumps(ev.args), now, ev.payment_key),
                )
                if changed:
                    out.events.append(ev)
                    await _apply_stake(tx, ev)
            for job in jobs:
                row, created = await get_or_insert_keyed(
                    tx, payment_key=job.payment_key, wallet=job.wallet, kind=job.kind, prompt=job.prompt,
                    params=job.params, payment=job.payment, chain_request_id=job.chain_request_id,
                )
                if created:
                    out.jobs.append(row)
                    continue
                # The payment is on chain (again, after a reorg): release a hold, and follow its request id,
                # which changes when the transaction is re-mined after other payments.
                joined = await tx.fetchone(
                    "UPDATE ai_generations SET payment_orphaned_at = NULL, chain_request_id = CASE WHEN submission "
                    "IS NULL THEN ? ELSE chain_request_id END WHERE task_id = ? RETURNING *",
                    (job.chain_request_id, row.task_id),
                )
                out.joined.append(GenerationRow.from_row(joined))
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
            await _set_cursor(tx, chain_id, to.block_number, to.block_hash, time.time())
            await _rebuild_stakes(tx, chain_id)
        return [_event(r) for r in rows]

    async def reset(self, chain_id: int) -> None:
        """Forget a chain entirely (the embedded chain starts from genesis on every start; never a real chain)."""
        prefix = f"crypto:{chain_id}:"
        async with self._db.transaction() as tx:
            for table in ("blockchain_transactions", "indexer_cursor", "indexer_checkpoints", "nft_stakes"):
                await tx.execute(f"DELETE FROM {table} WHERE chain_id = ?", (chain_id,))
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
            "SELECT * FROM ai_generations WHERE chain_request_id = ? AND substr(payment_key, 1, ?) = ? "
            "AND payment_key NOT LIKE '%:stale:%' ORDER BY created_at DESC LIMIT 1",
            (request_id, len(f"crypto:{chain_id}:"), f"crypto:{chain_id}:"),
        )
        return GenerationRow.from_row(row) if row else None

    # -- operator transactions ------------------------------------------------
    # One row per (task, action). Its life: 'claimed' (a process won the right to sign; nothing signed yet)
    # -> 'sent' (signed bytes, hash and nonce recorded, then broadcast; a replacement reuses the nonce and
    # adds its hash) -> 'mined'. Only the process whose conditional update succeeds may broadcast.
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
        async with self._db.transaction() as tx:
            if replaces is None:
                where, params = "status = 'claimed' AND owner = ?", (owner,)
            else:
                where, params = "status = 'sent' AND tx_hash = ?", (replaces,)
            return bool(await tx.execute(
                "UPDATE operator_txs SET status = 'sent', owner = ?, nonce = ?, tx_hash = ?, raw_tx = ?, "
                "hashes = json_insert(hashes, '$[#]', ?), updated_at = ? "
                f"WHERE task_id = ? AND action = ? AND {where}",
                (owner, nonce, tx_hash, raw_tx, tx_hash, time.time(), task_id, action, *params),
            ))

    async def release_operator_tx(self, task_id: str, action: str, owner: str) -> None:
        """Give up a claim under which nothing was broadcast (the node refused it, or building it failed)."""
        async with self._db.transaction() as tx:
            await tx.execute(
                "DELETE FROM operator_txs WHERE task_id = ? AND action = ? AND owner = ? AND (status = 'claimed' "
                "OR (status = 'sent' AND json_array_length(hashes) = 1))",
                (task_id, action, owner),
            )

    async def mark_operator_mined(self, task_id: str, action: str, tx_hash: str) -> None:
        async with self._db.transaction() as tx:
            await tx.execute(
                "UPDATE operator_txs SET status = 'mined', tx_hash = ?, updated_at = ? WHERE task_id = ? AND action = ?",
                (tx_hash, time.time(), task_id, action),
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


def _operator_row(row: dict[str, Any] | None) -> dict[str, Any] | None:
    if row is None:
        return None
    out = dict(row)
    out["hashes"] = json.loads(out.get("hashes") or "[]")
    return out


def _event(row: dict[str, Any]) -> ChainEvent:
    data = dict(row)
    data["args"] = json.loads(data["args"])
    data.pop("created_at", None)
    return ChainEvent(**data)

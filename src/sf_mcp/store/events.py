"""Indexed contract events and the indexer's cursor.

Events are stored once per ``(chain_id, tx_hash, log_index)``. A batch of events,
the jobs their payments create and the new cursor are written in one
transaction, so a crash between them cannot lose a paid job or index an event
twice (whichever replica leads the indexer).
"""

from __future__ import annotations

import json
import time
from typing import Any

from pydantic import BaseModel, model_validator

from sf_mcp.store.db import Database, Transaction, dumps
from sf_mcp.store.generations import GenerationRow, insert_jobs_keyed
from sf_mcp.store.generations import JobFromPayment as JobFromPayment  # re-exported: store.chain names it here
from sf_mcp.store.read_models import apply_read_models

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


def x402_payment_key(chain_id: int, token: str, payer: str, nonce: str) -> str:
    """The key of an x402 payment: its authorization (token, payer, nonce), which the token lets settle once.

    It starts like every crypto key of the chain, so refunds, contest entries and chain resets treat
    it as the on-chain payment it is once settled; the gate and the indexer both use it for the same job.
    """
    return f"crypto:{int(chain_id)}:x402:{token.lower()}:{payer.lower()}:{nonce.lower()}"


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
    def _default_payment_key(self) -> ChainEvent:
        if self.event == "GenerationRequested" and self.payment_key is None:
            self.payment_key = crypto_payment_key(self.chain_id, self.tx_hash)
        return self


class Cursor(BaseModel):
    chain_id: int
    block_number: int
    block_hash: str


class AppliedBatch(BaseModel):
    events: list[ChainEvent] = []  # newly stored (not seen before)
    jobs: list[GenerationRow] = []  # jobs created by this batch
    joined: list[GenerationRow] = []  # jobs a tool call had already made for these payments


class IndexedEvents:
    """The indexer's writes (events, their jobs, the cursor) and the reads built on indexed events."""

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
        block_hash: str, block_timestamp: int | None = None,
    ) -> AppliedBatch:
        """Store events (idempotently), create their jobs and move the cursor, all in one transaction.

        In bulk: one query finds the events of the range already stored, one multi-row insert stores
        the rest; jobs likewise (one lookup of their payment keys, one insert of the new ones), so a
        range of thousands of payments costs a handful of statements, not a few per payment.
        """
        now = time.time()
        out = AppliedBatch()
        async with self._db.transaction() as tx:
            out.events = await _insert_new_events(tx, chain_id, events, now)
            for ev in out.events:
                if ev.event in STAKE_EVENTS:
                    await apply_stake(tx, ev)
            await apply_read_models(tx, out.events)
            created, existing = await insert_jobs_keyed(tx, jobs, now=now)
            out.jobs = created
            out.joined = await _join_paid(tx, existing)
            await set_cursor(tx, chain_id, block_number, block_hash, now, block_timestamp)
        return out

    async def advance(self, chain_id: int, block_number: int, block_hash: str, *,
                      block_timestamp: int | None = None) -> None:
        """Move the cursor over blocks without events."""
        async with self._db.transaction() as tx:
            await set_cursor(tx, chain_id, block_number, block_hash, time.time(), block_timestamp)

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
        return [event_from_row(r) for r in rows]

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

async def _join_paid(tx: Transaction, existing: list[tuple[JobFromPayment, GenerationRow]]) -> list[GenerationRow]:
    """Jobs made before their payment was indexed (by a tool call, or before a reorg): the payment is on chain
    (again), so release a hold and follow its request id, which changes when the transaction is re-mined after
    other payments. One statement for all of them (a range of payments made through the tools joins each)."""
    if not existing:
        return []
    pairs = {row.task_id: job.chain_request_id for job, row in existing}
    update = ("UPDATE ai_generations{alias} SET payment_orphaned_at = NULL, chain_request_id = CASE WHEN "
              "submission IS NULL THEN paid.request_id ELSE chain_request_id END FROM {paid} "
              "WHERE {target}.task_id = paid.task_id RETURNING {returned}")
    if tx.postgres:
        rows = await tx.fetchall(
            update.format(alias=" AS g", target="g", returned="g.*",
                          paid="unnest(CAST(? AS text[]), CAST(? AS bigint[])) AS paid (task_id, request_id)"),
            (list(pairs), list(pairs.values())),
        )
    else:
        rows = await tx.fetchall(
            update.format(alias="", target="ai_generations", returned="*",
                          paid="(SELECT json_extract(value, '$[0]') AS task_id, json_extract(value, '$[1]') AS request_id "
                               "FROM json_each(?)) AS paid"),
            (dumps(list(pairs.items())),),
        )
    joined = {r["task_id"]: GenerationRow.from_row(r) for r in rows}
    return [joined[row.task_id] for _, row in existing]  # every one was read in this transaction


async def _insert_new_events(tx: Transaction, chain_id: int, events: list[ChainEvent], now: float) -> list[ChainEvent]:
    """Store the events not stored yet (one lookup over their blocks, one multi-row insert); returns those."""
    if not events:
        return []
    low, high = min(e.block_number for e in events), max(e.block_number for e in events)
    stored = {
        (r["tx_hash"], int(r["log_index"])) for r in await tx.fetchall(
            "SELECT tx_hash, log_index FROM blockchain_transactions WHERE chain_id = ? AND block_number BETWEEN ? AND ?",
            (chain_id, low, high),
        )
    }
    fresh: list[ChainEvent] = []
    for ev in events:
        if (ev.tx_hash, ev.log_index) not in stored:
            stored.add((ev.tx_hash, ev.log_index))
            fresh.append(ev)
    # ON CONFLICT still guards against a row stored by another replica's transaction meanwhile (PostgreSQL).
    await tx.insert_rows(
        "blockchain_transactions",
        ("chain_id", "tx_hash", "log_index", "block_number", "block_hash", "contract", "event", "args", "created_at",
         "payment_key"),
        [(ev.chain_id, ev.tx_hash, ev.log_index, ev.block_number, ev.block_hash, ev.contract, ev.event,
          dumps(ev.args), now, ev.payment_key) for ev in fresh],
    )
    return fresh


async def set_cursor(tx: Transaction, chain_id: int, block_number: int, block_hash: str, now: float,
                     block_timestamp: int | None = None) -> None:
    """Move the cursor (``block_timestamp``: the block's time, the read models' clock; unknown after a rewind)."""
    tx.mark_changed("indexer_cursor")
    await tx.execute(
        "INSERT INTO indexer_cursor (chain_id, block_number, block_hash, updated_at, block_timestamp) "
        "VALUES (?, ?, ?, ?, ?) ON CONFLICT (chain_id) DO UPDATE SET block_number = excluded.block_number, "
        "block_hash = excluded.block_hash, updated_at = excluded.updated_at, block_timestamp = excluded.block_timestamp",
        (chain_id, block_number, block_hash, now, block_timestamp),
    )
    await tx.execute(
        "INSERT INTO indexer_checkpoints (chain_id, block_number, block_hash, created_at) VALUES (?, ?, ?, ?) "
        "ON CONFLICT (chain_id, block_number) DO UPDATE SET block_hash = excluded.block_hash",
        (chain_id, block_number, block_hash, now),
    )
    await tx.execute(
        "DELETE FROM indexer_checkpoints WHERE chain_id = ? AND block_number < (SELECT MIN(block_number) FROM "
        "(SELECT block_number FROM indexer_checkpoints WHERE chain_id = ? ORDER BY block_number DESC LIMIT ?) AS kept)",
        (chain_id, chain_id, CHECKPOINTS_KEPT),
    )


STAKE_EVENTS = frozenset({"Staked", "Unstaked", "EmergencyUnstaked"})  # the events that move ``nft_stakes``


async def apply_stake(tx: Transaction, ev: ChainEvent) -> None:
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



def event_from_row(row: dict[str, Any]) -> ChainEvent:
    data = dict(row)
    data["args"] = json.loads(data["args"])
    data.pop("created_at", None)
    return ChainEvent(**data)


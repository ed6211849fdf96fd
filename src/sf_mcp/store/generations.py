"""Generation jobs: the durable rows behind every task, their leases and their payments.

A row is created already paid for (``reserve_*``), in the same transaction that
debits the credits or free quota, so a payment and its job exist together or not
at all. ``payment_key`` is unique: one payment, one job.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Collection, Sequence
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

from pydantic import BaseModel

from sf_mcp.errors import InsufficientFunds, NotFound, RequestIdUsed
from sf_mcp.store.db import Database, Row, Transaction, dumps
from sf_mcp.store.users import ensure_user


class JobStatus(StrEnum):
    """Where a generation job is; stored as its value, compared as the enum."""

    QUEUED = "queued"  # paid for, waiting for a worker
    RUNNING = "running"  # a worker holds its lease
    SUCCEEDED = "succeeded"  # media stored
    FAILED = "failed"  # every provider failed; a crypto payment waits for its on-chain refund (or review)
    REFUNDED = "refunded"  # failed, and the payment went back


TERMINAL = frozenset({JobStatus.SUCCEEDED, JobStatus.FAILED, JobStatus.REFUNDED})
JOBS_QUEUED = "sf_jobs_queued"  # notified (payload: task id) when a job is queued, to wake idle workers anywhere
JOB_FINISHED = "sf_job_finished"  # notified (payload: task id) when a job ends or is refunded


class GenerationRow(BaseModel):
    """One job as stored."""

    task_id: str
    wallet: str
    kind: str
    prompt: str
    params: dict[str, Any]
    status: JobStatus
    payment_method: str
    payment_key: str
    payment: dict[str, Any]
    provider: str | None = None
    model: str | None = None
    content_sha256: str | None = None
    mime_type: str | None = None
    public_url: str | None = None
    attempts: list[dict[str, Any]] = []
    error: str | None = None
    refund: dict[str, Any] | None = None
    run_count: int = 0
    lease_owner: str | None = None
    lease_expires_at: float | None = None
    created_at: float
    started_at: float | None = None
    finished_at: float | None = None
    chain_request_id: int | None = None
    submission: dict[str, Any] | None = None
    payment_orphaned_at: float | None = None  # the crypto payment left the chain in a reorg (held for review)
    client_request_id: str | None = None  # the caller's idempotency key (request_id), unique per wallet

    @classmethod
    def from_row(cls, row: Row) -> GenerationRow:
        data = dict(row)
        for key in ("params", "payment", "attempts", "refund", "submission"):
            if data.get(key) is not None:
                data[key] = json.loads(data[key])
        return cls(**data)

    @property
    def finished(self) -> bool:
        return self.status in TERMINAL


def utc_day(ts: float | None = None) -> str:
    return datetime.fromtimestamp(ts if ts is not None else time.time(), tz=UTC).strftime("%Y-%m-%d")


class Generations:
    """Queries on ai_generations, credits and free quota that must change together."""

    def __init__(self, db: Database) -> None:
        self._db = db
        self.lease_takeovers = 0  # jobs this process claimed after another worker's lease ran out

    # -- reserve: pay and create the job in one transaction -------------------
    async def reserve_free(
        self, *, wallet: str, kind: str, prompt: str, params: dict[str, Any], daily_quota: int,
        request_id: str | None = None,
    ) -> GenerationRow:
        """Take a free slot and queue the job; RequestIdUsed (nothing taken) when ``request_id`` has a task."""
        day = utc_day()
        async with self._db.transaction() as tx:
            await _claim_request_id(tx, wallet, request_id)
            await tx.execute(
                "INSERT INTO free_usage (wallet, day, used) VALUES (?, ?, 0) ON CONFLICT DO NOTHING", (wallet, day)
            )
            changed = await tx.execute(
                "UPDATE free_usage SET used = used + 1 WHERE wallet = ? AND day = ? AND used < ?",
                (wallet, day, daily_quota),
            )
            if not changed:
                raise InsufficientFunds(
                    f"payment: the free tier allows {daily_quota} generations per UTC day and {wallet} has used "
                    "them all today; pay with credits or crypto instead"
                )
            usage = await tx.fetchone("SELECT used FROM free_usage WHERE wallet = ? AND day = ?", (wallet, day))
            assert usage is not None  # upserted above
            used = usage["used"]
            task_id = _new_task_id()
            payment = {"method": "free", "day": day, "slot": used}
            row = await _try_insert(tx, task_id, wallet, kind, prompt, params, "free", f"free:{wallet}:{day}:{task_id}",
                                    payment, client_request_id=request_id)
            assert row is not None  # the key holds the fresh task id: never taken
            return row

    async def reserve_credits(
        self, *, wallet: str, kind: str, prompt: str, params: dict[str, Any], cost: int = 1,
        request_id: str | None = None,
    ) -> GenerationRow:
        """Debit ``cost`` credits and queue the job; RequestIdUsed (nothing debited) when ``request_id`` has a task."""
        async with self._db.transaction() as tx:
            await _claim_request_id(tx, wallet, request_id)
            changed = await tx.execute(
                "UPDATE user_credits SET balance = balance - ?, updated_at = ? WHERE wallet = ? AND balance >= ?",
                (cost, time.time(), wallet, cost),
            )
            if not changed:
                row = await tx.fetchone("SELECT balance FROM user_credits WHERE wallet = ?", (wallet,))
                balance = row["balance"] if row else 0
                raise InsufficientFunds(
                    f"payment: {wallet} has {balance} credits and a generation costs {cost}; "
                    "add credits or pay with crypto"
                )
            task_id = _new_task_id()
            inserted = await tx.fetchone(
                "INSERT INTO credit_ledger (wallet, delta, reason, task_id, created_at) VALUES (?, ?, 'generation', ?, ?) "
                "RETURNING entry_id",
                (wallet, -cost, task_id, time.time()),
            )
            assert inserted is not None  # INSERT ... RETURNING
            entry = inserted["entry_id"]
            payment = {"method": "credits", "credits": cost, "ledger_entry": entry}
            job = await _try_insert(tx, task_id, wallet, kind, prompt, params, "credits", f"credits:{entry}", payment,
                                    client_request_id=request_id)
            assert job is not None  # the key holds the fresh ledger entry: never taken
            return job

    async def reserve_keyed(
        self,
        *,
        payment_key: str,
        wallet: str,
        kind: str,
        prompt: str,
        params: dict[str, Any],
        payment: dict[str, Any],
        chain_request_id: int | None = None,
        request_id: str | None = None,
    ) -> tuple[GenerationRow, bool]:
        """Create the job for an external payment, or return the one it already paid for.

        Returns ``(row, created)``; ``created`` is False when the key was already used. A new job
        under a ``request_id`` the wallet already used raises RequestIdUsed.
        """
        async with self._db.transaction() as tx:
            return await get_or_insert_keyed(
                tx, payment_key=payment_key, wallet=wallet, kind=kind, prompt=prompt, params=params, payment=payment,
                chain_request_id=chain_request_id, request_id=request_id,
            )

    # -- leases ---------------------------------------------------------------
    async def claim_next(self, *, owner: str, lease_s: float, skip: Collection[str] = ()) -> GenerationRow | None:
        """Take the oldest queued job, or a running one whose lease expired (its worker died).

        ``skip``: jobs the caller is running itself. A renewal that lags past the lease (a loaded machine)
        must not let a second worker of the same process run the job again beside the first.
        PostgreSQL: ``FOR UPDATE SKIP LOCKED`` lets workers on every replica claim at once, each a different
        row; SQLite: ``BEGIN IMMEDIATE`` admits one claimer at a time.
        """
        now = time.time()
        not_mine, skipped = _excluding(skip)
        async with self._db.transaction() as tx:
            row = await tx.fetchone(
                "SELECT task_id, status FROM ai_generations WHERE (status = 'queued' "
                f"OR (status = 'running' AND lease_expires_at < ?)){not_mine} ORDER BY created_at LIMIT 1"
                + (" FOR UPDATE SKIP LOCKED" if tx.postgres else ""),
                (now, *skipped),
            )
            if row is None:
                return None
            if row["status"] == JobStatus.RUNNING:
                self.lease_takeovers += 1
            claimed = await tx.fetchone(
                "UPDATE ai_generations SET status = 'running', lease_owner = ?, lease_expires_at = ?, "
                "run_count = run_count + 1, started_at = COALESCE(started_at, ?) WHERE task_id = ? RETURNING *",
                (owner, now + lease_s, now, row["task_id"]),
            )
            assert claimed is not None  # the row was just selected in this transaction
            return GenerationRow.from_row(claimed)

    async def renew_lease(self, task_id: str, *, owner: str, lease_s: float) -> bool:
        async with self._db.transaction() as tx:
            return bool(
                await tx.execute(
                    "UPDATE ai_generations SET lease_expires_at = ? WHERE task_id = ? AND lease_owner = ? "
                    "AND status = 'running'",
                    (time.time() + lease_s, task_id, owner),
                )
            )

    async def queue_depth(self) -> int:
        """Jobs waiting for a worker, on every replica."""
        row = await self._db.fetchone("SELECT COUNT(*) AS n FROM ai_generations WHERE status = 'queued'")
        return int(row["n"]) if row else 0

    async def next_lease_expiry(self, *, skip: Collection[str] = ()) -> float | None:
        """When the next running job's lease runs out (``skip``: the caller's own jobs, which it never claims)."""
        not_mine, skipped = _excluding(skip)
        row = await self._db.fetchone(
            f"SELECT MIN(lease_expires_at) AS t FROM ai_generations WHERE status = 'running'{not_mine}", skipped
        )
        return row["t"] if row else None

    # -- outcomes -------------------------------------------------------------
    async def record_attempts(self, task_id: str, attempts: list[dict[str, Any]]) -> None:
        async with self._db.transaction() as tx:
            await tx.execute("UPDATE ai_generations SET attempts = ? WHERE task_id = ?", (dumps(attempts), task_id))

    async def mark_succeeded(
        self,
        task_id: str,
        *,
        owner: str,
        provider: str,
        model: str,
        content_sha256: str,
        mime_type: str,
        public_url: str | None,
        attempts: list[dict[str, Any]],
    ) -> GenerationRow | None:
        """Finish a job; None when this worker lost the lease (another finished it)."""
        async with self._db.transaction() as tx:
            row = await tx.fetchone(
                "UPDATE ai_generations SET status = 'succeeded', provider = ?, model = ?, content_sha256 = ?, "
                "mime_type = ?, public_url = ?, attempts = ?, error = NULL, finished_at = ?, lease_owner = NULL, "
                "lease_expires_at = NULL WHERE task_id = ? AND status = 'running' AND lease_owner = ? RETURNING *",
                (provider, model, content_sha256, mime_type, public_url, dumps(attempts), time.time(), task_id, owner),
            )
            if row is None:
                return None
            await tx.notify(JOB_FINISHED, task_id)
            return GenerationRow.from_row(row)

    async def mark_failed(
        self, task_id: str, *, owner: str | None, error: str, attempts: list[dict[str, Any]]
    ) -> GenerationRow | None:
        """Fail a job and give back a credits or free-tier payment in the same transaction.

        Crypto payments are refunded on chain by the caller, then recorded with
        :meth:`record_refund`. Returns None when the job was not this worker's.
        """
        async with self._db.transaction() as tx:
            row = await tx.fetchone(
                "UPDATE ai_generations SET status = 'failed', error = ?, attempts = ?, finished_at = ?, "
                "lease_owner = NULL, lease_expires_at = NULL "
                "WHERE task_id = ? AND status IN ('queued', 'running')"
                + ("" if owner is None else " AND lease_owner = ?") + " RETURNING *",
                (error, dumps(attempts), time.time(), task_id, *(() if owner is None else (owner,))),
            )
            if row is None:
                return None
            job = GenerationRow.from_row(row)
            if job.payment_method != "crypto":  # a crypto job is finished once its refund is recorded
                await tx.notify(JOB_FINISHED, task_id)
            refund = await _refund_offchain(tx, job)
            if refund is not None:
                row = await tx.fetchone(
                    "UPDATE ai_generations SET status = 'refunded', refund = ? WHERE task_id = ? RETURNING *",
                    (dumps(refund), task_id),
                )
                assert row is not None  # the job was read in this transaction
                job = GenerationRow.from_row(row)
            return job

    async def record_refund(self, task_id: str, refund: dict[str, Any]) -> GenerationRow:
        """Mark a failed job refunded. Recording the same refund again answers the row; anything else
        (an unknown task, one that did not fail, or one refunded by another transaction) is NotFound."""
        async with self._db.transaction() as tx:
            row = await tx.fetchone(
                "UPDATE ai_generations SET status = 'refunded', refund = ? WHERE task_id = ? AND status = 'failed' "
                "RETURNING *",
                (dumps(refund), task_id),
            )
            if row is not None:
                await tx.notify(JOB_FINISHED, task_id)
                return GenerationRow.from_row(row)
            current = await tx.fetchone("SELECT * FROM ai_generations WHERE task_id = ?", (task_id,))
        if current is not None:
            job = GenerationRow.from_row(current)
            if job.status is JobStatus.REFUNDED and job.refund is not None and job.refund.get("tx_hash") == refund.get("tx_hash"):
                return job
            raise NotFound(f"task {task_id} is {job.status}, not a failed job awaiting its refund")
        raise NotFound(f"no task {task_id}")

    async def adopt_for_caller(self, task_id: str, params: dict[str, Any]) -> tuple[GenerationRow, bool]:
        """Hand a job the indexer queued to the paying caller's tool call; ``(row, params_applied)``.

        The caller's parameters replace the defaults only while no worker has taken the job.
        Either way the job then counts as started by that call, so a retry of it is a replay.
        """
        async with self._db.transaction() as tx:
            tagged = "(payment::jsonb || '{\"source\": \"tool\"}')::text" if tx.postgres else \
                "json_set(payment, '$.source', 'tool')"
            row = await tx.fetchone(
                "UPDATE ai_generations SET params = CASE WHEN status = 'queued' THEN ? ELSE params END, "
                f"payment = {tagged} WHERE task_id = ? RETURNING *",
                (dumps(params), task_id),
            )
            if row is None:
                raise NotFound(f"no generation task {task_id!r}")
            job = GenerationRow.from_row(row)
            return job, job.status is JobStatus.QUEUED

    async def record_submission(self, task_id: str, submission: dict[str, Any]) -> None:
        async with self._db.transaction() as tx:
            await tx.execute(
                "UPDATE ai_generations SET submission = ? WHERE task_id = ?", (dumps(submission), task_id)
            )

    # -- reads ----------------------------------------------------------------
    async def get(self, task_id: str) -> GenerationRow | None:
        row = await self._db.fetchone("SELECT * FROM ai_generations WHERE task_id = ?", (task_id,))
        return GenerationRow.from_row(row) if row else None

    async def by_request_id(self, wallet: str, request_id: str) -> GenerationRow | None:
        """The task ``wallet`` started under its idempotency key ``request_id``, if any."""
        row = await self._db.fetchone(
            "SELECT * FROM ai_generations WHERE wallet = ? AND client_request_id = ?", (wallet, request_id)
        )
        return GenerationRow.from_row(row) if row else None

    async def by_payment_key(self, payment_key: str) -> GenerationRow | None:
        row = await self._db.fetchone("SELECT * FROM ai_generations WHERE payment_key = ?", (payment_key,))
        return GenerationRow.from_row(row) if row else None

    async def recent(self, *, limit: int = 20, wallet: str | None = None) -> list[GenerationRow]:
        if wallet:
            rows = await self._db.fetchall(
                "SELECT * FROM ai_generations WHERE wallet = ? ORDER BY created_at DESC LIMIT ?", (wallet, limit)
            )
        else:
            rows = await self._db.fetchall(
                "SELECT * FROM ai_generations ORDER BY created_at DESC LIMIT ?", (limit,)
            )
        return [GenerationRow.from_row(r) for r in rows]

    async def unsubmitted(self, *, limit: int = 50) -> list[GenerationRow]:
        """Succeeded crypto jobs not yet entered into the on-chain contest."""
        rows = await self._db.fetchall(
            "SELECT * FROM ai_generations WHERE status = 'succeeded' AND chain_request_id IS NOT NULL "
            "AND submission IS NULL AND payment_orphaned_at IS NULL ORDER BY created_at LIMIT ?",
            (limit,),
        )
        return [GenerationRow.from_row(r) for r in rows]

    async def pending_onchain_refunds(self, *, limit: int = 50) -> list[GenerationRow]:
        """Failed crypto jobs whose refund has not been recorded yet."""
        rows = await self._db.fetchall(
            "SELECT * FROM ai_generations WHERE status = 'failed' AND payment_method = 'crypto' "
            "AND payment_orphaned_at IS NULL ORDER BY finished_at LIMIT ?",
            (limit,),
        )
        return [GenerationRow.from_row(r) for r in rows]


async def _try_insert(
    tx: Transaction,
    task_id: str,
    wallet: str,
    kind: str,
    prompt: str,
    params: dict[str, Any],
    method: str,
    payment_key: str,
    payment: dict[str, Any],
    *,
    chain_request_id: int | None = None,
    client_request_id: str | None = None,
) -> GenerationRow | None:
    """Insert a queued job; None when its payment key is taken (by a transaction that committed meanwhile)."""
    now = time.time()
    await ensure_user(tx, wallet, now=now)
    row = await tx.fetchone(
        "INSERT INTO ai_generations (task_id, wallet, kind, prompt, params, status, payment_method, payment_key, "
        "payment, created_at, chain_request_id, client_request_id) VALUES (?, ?, ?, ?, ?, 'queued', ?, ?, ?, ?, ?, ?) "
        "ON CONFLICT (payment_key) DO NOTHING RETURNING *",
        (task_id, wallet, kind, prompt, dumps(params), method, payment_key, dumps(payment), now, chain_request_id,
         client_request_id),
    )
    if row is None:
        return None
    await tx.notify(JOBS_QUEUED, task_id)
    return GenerationRow.from_row(row)


async def get_or_insert_keyed(
    tx: Transaction,
    *,
    payment_key: str,
    wallet: str,
    kind: str,
    prompt: str,
    params: dict[str, Any],
    payment: dict[str, Any],
    chain_request_id: int | None = None,
    request_id: str | None = None,
) -> tuple[GenerationRow, bool]:
    """Inside ``tx``: the job ``payment_key`` already paid for, or a new queued one; ``(row, created)``.

    The one way a job keyed by an external payment is made (the payment gate and the indexer).
    """
    existing = await tx.fetchone("SELECT * FROM ai_generations WHERE payment_key = ?", (payment_key,))
    if existing:
        return GenerationRow.from_row(existing), False
    await _claim_request_id(tx, wallet, request_id)
    row = await _try_insert(
        tx, _new_task_id(), wallet, kind, prompt, params, payment["method"], payment_key, payment,
        chain_request_id=chain_request_id, client_request_id=request_id,
    )
    if row is None:  # PostgreSQL: another replica's transaction inserted it meanwhile (it waited for that commit)
        existing = await tx.fetchone("SELECT * FROM ai_generations WHERE payment_key = ?", (payment_key,))
        assert existing is not None  # the insert conflicted with it
        return GenerationRow.from_row(existing), False
    return row, True


async def _claim_request_id(tx: Transaction, wallet: str, request_id: str | None) -> None:
    """Inside ``tx``, before anything is charged: raise RequestIdUsed when ``wallet`` has a task under ``request_id``.

    Concurrent retries queue on the lock (SQLite: the one writer of ``BEGIN IMMEDIATE``), so only the
    first creates the task; the unique index (wallet, client_request_id) backs this up.
    """
    if request_id is None:
        return
    await tx.lock(f"request:{wallet}:{request_id}")
    used = await tx.fetchone(
        "SELECT task_id FROM ai_generations WHERE wallet = ? AND client_request_id = ?", (wallet, request_id)
    )
    if used is not None:
        raise RequestIdUsed(f"request_id: {request_id!r} was already used for task {used['task_id']}",
                            task_id=used["task_id"])


class JobFromPayment(BaseModel):
    """A job the indexer creates for a GenerationRequested event (same key as the tool path)."""

    payment_key: str
    wallet: str
    kind: str
    prompt: str
    params: dict[str, Any]
    payment: dict[str, Any]
    chain_request_id: int


_KEYS_PER_QUERY = 500  # SQLite: payment keys per IN (...) list, far below its parameter limit
_JOB_COLUMNS = ("task_id", "wallet", "kind", "prompt", "params", "status", "payment_method", "payment_key", "payment",
                "created_at", "chain_request_id")


async def insert_jobs_keyed(
    tx: Transaction, jobs: Sequence[JobFromPayment], *, now: float
) -> tuple[list[GenerationRow], list[tuple[JobFromPayment, GenerationRow]]]:
    """Inside ``tx``: :func:`get_or_insert_keyed` for many payments at once (the indexer's block ranges).

    Returns the rows created (in the order of ``jobs``) and, for payments that already had a job,
    ``(job, existing row)``. A handful of statements whatever the number of jobs: one lookup of the
    keys, one upsert of the distinct payers, one bulk insert that says which keys it took. The rows
    created are built from what was inserted, not read back; only a key another transaction took
    meanwhile (PostgreSQL) is read.
    """
    found = await _by_payment_keys(tx, [j.payment_key for j in jobs])
    fresh: dict[str, JobFromPayment] = {}
    for job in jobs:
        if job.payment_key not in found:
            fresh.setdefault(job.payment_key, job)
    await tx.insert_rows(
        "users", ("wallet", "created_at", "last_seen_at"),
        [(wallet, now, now) for wallet in dict.fromkeys(j.wallet for j in fresh.values())],
        conflict="ON CONFLICT (wallet) DO UPDATE SET last_seen_at = excluded.last_seen_at",
    )
    rows = {key: GenerationRow(task_id=_new_task_id(), wallet=j.wallet, kind=j.kind, prompt=j.prompt, params=j.params,
                               status=JobStatus.QUEUED, payment_method=j.payment["method"], payment_key=key,
                               payment=j.payment, created_at=now, chain_request_id=j.chain_request_id,
                               attempts=[])  # given: pydantic deep-copies a mutable default per row
            for key, j in fresh.items()}
    values = [(r.task_id, r.wallet, r.kind, r.prompt, dumps(r.params), r.status.value, r.payment_method, key,
               dumps(r.payment), now, r.chain_request_id) for key, r in rows.items()]
    taken = await tx.insert_rows("ai_generations", _JOB_COLUMNS, values,
                                 conflict="ON CONFLICT (payment_key) DO NOTHING", returning="payment_key")
    made = {key: rows[key] for key in (t["payment_key"] for t in taken)}
    # PostgreSQL: keys a transaction that committed meanwhile took (its rows are read; SQLite has one writer).
    found.update(await _by_payment_keys(tx, [key for key in fresh if key not in made]))
    created: list[GenerationRow] = []
    existing: list[tuple[JobFromPayment, GenerationRow]] = []
    for job in jobs:
        key = job.payment_key
        if key in made and fresh[key] is job:
            created.append(made[key])
        else:  # paid for before, twice in this batch, or (PostgreSQL) by a transaction that committed meanwhile
            existing.append((job, found.get(key) or made[key]))
    return created, existing


async def _by_payment_keys(tx: Transaction, keys: list[str]) -> dict[str, GenerationRow]:
    if not keys:
        return {}
    if tx.postgres:  # one array parameter, whatever the number of keys
        rows = await tx.fetchall("SELECT * FROM ai_generations WHERE payment_key = ANY(CAST(? AS text[]))", (keys,))
        return {r["payment_key"]: GenerationRow.from_row(r) for r in rows}
    out: dict[str, GenerationRow] = {}
    for i in range(0, len(keys), _KEYS_PER_QUERY):
        chunk = keys[i:i + _KEYS_PER_QUERY]
        rows = await tx.fetchall(
            f"SELECT * FROM ai_generations WHERE payment_key IN ({', '.join('?' * len(chunk))})", chunk
        )
        out.update((r["payment_key"], GenerationRow.from_row(r)) for r in rows)
    return out


async def _refund_offchain(tx: Transaction, job: GenerationRow) -> dict[str, Any] | None:
    now = time.time()
    if job.payment_method == "credits":
        credits = int(job.payment["credits"])
        await tx.execute(
            "UPDATE user_credits SET balance = balance + ?, updated_at = ? WHERE wallet = ?", (credits, now, job.wallet)
        )
        inserted = await tx.fetchone(
            "INSERT INTO credit_ledger (wallet, delta, reason, task_id, created_at) VALUES (?, ?, 'refund', ?, ?) "
            "RETURNING entry_id",
            (job.wallet, credits, job.task_id, now),
        )
        assert inserted is not None  # INSERT ... RETURNING
        entry = inserted["entry_id"]
        return {"method": "credits", "credits": credits, "ledger_entry": entry}
    if job.payment_method == "free":
        await tx.execute(
            "UPDATE free_usage SET used = used - 1 WHERE wallet = ? AND day = ? AND used > 0",
            (job.wallet, job.payment["day"]),
        )
        return {"method": "free", "day": job.payment["day"]}
    return None


def _excluding(task_ids: Collection[str]) -> tuple[str, tuple[str, ...]]:
    """The condition that leaves ``task_ids`` out (empty when there are none) and its parameters."""
    if not task_ids:
        return "", ()
    return f" AND task_id NOT IN ({', '.join('?' * len(task_ids))})", tuple(task_ids)


def _new_task_id() -> str:
    return uuid.uuid4().hex

"""The event sidecar: follows the three contracts and turns what happens on chain into jobs and updates.

It runs inside ``sf-mcp serve`` and standalone as ``sf-mcp indexer``. Each poll:

1. checks that the block under the cursor still has the hash it had, and that
   the first block read next is its child (else a reorg: rewind to the newest
   checkpoint still on the chain, forgetting the events above it; jobs whose
   payment vanished are held for review until it is mined again);
2. reads ``eth_getLogs`` for the three contracts over at most
   ``batch_blocks`` blocks, up to the head minus the required confirmations;
3. stores the decoded events, the jobs their ``GenerationRequested`` payments
   pay for (or joins the job a tool call made: same payment key) and the new
   cursor in one transaction, then wakes the workers and tells ``on_update``
   what changed (a :class:`~sf_mcp.chain.events.ChainUpdate`: jobs created or
   changed, contest standings moved; the server maps it to resource URIs);
4. retries operator work left behind: refunds of failed crypto jobs and
   ``submitGeneration`` for finished ones.

A failed poll (RPC outage, database lock, a bug) never stops it: it says so
(``state`` = degraded, ``checkpoint.outages`` counts each run of failures) and
polls again after a backoff that doubles from ``poll_s`` up to
``max_backoff_s``, half of it random so that many servers behind one RPC do not
come back in step; a nudge polls at once. The first poll that succeeds ends the
outage. Cancellation is a clean shutdown: every batch is one transaction, so the
stored cursor is always a consistent checkpoint. Every wait (the poll interval, a
backoff) goes through the ``sleep`` it is given, so a test can watch the waits or
make them instant without touching the loop.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Sequence
from contextlib import nullcontext
from enum import StrEnum
from typing import Any

import anyio
from anyio.abc import TaskStatus
from pydantic import BaseModel
from tenacity import AsyncRetrying, RetryCallState, retry_if_exception_type, wait_exponential, wait_random_exponential
from web3.exceptions import BlockNotFound

from sf_mcp.bulk import building_rows
from sf_mcp.chain.client import ChainClient
from sf_mcp.chain.contracts import NATIVE_TOKEN, PAYMENT, STAKING, VOTING
from sf_mcp.chain.events import ChainUpdate
from sf_mcp.chain.logs import EventDecoder, get_logs_raw
from sf_mcp.chain.operator import OperatorActions
from sf_mcp.chain.payments import EMPTY_PROMPT_HELD, cleaned_or_none, crypto_key_prefix, crypto_payment_key, token_of
from sf_mcp.errors import ChainUnavailable, SfMcpError
from sf_mcp.store import ChainEvent, Cursor, GenerationRow, JobFromPayment, Store
from sf_mcp.store.chain import x402_payment_key
from sf_mcp.waits import Sleep, sleep_unless_set

logger = logging.getLogger(__name__)

OnUpdate = Callable[[ChainUpdate], Awaitable[None]]

BULK_LOGS = 1_000  # logs in a range from which its build and write run with the cyclic collector paused

# What moves leaderboard://week: voting power, entries, the prize pool and finalization (VoteCast is read apart).
STANDINGS_EVENTS = frozenset({"Staked", "Unstaked", "EmergencyUnstaked", "ContestFinalized", "GenerationSubmitted",
                              "PrizePoolFunded", "PrizePoolRolledOver"})

# A payment on chain carries no settings: its job gets the provider's defaults (None) and no size, which the job
# runner fills with the generation layer's default (chain/ does not import generation/).
DEFAULT_PARAMS: dict[str, dict[str, Any]] = {
    "image": {"steps": None, "seed": None, "negative_prompt": None, "model": None},
    "video": {"duration_s": None, "seed": None, "model": None},
}


class IndexerState(StrEnum):
    STARTING = "starting"  # created, not polled yet
    RUNNING = "running"  # polling, the last poll succeeded
    DEGRADED = "degraded"  # the last poll failed; polling again with backoff
    STOPPED = "stopped"  # shut down cleanly


class Checkpoint(BaseModel):
    """Where the indexer is; new fields always get defaults."""

    chain_id: int
    last_block_seen: int = -1  # the chain head at the last poll
    last_block_processed: int = -1  # the cursor: every event up to here is stored
    last_block_hash: str | None = None
    events_indexed: int = 0
    jobs_created: int = 0
    reorgs: int = 0
    failures_in_a_row: int = 0
    outages: int = 0  # runs of failed polls (each ended, or not yet, by a poll that succeeded)
    last_error: str | None = None


class Indexer:
    def __init__(
        self,
        client: ChainClient,
        store: Store,
        *,
        operator: OperatorActions | None = None,
        batch_blocks: int = 2000,
        poll_s: float = 1.0,
        max_backoff_s: float = 60.0,
        on_jobs: Callable[[], None] | None = None,
        on_update: OnUpdate | None = None,
        on_payment: Sequence[Callable[[ChainEvent], Awaitable[Any]]] = (),
        sleep: Sleep = anyio.sleep,
    ) -> None:
        self._client = client
        self._store = store
        self._operator = operator
        self._batch = batch_blocks
        self._poll_s = poll_s
        self._max_backoff_s = max_backoff_s
        self._on_jobs = on_jobs
        self._on_update = on_update
        # Called once per PaymentReceived event stored for the first time (operations: large-payment alerts).
        # Hooks are given by the wiring (server/services.py), so chain/ never imports what reacts to payments.
        self._on_payment = list(on_payment)
        self._sleep = sleep  # every wait between polls; a nudge cuts it short
        self.state = IndexerState.STARTING
        self.checkpoint = Checkpoint(chain_id=client.chain_id)
        self._nudge = anyio.Event()
        self._lock = anyio.Lock()
        self._decoder = EventDecoder({name: client.address_of(name) for name in (PAYMENT, STAKING, VOTING)})
        self._addresses = [client.w3.to_checksum_address(client.address_of(n)) for n in (PAYMENT, STAKING, VOTING)]

    # -- lifecycle -------------------------------------------------------------
    async def run(self, *, task_status: TaskStatus[None] = anyio.TASK_STATUS_IGNORED) -> None:
        """Poll until cancelled; failures are retried with capped, jittered backoff, never given up on."""
        self.state = IndexerState.RUNNING
        task_status.started()
        # "Equal jitter": half of the doubling delay is fixed, half random, so the cap holds and servers that
        # failed together do not retry together, even once every delay has reached the cap.
        half, cap = min(self._poll_s, self._max_backoff_s) / 2, self._max_backoff_s / 2
        backoff = wait_exponential(multiplier=half, max=cap) + wait_random_exponential(multiplier=half, max=cap)
        try:
            while True:
                async for attempt in AsyncRetrying(
                    retry=retry_if_exception_type(Exception), sleep=self._pause, before_sleep=self._failed,
                    wait=backoff,
                ):
                    with attempt:
                        caught_up = await self.poll_once()
                        await self.retry_operator_work()
                self._recovered()
                if caught_up:
                    await self._pause(self._poll_s)
        finally:
            self.state = IndexerState.STOPPED
            logger.info("indexer stopped at block %s", self.checkpoint.last_block_processed)

    def nudge(self) -> None:
        """Poll now instead of at the next interval (or the end of a backoff)."""
        self._nudge.set()

    async def _pause(self, seconds: float) -> None:
        await sleep_unless_set(self._nudge, seconds, sleep=self._sleep)
        self._nudge = anyio.Event()

    def _failed(self, retry: RetryCallState) -> None:
        exc = retry.outcome.exception() if retry.outcome is not None else None
        cp = self.checkpoint
        if cp.failures_in_a_row == 0:
            cp.outages += 1
        cp.failures_in_a_row += 1
        cp.last_error = f"{type(exc).__name__}: {exc}"
        self.state = IndexerState.DEGRADED
        if not isinstance(exc, SfMcpError):  # a bug must be seen
            logger.error("indexer poll crashed", exc_info=exc)
        logger.warning("indexer poll failed (%s in a row); next try in %.1f s: %s", cp.failures_in_a_row,
                       retry.upcoming_sleep, exc)

    def _recovered(self) -> None:
        if self.state is IndexerState.DEGRADED:
            logger.warning("indexer recovered after an outage (outage %s)", self.checkpoint.outages)
        self.state = IndexerState.RUNNING

    # -- one poll ----------------------------------------------------------------
    async def poll_once(self) -> bool:
        """Process at most one batch of blocks; True when caught up with the safe head."""
        async with self._lock:
            caught_up = await self._poll()
        self.checkpoint.failures_in_a_row = 0
        self.checkpoint.last_error = None
        return caught_up

    async def sync(self) -> None:
        """Process every block up to the current safe head (for tests, benchmarks and start-up)."""
        while not await self.poll_once():
            pass

    async def _poll(self) -> bool:
        client, chain_id = self._client, self._client.chain_id
        head = await client.block_number()
        self.checkpoint.last_block_seen = head
        safe = head - client.confirmations
        cursor = await self._store.chain.cursor(chain_id)
        if cursor is None:
            cursor = Cursor(chain_id=chain_id, block_number=self._client.deployment.start_block - 1, block_hash="")
        elif cursor.block_hash and not await self._on_chain(cursor):
            await self._rewind(cursor)
            return False
        start = cursor.block_number + 1
        end = min(safe, start + self._batch - 1)
        if start > end:
            self._note(cursor)
            return True
        end_block = await self._block(end)
        end_hash = end_block["hash"].to_0x_hex() if end_block is not None else None
        first = await self._block(start)
        logs = await client.read(
            f"reading events of blocks {start}..{end}",
            lambda: get_logs_raw(client.w3, from_block=start, to_block=end, addresses=self._addresses),
        )
        if end_block is None or end_hash is None or first is None or await self._hash_of(end) != end_hash:
            return False  # the chain moved under us; read the range again
        end_time = int(end_block["timestamp"])  # the read models' clock: which contest is open at the cursor
        # The end block did not change, so neither did its ancestors: if the first block read is not the
        # cursor's child, the cursor's block was replaced after it was checked above.
        if cursor.block_hash and first["parentHash"].to_0x_hex() != cursor.block_hash:
            await self._rewind(cursor)
            return False
        # A large range's objects live until it is written: the cyclic collector waits until then (bulk.py).
        with building_rows() if len(logs) >= BULK_LOGS else nullcontext():
            events = [ev for ev in (self._decode(log) for log in logs) if ev is not None and ev.block_number <= end]
            _set_payment_keys(events)
            jobs = [j for j in (self._job_of(ev) for ev in events if ev.event == "GenerationRequested") if j is not None]
            logger.debug("blocks %s..%s: %s logs, %s events", start, end, len(logs), len(events))
            if events:
                applied = await self._store.chain.apply(chain_id, events=events, jobs=jobs, block_number=end,
                                                        block_hash=end_hash, block_timestamp=end_time)
        if events:
            await self._after(applied.events, applied.jobs)
        else:
            await self._store.chain.advance(chain_id, end, end_hash, block_timestamp=end_time)
        self._note(Cursor(chain_id=chain_id, block_number=end, block_hash=end_hash))
        return end >= safe

    def _note(self, cursor: Cursor) -> None:
        self.checkpoint.last_block_processed = cursor.block_number
        self.checkpoint.last_block_hash = cursor.block_hash or None

    async def _block(self, number: int) -> Any:
        async def get() -> Any:
            try:
                return await self._client.w3.eth.get_block(number)
            except BlockNotFound:
                return None

        return await self._client.read(f"reading block {number}", get)

    async def _hash_of(self, number: int) -> str | None:
        block = await self._block(number)
        return block["hash"].to_0x_hex() if block is not None else None

    async def _on_chain(self, cursor: Cursor) -> bool:
        return await self._hash_of(cursor.block_number) == cursor.block_hash

    async def _rewind(self, cursor: Cursor) -> None:
        chain_id = self._client.chain_id
        target = Cursor(chain_id=chain_id, block_number=self._client.deployment.start_block - 1, block_hash="")
        for cp in await self._store.chain.checkpoints(chain_id):
            if cp.block_number < cursor.block_number and await self._on_chain(cp):
                target = cp
                break
        removed = await self._store.chain.rollback(chain_id, to=target)
        self._client.forget_cached()  # answers cached per block number may be of the replaced blocks
        self.checkpoint.reorgs += 1
        self.checkpoint.events_indexed -= len(removed)
        self._note(target)
        logger.warning(
            "reorg: block %s changed; rewound to %s and forgot %s events", cursor.block_number, target.block_number,
            len(removed),
        )
        for ev in removed:
            if ev.event == "GenerationRequested" and ev.payment_key:
                job = await self._store.generations.by_payment_key(ev.payment_key)
                if job is not None:
                    logger.warning("reorg: the payment of task %s (%s) left the chain; its refund and contest entry "
                                   "are held for review unless it is mined again", job.task_id, ev.tx_hash)
        if removed:
            await self._emit(ChainUpdate(standings_changed=True))

    # -- decoding --------------------------------------------------------------
    def _decode(self, log: dict[str, Any]) -> ChainEvent | None:
        try:
            found = self._decoder.decode(log)
        except Exception:  # a log our ABI cannot read is reported and skipped, never fatal
            logger.warning("could not decode a log of %s in %s", log.get("address"), log.get("transactionHash"))
            return None
        if found is None:
            return None
        return ChainEvent(
            chain_id=self._client.chain_id, tx_hash=found.tx_hash, log_index=found.log_index,
            block_number=found.block_number, block_hash=found.block_hash, contract=found.contract,
            event=found.event, args=found.args,
        )

    def _job_of(self, ev: ChainEvent) -> JobFromPayment | None:
        kind = ev.args.get("generationType")
        if kind not in DEFAULT_PARAMS:
            return None
        prompt = cleaned_or_none(str(ev.args["prompt"]))
        if prompt is None:
            # Never generate or post back the raw text: the event is stored, and a payment with
            # no job is listed in the review queue.
            logger.warning("payment %s: %s", ev.tx_hash, EMPTY_PROMPT_HELD)
            return None
        token_address = str(ev.args["paymentToken"]).lower()
        return JobFromPayment(
            payment_key=ev.payment_key or crypto_payment_key(ev.chain_id, ev.tx_hash),
            wallet=str(ev.args["user"]).lower(), kind=kind, prompt=prompt,
            params=dict(DEFAULT_PARAMS[kind]),
            payment={
                "method": "crypto", "chain_id": ev.chain_id, "tx_hash": ev.tx_hash, "log_index": ev.log_index,
                "ordinal": _ordinal(ev),
                "request_id": int(ev.args["requestId"]), "payer": str(ev.args["user"]).lower(),
                "token": token_of(self._client, token_address) if token_address != NATIVE_TOKEN else "S",
                "token_address": token_address, "amount": str(ev.args["amount"]), "block": ev.block_number,
                "source": "indexer",
            },
            chain_request_id=int(ev.args["requestId"]),
        )

    # -- side effects ------------------------------------------------------------
    async def _after(self, events: list[ChainEvent], jobs: list[GenerationRow]) -> None:
        self.checkpoint.events_indexed += len(events)
        self.checkpoint.jobs_created += len(jobs)
        if jobs and self._on_jobs is not None:
            self._on_jobs()
        for ev in events:
            if ev.event == "PaymentReceived":
                for hook in self._on_payment:
                    try:
                        await hook(ev)
                    except Exception:  # a broken hook must not stop indexing; the event is already stored
                        logger.exception("payment hook failed for %s", ev.tx_hash)
        if self._on_update is None:
            return
        voted: list[GenerationRow] = []
        standings = False
        for ev in events:
            if ev.event == "VoteCast":
                job = await self._store.chain.job_by_request_id(ev.chain_id, int(ev.args["generationId"]))
                if job is not None:
                    voted.append(job)
                standings = True
            elif ev.event in STANDINGS_EVENTS:
                standings = True
        await self._emit(ChainUpdate(created=tuple(jobs), changed=tuple(voted), standings_changed=standings))

    async def retry_operator_work(self) -> None:
        """Submit finished crypto jobs and refund failed ones that an earlier attempt left behind."""
        if self._operator is None or self._client.operator is None:
            return
        for job in await self._store.generations.unsubmitted(limit=20):
            try:
                await self._operator.submit(job)
            except SfMcpError as exc:
                logger.warning("submitGeneration for task %s failed: %s", job.task_id, exc)
                if isinstance(exc, ChainUnavailable):
                    break
        for job in await self._store.generations.pending_onchain_refunds(limit=20):
            if not job.payment_key.startswith(crypto_key_prefix(self._client.chain_id)):
                continue
            try:
                refund = await self._operator.refund(job)
            except SfMcpError as exc:
                logger.warning("refund of task %s failed: %s", job.task_id, exc)
                if isinstance(exc, ChainUnavailable):
                    break
                continue
            row = await self._store.generations.record_refund(job.task_id, refund)
            await self._emit(ChainUpdate(changed=(row,)))

    async def _emit(self, update: ChainUpdate) -> None:
        if self._on_update is not None and not update.empty:
            await self._on_update(update)


def _set_payment_keys(events: list[ChainEvent]) -> None:
    """Key each GenerationRequested event by its transaction and its rank among the transaction's payments.

    A transaction's logs are all in one block, and a range always covers whole blocks, so every
    payment of a transaction is in the same batch.
    """
    seen: dict[str, int] = {}
    # An x402 settlement (AuthorizationSettled, same transaction and request id) is keyed by its authorization,
    # so the job the payment gate reserved for it and the one seen here are the same.
    settled = {(ev.tx_hash, int(ev.args["requestId"])): ev for ev in events if ev.event == "AuthorizationSettled"}
    for ev in sorted(events, key=lambda e: (e.block_number, e.log_index)):
        if ev.event != "GenerationRequested":
            continue
        ordinal = seen.get(ev.tx_hash, 0)
        seen[ev.tx_hash] = ordinal + 1
        auth = settled.get((ev.tx_hash, int(ev.args["requestId"])))
        if auth is not None:
            ev.payment_key = x402_payment_key(ev.chain_id, str(ev.args["paymentToken"]), str(auth.args["payer"]),
                                              str(auth.args["nonce"]))
        else:
            ev.payment_key = crypto_payment_key(ev.chain_id, ev.tx_hash, ordinal)


def _ordinal(ev: ChainEvent) -> int:
    key = ev.payment_key or ""
    return int(key.rsplit("#", 1)[1]) if "#" in key else 0

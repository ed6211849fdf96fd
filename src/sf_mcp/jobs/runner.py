"""The worker pool that turns queued jobs into stored media, and tells waiters when they end.

Every job is a row (``store.generations``). A worker claims one with a lease and
keeps renewing it while the providers work; if the process dies, the lease runs
out and the next process (or another worker) claims the job again, so a crash
never loses a paid job. A process never claims a job its own workers are still
running, even when a renewal lagged past the lease on a loaded machine. ``job_max_attempts`` bounds how often one job may be
re-run before it fails for good and its payment is refunded.

A database that cannot be used for a while (another writer holding its lock
past the busy timeout, a full disk, an I/O error) never ends the pool: a worker
logs it, backs off (exponential with jitter, capped at :data:`STORE_RETRY_MAX_S`)
and tries again; a finished job's result is written again the same way while its
lease lasts, and past that the lease runs out and the job is run again, so none
is lost.

Every timed wait (an idle worker's, a lease renewal's, a waiter's re-read, a
backoff) goes through the ``sleep`` the runner is given (:mod:`sf_mcp.waits`).

Listeners see progress and the end of a job in-process; ``on_finished`` hooks
let other parts react to every finished job (resource updates, entering the
on-chain contest) without the runner knowing them.
"""

from __future__ import annotations

import logging
import os
import time
import uuid
from collections import defaultdict
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import anyio
from anyio.abc import TaskGroup, TaskStatus
from tenacity import AsyncRetrying, RetryCallState, retry_if_exception_type, stop_after_delay, wait_exponential_jitter

from sf_mcp.errors import GenerationError, NotFound, StoreUnavailable
from sf_mcp.generation import ContentStore, FallbackChain
from sf_mcp.generation.base import DEFAULT_IMAGE_SIDE_PX, Attempt, GenerationKind, GenerationRequest
from sf_mcp.store import JOB_FINISHED, JOBS_QUEUED, GenerationRow, Store
from sf_mcp.waits import Sleep, sleep_unless_set

logger = logging.getLogger(__name__)

FinishedHook = Callable[[GenerationRow], Awaitable[None]]

STORE_RETRY_MAX_S = 30.0  # the longest a worker waits between two tries of a database that keeps failing


@dataclass(frozen=True)
class Progress:
    """A step of a running job, for the caller's progress notifications."""

    task_id: str
    step: int
    total: int
    message: str


class Refunder(Protocol):
    """Returns a crypto payment on chain when its job fails (the chain package implements it)."""

    async def refund(self, job: GenerationRow) -> dict[str, Any]: ...


class JobRunner:
    """A bounded pool of workers over the durable job table."""

    def __init__(
        self,
        store: Store,
        providers: FallbackChain,
        content: ContentStore,
        *,
        workers: int,
        lease_s: float,
        max_runs: int,
        refunder: Refunder | None = None,
        on_finished: Sequence[FinishedHook] = (),
        idle_poll_s: float = 2.0,
        sleep: Sleep = anyio.sleep,
    ) -> None:
        self._store = store
        self._providers = providers
        self._content = content
        self._workers = workers
        self._lease_s = lease_s
        self._max_runs = max_runs
        self.refunder = refunder
        self._idle_poll_s = idle_poll_s
        self._sleep = sleep  # every timed wait; a wake-up cuts an idle one short
        self._owner = f"{os.getpid()}-{uuid.uuid4().hex[:8]}"
        self._wakeup = anyio.Event()
        self._finished_events: dict[str, anyio.Event] = {}
        self._progress: dict[str, list[Callable[[Progress], Awaitable[None]]]] = defaultdict(list)
        self.on_finished: list[FinishedHook] = list(on_finished)
        self._hooks: TaskGroup | None = None  # where finished-job hooks run while the pool runs
        self._mine: set[str] = set()  # jobs this process's workers are running
        # One claim at a time in this process: a claim lists the jobs to skip before its query reaches the
        # database, so two overlapping claims could each miss the job the other was taking.
        self._claiming = anyio.Lock()

    # -- lifecycle ------------------------------------------------------------
    async def run(self, *, task_status: TaskStatus[None] = anyio.TASK_STATUS_IGNORED) -> None:
        """Run the workers until cancelled.

        Jobs queued and finished by other replicas reach this one as database notifications
        (when ``store.notifications`` runs): idle workers wake at once, waiters re-read their row.
        """
        notifications = self._store.notifications
        unlisten = [await notifications.listen(JOBS_QUEUED, lambda _task_id: self.wake()),
                    await notifications.listen(JOB_FINISHED, self._finished_elsewhere)]
        async with anyio.create_task_group() as tg:
            self._hooks = tg
            try:
                for _ in range(self._workers):
                    tg.start_soon(self._worker)
                task_status.started()
                await anyio.sleep_forever()
            finally:
                self._hooks = None
                for stop in unlisten:
                    stop()

    def _finished_elsewhere(self, task_id: str) -> None:
        if task_id in self._mine:  # our own worker wakes its waiters once the job is fully done (refund too)
            return
        event = self._finished_events.pop(task_id, None)
        if event is not None:
            event.set()

    def wake(self) -> None:
        """Tell idle workers that a job was queued."""
        self._wakeup.set()

    # -- waiting --------------------------------------------------------------
    async def wait_finished(
        self, task_id: str, *, on_progress: Callable[[Progress], Awaitable[None]] | None = None
    ) -> GenerationRow:
        """Wait until the job ends and return its final row.

        This process's workers wake the waiter at once; the row is also re-read every few
        seconds, because another process (after a crash, or a standalone indexer) may finish it.
        """
        if on_progress is not None:
            self._progress[task_id].append(on_progress)
        try:
            while True:
                event = self._finished_events.setdefault(task_id, anyio.Event())
                row = await self._store.generations.get(task_id)
                if row is None:
                    raise NotFound(f"no generation task {task_id!r}")
                if row.finished:
                    return row
                await sleep_unless_set(event, self._idle_poll_s, sleep=self._sleep)
        finally:
            if on_progress is not None and on_progress in self._progress.get(task_id, []):
                self._progress[task_id].remove(on_progress)
                if not self._progress[task_id]:
                    del self._progress[task_id]

    # -- the worker -----------------------------------------------------------
    async def _worker(self) -> None:
        while True:
            job = await self._next_job()
            if job is None:
                continue
            try:
                await self._run_job(job)
            except Exception:
                # A bug must not take the worker down or keep the payment.
                logger.exception("job %s crashed; failing it and refunding", job.task_id)
                try:
                    current = await self._store.generations.get(job.task_id)
                    await self._fail(job, "internal error while generating", (current or job).attempts)
                except Exception as exc:  # the database too: the lease runs out and the job runs again
                    logger.error("job %s: its failure could not be recorded (%s); it runs again once its lease "
                                 "expires", job.task_id, exc)
            finally:
                self._mine.discard(job.task_id)

    async def _next_job(self) -> GenerationRow | None:
        """Claim a job, or wait until one may be there; a failing database is retried with backoff, forever."""
        async for attempt in AsyncRetrying(retry=retry_if_exception_type(Exception),
                                           wait=wait_exponential_jitter(multiplier=0.1, max=STORE_RETRY_MAX_S),
                                           sleep=self._sleep, before_sleep=_log_store_trouble("claiming a job")):
            with attempt:
                async with self._claiming:
                    job = await self._store.generations.claim_next(owner=self._owner, lease_s=self._lease_s,
                                                                   skip=self._mine)
                    if job is not None:
                        self._mine.add(job.task_id)
                        return job
                idle = await self._idle_wait()
        await sleep_unless_set(self._wakeup, idle, sleep=self._sleep)
        self._wakeup = anyio.Event() if self._wakeup.is_set() else self._wakeup
        return None

    async def _write(self, what: str, write: Callable[[], Awaitable[Any]]) -> Any:
        """A write that must not be lost to a passing database outage: retried with backoff while the lease lasts."""
        async for attempt in AsyncRetrying(retry=retry_if_exception_type(StoreUnavailable),
                                           wait=wait_exponential_jitter(multiplier=0.1, max=STORE_RETRY_MAX_S),
                                           stop=stop_after_delay(self._lease_s), reraise=True, sleep=self._sleep,
                                           before_sleep=_log_store_trouble(what)):
            with attempt:
                return await write()
        raise AssertionError("unreachable")  # pragma: no cover

    async def _idle_wait(self) -> float:
        """Sleep until a lease may expire, or a short poll for jobs made by another process."""
        expiry = await self._store.generations.next_lease_expiry(skip=self._mine)
        if expiry is None:
            return self._idle_poll_s
        return max(0.05, min(self._idle_poll_s, expiry - time.time() + 0.05))

    async def _run_job(self, job: GenerationRow) -> None:
        if job.run_count > self._max_runs:
            await self._fail(job, f"the job was interrupted {job.run_count - 1} times", job.attempts)
            return
        attempts: list[dict[str, Any]] = list(job.attempts)
        request = _request_of(job)
        total = 3
        await self._report(job.task_id, 1, total, "generating")

        async def on_attempt(attempt: Attempt) -> None:
            attempts.append(attempt.model_dump(mode="json"))
            try:
                await self._store.generations.record_attempts(job.task_id, attempts)
            except StoreUnavailable as exc:  # kept in memory; written with the job's result
                logger.warning("job %s: attempts not recorded yet (%s)", job.task_id, exc)
            note = "ok" if attempt.outcome == "ok" else f"{attempt.outcome}: {attempt.error_class or ''}"
            await self._report(job.task_id, 1, total, f"{attempt.provider}/{attempt.model} {note}".strip())

        failure: GenerationError | None = None
        async with anyio.create_task_group() as tg:
            tg.start_soon(self._keep_lease, job.task_id)
            try:
                outcome = await self._providers.run(request, on_attempt=on_attempt)
                await self._report(job.task_id, 2, total, "storing")
                stored = await self._content.put(outcome.media.data, outcome.media.mime_type,
                                                 preview=outcome.media.preview)
            except GenerationError as exc:
                failure = exc
            tg.cancel_scope.cancel()
        if failure is not None:
            await self._fail(job, str(failure), attempts)
            return
        gens = self._store.generations
        row = await self._write(f"storing the result of job {job.task_id}", lambda: gens.mark_succeeded(
            job.task_id,
            owner=self._owner,
            provider=outcome.media.provider,
            model=outcome.media.model,
            content_sha256=stored.sha256,
            mime_type=stored.mime_type,
            public_url=stored.public_url,
            attempts=attempts,
        ))
        if row is None:
            logger.warning("job %s finished elsewhere after our lease ran out", job.task_id)
            return
        await self._report(job.task_id, 3, total, "done")
        await self._finish(row)

    async def _keep_lease(self, task_id: str) -> None:
        while True:
            await self._sleep(self._lease_s / 3)
            try:
                if not await self._store.generations.renew_lease(task_id, owner=self._owner, lease_s=self._lease_s):
                    return
            except StoreUnavailable as exc:  # tried again at the next third of the lease
                logger.warning("job %s: lease not renewed (%s)", task_id, exc)

    async def _fail(self, job: GenerationRow, error: str, attempts: list[dict[str, Any]]) -> None:
        gens = self._store.generations
        row = await self._write(f"recording the failure of job {job.task_id}", lambda: gens.mark_failed(
            job.task_id, owner=self._owner, error=error, attempts=attempts))
        if row is None:
            return
        try:
            if row.payment_method == "crypto":
                row = await self.refund_onchain(row)
        finally:
            await self._finish(row)

    async def refund_onchain(self, row: GenerationRow) -> GenerationRow:
        """Refund a failed crypto job; on failure it stays 'failed' and is listed for review."""
        if self.refunder is None:
            logger.error("job %s failed and no refunder is configured; it needs review", row.task_id)
            return row
        try:
            refund = await self.refunder.refund(row)
            return await self._store.generations.record_refund(row.task_id, refund)
        except NotFound:  # another process recorded its refund first
            return await self._store.generations.get(row.task_id) or row
        except Exception as exc:  # any failure leaves the job listed for review, never lost
            logger.error("refund of job %s failed (%s); it needs review", row.task_id, exc)
            return row

    async def _finish(self, row: GenerationRow) -> None:
        """Wake the waiters first, then run the hooks beside the workers (one may wait for a chain)."""
        event = self._finished_events.pop(row.task_id, None)
        if event is not None:
            event.set()
        if self._hooks is None:
            await self._run_hooks(row)
            return
        self._hooks.start_soon(self._run_hooks, row)

    async def _run_hooks(self, row: GenerationRow) -> None:
        """Every hook, in order: one that fails is logged and the next still runs."""
        for hook in list(self.on_finished):
            try:
                await hook(row)
            except Exception:
                logger.exception("a finished-job hook failed for %s", row.task_id)

    async def _report(self, task_id: str, step: int, total: int, message: str) -> None:
        for listener in list(self._progress.get(task_id, [])):
            try:
                await listener(Progress(task_id, step, total, message))
            except Exception:
                logger.debug("progress listener for %s failed", task_id, exc_info=True)


def _log_store_trouble(what: str) -> Callable[[RetryCallState], None]:
    def log(state: RetryCallState) -> None:
        exc = state.outcome.exception() if state.outcome is not None else None
        logger.warning("%s failed (%s, try %s); retrying in %.1f s", what, exc, state.attempt_number,
                       state.upcoming_sleep)
    return log


def _request_of(job: GenerationRow) -> GenerationRequest:
    p = job.params
    return GenerationRequest(
        kind=GenerationKind(job.kind),
        prompt=job.prompt,
        width=p.get("width", DEFAULT_IMAGE_SIDE_PX),
        height=p.get("height", DEFAULT_IMAGE_SIDE_PX),
        steps=p.get("steps"),
        seed=p.get("seed"),
        negative_prompt=p.get("negative_prompt"),
        model=p.get("model"),
        duration_s=p.get("duration_s"),
    )

"""The job runner on its own: leases, resumption, and the bound on re-runs."""

from __future__ import annotations

from collections import Counter

import anyio
import pytest

from sf_mcp.generation import FallbackChain, LocalContentStore
from sf_mcp.generation.providers.local import LocalRenderer
from sf_mcp.jobs import JobRunner
from sf_mcp.store import GenerationRow, Store
from support import Settled

pytestmark = pytest.mark.anyio
WALLET = "0x" + "ab" * 20


@pytest.fixture
async def store(db_url):
    s = await Store.open(db_url)
    yield s
    await s.close()


def _runner(store: Store, tmp_path, **kw) -> JobRunner:
    chain = FallbackChain([LocalRenderer()], attempt_timeout_s=10, deadline_s=30, breaker_failures=3,
                          breaker_cooldown_s=60)
    options = {"workers": 2, "lease_s": 5.0, "max_runs": 3, **kw}
    return JobRunner(store, chain, LocalContentStore(tmp_path / "content"), **options)


async def _endless(seconds: float) -> None:
    """A runner's sleep that never ends by itself: its workers and waiters move only when woken."""
    await anyio.sleep_forever()


async def _run_until_finished(runner: JobRunner, task_id: str, *, within: float) -> GenerationRow:
    """Run the pool until ``task_id`` is finished (at most ``within`` seconds), then stop it."""
    async with anyio.create_task_group() as tg:
        await tg.start(runner.run)
        with anyio.fail_after(within):
            row = await runner.wait_finished(task_id)
        tg.cancel_scope.cancel()
    return row


async def _reserve(store: Store, prompt: str = "p") -> str:
    await store.accounts.add_credits(WALLET, 1, reason="test")
    job = await store.generations.reserve_credits(
        wallet=WALLET, kind="image", prompt=prompt, params={"width": 64, "height": 64}
    )
    return job.task_id


async def test_a_claimed_job_is_not_claimed_twice_while_its_lease_lives(store: Store) -> None:
    await _reserve(store)
    first = await store.generations.claim_next(owner="a", lease_s=60)
    assert first is not None and first.status == "running"
    assert await store.generations.claim_next(owner="b", lease_s=60) is None


async def test_an_expired_lease_is_resumed_by_another_worker(store: Store, tmp_path) -> None:
    task_id = await _reserve(store)
    dead = await store.generations.claim_next(owner="dead-process", lease_s=-1)  # its lease has already run out
    assert dead is not None
    runner = _runner(store, tmp_path)
    row = await _run_until_finished(runner, task_id, within=10)
    assert row.status == "succeeded" and row.run_count == 2
    # the dead owner can no longer write its outcome
    assert await store.generations.mark_succeeded(
        task_id, owner="dead-process", provider="x", model="x", content_sha256="0" * 64,
        mime_type="image/png", public_url=None, attempts=[],
    ) is None


class _HeldRenderer(LocalRenderer):
    """Holds every generation of the prompt "held" until released, and counts the calls per prompt."""

    def __init__(self) -> None:
        super().__init__()
        self.calls: Counter[str] = Counter()
        self.started = anyio.Event()
        self.release = anyio.Event()

    async def generate(self, request, *, model):
        self.calls[request.prompt] += 1
        if request.prompt == "held":
            self.started.set()
            await self.release.wait()
        return await super().generate(request, model=model)


async def test_a_process_never_claims_a_job_its_own_worker_is_still_running(store: Store, tmp_path) -> None:
    """A renewal that lags past the lease (a loaded machine) must not let an idle worker of the same process run
    the job again beside the first: the lease is made to run out while the job runs, then a newer job is queued;
    the idle workers must take the newer one and leave the held one to the worker running it."""
    held = await _reserve(store, "held")
    renderer = _HeldRenderer()
    chain = FallbackChain([renderer], attempt_timeout_s=30, deadline_s=60, breaker_failures=3, breaker_cooldown_s=60)
    runner = JobRunner(store, chain, LocalContentStore(tmp_path / "c"), workers=3, lease_s=60, max_runs=3)
    async with anyio.create_task_group() as tg:
        await tg.start(runner.run)
        with anyio.fail_after(20):
            await renderer.started.wait()
            running = await store.generations.get(held)
            assert running is not None and running.lease_owner is not None
            assert await store.generations.renew_lease(held, owner=running.lease_owner, lease_s=-1)  # ran out
            other = await _reserve(store, "other")
            runner.wake()
            assert (await runner.wait_finished(other)).status == "succeeded"
            still = await store.generations.get(held)
            assert still is not None and still.status == "running" and still.run_count == 1
            assert renderer.calls["held"] == 1
            renderer.release.set()
            done = await runner.wait_finished(held)
        tg.cancel_scope.cancel()
    assert done.status == "succeeded" and done.run_count == 1
    assert renderer.calls == {"held": 1, "other": 1}


async def test_a_job_interrupted_too_often_fails_and_is_refunded(store: Store, tmp_path) -> None:
    task_id = await _reserve(store)
    for _ in range(3):  # three runs that each died: every lease has already run out
        assert await store.generations.claim_next(owner="crashy", lease_s=-1) is not None
    runner = _runner(store, tmp_path, max_runs=3)
    row = await _run_until_finished(runner, task_id, within=10)
    assert row.status == "refunded" and row.error == "the job was interrupted 3 times"
    assert await store.accounts.credits(WALLET) == 1


async def test_refunds_are_never_applied_twice(store: Store) -> None:
    task_id = await _reserve(store)
    await store.generations.claim_next(owner="w", lease_s=60)
    first = await store.generations.mark_failed(task_id, owner="w", error="x", attempts=[])
    second = await store.generations.mark_failed(task_id, owner="w", error="x", attempts=[])
    assert first is not None and first.status == "refunded" and second is None
    assert await store.accounts.credits(WALLET) == 1


class _BrokenProvider:
    """Fails every call, so the job fails and its payment must be refunded."""

    name = "broken"

    def models(self, kind):
        return ["broken/model"]

    async def generate(self, request, *, model):
        from sf_mcp.generation.base import ErrorClass, ProviderError

        raise ProviderError("down", error_class=ErrorClass.UNAVAILABLE)

    async def aclose(self) -> None:
        pass


class _ExplodingRefunder:
    async def refund(self, job):
        raise RuntimeError("the RPC library blew up")


async def test_a_refund_that_crashes_leaves_the_job_for_review_and_wakes_the_waiter(store: Store, tmp_path) -> None:
    job, _ = await store.generations.reserve_keyed(
        payment_key="crypto:1:0xabc", wallet=WALLET, kind="image", prompt="p", params={"width": 64, "height": 64},
        payment={"method": "crypto", "tx_hash": "0xabc"}, chain_request_id=1,
    )
    chain = FallbackChain([_BrokenProvider()], attempt_timeout_s=5, deadline_s=10, breaker_failures=3,
                          breaker_cooldown_s=60)
    runner = JobRunner(store, chain, LocalContentStore(tmp_path / "c"), workers=1, lease_s=5, max_runs=3,
                       refunder=_ExplodingRefunder())
    row = await _run_until_finished(runner, job.task_id, within=10)
    assert row.status == "failed" and row.refund is None  # listed for review, not lost
    assert "down" in row.error and "internal error" not in row.error  # the providers' failure, not a crash
    assert [r.task_id for r in await store.generations.pending_onchain_refunds()] == [job.task_id]


async def test_a_slow_finished_hook_does_not_hold_the_waiter(store: Store, tmp_path) -> None:
    task_id = await _reserve(store)
    release = anyio.Event()
    hook_ran = []

    async def slow_hook(row) -> None:  # like entering the contest on a slow chain
        await release.wait()
        hook_ran.append(row.task_id)

    runner = _runner(store, tmp_path)
    runner.on_finished.append(slow_hook)
    hooks_ran = Settled(runner)
    async with anyio.create_task_group() as tg:
        await tg.start(runner.run)
        with anyio.fail_after(10):
            row = await runner.wait_finished(task_id)  # returns while the hook still waits
            assert row.status == "succeeded" and hook_ran == []
            release.set()
            await hooks_ran.wait(task_id)
        tg.cancel_scope.cancel()
    assert hook_ran == [task_id]


class _FullDisk(LocalContentStore):
    """A content store whose disk is full: storing the result raises OSError, which is no GenerationError."""

    def _put_sync(self, digest: str, data: bytes, mime_type: str) -> None:
        raise OSError(28, "No space left on device")


class _RecordingRefunder:
    def __init__(self) -> None:
        self.refunded: list[str] = []

    async def refund(self, job):
        self.refunded.append(job.task_id)
        return {"tx_hash": "0x" + "77" * 32, "credits": 1}


async def test_a_crashed_worker_fails_its_job_and_refunds_the_payment(store: Store, tmp_path) -> None:
    """Kills: removing the fail-and-refund after a worker crash (the job would stay running, paid for)."""
    job, _ = await store.generations.reserve_keyed(
        payment_key="crypto:1:0xcrash", wallet=WALLET, kind="image", prompt="p", params={"width": 64, "height": 64},
        payment={"method": "crypto", "tx_hash": "0xcrash"}, chain_request_id=2,
    )
    credits_job = await _reserve(store)
    refunder = _RecordingRefunder()
    chain = FallbackChain([LocalRenderer()], attempt_timeout_s=10, deadline_s=30, breaker_failures=3,
                          breaker_cooldown_s=60)
    runner = JobRunner(store, chain, _FullDisk(tmp_path / "c"), workers=1, lease_s=60, max_runs=3, refunder=refunder)
    async with anyio.create_task_group() as tg:
        await tg.start(runner.run)
        with anyio.fail_after(20):
            crypto = await runner.wait_finished(job.task_id)
            credits = await runner.wait_finished(credits_job)
        tg.cancel_scope.cancel()
    assert crypto.status == "refunded" and crypto.error == "internal error while generating"
    assert crypto.refund == {"tx_hash": "0x" + "77" * 32, "credits": 1} and refunder.refunded == [job.task_id]
    assert credits.status == "refunded" and await store.accounts.credits(WALLET) == 1  # the credit came back
    assert await store.generations.claim_next(owner="later", lease_s=60) is None  # nothing left to run again


async def test_a_finished_job_wakes_its_waiter_at_once_and_runs_its_hooks_with_no_one_waiting(
    store: Store, tmp_path
) -> None:
    """The waiter is woken by the worker, not by re-reading its row (no timed wait of this runner ever ends); a job
    nobody waits for still runs every finished-job hook."""
    waited = await _reserve(store, "waited for")
    runner = _runner(store, tmp_path, sleep=_endless)
    hooks_ran = Settled(runner)
    async with anyio.create_task_group() as tg:
        await tg.start(runner.run)
        with anyio.fail_after(20):
            assert (await runner.wait_finished(waited)).status == "succeeded"
            unwatched = await _reserve(store, "nobody waits")
            runner.wake()
            assert (await hooks_ran.wait(unwatched)).status == "succeeded"
        tg.cancel_scope.cancel()


async def test_a_waiter_that_gave_up_hears_no_more_progress(store: Store, tmp_path) -> None:
    """A cancelled wait (the client went away) takes its progress listener with it."""
    held = await _reserve(store, "held")
    renderer = _HeldRenderer()
    chain = FallbackChain([renderer], attempt_timeout_s=30, deadline_s=60, breaker_failures=3, breaker_cooldown_s=60)
    runner = JobRunner(store, chain, LocalContentStore(tmp_path / "c"), workers=1, lease_s=60, max_runs=3)
    heard: list[str] = []
    stays: list[str] = []

    async def gone(progress) -> None:
        heard.append(progress.message)

    async def staying(progress) -> None:
        stays.append(progress.message)

    finished: list = []
    done = anyio.Event()

    async def stay() -> None:  # another client, listening all along
        finished.append(await runner.wait_finished(held, on_progress=staying))
        done.set()

    async with anyio.create_task_group() as tg:
        await tg.start(runner.run)
        with anyio.fail_after(20):
            await renderer.started.wait()
            tg.start_soon(stay)
            with anyio.CancelScope() as scope:
                scope.cancel()  # the client went away before the next step
                await runner.wait_finished(held, on_progress=gone)
            renderer.release.set()
            await done.wait()
        tg.cancel_scope.cancel()
    assert finished[0].status == "succeeded" and heard == [] and "done" in stays  # the other one still hears


async def test_a_running_job_keeps_renewing_its_lease(store: Store, tmp_path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The worker renews the lease of a job for as long as it runs (not once), so no other process takes it over."""
    held = await _reserve(store, "held")
    renderer = _HeldRenderer()
    chain = FallbackChain([renderer], attempt_timeout_s=30, deadline_s=60, breaker_failures=3, breaker_cooldown_s=60)
    runner = JobRunner(store, chain, LocalContentStore(tmp_path / "c"), workers=1, lease_s=0.3, max_runs=3)
    renewed = anyio.Event()
    renewals: list[bool] = []
    real_renew = store.generations.renew_lease

    async def counting(task_id: str, **kwargs):
        renewals.append(await real_renew(task_id, **kwargs))
        if len(renewals) >= 3:
            renewed.set()
        return renewals[-1]

    monkeypatch.setattr(store.generations, "renew_lease", counting)
    async with anyio.create_task_group() as tg:
        await tg.start(runner.run)
        with anyio.fail_after(20):
            await renderer.started.wait()
            await renewed.wait()
            renderer.release.set()
            done = await runner.wait_finished(held)
        tg.cancel_scope.cancel()
    assert renewals[:3] == [True, True, True] and done.status == "succeeded" and done.run_count == 1


async def test_a_dead_workers_job_is_taken_over_when_its_lease_runs_out_not_at_the_next_poll(
    store: Store, tmp_path
) -> None:
    """Idle workers sleep until the earliest lease runs out (here within a second), not a whole poll (a minute)."""
    task_id = await _reserve(store)
    assert await store.generations.claim_next(owner="dead-process", lease_s=1) is not None  # runs out in 1 s
    waits: list[float] = []

    async def sleep(seconds: float) -> None:
        waits.append(seconds)
        await anyio.sleep(seconds)

    # Renewing a lease of a minute waits 20 s and a poll a minute: only a lease running out is waited for less.
    runner = _runner(store, tmp_path, workers=1, lease_s=60, idle_poll_s=60, sleep=sleep)
    row = await _run_until_finished(runner, task_id, within=30)
    assert row.status == "succeeded" and row.run_count == 2
    assert 0 < min(waits) <= 1.05, waits


async def test_progress_names_each_failed_attempt_and_its_error_class(store: Store, tmp_path) -> None:
    task_id = await _reserve(store)
    chain = FallbackChain([_BrokenProvider(), LocalRenderer()], attempt_timeout_s=10, deadline_s=30,
                          breaker_failures=3, breaker_cooldown_s=60)
    runner = JobRunner(store, chain, LocalContentStore(tmp_path / "c"), workers=1, lease_s=60, max_runs=3)
    messages: list[str] = []

    async def listen(progress) -> None:
        messages.append(progress.message)

    finished: list = []
    done = anyio.Event()

    async def wait() -> None:  # listening before any worker runs
        finished.append(await runner.wait_finished(task_id, on_progress=listen))
        done.set()

    with anyio.fail_after(20):
        async with anyio.create_task_group() as tg:
            tg.start_soon(wait)
            await tg.start(runner.run)
            await done.wait()
            tg.cancel_scope.cancel()
    assert finished[0].status == "succeeded"
    assert "broken/broken/model error: unavailable" in messages, messages


async def test_a_job_finished_by_another_process_wakes_this_ones_waiter(store: Store, tmp_path) -> None:
    """Another replica (here a second runner on the same store) finishes the job: its JOB_FINISHED notification
    wakes the waiter here (this runner's re-reads never come and it has no worker of its own)."""
    task_id = await _reserve(store)
    here = _runner(store, tmp_path, workers=0, sleep=_endless)
    elsewhere = _runner(store, tmp_path, workers=1)
    async with anyio.create_task_group() as tg:
        await tg.start(store.notifications.run)  # LISTEN on PostgreSQL, as the services run it
        await tg.start(here.run)
        waiting = anyio.Event()
        rows: list = []

        async def wait() -> None:
            rows.append(await here.wait_finished(task_id))
            waiting.set()

        tg.start_soon(wait)
        await tg.start(elsewhere.run)
        with anyio.fail_after(20):
            await waiting.wait()
        tg.cancel_scope.cancel()
    assert rows[0].status == "succeeded"

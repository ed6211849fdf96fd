"""What replicas sharing one PostgreSQL database rely on, with two stores standing for two replicas.

Wake-ups cross via LISTEN/NOTIFY, one indexer leads (and another takes over when it goes), one sender
per operator key at a time, rate limits that hold in total, resource updates that reach subscribers
of the other replica, and request state sealed by one replica opened by another.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import anyio
import pytest
from mcp.server.request_state import InvalidRequestState, RequestStateSecurity
from mcp.server.subscriptions import ResourceUpdated
from tests.pg_support import PgServer

from sf_mcp.config import load_settings
from sf_mcp.errors import ConfigError
from sf_mcp.generation import FallbackChain, LocalContentStore
from sf_mcp.generation.providers.local import LocalRenderer
from sf_mcp.jobs import JobRunner
from sf_mcp.server.notify import ReplicaBus
from sf_mcp.store import JOBS_QUEUED, Store

pytestmark = pytest.mark.anyio
WALLET = "0x" + "ab" * 20


@pytest.fixture
def pg_url(pg: PgServer):
    with pg.database() as url:
        yield url


@pytest.fixture
async def replicas(pg_url: str) -> AsyncIterator[tuple[Store, Store]]:
    a, b = await Store.open(pg_url), await Store.open(pg_url)
    async with anyio.create_task_group() as tg:
        await tg.start(a.notifications.run)
        await tg.start(b.notifications.run)
        yield a, b
        tg.cancel_scope.cancel()
    await a.close()
    await b.close()


async def test_a_job_queued_on_one_replica_wakes_the_other(replicas: tuple[Store, Store], tmp_path) -> None:
    a, b = replicas
    heard: list[str] = []
    arrived = anyio.Event()
    await b.notifications.listen(JOBS_QUEUED, lambda task_id: (heard.append(task_id), arrived.set()))
    await a.accounts.add_credits(WALLET, 1, reason="test")
    job = await a.generations.reserve_credits(wallet=WALLET, kind="image", prompt="p", params={"width": 64,
                                                                                             "height": 64})
    with anyio.fail_after(10):
        await arrived.wait()
    assert heard == [job.task_id]

    # A worker pool on b that would otherwise poll once an hour runs a job queued on a, and a waiter on a
    # learns that it finished from b's notification.
    chain = FallbackChain([LocalRenderer()], attempt_timeout_s=10, deadline_s=30, breaker_failures=3,
                          breaker_cooldown_s=60)
    runner_b = JobRunner(b, chain, LocalContentStore(tmp_path / "c"), workers=1, lease_s=30, max_runs=3,
                         idle_poll_s=3600)
    waiter_a = JobRunner(a, chain, LocalContentStore(tmp_path / "c"), workers=0, lease_s=30, max_runs=3,
                         idle_poll_s=3600)
    async with anyio.create_task_group() as tg:
        await tg.start(waiter_a.run)
        await tg.start(runner_b.run)
        await a.accounts.add_credits(WALLET, 1, reason="test")
        second = await a.generations.reserve_credits(wallet=WALLET, kind="image", prompt="p",
                                                     params={"width": 64, "height": 64})
        with anyio.fail_after(20):
            first_done = await waiter_a.wait_finished(job.task_id)
            second_done = await waiter_a.wait_finished(second.task_id)
        tg.cancel_scope.cancel()
    assert first_done.status == second_done.status == "succeeded"


async def test_one_leader_at_a_time_and_a_takeover_when_it_goes(replicas: tuple[Store, Store]) -> None:
    a, b = replicas
    la, lb = a.leadership("indexer:1", lease_s=2.0), b.leadership("indexer:1", lease_s=2.0)
    leading: list[str] = []
    a_leads, b_leads = anyio.Event(), anyio.Event()

    def work(name: str, event: anyio.Event):
        async def run(**_: object) -> None:
            leading.append(name)
            event.set()
            await anyio.sleep_forever()
        return run

    async with anyio.create_task_group() as tg:
        scope_a = anyio.CancelScope()

        async def run_a() -> None:
            with scope_a:
                await la.run(work("a", a_leads))

        tg.start_soon(run_a)
        with anyio.fail_after(10):
            await a_leads.wait()
        tg.start_soon(lb.run, work("b", b_leads))
        with anyio.fail_after(10):
            await lb.attempted.wait()  # b tried the lock at least once while a held it
        assert leading == ["a"] and not lb.is_leader
        scope_a.cancel()  # a goes away (its lock's session ends with it)
        with anyio.fail_after(10):
            await b_leads.wait()
        assert leading == ["a", "b"] and lb.is_leader and lb.terms == 1 and not la.is_leader
        tg.cancel_scope.cancel()


async def test_a_leader_whose_session_is_killed_steps_down_and_the_lock_is_won_again(
    replicas: tuple[Store, Store],
) -> None:
    a, b = replicas
    la, lb = a.leadership("indexer:2", lease_s=2.0), b.leadership("indexer:2", lease_s=2.0)
    stepped_down, regained = anyio.Event(), anyio.Event()
    la.on_change.append(lambda leader: None if leader else stepped_down.set())
    for leadership in (la, lb):
        leadership.on_change.append(lambda leader: regained.set() if leader and stepped_down.is_set() else None)

    async def idle(**_: object) -> None:
        await anyio.sleep_forever()

    async with anyio.create_task_group() as tg:
        tg.start_soon(la.run, idle)
        with anyio.fail_after(10):
            while not la.is_leader:
                await anyio.sleep(0.05)
        tg.start_soon(lb.run, idle)
        with anyio.fail_after(10):
            await lb.attempted.wait()
        async with a.db.transaction() as tx:  # the database drops the leader's session (failover, network cut)
            await tx.execute("SELECT pg_terminate_backend(?)", (la.session_pid,))
        with anyio.fail_after(10):
            await stepped_down.wait()
            await regained.wait()
        assert la.is_leader != lb.is_leader  # exactly one replica leads again
        tg.cancel_scope.cancel()


async def test_exclusive_sections_never_overlap_across_replicas(replicas: tuple[Store, Store]) -> None:
    a, b = replicas
    inside, overlaps, entered = 0, 0, 0

    async def section(store: Store) -> None:
        nonlocal inside, overlaps, entered
        async with store.exclusive("operator:0xabc"):
            inside += 1
            entered += 1
            overlaps += inside > 1
            await anyio.sleep(0.01)
            inside -= 1

    async with anyio.create_task_group() as tg:
        for i in range(10):
            tg.start_soon(section, a if i % 2 else b)
    assert entered == 10 and overlaps == 0


async def test_a_rate_limit_holds_in_total_across_replicas(replicas: tuple[Store, Store]) -> None:
    a, b = replicas
    answers: list[float | None] = []

    async def take(store: Store) -> None:
        answers.append(await store.rate_buckets.take("tool_wallet:0xabc", capacity=5, window_s=900))

    async with anyio.create_task_group() as tg:
        for i in range(12):
            tg.start_soon(take, a if i % 2 else b)
    assert answers.count(None) == 5
    assert all(0 < wait <= 180 for wait in answers if wait is not None), answers
    await b.rate_buckets.give_back("tool_wallet:0xabc", capacity=5)
    assert await a.rate_buckets.take("tool_wallet:0xabc", capacity=5, window_s=900) is None


async def test_a_resource_update_on_one_replica_reaches_subscribers_of_the_other(
    replicas: tuple[Store, Store],
) -> None:
    a, b = replicas
    bus_a, bus_b = ReplicaBus(), ReplicaBus()
    await bus_a.attach(a)
    await bus_b.attach(b)
    got: list[str] = []
    arrived = anyio.Event()
    bus_a.subscribe(lambda event: (got.append(str(event.uri)), arrived.set()))
    await bus_b.publish(ResourceUpdated(uri="generation://t1"))
    with anyio.fail_after(10):
        await arrived.wait()
    assert got == ["generation://t1"]


def test_request_state_sealed_by_one_replica_opens_on_another(tmp_path, monkeypatch) -> None:
    keys = "k" * 40 + "," + "o" * 40
    monkeypatch.setenv("SF_REQUEST_STATE_KEYS", keys)
    sealed = RequestStateSecurity(keys=load_settings(data_dir=tmp_path).http.request_state_key_list).codec.seal(b"x")
    monkeypatch.setenv("SF_REQUEST_STATE_KEYS", "o" * 40 + "," + "k" * 40)  # rotating: the old key still opens
    assert RequestStateSecurity(keys=load_settings(data_dir=tmp_path).http.request_state_key_list).codec.unseal(sealed) \
        == b"x"
    with pytest.raises(InvalidRequestState):
        RequestStateSecurity(keys=["z" * 40]).codec.unseal(sealed)
    monkeypatch.setenv("SF_REQUEST_STATE_KEYS", "short")
    with pytest.raises(ConfigError, match="SF_REQUEST_STATE_KEYS"):
        load_settings(data_dir=tmp_path)

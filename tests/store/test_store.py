"""The store's query classes on both backends (SQLite and the test PostgreSQL): one API, one behaviour."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator

import anyio
import pytest

from sf_mcp.errors import InsufficientFunds
from sf_mcp.store import ChainEvent, Cursor, JobFromPayment, OperatorAction, OperatorTxState, Store
from sf_mcp.store.chain import crypto_payment_key

pytestmark = pytest.mark.anyio
CID = 146
WALLET = "0x" + "ab" * 20
CREATOR = "0x" + "cd" * 20


@pytest.fixture
async def store(db_url: str) -> AsyncIterator[Store]:
    s = await Store.open(db_url)
    yield s
    await s.close()


def _event(tx: int, log_index: int, block: int, event: str, **args) -> ChainEvent:
    return ChainEvent(chain_id=CID, tx_hash="0x%064x" % tx, log_index=log_index, block_number=block,
                      block_hash="0x%064x" % (1000 + block), contract="C", event=event, args=args)


def _paid(tx: int, block: int, request_id: int) -> tuple[ChainEvent, JobFromPayment]:
    ev = _event(tx, 0, block, "GenerationRequested", requestId=request_id, user=CREATOR, generationType="image",
                prompt="a red fox", paymentToken="S", amount=3)
    job = JobFromPayment(payment_key=crypto_payment_key(CID, ev.tx_hash), wallet=CREATOR, kind="image",
                         prompt="a red fox", params={}, payment={"method": "crypto", "chain_id": CID,
                                                             "tx_hash": ev.tx_hash},
                         chain_request_id=request_id)
    return ev, job


async def test_credits_and_the_free_tier_are_debited_and_refunded_once(store: Store) -> None:
    assert await store.accounts.add_credits(WALLET, 2, reason="grant") == 2
    assert await store.accounts.add_credits(WALLET, 1, reason="grant") == 3
    job = await store.generations.reserve_credits(wallet=WALLET, kind="image", prompt="p", params={})
    assert job.payment["ledger_entry"] > 0 and await store.accounts.credits(WALLET) == 2
    failed = await store.generations.mark_failed(job.task_id, owner=None, error="boom", attempts=[])
    assert failed.status == "refunded" and await store.accounts.credits(WALLET) == 3
    assert await store.generations.mark_failed(job.task_id, owner=None, error="boom", attempts=[]) is None
    assert sorted((e["reason"], e["delta"]) for e in await store.accounts.ledger(WALLET)) == \
        [("generation", -1), ("grant", 1), ("grant", 2), ("refund", 1)]
    free = [await store.generations.reserve_free(wallet=WALLET, kind="image", prompt="p", params={}, daily_quota=2)
            for _ in range(2)]
    with pytest.raises(InsufficientFunds, match="free tier allows 2"):
        await store.generations.reserve_free(wallet=WALLET, kind="image", prompt="p", params={}, daily_quota=2)
    await store.generations.mark_failed(free[0].task_id, owner=None, error="x", attempts=[])
    assert await store.accounts.free_used_today(WALLET) == 1


async def test_concurrent_callers_of_one_payment_key_make_one_job(store: Store) -> None:
    results = []

    async def reserve() -> None:
        results.append(await store.generations.reserve_keyed(
            payment_key="crypto:1:0xabc", wallet=WALLET, kind="image", prompt="p", params={},
            payment={"method": "crypto"},
        ))

    async with anyio.create_task_group() as tg:
        for _ in range(20):
            tg.start_soon(reserve)
    assert sum(created for _, created in results) == 1
    assert len({row.task_id for row, _ in results}) == 1


async def test_concurrent_claims_take_each_job_once(store: Store) -> None:
    await store.accounts.add_credits(WALLET, 6, reason="grant")
    queued = {(await store.generations.reserve_credits(wallet=WALLET, kind="image", prompt="p", params={})).task_id
              for _ in range(6)}
    claimed: list[str | None] = []

    async def claim(i: int) -> None:
        row = await store.generations.claim_next(owner=f"w{i}", lease_s=60)
        claimed.append(row.task_id if row else None)

    async with anyio.create_task_group() as tg:
        for i in range(10):
            tg.start_soon(claim, i)
    taken = [t for t in claimed if t is not None]
    assert sorted(taken) == sorted(queued) and claimed.count(None) == 4
    assert await store.generations.renew_lease(taken[0], owner="nobody", lease_s=60) is False
    assert await store.generations.next_lease_expiry() > time.time()


async def test_events_apply_once_and_a_reorg_rewinds_them(store: Store) -> None:
    ev, job = _paid(1, 10, 7)
    staked = _event(2, 0, 11, "Staked", account=CREATOR, tokenId=5)
    first = await store.chain.apply(CID, events=[ev, staked], jobs=[job], block_number=11, block_hash="0xb11")
    again = await store.chain.apply(CID, events=[ev, staked], jobs=[job], block_number=11, block_hash="0xb11")
    assert len(first.events) == 2 and len(first.jobs) == 1 and again.events == [] and again.jobs == []
    assert [j.task_id for j in again.joined] == [first.jobs[0].task_id]
    assert await store.chain.staked_tokens(CID, CREATOR) == [5]
    assert (await store.chain.cursor(CID)).block_number == 11
    await store.chain.advance(CID, 12, "0xb12")
    assert [c.block_number for c in await store.chain.checkpoints(CID)] == [12, 11]
    assert (await store.chain.job_by_request_id(CID, 7)).task_id == first.jobs[0].task_id

    removed = await store.chain.rollback(CID, to=Cursor(chain_id=CID, block_number=10, block_hash="0xb10"))
    assert [e.event for e in removed] == ["Staked"] and await store.chain.staked_tokens(CID, CREATOR) == []
    assert len(await store.chain.events(CID)) == 1 and len(await store.chain.events(CID, event="Staked")) == 0

    await store.chain.reset(CID)
    assert await store.chain.cursor(CID) is None and await store.chain.events(CID) == []
    assert ":stale:" in (await store.generations.get(first.jobs[0].task_id)).payment_key


async def test_a_large_range_stores_in_bulk_exactly_the_rows_it_returns(store: Store) -> None:
    # 3,100 payments: more jobs than one SQLite statement binds (its bulk insert goes in chunks) and
    # more keys than one IN list. One payment was made by a tool call before (it is joined, not made
    # again) and one key appears twice in the range (one job).
    n = 3_100
    wallets = ["0x%040x" % (w + 1) for w in range(7)]
    events, jobs = [], []
    for i in range(n):
        ev, job = _paid(10_000 + i, 10 + i // 150, i)
        jobs.append(job.model_copy(update={"wallet": wallets[i % 7]}))
        events.append(ev)
    jobs.append(jobs[5].model_copy())  # the same payment key again
    early, _ = await store.generations.reserve_keyed(
        payment_key=jobs[0].payment_key, wallet=jobs[0].wallet, kind="image", prompt="a red fox", params={},
        payment=jobs[0].payment, chain_request_id=0,
    )
    applied = await store.chain.apply(CID, events=events, jobs=jobs, block_number=40, block_hash="0xb40",
                                      block_timestamp=1_000)
    assert len(applied.events) == n and len(applied.jobs) == n - 1
    assert [j.task_id for j in applied.joined] == [early.task_id, applied.jobs[4].task_id]
    for made in applied.jobs[::97] + applied.jobs[-3:]:
        assert await store.generations.by_payment_key(made.payment_key) == made  # built, not read back: the same
    assert len(await store.chain.events(CID, limit=10 * n)) == n
    assert sorted(r["wallet"] for r in await store.db.fetchall("SELECT wallet FROM users")) == sorted(wallets)

    again = await store.chain.apply(CID, events=events, jobs=jobs, block_number=40, block_hash="0xb40")
    assert again.events == [] and again.jobs == [] and len(again.joined) == n + 1
    assert len(await store.chain.events(CID, limit=10 * n)) == n
    # The next large range goes the same way (PostgreSQL: its staging tables are made again in a new transaction).
    following = [_paid(20_000 + i, 41 + i // 150, n + i) for i in range(1_200)]
    applied = await store.chain.apply(CID, events=[e for e, _ in following], jobs=[j for _, j in following],
                                      block_number=50, block_hash="0xb50")
    assert len(applied.events) == len(applied.jobs) == 1_200
    assert len(await store.chain.events(CID, limit=10 * n)) == n + 1_200


async def test_payments_mined_again_join_their_jobs_in_one_go(store: Store) -> None:
    # Three paid jobs whose payments a reorg removed, then mined again after other payments (new request ids).
    paid = [_paid(30 + i, 10, 7 + i) for i in range(3)]
    made = await store.chain.apply(CID, events=[e for e, _ in paid], jobs=[j for _, j in paid], block_number=10,
                                   block_hash="0xb10")
    await store.generations.record_submission(made.jobs[2].task_id, {"generation_id": 9})
    await store.chain.rollback(CID, to=Cursor(chain_id=CID, block_number=9, block_hash="0xb9"))
    assert all([(await store.generations.get(j.task_id)).payment_orphaned_at for j in made.jobs])

    again = [(e.model_copy(update={"block_number": 11}), j.model_copy(update={"chain_request_id": 20 + i}))
             for i, (e, j) in enumerate(paid)]
    jobs = [j for _, j in again] + [again[0][1]]  # the first payment twice in the range: joined twice, one job
    applied = await store.chain.apply(CID, events=[e for e, _ in again], jobs=jobs, block_number=11,
                                      block_hash="0xb11")
    assert applied.jobs == [] and [j.task_id for j in applied.joined] == [j.task_id for j in made.jobs] + [
        made.jobs[0].task_id]
    rows = [await store.generations.get(j.task_id) for j in made.jobs]
    assert [r.payment_orphaned_at for r in rows] == [None, None, None]  # the holds are released
    assert [r.chain_request_id for r in rows] == [20, 21, 9]  # followed, but a submitted entry keeps its id
    assert [j.chain_request_id for j in applied.joined] == [20, 21, 9, 20]


async def test_votes_make_the_leaderboard_and_the_gallery(store: Store) -> None:
    ev, job = _paid(1, 10, 7)
    votes = [_event(3, i, 12, "VoteCast", contestId=1, generationId=7, creator=CREATOR, weight=w, voter="0x%040x" % i)
             for i, w in enumerate([1, 4])]
    applied = await store.chain.apply(CID, events=[ev, *votes], jobs=[job], block_number=12, block_hash="0xb12")
    task = applied.jobs[0]
    claimed = await store.generations.claim_next(owner="w", lease_s=60)
    await store.generations.mark_succeeded(task.task_id, owner=claimed.lease_owner, provider="local", model="m",
                                           content_sha256="0" * 64, mime_type="image/png", public_url=None,
                                           attempts=[])
    [board] = await store.read_models.leaderboard(CID, contest_id=1, limit=10)
    assert (board["creator"], int(board["points"]), board["votes"], board["generations"]) == (CREATOR, 5, 2, 1)
    assert await store.read_models.leaderboard(CID, contest_id=2, limit=10) == []
    page = await store.gallery.page(chain_id=CID, sort="trending", search="RED", timeframe="week")
    assert page.total == 1 and (page.entries[0].votes, page.entries[0].points) == (2, 5)
    assert page.entries[0].trending > 0
    assert (await store.gallery.page(chain_id=CID, search="blue")).total == 0
    stats = await store.gallery.creator_stats(CREATOR, chain_id=CID)
    assert (stats.generations, stats.images, stats.videos, stats.votes_received, stats.points_received) == \
        (1, 1, 0, 2, 5)


async def test_operator_transactions_move_only_along_the_state_machine(store: Store) -> None:
    """Each transition of store.operator_tx.TRANSITIONS happens for one owner and only from its source states."""
    txs, refund, submit = store.operator_txs, OperatorAction.REFUND, OperatorAction.SUBMIT

    async def state(task: str = "t1", action: OperatorAction = refund) -> OperatorTxState | None:
        row = await txs.get(task, action)
        return None if row is None else row.status

    assert await txs.claim("t1", refund, CID, "a") is None  # won
    lost = await txs.claim("t1", refund, CID, "b")
    assert lost is not None and lost.owner == "a" and lost.status is OperatorTxState.CLAIMED
    assert lost.candidates == () and lost.signed is None
    assert not await txs.take_over("t1", refund, "b", stale_before=lost.updated_at)  # not stale yet
    assert not await txs.reclaim("t1", refund, "b", tx_hash="0x1")  # nothing sent to reclaim
    assert not await txs.record_replacement("t1", refund, "a", replaces="0x1", nonce=1, tx_hash="0x2",
                                            raw_tx=b"\x02")  # nothing sent to replace
    await txs.mark_mined("t1", refund, "0x1")  # nothing sent: not mined
    assert await state() is OperatorTxState.CLAIMED
    assert not await txs.record_signed("t1", refund, "b", nonce=1, tx_hash="0x1", raw_tx=b"\x01")  # not b's
    assert await txs.record_signed("t1", refund, "a", nonce=1, tx_hash="0x1", raw_tx=b"\x01")
    assert not await txs.record_signed("t1", refund, "a", nonce=2, tx_hash="0x9", raw_tx=b"\x09")  # signed once
    assert not await txs.take_over("t1", refund, "b", stale_before=time.time() + 60)  # sent: no take-over
    assert not await txs.record_replacement("t1", refund, "b", replaces="0x0", nonce=1, tx_hash="0x2",
                                            raw_tx=b"\x02")  # not the newest
    assert await txs.record_replacement("t1", refund, "b", replaces="0x1", nonce=1, tx_hash="0x2", raw_tx=b"\x02")
    row = await txs.get("t1", refund)
    assert row is not None and row.status is OperatorTxState.SENT and row.hashes == ("0x1", "0x2")
    assert (row.owner, row.nonce, row.tx_hash, row.signed) == ("b", 1, "0x2", b"\x02")
    await txs.release("t1", refund, "b")  # two hashes were broadcast: kept
    assert await state() is OperatorTxState.SENT
    assert not await txs.reclaim("t1", refund, "c", tx_hash="0x1")  # only from the newest hash
    assert await txs.reclaim("t1", refund, "c", tx_hash="0x2")
    row = await txs.get("t1", refund)
    assert row is not None and (row.status, row.owner, row.nonce, row.tx_hash, row.raw_tx) == \
        (OperatorTxState.CLAIMED, "c", None, None, None)
    assert row.hashes == ("0x1", "0x2")  # every transaction ever signed stays known
    assert await txs.take_over("t1", refund, "d", stale_before=time.time() + 60)
    assert (await txs.get("t1", refund)).owner == "d"  # type: ignore[union-attr]
    assert await txs.record_signed("t1", refund, "d", nonce=2, tx_hash="0x3", raw_tx=b"\x03")
    await txs.mark_mined("t1", refund, "0x3")
    assert await state() is OperatorTxState.MINED
    await txs.mark_mined("t1", refund, "0x3")  # again: still mined
    assert await state() is OperatorTxState.MINED
    await txs.release("t1", refund, "d")  # mined: never forgotten
    assert not await txs.reclaim("t1", refund, "e", tx_hash="0x3")
    assert await state() is OperatorTxState.MINED and await state("t1", submit) is None  # per (task, action)

    assert await txs.claim("t2", submit, CID, "a") is None
    await txs.release("t2", submit, "b")  # not b's claim
    assert await state("t2", submit) is OperatorTxState.CLAIMED
    await txs.release("t2", submit, "a")
    assert await state("t2", submit) is None
    assert await txs.claim("t2", submit, CID, "a") is None
    assert await txs.record_signed("t2", submit, "a", nonce=5, tx_hash="0x5", raw_tx=b"\x05")
    await txs.release("t2", submit, "a")  # the node refused the only transaction: forgotten
    assert await state("t2", submit) is None


async def test_agent_spending_holds_its_daily_limit_under_concurrency(store: Store) -> None:
    booked: list[int | None] = []

    async def spend() -> None:
        booked.append(await store.chain.reserve_spend(wallet=WALLET, token="S", amount=3, per_day=10))

    async with anyio.create_task_group() as tg:
        for _ in range(6):
            tg.start_soon(spend)
    assert sum(b is not None for b in booked) == 3 and await store.chain.spent_today(wallet=WALLET, token="S") == 9
    first = next(b for b in booked if b is not None)
    await store.chain.settle_spend(first, tx_hash=None)
    assert await store.chain.spent_today(wallet=WALLET, token="S") == 6


async def test_nonces_are_consumed_once_and_sessions_revoked(store: Store) -> None:
    now = time.time()
    await store.sessions.add_nonce(nonce="n1", wallet=WALLET, created_at=now, expires_at=now + 60)
    assert await store.sessions.consume_nonce(nonce="n1", wallet=WALLET)
    assert not await store.sessions.consume_nonce(nonce="n1", wallet=WALLET)
    await store.sessions.create(session_id="s1", wallet=WALLET, created_at=now, expires_at=now + 60)
    await store.sessions.create(session_id="s2", wallet=WALLET, created_at=now, expires_at=now + 60)
    assert await store.sessions.is_active("s1") and await store.sessions.revoke("s1")
    assert not await store.sessions.is_active("s1") and await store.sessions.revoke_wallet(WALLET) == 1


async def test_the_review_queue_lists_unmatched_payments(store: Store) -> None:
    ev, _ = _paid(9, 20, 3)
    await store.chain.apply(CID, events=[ev], jobs=[], block_number=20, block_hash="0xb20")
    [item] = await store.review.items()
    assert item.kind == "unmatched_payment" and item.request_id == 3
    assert (await store.migration_state())[0] is not None  # the store still answers


async def test_credits_are_granted_in_positive_amounts_only(store: Store) -> None:
    for amount in (0, -1):
        with pytest.raises(ValueError, match=f"amount must be positive, got {amount}"):
            await store.accounts.add_credits(WALLET, amount, reason="grant")
    assert await store.accounts.add_credits(WALLET, 1, reason="grant") == 1
    assert await store.accounts.credits(WALLET) == 1


async def test_a_failed_job_is_announced_finished_once_its_payment_is_back(store: Store) -> None:
    """A credits job gets its credit back in the failing transaction, so it is finished at once; a crypto job only
    once its on-chain refund is recorded. Recording that refund again answers the row; anything else is refused."""
    from sf_mcp.errors import NotFound
    from sf_mcp.store import JOB_FINISHED

    heard: list[str] = []
    both = anyio.Event()

    def on_finished(task_id: str) -> None:
        heard.append(task_id)
        if len(heard) == 2:
            both.set()

    gens = store.generations
    await store.accounts.add_credits(WALLET, 1, reason="grant")
    credits = await gens.reserve_credits(wallet=WALLET, kind="image", prompt="p", params={})
    crypto, _ = await gens.reserve_keyed(payment_key="crypto:146:0xfeed", wallet=WALLET, kind="image", prompt="p",
                                         params={}, payment={"method": "crypto", "tx_hash": "0xfeed"},
                                         chain_request_id=5)
    refund = {"tx_hash": "0x" + "77" * 32, "credits": 1}
    async with anyio.create_task_group() as tg:
        await tg.start(store.notifications.run)
        await store.notifications.listen(JOB_FINISHED, on_finished)
        failed = await gens.mark_failed(crypto.task_id, owner=None, error="down", attempts=[])
        assert failed is not None and failed.status == "failed"  # its refund goes on chain
        back = await gens.mark_failed(credits.task_id, owner=None, error="down", attempts=[])
        assert back is not None and back.status == "refunded" and await store.accounts.credits(WALLET) == 1
        assert (await gens.record_refund(crypto.task_id, refund)).status == "refunded"
        with anyio.fail_after(10):
            await both.wait()
        tg.cancel_scope.cancel()
    assert heard == [credits.task_id, crypto.task_id]
    assert (await gens.record_refund(crypto.task_id, dict(refund))).refund == refund  # the same refund again
    with pytest.raises(NotFound, match="is refunded, not a failed job awaiting its refund"):
        await gens.record_refund(crypto.task_id, {"tx_hash": "0x" + "88" * 32, "credits": 1})
    with pytest.raises(NotFound, match="no task nope"):
        await gens.record_refund("nope", refund)

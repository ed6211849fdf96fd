"""Read models from events on both backends: what the answers are made of, and how a reorg undoes them."""

from __future__ import annotations

from collections.abc import AsyncIterator

import anyio
import pytest

from sf_mcp.chain.contracts import NATIVE_TOKEN
from sf_mcp.store import ChainEvent, Cursor, Store
from sf_mcp.store.read_models import CURSOR_MAX_AGE_S, NATIVE_TOKEN_SENTINEL, ReadModels

pytestmark = pytest.mark.anyio
CID = 146
USDC = "0x" + "05" * 20
ALICE, BOB, CAROL = "0x" + "a1" * 20, "0x" + "b2" * 20, "0x" + "c3" * 20


@pytest.fixture
async def store(db_url: str) -> AsyncIterator[Store]:
    s = await Store.open(db_url)
    yield s
    await s.close()


def _ev(tx: int, block: int, event: str, log_index: int = 0, **args) -> ChainEvent:
    return ChainEvent(chain_id=CID, tx_hash="0x%064x" % tx, log_index=log_index, block_number=block,
                      block_hash="0x%064x" % block, contract="C", event=event, args=args)


async def _apply(store: Store, block: int, *events: ChainEvent, ts: int = 1_000) -> None:
    await store.chain.apply(CID, events=list(events), jobs=[], block_number=block, block_hash="0x%064x" % block,
                            block_timestamp=ts + block)


def test_the_native_token_sentinel_is_the_contracts_one() -> None:
    assert NATIVE_TOKEN_SENTINEL == NATIVE_TOKEN


async def test_pools_rollovers_finalization_and_prizes(store: Store) -> None:
    big = 10**30  # beyond 64-bit integers: amounts stay exact
    await _apply(store, 10,
                 _ev(1, 10, "PrizePoolFunded", contestId=1, token=NATIVE_TOKEN, amount=str(big)),
                 _ev(2, 10, "PrizePoolFunded", contestId=1, token=USDC, amount=150_000),
                 _ev(3, 10, "PrizePoolFunded", contestId=2, token=NATIVE_TOKEN, amount=450))
    # contest 1 ends without votes: its pool rolls over to contest 2 (and it counts as finalized)
    await _apply(store, 11, _ev(4, 11, "PrizePoolRolledOver", contestId=1, toContestId=2, sAmount=str(big),
                                usdcAmount=150_000))
    one, two = await store.read_models.contest(CID, 1), await store.read_models.contest(CID, 2)
    assert (one.pool, one.finalized) == ({"S": 0, "USDC": 0}, True)
    assert (two.pool, two.finalized) == ({"S": big + 450, "USDC": 150_000}, False)
    await _apply(store, 12, _ev(5, 12, "ContestFinalized", contestId=2, winners=[ALICE, BOB],
                                sAmounts=[str(big), 450], usdcAmounts=[100_000, 50_000]))
    two = await store.read_models.contest(CID, 2)
    assert two.finalized and two.winners == [ALICE, BOB]
    await _apply(store, 13, _ev(6, 13, "PrizeClaimed", account=ALICE, sAmount=str(big), usdcAmount=0),
                 _ev(7, 13, "PrizePaid", account=BOB, token=USDC, recipient=CAROL, amount=50_000))
    alice, bob = await store.read_models.account(CID, ALICE), await store.read_models.account(CID, BOB)
    assert (alice.pending_prize("S"), alice.pending_prize("USDC")) == (0, 100_000)
    assert (bob.pending_prize("S"), bob.pending_prize("USDC")) == (450, 0)
    assert (await store.read_models.as_of(CID)).model_dump() == {"block_number": 13, "block_hash": "0x%064x" % 13,
                                                                 "block_timestamp": 1_013}


async def test_credits_votes_and_a_reorg(store: Store) -> None:
    await _apply(store, 20, _ev(1, 20, "CreditsAdded", user=ALICE, amount=5, operator=BOB),
                 _ev(2, 20, "VoteCast", voter=BOB, generationId=7, creator=ALICE, weight=3, contestId=1))
    await _apply(store, 21, _ev(3, 21, "CreditsUsed", user=ALICE, amount=1, requestId=8),
                 _ev(4, 21, "VoteCast", voter=CAROL, generationId=7, creator=ALICE, weight=2, contestId=1),
                 _ev(5, 21, "Staked", account=CAROL, tokenId=9))
    figures = await store.read_models.account(CID, ALICE)
    assert (figures.credits_onchain, figures.points_all_time, figures.points_by_contest, figures.votes_received) == \
        (4, 5, {1: 5}, 2)
    [row] = await store.read_models.leaderboard(CID, contest_id=1, limit=10)
    assert (row["creator"], int(row["points"]), int(row["votes"])) == (ALICE, 5, 2)
    assert await store.chain.staked_tokens(CID, CAROL) == [9]

    await store.chain.rollback(CID, to=Cursor(chain_id=CID, block_number=20, block_hash="0x%064x" % 20))
    figures = await store.read_models.account(CID, ALICE)
    assert (figures.credits_onchain, figures.points_all_time, figures.votes_received) == (5, 3, 1)
    assert await store.chain.staked_tokens(CID, CAROL) == []
    assert (await store.read_models.as_of(CID)).block_number == 20

    # re-mined (twice over: a repeated range must not count twice)
    for _ in range(2):
        await _apply(store, 22, _ev(4, 22, "VoteCast", voter=CAROL, generationId=7, creator=ALICE, weight=2,
                                    contestId=1))
    [row] = await store.read_models.leaderboard(CID, contest_id=None, limit=10)
    assert (int(row["points"]), int(row["votes"])) == (5, 2)

    await store.chain.reset(CID)
    assert await store.read_models.leaderboard(CID, contest_id=None, limit=10) == []
    assert (await store.read_models.account(CID, ALICE)).credits_onchain == 0


async def test_leaderboard_answers_are_kept_per_indexed_block(store: Store) -> None:
    await _apply(store, 30, _ev(1, 30, "VoteCast", voter=CAROL, generationId=7, creator=ALICE, weight=2, contestId=1))
    at_30 = await store.read_models.as_of(CID)
    [first] = await store.read_models.leaderboard(CID, contest_id=1, limit=10, as_of=at_30)
    await _apply(store, 31, _ev(2, 31, "VoteCast", voter=BOB, generationId=7, creator=ALICE, weight=3, contestId=1))
    [kept] = await store.read_models.leaderboard(CID, contest_id=1, limit=10, as_of=at_30)
    assert kept == first and int(kept["points"]) == 2  # the answer of block 30, not read again
    [now] = await store.read_models.leaderboard(CID, contest_id=1, limit=10, as_of=await store.read_models.as_of(CID))
    assert int(now["points"]) == 5

    # Rolled back to block 30 (the same block, same hash): its answer holds again.
    await store.chain.rollback(CID, to=Cursor(chain_id=CID, block_number=30, block_hash="0x%064x" % 30))
    [back] = await store.read_models.leaderboard(CID, contest_id=1, limit=10, as_of=await store.read_models.as_of(CID))
    assert int(back["points"]) == 2


async def test_the_cursor_is_read_once_for_callers_at_once_and_again_once_moved_here(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    """50 leaderboard calls at once read the cursor once, not 50 times; a cursor moved here is seen by the next call.

    The clock stands still: only this process's own change may bring a read, never the max age running out on a
    slow machine."""
    await _apply(store, 40)
    models = ReadModels(store.db, clock=lambda: 100.0)
    reads = 0
    held, release = anyio.Event(), anyio.Event()
    original = models._read_cursor

    async def counted(chain_id: int):
        nonlocal reads
        reads += 1
        if reads == 1:
            held.set()
            await release.wait()  # the first read stays in flight while the others ask
        return await original(chain_id)

    monkeypatch.setattr(models, "_read_cursor", counted)
    answers: list[int] = []

    async def ask() -> None:
        as_of = await models.as_of(CID)
        assert as_of is not None
        answers.append(as_of.block_number)

    async with anyio.create_task_group() as tg:
        tg.start_soon(ask)
        await held.wait()
        for _ in range(49):
            tg.start_soon(ask)
        await anyio.wait_all_tasks_blocked()
        release.set()
    assert answers == [40] * 50 and reads == 1

    await store.accounts.add_credits(ALICE, 1, reason="a write that leaves the cursor alone")
    assert (await models.as_of(CID)).block_number == 40 and reads == 1  # nothing to read again
    await _apply(store, 41)  # committed by this process: the next answer reflects it, however recent the last read
    after = await models.as_of(CID)
    assert after is not None and after.block_number == 41 and reads == 2


async def test_a_cursor_moved_by_another_replica_is_seen_within_the_max_age(db_url: str) -> None:
    """Another process's indexer moved the cursor: answers here follow within CURSOR_MAX_AGE_S, never later."""
    now = [100.0]
    indexer, replica = await Store.open(db_url), await Store.open(db_url)
    try:
        models = ReadModels(replica.db, clock=lambda: now[0])
        await _apply(indexer, 50)
        assert (await models.as_of(CID)).block_number == 50
        await _apply(indexer, 51)
        now[0] += CURSOR_MAX_AGE_S / 2
        assert (await models.as_of(CID)).block_number == 50  # the read of a moment ago still stands
        now[0] += CURSOR_MAX_AGE_S / 2 + 0.01  # older than the max age: read again
        assert (await models.as_of(CID)).block_number == 51
    finally:
        await indexer.close()
        await replica.close()


async def test_fifty_first_calls_for_one_answer_compute_it_once(store: Store, monkeypatch: pytest.MonkeyPatch) -> None:
    await _apply(store, 60, _ev(1, 60, "VoteCast", voter=CAROL, generationId=7, creator=ALICE, weight=2, contestId=1))
    models = store.read_models
    as_of = await models.as_of(CID)
    computed = 0
    original = models._leaderboard

    async def counted(chain_id: int, **kwargs):
        nonlocal computed
        computed += 1
        await anyio.wait_all_tasks_blocked()  # every other caller has asked by now
        return await original(chain_id, **kwargs)

    monkeypatch.setattr(models, "_leaderboard", counted)
    answers = []

    async def ask() -> None:
        answers.append(await models.leaderboard(CID, contest_id=1, limit=10, as_of=as_of))

    async with anyio.create_task_group() as tg:
        for _ in range(50):
            tg.start_soon(ask)
    assert computed == 1 and len(answers) == 50 and all(a == answers[0] for a in answers)
    assert int(answers[0][0]["points"]) == 2 and models._computing == {}

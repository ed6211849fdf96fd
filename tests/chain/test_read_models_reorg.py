"""Read models follow the chain through a reorg: a vote and a stake in a replaced block vanish from the
leaderboard and the account, and come back, counted once, when they are mined again."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from tests.chain.conftest import DEV0, DEV1, Session, structured

from sf_mcp.chain import Signer
from sf_mcp.chain.accounts import DEV_KEYS
from sf_mcp.config import Settings
from support import connected, settled

pytestmark = pytest.mark.anyio
WEEK = 7 * 24 * 3600


@pytest.fixture
async def dev1(settings: Settings) -> AsyncIterator[Session]:
    """DEV1 is the caller: it stakes and votes for DEV0's entry."""
    async with connected(settings.updated(wallet=DEV1)) as (client, services):
        yield Session(client=client, services=services)


async def _board_and_account(s: Session) -> tuple[list[tuple[str, int, int]], list[int], int, int]:
    await s.indexer.sync()
    board = structured(await s.call("leaderboard", {"period": "week"}))
    account = structured(await s.call("account", {}))
    assert board["as_of_block"] == account["as_of_block"] == s.indexer.checkpoint.last_block_processed
    entries = [(e["creator"], e["points"], e["votes"]) for e in board["entries"]]
    return entries, account["staked_token_ids"], account["voting_power_next_contest"], board["as_of_block"]


async def test_a_reorged_vote_and_stake_leave_the_answers_and_return_once(dev1: Session) -> None:
    s = dev1
    chain = s.chain
    voter = Signer(DEV_KEYS[1])
    await chain.send(voter, chain.contract("BanditKidz").functions.setApprovalForAll(chain.staking.address, True))
    await chain.send(voter, chain.staking.functions.stakeBatch([4, 5]))
    await chain.advance_time(WEEK + 60)  # contest 2: DEV1's two NFTs are its voting power
    await s.pay_s("an entry to vote for", account=0)
    await s.indexer.sync()
    job = next(r for r in await s.services.store.generations.recent(limit=5) if r.payment_method == "crypto")
    assert (await settled(s.services.runner).wait(job.task_id)).status == "succeeded"
    assert (await s.services.store.generations.get(job.task_id)).submission is not None
    before = await _board_and_account(s)
    assert before[:3] == ([], [4, 5], 2)

    fork = chain.embedded.snapshot()
    vote = voter.sign(await chain.build_tx(DEV1, chain.voting.functions.vote(job.chain_request_id)))
    await chain.w3.eth.send_raw_transaction(vote)
    stake = voter.sign(await chain.build_tx(DEV1, chain.staking.functions.stake(6)))
    await chain.w3.eth.send_raw_transaction(stake)
    voted = await _board_and_account(s)
    assert voted[:3] == ([(DEV0, 2, 1)], [4, 5, 6], 3) and voted[3] > before[3]

    chain.embedded.revert(fork)  # the blocks with the vote and the stake are replaced ...
    chain.embedded.mine(3)
    reorged = await _board_and_account(s)
    assert reorged[:3] == ([], [4, 5], 2) and s.indexer.checkpoint.reorgs == 1

    for raw in (vote, stake):  # ... and the same transactions are mined again, in other blocks
        await chain.w3.eth.send_raw_transaction(raw)
    chain.embedded.mine(1)
    again = await _board_and_account(s)
    assert again[:3] == ([(DEV0, 2, 1)], [4, 5, 6], 3)
    assert await _board_and_account(s) == again  # indexing the same blocks again counts nothing twice

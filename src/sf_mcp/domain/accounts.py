"""The caller's account: what it can spend, what it stakes, what its vote weighs, what it can claim, its stats.

What events record (on-chain credits, stakes, points, prizes) comes from the
indexer's read models as of one indexed block (``as_of_block``); what they cannot
(the voting-power snapshot, claimable and locked staking rewards) is read live
from the contracts at the head block, in one JSON-RPC batch cached per block.
Generations made come from the job table. An RPC outage hides the live chain
figures only, with a note saying so.
"""

from __future__ import annotations

import time

from pydantic import BaseModel, Field

from sf_mcp.chain.units import S_DECIMALS, USDC_DECIMALS, format_units
from sf_mcp.chain.views import Contracts, Pair
from sf_mcp.errors import ChainError
from sf_mcp.store import Store


class TokenAmount(BaseModel):
    base_units: str = Field(description="Integer amount in the token's smallest unit (wei for S, 1e-6 for USDC).")
    amount: str = Field(description="The same in whole tokens, as a decimal string.")


class Rewards(BaseModel):
    s: TokenAmount
    usdc: TokenAmount

    @classmethod
    def of(cls, amount: Pair) -> Rewards:
        return cls(
            s=TokenAmount(base_units=str(amount.s), amount=format_units(amount.s, S_DECIMALS)),
            usdc=TokenAmount(base_units=str(amount.usdc), amount=format_units(amount.usdc, USDC_DECIMALS)),
        )


class UserStats(BaseModel):
    upvotes_received: int = Field(description="Votes cast for your generations (indexed VoteCast events).")
    points_received: int = Field(description="Those votes weighted by each voter's staked NFTs.")
    generations_created: int = Field(description="Your succeeded generations (images and videos).")
    images_created: int
    videos_created: int
    leaderboard_points_all_time: int | None = Field(default=None, description="Contest points over all contests.")
    weekly_points: int | None = Field(default=None, description="Points in the open weekly contest.")
    can_vote: bool = Field(description="True when your voting power in the open contest is above zero.")


class Account(BaseModel):
    """The calling wallet's balances, stake, voting power, rewards and creator stats."""

    wallet: str
    credits_offchain: int = Field(description='Spend with payment {"method": "credits"}.')
    credits_onchain: int | None = Field(
        default=None, description="Credits on the payment contract: prepare_payment method 'credits' spends one."
    )
    free_quota_left_today: int = Field(description="Free generations left this UTC day.")
    free_daily_quota: int
    staked_token_ids: list[int] | None = Field(default=None, description="BanditKidz NFTs you stake now.")
    voting_power_now: int | None = Field(
        default=None, description="What one vote of yours weighs now: NFTs you staked before the open contest began."
    )
    voting_power_next_contest: int | None = Field(
        default=None, description="NFTs staked now; they all count from the next weekly contest."
    )
    current_contest_id: int | None = None
    claimable_rewards: Rewards | None = Field(default=None, description="Staking rewards; claim with stake action 'claim'.")
    locked_rewards: Rewards | None = Field(
        default=None,
        description="Rewards of NFTs still inside the minimum stake period: claimable once it ends, "
        "forfeited if those NFTs are unstaked before.",
    )
    pending_prize: Rewards | None = Field(default=None, description="Contest prizes won and not yet withdrawn.")
    stats: UserStats
    chain_id: int | None = None
    as_of_block: int | None = Field(
        default=None, description="The indexed block that credits, stake, points and prizes reflect (voting power "
        "and rewards are read live at the head).")
    note: str | None = Field(default=None, description="Why chain figures are missing, if they are.")


async def account_of(contracts: Contracts, store: Store, *, wallet: str, free_daily_quota: int) -> Account:
    """Everything ``account`` answers, for ``wallet`` (the tool passes the caller's only)."""
    used = await store.accounts.free_used_today(wallet)
    stats = await store.gallery.creator_stats(wallet, chain_id=contracts.chain_id)
    answer = Account(
        wallet=wallet,
        credits_offchain=await store.accounts.credits(wallet),
        free_quota_left_today=max(0, free_daily_quota - used),
        free_daily_quota=free_daily_quota,
        stats=UserStats(
            upvotes_received=stats.votes_received, points_received=stats.points_received,
            generations_created=stats.generations, images_created=stats.images, videos_created=stats.videos,
            can_vote=False,
        ),
        chain_id=contracts.chain_id,
    )
    try:
        await _chain_figures(contracts, store, wallet, answer)
    except ChainError as exc:  # an RPC outage must not hide the off-chain half of the account
        answer.note = f"on-chain figures unavailable: {exc}"
    return answer


async def _chain_figures(contracts: Contracts, store: Store, wallet: str, answer: Account) -> None:
    asked = time.monotonic()
    chain_id = contracts.chain_id
    as_of = await store.read_models.as_of(chain_id)
    if as_of is None:
        answer.note = "on-chain figures unavailable: the indexer has not read this chain yet"
        return
    figures = await store.read_models.account(chain_id, wallet)
    staked = await store.chain.staked_tokens(chain_id, wallet.lower())
    if as_of.block_timestamp is not None:
        contest = await contracts.contest_at(as_of.block_timestamp)
    else:  # right after a reorg's rewind, until the next indexed block
        contest = await contracts.current_contest_id()
    # A user who just paid or staked expects rewards now, not as of the indexed block: read at the head.
    live = await contracts.live_figures(wallet, block=await contracts.head(since=asked))
    answer.as_of_block = as_of.block_number
    answer.credits_onchain = figures.credits_onchain
    answer.staked_token_ids = staked
    answer.voting_power_now = live.voting_power
    answer.voting_power_next_contest = len(staked)
    answer.current_contest_id = contest
    answer.claimable_rewards = Rewards.of(live.earned)
    answer.locked_rewards = Rewards.of(live.locked)
    answer.pending_prize = Rewards.of(Pair(figures.pending_prize("S"), figures.pending_prize("USDC")))
    answer.stats.leaderboard_points_all_time = figures.points_all_time
    answer.stats.weekly_points = figures.points_by_contest.get(contest, 0)
    answer.stats.can_vote = live.voting_power > 0

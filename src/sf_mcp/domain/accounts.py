"""The caller's account: what it can spend, what it stakes, what its vote weighs, what it can claim, its stats.

Chain figures are read from the contracts (the source of truth); votes received
and generations made come from the store (the indexer's events and the job
table). An RPC outage hides the chain half only, with a note saying so.
"""

from __future__ import annotations

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
        await _chain_figures(contracts, wallet, answer)
    except ChainError as exc:  # an RPC outage must not hide the off-chain half of the account
        answer.note = f"on-chain figures unavailable: {exc}"
    return answer


async def _chain_figures(contracts: Contracts, wallet: str, answer: Account) -> None:
    contest = await contracts.current_contest_id()
    power = await contracts.voting_power(wallet)
    earned = await contracts.earned(wallet)
    prize = await contracts.pending_prize(wallet)
    answer.credits_onchain = await contracts.onchain_credits(wallet)
    answer.staked_token_ids = sorted(await contracts.staked_tokens(wallet))
    answer.voting_power_now = power
    answer.voting_power_next_contest = await contracts.staked_balance(wallet)
    answer.current_contest_id = contest
    answer.claimable_rewards = Rewards.of(earned)
    answer.locked_rewards = Rewards.of(await contracts.locked_rewards(wallet))
    answer.pending_prize = Rewards.of(prize)
    answer.stats.leaderboard_points_all_time = await contracts.all_time_points(wallet)
    answer.stats.weekly_points = await contracts.creator_points(contest, wallet)
    answer.stats.can_vote = power > 0

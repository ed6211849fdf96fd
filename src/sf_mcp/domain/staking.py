"""Staking BanditKidz NFTs: stake, unstake (with the early-unstake forfeit), claim rewards.

Checks come before any transaction is planned: only the caller's own NFTs are
staked or unstaked, and a claim with nothing to claim is refused.

The forfeit: rewards of NFTs still inside the minimum stake period are locked
(``pendingRewards``). Unstaking such an NFT early forfeits its share of them to
the remaining stakers; the share is estimated as an even split over the
caller's NFTs that are still inside the period.
"""

from __future__ import annotations

from typing import Literal

from sf_mcp.chain.units import format_s, format_usdc
from sf_mcp.chain.views import Contracts, Pair
from sf_mcp.domain import actions
from sf_mcp.domain.actions import Caller, ChainAction, outcome, recipient_of
from sf_mcp.errors import ChainError, InvalidRequest

StakeAction = Literal["stake", "unstake", "claim"]

# Gas when the node cannot estimate a stake (the approval is not mined yet): a first stake of one NFT
# uses ~225k, each further NFT ~150k; 200k + 150k per NFT leaves room.
STAKE_GAS_BASE = 200_000
STAKE_GAS_PER_NFT = 150_000


async def stake_action(contracts: Contracts, caller: Caller, *, action: StakeAction, token_ids: list[int],
                       recipient: str | None = None) -> ChainAction:
    """Stake or unstake ``token_ids`` (duplicates ignored), or claim the caller's staking rewards to ``recipient``."""
    if action == "claim":
        return await claim(contracts, caller, recipient)
    ids = list(dict.fromkeys(token_ids))
    if not ids:
        raise InvalidRequest(f"token_ids: give the NFT token ids to {action}")
    if action == "stake":
        return await stake(contracts, caller, ids)
    return await unstake(contracts, caller, ids)


async def claim(contracts: Contracts, caller: Caller, recipient: str | None = None) -> ChainAction:
    """One claim per token (``claimRewardTo``), to the caller's wallet or ``recipient``."""
    to = recipient_of(caller.wallet, recipient)
    earned = await contracts.earned(caller.wallet)
    if earned.zero:
        raise InvalidRequest(f"claim: {caller.wallet} has no staking rewards to claim yet")
    return await actions.claim(caller, contracts.claim_reward_to, "staking rewards", earned, to)


async def stake(contracts: Contracts, caller: Caller, ids: list[int]) -> ChainAction:
    wallet = caller.wallet
    for token_id in ids:
        try:
            owner = await contracts.nft_owner(token_id)
        except ChainError as exc:
            raise InvalidRequest(f"token_ids: {exc}") from None
        if owner != wallet:
            raise InvalidRequest(f"token_ids: BanditKidz #{token_id} belongs to {owner}, not to you ({wallet})")
    steps = []
    approved = await contracts.staking_approved(wallet)
    if not approved:
        steps.append(contracts.approve_staking(summary="allow the staking contract to hold your BanditKidz NFTs"))
    steps.append(contracts.stake(ids, estimate=approved, gas_fallback=STAKE_GAS_BASE + STAKE_GAS_PER_NFT * len(ids),
                                 summary=f"stake BanditKidz {', '.join(f'#{i}' for i in ids)}"))
    return await outcome(caller, steps, f"stake {len(ids)} NFT(s)")


async def unstake(contracts: Contracts, caller: Caller, ids: list[int]) -> ChainAction:
    wallet = caller.wallet
    min_period = await contracts.min_stake_period()
    now = await contracts.now()
    steps = []
    early: list[int] = []
    for token_id in ids:
        info = await contracts.stake_info(token_id)
        if info.staker != wallet or not await contracts.is_staked(token_id):
            raise InvalidRequest(f"token_ids: BanditKidz #{token_id} is not staked by you ({wallet})")
        summary = f"unstake BanditKidz #{token_id}"
        if info.staked_at + min_period > now:
            early.append(token_id)
            summary += f" (early: {info.staked_at + min_period - now} s before the minimum stake period ends)"
        steps.append(contracts.unstake(token_id, summary=summary))
    summary = f"unstake {len(ids)} NFT(s)"
    notes: list[str] = []
    if early:
        lost = await early_forfeit(contracts, wallet, early=len(early), min_period=min_period, now=now)
        tokens = ", ".join(f"#{i}" for i in early)
        summary += f"; early: forfeits ~{format_s(lost.s)} S / {format_usdc(lost.usdc)} USDC"
        notes.append(
            f"early: BanditKidz {tokens} {'is' if len(early) == 1 else 'are'} inside the minimum stake period "
            f"({min_period} s); unstaking now forfeits ~{format_s(lost.s)} S / {format_usdc(lost.usdc)} USDC of "
            "locked rewards (an even share of what your young NFTs earned; they go to the remaining stakers). Wait "
            "until the period ends to keep them."
        )
    return await outcome(caller, steps, summary, notes)


async def early_forfeit(contracts: Contracts, wallet: str, *, early: int, min_period: int, now: int) -> Pair:
    """What unstaking ``early`` young NFTs forfeits: their even share of the wallet's locked rewards."""
    locked = await contracts.locked_rewards(wallet)
    young = 0
    for token_id in await contracts.staked_tokens(wallet):
        young += (await contracts.stake_info(token_id)).staked_at + min_period > now
    return forfeit_share(locked, early=early, young=young)


def forfeit_share(locked: Pair, *, early: int, young: int) -> Pair:
    """``early`` of ``young`` NFTs' even share of ``locked``, rounded down (``young`` 0 counts as 1)."""
    young = max(1, young)
    return Pair(locked.s * early // young, locked.usdc * early // young)

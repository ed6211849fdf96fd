"""The open contest as one wallet sees it: the chain's clock, what its vote weighs, what it may finalize or claim.

The contest view shows time left, so it needs the contracts' clock (a development chain's
clock moves with ``dev_advance_time``; the viewer's own clock says nothing about it). It
offers "finalize" and "claim" only when they would pass the checks of
``contests.finalize`` / ``contests.claim_prize``, so a button never leads to a refusal the
view could have known about.
"""

from __future__ import annotations

from pydantic import BaseModel, Field

from sf_mcp.chain.views import Contracts
from sf_mcp.domain.accounts import Rewards


class ContestStatus(BaseModel):
    wallet: str
    chain_id: int
    now: int = Field(description="The latest block's time, unix seconds (the contracts' clock).")
    contest_id: int = Field(description="The open weekly contest.")
    contest_end: int = Field(description="When it ends, unix seconds (exclusive).")
    ends_in_s: int = Field(description="Seconds until it ends, by the chain's clock.")
    voting_power: int = Field(description="Points each of your votes adds in the open contest (NFTs staked at its "
                                          "start); one vote per entry, none for your own.")
    voting_power_next_contest: int = Field(description="NFTs you stake now: your voting power from the next contest.")
    finalizable_contest_id: int | None = Field(
        default=None, description="The first ended contest nobody has finalized yet (anyone may finalize it).")
    pending_prize: Rewards = Field(description="Contest prizes won and not yet claimed.")
    can_claim: bool


async def contest_status(contracts: Contracts, *, wallet: str) -> ContestStatus:
    """The open contest's clock and ``wallet``'s standing in it (the tool passes the caller's wallet only)."""
    now = await contracts.now()
    current = await contracts.current_contest_id()
    _, end = await contracts.contest_window(current)
    first_open = await contracts.next_contest_to_finalize()
    finalizable = None
    if first_open < current:
        _, first_end = await contracts.contest_window(first_open)
        if first_end <= now and not await contracts.is_finalized(first_open):
            finalizable = first_open
    prize = await contracts.pending_prize(wallet)
    return ContestStatus(
        wallet=wallet, chain_id=contracts.chain_id, now=now, contest_id=current, contest_end=end,
        ends_in_s=max(0, end - now), voting_power=await contracts.voting_power(wallet),
        voting_power_next_contest=len(await contracts.staked_tokens(wallet)),
        finalizable_contest_id=finalizable, pending_prize=Rewards.of(prize), can_claim=not prize.zero,
    )

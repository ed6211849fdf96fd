"""Weekly contests: finalizing one that ended (its pool goes to the top creators) and claiming prizes."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field, computed_field

from sf_mcp.chain.units import format_s, format_usdc
from sf_mcp.chain.views import Contracts, Pair
from sf_mcp.domain.actions import Caller, ChainAction, claim, outcome, recipient_of
from sf_mcp.domain.generations import iso_utc
from sf_mcp.errors import InvalidRequest

ContestAction = Literal["finalize", "claim"]
FINALIZE_MAX = 10  # contests finalized by one plan (they are finalized in order)


async def contest_action(contracts: Contracts, caller: Caller, *, action: ContestAction,
                         contest_id: int | None, recipient: str | None = None) -> ChainAction:
    """Claim the caller's prizes (to ``recipient``), or finalize ``contest_id`` (default: the last that ended)."""
    if action == "claim":
        return await claim_prize(contracts, caller, recipient)
    return await finalize(contracts, caller, contest_id)


async def claim_prize(contracts: Contracts, caller: Caller, recipient: str | None = None) -> ChainAction:
    """One claim per token (``claimPrizeTo``), to the caller's wallet or ``recipient``."""
    to = recipient_of(caller.wallet, recipient)
    prize = await contracts.pending_prize(caller.wallet)
    if prize.zero:
        raise InvalidRequest(f"claim: {caller.wallet} has no contest prizes to claim (finalize an ended contest first?)")
    return await claim(caller, contracts.claim_prize_to, "contest prizes", prize, to)


async def finalize(contracts: Contracts, caller: Caller, contest_id: int | None) -> ChainAction:
    """Anyone may finalize an ended contest once; contests are finalized in order, so the plan also
    finalizes earlier ended ones still open. The checks say why not before a transaction is planned."""
    current = await contracts.current_contest_id()
    cid = contest_id or current - 1
    if cid < 1:
        raise InvalidRequest(f"contest_id: no contest has ended yet (contest {current} is open)")
    _, end = await contracts.contest_window(cid)
    now = await contracts.now()
    if now < end:
        raise InvalidRequest(f"contest_id: contest {cid} ends in {end - now} s (at {iso_utc(end)}, unix time {end}); "
                             "finalize it after that")
    if await contracts.is_finalized(cid):
        raise InvalidRequest(f"contest_id: contest {cid} is already finalized; winners claim with action \"claim\"")
    first = await contracts.next_contest_to_finalize()
    if cid - first >= FINALIZE_MAX:
        raise InvalidRequest(f"contest_id: contests are finalized in order and {first}..{cid - 1} are still open; "
                             f"finalize up to contest {first + FINALIZE_MAX - 1} first")
    steps = []
    rolled = Pair(0, 0)  # a contest without votes passes its pool on to the next one
    for k in range(first, cid + 1):
        own = await contracts.prize_pool(k)
        pool = Pair(own.s + rolled.s, own.usdc + rolled.usdc)
        creators = await contracts.top_creators(k)
        who = ", ".join(creators) or f"nobody (the pool rolls over to contest {k + 1})"
        rolled = Pair(0, 0) if creators else pool
        # Only the first can be estimated before the earlier finalizations are mined.
        steps.append(contracts.finalize_contest(
            k, estimate=k == first,
            summary=f"finalize contest {k}: {format_s(pool.s)} S and {format_usdc(pool.usdc)} USDC to {who}"))
    return await outcome(caller, steps, steps[-1].summary)


class ChainTime(BaseModel):
    chain_id: int
    timestamp: int = Field(description="The new latest block's time, unix seconds.")
    contest_id: int = Field(description="The contest open at that time.")
    contest_end: int = Field(description="When that contest ends, unix seconds.")

    @computed_field(description="timestamp as an ISO 8601 UTC time.")  # type: ignore[prop-decorator]
    @property
    def timestamp_iso(self) -> str | None:
        return iso_utc(self.timestamp)

    @computed_field(description="contest_end as an ISO 8601 UTC time.")  # type: ignore[prop-decorator]
    @property
    def contest_end_iso(self) -> str | None:
        return iso_utc(self.contest_end)


async def advance_time(contracts: Contracts, seconds: int) -> ChainTime:
    """Development chains only: move the chain's clock forward and mine a block."""
    timestamp = await contracts.advance_time(seconds)
    contest_id = await contracts.current_contest_id()
    _, end = await contracts.contest_window(contest_id)
    return ChainTime(chain_id=contracts.chain_id, timestamp=timestamp, contest_id=contest_id, contest_end=end)

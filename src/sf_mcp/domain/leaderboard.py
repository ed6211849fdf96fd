"""The contest leaderboard: creators ranked by the votes their generations received.

Answered from the indexer's read models as of one indexed block (``as_of_block``):
votes, prize pool and finalization come from events, the contest window from the
voting contract's immutable schedule (read once). No chain read per call.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, Field, computed_field

from sf_mcp.chain.units import format_s, format_usdc
from sf_mcp.chain.views import Contracts
from sf_mcp.domain.generations import iso_utc
from sf_mcp.store import Store

LEADERBOARD_MAX = 100
Period = Literal["week", "all"]


class LeaderboardEntry(BaseModel):
    rank: int
    creator: str
    points: int = Field(description="Votes received, each weighted by the voter's staked NFTs.")
    votes: int = Field(description="Number of votes cast for this creator's generations.")
    generations: int = Field(description="Generations of this creator that received votes.")


class Leaderboard(BaseModel):
    period: Literal["week", "all"]
    contest_id: int | None = Field(default=None, description="The weekly contest shown (period week).")
    contest_start: int | None = Field(default=None, description="Unix seconds, inclusive.")
    contest_end: int | None = Field(default=None, description="Unix seconds, exclusive.")
    finalized: bool | None = None
    prize_pool_s: str | None = Field(default=None, description="The contest's prize pool in S (decimal string).")
    prize_pool_usdc: str | None = None
    entries: list[LeaderboardEntry]
    indexed_to_block: int | None = Field(default=None, description="Votes up to this block are counted.")
    as_of_block: int | None = Field(
        default=None, description="The indexed block this answer reflects (votes, pool and finalization).")
    chain_id: int

    @computed_field(description="contest_start as an ISO 8601 UTC time.")  # type: ignore[prop-decorator]
    @property
    def contest_start_iso(self) -> str | None:
        return iso_utc(self.contest_start)

    @computed_field(description="contest_end as an ISO 8601 UTC time.")  # type: ignore[prop-decorator]
    @property
    def contest_end_iso(self) -> str | None:
        return iso_utc(self.contest_end)


async def leaderboard(contracts: Contracts, store: Store, *, period: Period, contest_id: int | None,
                      limit: int) -> Leaderboard:
    """All-time ranks, or one weekly contest (default: the one open at the indexed block) with its window and pool."""
    chain_id = contracts.chain_id
    models = store.read_models
    as_of = await models.as_of(chain_id)
    block = as_of.block_number if as_of else None
    if period == "all":
        rows = await models.leaderboard(chain_id, contest_id=None, limit=limit, as_of=as_of)
        return Leaderboard(period="all", entries=_entries(rows), indexed_to_block=block, as_of_block=block,
                           chain_id=chain_id)
    if contest_id is not None:
        cid = contest_id
    elif as_of is not None and as_of.block_timestamp is not None:
        cid = await contracts.contest_at(as_of.block_timestamp)
    else:  # nothing indexed yet, or right after a reorg's rewind: the chain says which contest is open
        cid = await contracts.current_contest_id()
    start, end = await contracts.contest_window(cid)
    contest = await models.contest(chain_id, cid, as_of=as_of)  # both memoized for the block as_of
    rows = await models.leaderboard(chain_id, contest_id=cid, limit=limit, as_of=as_of)
    return Leaderboard(
        period="week", contest_id=cid, contest_start=start, contest_end=end, finalized=contest.finalized,
        prize_pool_s=format_s(contest.pool.get("S", 0)), prize_pool_usdc=format_usdc(contest.pool.get("USDC", 0)),
        entries=_entries(rows), indexed_to_block=block, as_of_block=block, chain_id=chain_id,
    )


def _entries(rows: list[dict[str, Any]]) -> list[LeaderboardEntry]:
    return [
        LeaderboardEntry(rank=i + 1, creator=r["creator"], points=int(r["points"]), votes=int(r["votes"]),
                         generations=int(r["generations"]))
        for i, r in enumerate(rows)
    ]

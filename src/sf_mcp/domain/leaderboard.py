"""The contest leaderboard: creators ranked by the votes their generations received (the indexer's events)."""

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
    """All-time ranks, or one weekly contest (default the open one) with its window and prize pool."""
    chain_id = contracts.chain_id
    cursor = await store.chain.cursor(chain_id)
    indexed = cursor.block_number if cursor else None
    if period == "all":
        rows = await store.chain.leaderboard(chain_id, contest_id=None, limit=limit)
        return Leaderboard(period="all", entries=_entries(rows), indexed_to_block=indexed, chain_id=chain_id)
    cid = contest_id or await contracts.current_contest_id()
    start, end = await contracts.contest_window(cid)
    pool = await contracts.prize_pool(cid)
    finalized = await contracts.is_finalized(cid)
    rows = await store.chain.leaderboard(chain_id, contest_id=cid, limit=limit)
    return Leaderboard(
        period="week", contest_id=cid, contest_start=start, contest_end=end, finalized=finalized,
        prize_pool_s=format_s(pool.s), prize_pool_usdc=format_usdc(pool.usdc), entries=_entries(rows),
        indexed_to_block=indexed, chain_id=chain_id,
    )


def _entries(rows: list[dict[str, Any]]) -> list[LeaderboardEntry]:
    return [
        LeaderboardEntry(rank=i + 1, creator=r["creator"], points=int(r["points"]), votes=int(r["votes"]),
                         generations=int(r["generations"]))
        for i, r in enumerate(rows)
    ]

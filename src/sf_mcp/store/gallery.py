"""Community reads: the public gallery of finished generations with their votes, and a wallet's creator stats.

Votes come from the indexer's ``rm_votes`` read model (one row per ``VoteCast``).
A vote names a contest generation id, which is the payment's ``requestId``; it
is matched to a job through that payment's ``GenerationRequested`` event on the
same chain, not through ``ai_generations.chain_request_id`` alone, because the
embedded chain starts afresh on every start and reuses request ids while the
jobs of earlier runs stay in the database (``ChainStore.reset`` forgets the old
events, so old jobs simply show no votes).

Every page is computed against a fixed ``now`` (the caller keeps it in its
cursor): "today", "week" and "month" windows and the trending score do not
move between pages, and generations finished after the first page was read do
not push later pages down.
"""

from __future__ import annotations

import time
from typing import Any, Literal

from pydantic import BaseModel

from sf_mcp.store.db import Database
from sf_mcp.store.generations import GenerationRow

Timeframe = Literal["all", "today", "week", "month"]
KindFilter = Literal["all", "image", "video"]
Sort = Literal["newest", "trending", "top"]

DAY_S = 86_400
WINDOW_S = {"week": 7 * DAY_S, "month": 30 * DAY_S}
TRENDING_OFFSET_H = 2.0  # keeps a brand-new generation's score finite and damps the first hours
TRENDING_GRAVITY = 1.5  # how fast a vote loses weight with age

# Votes per payment key on one chain: rm_votes.generation_id -> GenerationRequested.requestId -> the job's key.
def _votes_cte(db: Database) -> str:
    return f"""
WITH requests AS (
    SELECT payment_key, CAST({db.json_text('args', 'requestId')} AS BIGINT) AS gid
    FROM blockchain_transactions WHERE chain_id = ? AND event = 'GenerationRequested'
), tallies AS (
    SELECT generation_id AS gid, COUNT(*) AS votes, SUM(weight) AS points
    FROM rm_votes WHERE chain_id = ? GROUP BY generation_id
), voted AS (
    SELECT requests.payment_key, tallies.votes, tallies.points
    FROM requests JOIN tallies ON tallies.gid = requests.gid
)
"""


_ORDER = {
    "newest": "g.created_at DESC, g.task_id DESC",
    "top": "votes DESC, points DESC, g.created_at DESC, g.task_id DESC",
    "trending": "trending DESC, votes DESC, g.created_at DESC, g.task_id DESC",
}


class GalleryEntry(BaseModel):
    """A succeeded generation with its votes (count of voters) and points (votes weighted by staked NFTs)."""

    row: GenerationRow
    votes: int
    points: int
    trending: float


class GalleryPage(BaseModel):
    entries: list[GalleryEntry]
    total: int  # every match of the filters, across pages


class CreatorStats(BaseModel):
    generations: int  # succeeded generations of the wallet (any payment)
    images: int
    videos: int
    votes_received: int  # VoteCast events naming the wallet as creator (this chain)
    points_received: int  # the same, weighted


def trending_score(votes: int, age_s: float) -> float:
    """votes / (age_hours + 2) ** 1.5: the SQL below computes the same, this is its reference for tests and docs."""
    return float(votes / (max(age_s, 0.0) / 3600.0 + TRENDING_OFFSET_H) ** TRENDING_GRAVITY)


class Gallery:
    def __init__(self, db: Database) -> None:
        self._db = db

    async def page(
        self,
        *,
        chain_id: int | None,
        timeframe: Timeframe = "all",
        kind: KindFilter = "all",
        sort: Sort = "newest",
        staked_only: bool = False,
        search: str | None = None,
        limit: int = 20,
        offset: int = 0,
        now: float | None = None,
    ) -> GalleryPage:
        """One page of succeeded generations created at or before ``now``, filtered and sorted.

        ``chain_id`` None (no chain) means no votes and, with ``staked_only``, no creators.
        ``timeframe`` "today" is the current UTC day; "week" and "month" are the last 7 and 30 days.
        """
        now = time.time() if now is None else now
        chain = chain_id if chain_id is not None else -1
        # Placeholders bind positionally: keep each list in the SQL's order.
        where: list[str] = ["g.status = 'succeeded'", "g.created_at <= ?"]
        args: list[Any] = [now]
        if timeframe == "today":
            where.append("g.created_at >= ?")
            args.append(now - (now % DAY_S))
        elif timeframe in WINDOW_S:
            where.append("g.created_at >= ?")
            args.append(now - WINDOW_S[timeframe])
        if kind != "all":
            where.append("g.kind = ?")
            args.append(kind)
        if search:
            where.append(self._db.contains_ci("g.prompt"))
            args.append(search)
        if staked_only:
            where.append("g.wallet IN (SELECT wallet FROM nft_stakes WHERE chain_id = ? AND unstaked_at IS NULL)")
            args.append(chain)
        body = " FROM ai_generations g LEFT JOIN voted v ON v.payment_key = g.payment_key WHERE " + " AND ".join(where)
        votes_cte = _votes_cte(self._db)
        age = self._db.greatest("CAST(? AS FLOAT) - g.created_at", "0")
        counted = await self._db.fetchone(votes_cte + "SELECT COUNT(*) AS n" + body, [chain, chain, *args])
        rows = await self._db.fetchall(
            votes_cte
            + "SELECT g.*, COALESCE(v.votes, 0) AS votes, COALESCE(v.points, 0) AS points, "
            f"COALESCE(v.votes, 0) / pow({age} / 3600.0 + CAST(? AS FLOAT), CAST(? AS FLOAT)) AS trending"
            + body + f" ORDER BY {_ORDER[sort]} LIMIT ? OFFSET ?",
            [chain, chain, now, TRENDING_OFFSET_H, TRENDING_GRAVITY, *args, limit, offset],
        )
        entries = []
        for r in rows:
            votes, points, trending = int(r.pop("votes")), int(r.pop("points")), float(r.pop("trending"))
            entries.append(GalleryEntry(row=GenerationRow.from_row(r), votes=votes, points=points, trending=trending))
        return GalleryPage(entries=entries, total=int(counted["n"]) if counted else 0)

    async def creator_stats(self, wallet: str, *, chain_id: int | None) -> CreatorStats:
        """What the seed's profile shows: generations created and the votes they received."""
        made = await self._db.fetchone(
            "SELECT COUNT(*) AS n, SUM(CASE WHEN kind = 'image' THEN 1 ELSE 0 END) AS images, "
            "SUM(CASE WHEN kind = 'video' THEN 1 ELSE 0 END) AS videos "
            "FROM ai_generations WHERE wallet = ? AND status = 'succeeded'",
            (wallet,),
        )
        received = await self._db.fetchone(
            "SELECT COUNT(*) AS n, COALESCE(SUM(weight), 0) AS points FROM rm_votes WHERE chain_id = ? AND creator = ?",
            (chain_id if chain_id is not None else -1, wallet.lower()),
        )
        return CreatorStats(
            generations=int(made["n"] or 0) if made else 0,
            images=int(made["images"] or 0) if made else 0,
            videos=int(made["videos"] or 0) if made else 0,
            votes_received=int(received["n"]) if received else 0,
            points_received=int(received["points"]) if received else 0,
        )

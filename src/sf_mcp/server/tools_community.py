"""The caller's account and the community gallery: the two reads users reach for beside the six core tools.

``account`` answers for the calling wallet only (``caller_wallet``): what it can
spend (off-chain credits, on-chain credits, free quota), what it stakes, what its
vote weighs, what it can claim, and its creator stats. Chain figures are read
from the contracts (the source of truth); votes received and generations made
come from the store (the indexer's events and the job table).

``gallery`` lists everyone's succeeded generations with public fields only.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import math
import time
from typing import Annotated, Any

from mcp.server.mcpserver import Context, MCPServer
from pydantic import BaseModel, Field

from sf_mcp.chain.units import format_units
from sf_mcp.errors import ChainError, InvalidRequest
from sf_mcp.server.identity import caller_wallet
from sf_mcp.server.models import PublicGeneration
from sf_mcp.server.results import services_of, tool_errors
from sf_mcp.server.services import Services
from sf_mcp.store.gallery import KindFilter, Sort, Timeframe

GALLERY_MAX = 50
SEARCH_MAX = 200


# -- models ---------------------------------------------------------------------------------
class TokenAmount(BaseModel):
    base_units: str = Field(description="Integer amount in the token's smallest unit (wei for S, 1e-6 for USDC).")
    amount: str = Field(description="The same in whole tokens, as a decimal string.")


class Rewards(BaseModel):
    s: TokenAmount
    usdc: TokenAmount


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


class GalleryItem(PublicGeneration):
    votes: int = Field(description="Wallets that voted for it.")
    points: int = Field(description="Votes weighted by the voters' staked NFTs.")
    trending_score: float = Field(description="votes / (age_hours + 2) ** 1.5 at the time of the first page.")


class Gallery(BaseModel):
    items: list[GalleryItem]
    total: int = Field(description="Generations matching the filters, over all pages.")
    page: int
    limit: int
    next_cursor: str | None = Field(default=None, description="Pass as `cursor` for the next page; null on the last.")
    as_of: float = Field(description="Unix seconds the pages are computed at (kept by the cursor).")


# -- tools ----------------------------------------------------------------------------------
def register(server: MCPServer) -> None:
    @server.tool(structured_output=True)
    @tool_errors
    async def account(ctx: Context) -> Account:
        """Your account: credits (off- and on-chain), free quota left today, staked NFTs, voting power,
        claimable staking rewards and contest prizes, and creator stats (upvotes, generations, points).

        Use before paying (to pick free / credits / crypto) or voting, and when the user asks how they
        are doing in the contest. Takes no arguments: it always answers for the calling wallet.
        """
        services = services_of(ctx)
        return await account_of(services, caller_wallet(services.settings, over_http=services.over_http))

    @server.tool(structured_output=True)
    @tool_errors
    async def gallery(
        ctx: Context,
        timeframe: Annotated[Timeframe, Field(description="today (UTC day), week (7 days), month (30 days) or all.")] = "all",
        type: Annotated[KindFilter, Field(description="image, video or all.")] = "all",  # noqa: A002 - the seed's name
        sort: Annotated[Sort, Field(description="newest; top = most votes; trending = votes / (age_hours + 2) ** 1.5.")] = "newest",
        staked_only: Annotated[bool, Field(description="Only creators who stake BanditKidz NFTs now.")] = False,
        search: Annotated[
            str | None, Field(min_length=1, max_length=SEARCH_MAX, description="Case-insensitive text the prompt contains.")
        ] = None,
        limit: Annotated[int, Field(ge=1, le=GALLERY_MAX, description="Items per page, 1..50.")] = 20,
        cursor: Annotated[str | None, Field(max_length=500, description="next_cursor of the previous page.")] = None,
        page: Annotated[int | None, Field(ge=1, le=10_000, description="Page number (1 = first); instead of cursor.")] = None,
    ) -> Gallery:
        """Browse the community's finished images and videos with their votes: filter by time, type,
        staked creators or prompt text; sort by newest, top (most votes) or trending.

        Use to find entries to vote for (pass an item's task_id to vote) or to show what others made.
        Trending ranks recent votes higher: votes / (age_hours + 2) ** 1.5. Page with next_cursor.
        """
        services = services_of(ctx)
        filters = {"timeframe": timeframe, "type": type, "sort": sort, "staked_only": staked_only,
                   "search": search, "limit": limit}
        if cursor is not None and page is not None:
            raise InvalidRequest("cursor, page: give one of them, not both")
        if cursor is not None:
            offset, now = _read_cursor(cursor, filters)
        else:
            offset, now = ((page or 1) - 1) * limit, time.time()
        chain = services.chain
        result = await services.store.gallery.page(
            chain_id=chain.chain_id if chain is not None else None, timeframe=timeframe, kind=type, sort=sort,
            staked_only=staked_only, search=search, limit=limit, offset=offset, now=now,
        )
        items = [
            GalleryItem(**PublicGeneration.from_row(e.row).model_dump(), votes=e.votes, points=e.points,
                        trending_score=round(e.trending, 6))
            for e in result.entries
        ]
        after = offset + len(items)
        next_cursor = _make_cursor(after, now, filters) if after < result.total else None
        return Gallery(items=items, total=result.total, page=offset // limit + 1, limit=limit,
                       next_cursor=next_cursor, as_of=now)


# -- account ----------------------------------------------------------------------------------
async def account_of(services: Services, wallet: str) -> Account:
    """Everything ``account`` answers, for ``wallet`` (the tool passes the caller's only)."""
    settings, store = services.settings, services.store
    chain = services.chain
    used = await store.accounts.free_used_today(wallet)
    stats = await store.gallery.creator_stats(wallet, chain_id=chain.chain_id if chain is not None else None)
    answer = Account(
        wallet=wallet,
        credits_offchain=await store.accounts.credits(wallet),
        free_quota_left_today=max(0, settings.free_daily_quota - used),
        free_daily_quota=settings.free_daily_quota,
        stats=UserStats(
            upvotes_received=stats.votes_received, points_received=stats.points_received,
            generations_created=stats.generations, images_created=stats.images, videos_created=stats.videos,
            can_vote=False,
        ),
    )
    if chain is None:
        answer.note = "this server has no chain connection: on-chain credits, stake, votes and rewards are unknown"
        return answer
    answer.chain_id = chain.chain_id
    try:
        await _chain_figures(chain, wallet, answer)
    except ChainError as exc:  # an RPC outage must not hide the off-chain half of the account
        answer.note = f"on-chain figures unavailable: {exc}"
    return answer


async def _chain_figures(chain: Any, wallet: str, answer: Account) -> None:
    me = chain.w3.to_checksum_address(wallet)
    voting, staking = chain.voting.functions, chain.staking.functions
    contest = int(await chain.call(voting.currentContestId()))
    power = int(await chain.call(voting.getUserVotingPower(me)))
    earned_s, earned_usdc = await chain.call(staking.earned(me))
    prize_s, prize_usdc = await chain.call(voting.pendingPrize(me))
    answer.credits_onchain = int(await chain.call(chain.payment.functions.credits(me)))
    answer.staked_token_ids = sorted(int(t) for t in await chain.call(staking.stakedTokensOf(me)))
    answer.voting_power_now = power
    answer.voting_power_next_contest = int(await chain.call(staking.stakedBalanceOf(me)))
    answer.current_contest_id = contest
    answer.claimable_rewards = Rewards(s=_amount(earned_s, 18), usdc=_amount(earned_usdc, 6))
    locked_s, locked_usdc = await chain.call(staking.pendingRewards(me))
    answer.locked_rewards = Rewards(s=_amount(locked_s, 18), usdc=_amount(locked_usdc, 6))
    answer.pending_prize = Rewards(s=_amount(prize_s, 18), usdc=_amount(prize_usdc, 6))
    answer.stats.leaderboard_points_all_time = int(await chain.call(voting.allTimePoints(me)))
    answer.stats.weekly_points = int(await chain.call(voting.creatorPoints(contest, me)))
    answer.stats.can_vote = power > 0


def _amount(units: int, decimals: int) -> TokenAmount:
    return TokenAmount(base_units=str(int(units)), amount=format_units(units, decimals))


# -- gallery cursors ----------------------------------------------------------------------------
def _fingerprint(filters: dict[str, Any]) -> str:
    return hashlib.sha256(json.dumps(filters, sort_keys=True).encode()).hexdigest()[:12]


def _make_cursor(offset: int, now: float, filters: dict[str, Any]) -> str:
    """Opaque to clients: the next offset, the fixed `now` of the first page and the filters it belongs to."""
    raw = json.dumps({"o": offset, "n": now, "f": _fingerprint(filters)}, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


MAX_GALLERY_OFFSET = 1_000_000  # far past any real gallery; keeps a forged cursor out of SQLite's int range


def _read_cursor(cursor: str, filters: dict[str, Any]) -> tuple[int, float]:
    try:
        data = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
        offset, now, fingerprint = int(data["o"]), float(data["n"]), str(data["f"])
    except (ValueError, KeyError, TypeError, binascii.Error):
        raise InvalidRequest("cursor: not a cursor this server issued; use next_cursor from a gallery answer") from None
    if fingerprint != _fingerprint(filters):
        raise InvalidRequest("cursor: it belongs to other filters; repeat the first call's filters, or drop the cursor")
    if not 0 <= offset <= MAX_GALLERY_OFFSET or not math.isfinite(now):
        raise InvalidRequest("cursor: not a cursor this server issued; use next_cursor from a gallery answer")
    return offset, now

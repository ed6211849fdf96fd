"""The caller's account and the community gallery: the two reads users reach for beside the six core tools.

``account`` answers for the calling wallet only (``caller_wallet``): what it can
spend (off-chain credits, on-chain credits, free quota), what it stakes, what its
vote weighs, what it can claim, and its creator stats, from the indexer's read
models as of ``as_of_block`` plus one batched live read (domain.accounts).

``gallery`` lists everyone's succeeded generations with public fields only.
"""

from __future__ import annotations

from typing import Annotated

from mcp.server.mcpserver import Context, MCPServer
from pydantic import Field

from sf_mcp.domain.accounts import Account, account_of
from sf_mcp.domain.gallery import GALLERY_MAX, SEARCH_MAX, Gallery, gallery_page
from sf_mcp.server.apps.views import tool_meta
from sf_mcp.server.mcp.context import services_of
from sf_mcp.server.mcp.identity import caller_wallet
from sf_mcp.server.mcp.results import tool_errors
from sf_mcp.server.services import Services
from sf_mcp.store.gallery import KindFilter, Sort, Timeframe


# -- tools ----------------------------------------------------------------------------------
async def account(ctx: Context[Services]) -> Account:
    """Your account: credits (off- and on-chain), free quota left today, staked NFTs, voting power,
    claimable staking rewards and contest prizes, and creator stats (upvotes, generations, points).

    Use before paying (to pick free / credits / crypto) or voting, and when the user asks how they
    are doing in the contest. Takes no arguments: it always answers for the calling wallet.
    """
    services = services_of(ctx)
    wallet = caller_wallet(services.settings, over_http=services.over_http)
    return await account_of(services.contracts, services.store, wallet=wallet,
                            free_daily_quota=services.settings.limits.free_daily_quota)

async def gallery(
    ctx: Context[Services],
    timeframe: Annotated[Timeframe, Field(description="today (UTC day), week (7 days), month (30 days) or all.")] = "all",
    type: Annotated[KindFilter, Field(description="image, video or all.")] = "all",
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
    return await gallery_page(
        services.store, chain_id=services.contracts.chain_id, timeframe=timeframe, kind=type, sort=sort,
        staked_only=staked_only, search=search, limit=limit, cursor=cursor, page=page,
    )


TOOLS = (account, gallery)


def register(server: MCPServer) -> None:
    for tool in TOOLS:
        server.add_tool(tool_errors(tool), structured_output=True, meta=tool_meta(tool.__name__))

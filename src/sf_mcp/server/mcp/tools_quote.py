"""quote: what one generation costs, by kind and by way of paying, before anything is charged."""

from __future__ import annotations

from mcp.server.mcpserver import Context, MCPServer

from sf_mcp.domain.pricing import Quote
from sf_mcp.domain.pricing import quote as quote_for
from sf_mcp.server.mcp.context import services_of
from sf_mcp.server.mcp.identity import caller_wallet
from sf_mcp.server.mcp.results import tool_errors
from sf_mcp.server.services import Services


async def quote(ctx: Context[Services]) -> Quote:
    """Prices of one image and one video by each way of paying, read from the payment contract now.

    Methods: S and USDC (an on-chain payment, then {"method": "crypto"}), x402 (USDC paid per call with a
    signed authorization, no gas) and credits (one credit); also the free generations left today and your
    credits. Pass max_price to generate_image / generate_video to refuse a price above what you agreed to.
    """
    services = services_of(ctx)
    wallet = caller_wallet(services.settings, over_http=services.over_http)
    return await quote_for(services.contracts, services.store, wallet=wallet,
                           free_daily_quota=services.settings.limits.free_daily_quota)


def register(server: MCPServer) -> None:
    server.add_tool(tool_errors(quote), structured_output=True)

"""Tools only the views call (``_meta.ui.visibility = ["app"]``): hosts do not offer them to the model."""

from __future__ import annotations

from mcp.server.mcpserver import Context

from sf_mcp.domain.contest_status import ContestStatus
from sf_mcp.domain.contest_status import contest_status as status_of
from sf_mcp.server.mcp.context import services_of
from sf_mcp.server.mcp.identity import caller_wallet
from sf_mcp.server.services import Services


async def contest_status(ctx: Context[Services]) -> ContestStatus:
    """For the contest view: the chain's clock, the open contest's end, your voting power, and whether
    there is an ended contest to finalize or a prize of yours to claim."""
    services = services_of(ctx)
    return await status_of(services.contracts, wallet=caller_wallet(services.settings, over_http=services.over_http))

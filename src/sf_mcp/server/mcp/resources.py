"""Resources: one task, recent tasks, a wallet's history, the media bytes, the weekly leaderboard, the review queue."""

from __future__ import annotations

import json
from typing import Any

from mcp.server.auth.middleware.auth_context import get_access_token
from mcp.server.mcpserver import Context, MCPServer
from mcp.server.mcpserver.exceptions import ResourceError

from sf_mcp.config import Settings, normalize_address
from sf_mcp.domain.generations import GenerationResult, PublicGeneration
from sf_mcp.domain.leaderboard import LEADERBOARD_MAX, leaderboard
from sf_mcp.errors import SfMcpError
from sf_mcp.server.mcp.context import current_services, services_of
from sf_mcp.server.mcp.identity import caller_wallet
from sf_mcp.server.ops import REVIEW_URI
from sf_mcp.server.services import Services

HISTORY_LIMIT = 50


async def generation(task_id: str, ctx: Context[Services]) -> str:
    """One generation task: status, model, attempts, payment and where its media is."""
    services = services_of(ctx)
    row = await services.store.generations.get(task_id)
    if row is None:
        raise ResourceError(f"no generation task {task_id!r}")
    if row.wallet == _maybe_caller(services):
        return GenerationResult.from_row(row).model_dump_json(indent=2)
    return PublicGeneration.from_row(row).model_dump_json(indent=2)


async def recent() -> str:
    """The newest generations of every wallet (public fields only)."""
    rows = await current_services().store.generations.recent(limit=20)
    return _dump([PublicGeneration.from_row(r).model_dump(mode="json") for r in rows])


async def wallet_history(address: str, ctx: Context[Services]) -> str:
    """A wallet's generations, newest first; full details only for the caller's own wallet."""
    try:
        wallet = normalize_address(address)
    except ValueError as exc:
        raise ResourceError(f"address: {exc}") from None
    services = services_of(ctx)
    rows = await services.store.generations.recent(limit=HISTORY_LIMIT, wallet=wallet)
    if wallet == _maybe_caller(services):
        return _dump([GenerationResult.from_row(r).model_dump(mode="json") for r in rows])
    return _dump([PublicGeneration.from_row(r).model_dump(mode="json") for r in rows])


async def content(sha256: str, ctx: Context[Services]) -> bytes:
    """The bytes of a generated image or video, addressed by their SHA-256."""
    # ServicesMiddleware answers the reads (with the media's own mime type); this lists the template.
    try:
        data, _ = await services_of(ctx).content.get(sha256)
    except SfMcpError as exc:
        raise ResourceError(str(exc)) from None
    return data


async def leaderboard_week() -> str:
    """The open weekly contest: creators ranked by votes, and the prize pool (updated as votes arrive)."""
    services = current_services()
    board = await leaderboard(services.contracts, services.store, period="week", contest_id=None,
                              limit=LEADERBOARD_MAX)
    return board.model_dump_json(indent=2)


async def review_queue() -> str:
    """For the operator: payments that could not be matched to a job or refunded, oldest first."""
    services = current_services()
    require_operator(services.settings)
    items = await services.store.review.items()
    return json.dumps([i.model_dump(mode="json") for i in items], indent=2)


# (URI or template, mime type, handler), in the order resources/list and resources/templates/list show them.
RESOURCES = (
    ("generation://{task_id}", "application/json", generation),
    ("generations://recent", "application/json", recent),
    ("generations://wallet/{address}", "application/json", wallet_history),
    ("content://{sha256}", "application/octet-stream", content),
    ("leaderboard://week", "application/json", leaderboard_week),
    (REVIEW_URI, "application/json", review_queue),
)


def register(server: MCPServer[Services]) -> None:
    """Register the resources; static ones (no URI variable) reach the services through ``current_services``."""
    for uri, mime_type, handler in RESOURCES:
        server.resource(uri, mime_type=mime_type)(handler)


def require_operator(settings: Settings) -> None:
    """Over HTTP only wallets in SF_OPERATOR_WALLETS pass; over stdio the person running the server is its operator."""
    if get_access_token() is None:
        return
    wallet = caller_wallet(settings, over_http=True)
    if wallet not in settings.http.operator_wallets:
        raise ResourceError(f"{REVIEW_URI} is for the server's operators; {wallet} is not in SF_OPERATOR_WALLETS")


def _maybe_caller(services: Services) -> str | None:
    try:
        return caller_wallet(services.settings, over_http=services.over_http)
    except SfMcpError:
        return None


def _dump(items: list[dict[str, Any]]) -> str:
    return json.dumps(items, indent=2)

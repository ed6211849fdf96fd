"""Resources: one task, recent tasks, a wallet's history, and the media bytes themselves."""

from __future__ import annotations

import base64
import json
from collections.abc import Callable
from typing import Any

from mcp.server.mcpserver import Context, MCPServer
from mcp.server.mcpserver.exceptions import ResourceError
from mcp.shared.exceptions import MCPError
from mcp_types import INVALID_PARAMS, BlobResourceContents, ReadResourceRequestParams, ReadResourceResult

from sf_mcp.config import normalize_address
from sf_mcp.errors import NotFound, SfMcpError
from sf_mcp.server.identity import caller_wallet
from sf_mcp.server.models import GenerationResult, PublicGeneration
from sf_mcp.server.results import services_of
from sf_mcp.server.services import Services

HISTORY_LIMIT = 50


def register(server: MCPServer, current_services: Callable[[], Services]) -> None:
    """Register the resources; static ones (no URI variable) get no Context, hence ``current_services``."""
    @server.resource("generation://{task_id}", mime_type="application/json")
    async def generation(task_id: str, ctx: Context) -> str:
        """One generation task: status, model, attempts, payment and where its media is."""
        services = services_of(ctx)
        row = await services.store.generations.get(task_id)
        if row is None:
            raise ResourceError(f"no generation task {task_id!r}")
        if row.wallet == _maybe_caller(ctx):
            return GenerationResult.from_row(row).model_dump_json(indent=2)
        return PublicGeneration.from_row(row).model_dump_json(indent=2)

    @server.resource("generations://recent", mime_type="application/json")
    async def recent() -> str:
        """The newest generations of every wallet (public fields only)."""
        rows = await current_services().store.generations.recent(limit=20)
        return _dump([PublicGeneration.from_row(r).model_dump(mode="json") for r in rows])

    @server.resource("generations://wallet/{address}", mime_type="application/json")
    async def wallet_history(address: str, ctx: Context) -> str:
        """A wallet's generations, newest first; full details only for the caller's own wallet."""
        try:
            wallet = normalize_address(address)
        except ValueError as exc:
            raise ResourceError(f"address: {exc}") from None
        rows = await services_of(ctx).store.generations.recent(limit=HISTORY_LIMIT, wallet=wallet)
        if wallet == _maybe_caller(ctx):
            return _dump([GenerationResult.from_row(r).model_dump(mode="json") for r in rows])
        return _dump([PublicGeneration.from_row(r).model_dump(mode="json") for r in rows])

    @server.resource("content://{sha256}", mime_type="application/octet-stream")
    async def content(sha256: str, ctx: Context) -> bytes:
        """The bytes of a generated image or video, addressed by their SHA-256."""
        data, _ = await _content_or_error(ctx, sha256)
        return data

    _serve_content_with_its_mime_type(server)


def _serve_content_with_its_mime_type(server: MCPServer) -> None:
    """Answer ``content://`` reads with the media's own mime type (templates have one fixed type)."""
    low = server._lowlevel_server
    default = low.get_request_handler("resources/read")
    assert default is not None

    async def read(ctx: Any, params: ReadResourceRequestParams) -> ReadResourceResult:
        uri = str(params.uri)
        if not uri.startswith("content://"):
            return await default.handler(ctx, params)
        try:
            data, mime = await ctx.lifespan_context.content.get(uri.removeprefix("content://"))
        except SfMcpError as exc:
            raise MCPError(code=INVALID_PARAMS, message=str(exc), data={"uri": uri}) from None
        blob = BlobResourceContents(uri=uri, blob=base64.b64encode(data).decode(), mime_type=mime)
        return ReadResourceResult(contents=[blob])

    low.add_request_handler("resources/read", ReadResourceRequestParams, read)


async def _content_or_error(ctx: Context, sha256: str) -> tuple[bytes, str]:
    try:
        return await services_of(ctx).content.get(sha256)
    except (NotFound, SfMcpError) as exc:
        raise ResourceError(str(exc)) from None


def _maybe_caller(ctx: Context) -> str | None:
    try:
        return caller_wallet(services_of(ctx).settings, over_http=services_of(ctx).over_http)
    except SfMcpError:
        return None


def _dump(items: list[dict]) -> str:
    return json.dumps(items, indent=2)

"""How MCP handlers reach the running services: the SDK's typed lifespan context.

Tools and resource templates take ``ctx: Context[Services]`` and call
:func:`services_of`. Static resources (no URI variable) get no Context from the
SDK, so :class:`ServicesMiddleware` makes the same lifespan context visible to
them for the duration of one request (:func:`current_services`): a request-scoped
context variable, like the SDK's own ``get_access_token()``, not a registry.

The middleware also answers ``content://`` reads itself, with the media's own
mime type (a resource template declares one fixed type).
"""

from __future__ import annotations

import base64
from contextvars import ContextVar
from typing import Any

from mcp.server.context import CallNext, HandlerResult, ServerRequestContext
from mcp.server.mcpserver import Context
from mcp.shared.exceptions import MCPError
from mcp_types import INVALID_PARAMS, BlobResourceContents, ReadResourceResult

from sf_mcp.errors import SfMcpError
from sf_mcp.server.services import Services

CONTENT_SCHEME = "content://"

_current: ContextVar[Services | None] = ContextVar("sf_mcp_services", default=None)


def services_of(ctx: Context[Services]) -> Services:
    """The services of the connection this request came in on.

    The same object as ``ctx.request_context.lifespan_context``, taken from the request's context
    variable where :class:`ServicesMiddleware` set it, without the SDK's pydantic private-attribute
    lookup on every tool call.
    """
    return _current.get() or ctx.request_context.lifespan_context


def current_services() -> Services:
    """The services of the request being handled (for static resources, which get no Context)."""
    services = _current.get()
    if services is None:
        raise RuntimeError("no MCP request is being handled")
    return services


class ServicesMiddleware:
    """ServerMiddleware: expose the lifespan context to static resources; serve ``content://`` reads."""

    async def __call__(self, ctx: ServerRequestContext[Any, Any], call_next: CallNext) -> HandlerResult:
        services = ctx.lifespan_context
        if not isinstance(services, Services):  # before the lifespan ran (initialize)
            return await call_next(ctx)
        if ctx.method == "resources/read" and ctx.params and str(ctx.params.get("uri", "")).startswith(CONTENT_SCHEME):
            return await _read_content(services, str(ctx.params["uri"]))
        token = _current.set(services)
        try:
            return await call_next(ctx)
        finally:
            _current.reset(token)


async def _read_content(services: Services, uri: str) -> ReadResourceResult:
    try:
        data, mime = await services.content.get(uri.removeprefix(CONTENT_SCHEME))
    except SfMcpError as exc:
        raise MCPError(code=INVALID_PARAMS, message=str(exc), data={"uri": uri}) from None
    blob = BlobResourceContents(uri=uri, blob=base64.b64encode(data).decode(), mime_type=mime)
    return ReadResourceResult(contents=[blob])

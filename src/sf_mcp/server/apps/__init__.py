"""In-chat views (MCP Apps): ``ui://`` pages a host renders beside a tool's result.

``extension(settings)`` is the SDK's ``Apps`` extension with the three views (generation,
gallery, contest) and the tools only the views call; the server passes it to ``MCPServer``.
``tool_meta(name)`` is the ``_meta`` binding a public tool to its view. Every bound tool
still answers its text, image and structured output: a host without MCP Apps loses nothing.
"""

from __future__ import annotations

from mcp.server.apps import Apps

from sf_mcp.config import Settings
from sf_mcp.server.apps import tools
from sf_mcp.server.apps.views import BOUND_TOOLS, CONTEST, GALLERY, GENERATION, VIEWS, View, csp, page, tool_meta
from sf_mcp.server.mcp.results import tool_errors

__all__ = ["BOUND_TOOLS", "CONTEST", "GALLERY", "GENERATION", "VIEWS", "View", "csp", "extension", "page", "tool_meta"]

# Tools registered with visibility ["app"], by view.
APP_TOOLS = ((tools.contest_status, CONTEST),)


def extension(settings: Settings) -> Apps:
    """The MCP Apps extension: the views as ``ui://`` resources and the app-only tools."""
    apps = Apps()
    for view in VIEWS:
        apps.add_html_resource(view.uri, page(view, settings), name=view.name, title=view.title,
                               description=view.description, csp=csp(settings), prefers_border=True)
    for fn, view in APP_TOOLS:
        apps.tool(resource_uri=view.uri, visibility=["app"], structured_output=True)(tool_errors(fn))
    return apps

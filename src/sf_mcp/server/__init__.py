"""The MCP surface: tools, resources and who is calling. Nothing imports this package."""

from sf_mcp.server.app import build_server, open_http_app, serve_http

__all__ = ["build_server", "open_http_app", "serve_http"]

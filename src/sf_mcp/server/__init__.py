"""The MCP surface: tools, resources and who is calling. Nothing imports this package."""

from sf_mcp.server.app import build_http_app, build_server, serve_http

__all__ = ["build_http_app", "build_server", "serve_http"]

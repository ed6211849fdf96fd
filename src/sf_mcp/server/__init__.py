"""The MCP surface: tools, resources and who is calling. Nothing imports this package."""

from sf_mcp.server.app import build_server

__all__ = ["build_server"]

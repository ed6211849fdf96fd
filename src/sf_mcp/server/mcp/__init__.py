"""The MCP surface: tools, resources and prompts, and how their handlers reach the running services.

Each tool parses its arguments, calls one function of ``sf_mcp.domain`` and shapes the MCP result.
"""

from mcp.server.mcpserver import MCPServer

from sf_mcp.config import Settings
from sf_mcp.server.mcp import prompts, resources, tools_chain, tools_community, tools_generate, tools_quote
from sf_mcp.server.mcp.context import ServicesMiddleware
from sf_mcp.server.services import Services

__all__ = ["ServicesMiddleware", "register"]


def register(server: MCPServer[Services], settings: Settings) -> None:
    """Every tool, resource and prompt of sf-mcp (and the development tools where the settings ask)."""
    tools_generate.register(server)
    tools_chain.register(server)
    tools_community.register(server)
    tools_quote.register(server)
    prompts.register(server)
    if settings.chain.dev_tools:
        tools_chain.register_dev(server)
    resources.register(server)

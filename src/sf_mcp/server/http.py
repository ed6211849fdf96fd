"""Serving the MCP server over streamable HTTP at /mcp, with /healthz."""

from __future__ import annotations

import uvicorn
from mcp.server.mcpserver import MCPServer
from starlette.requests import Request
from starlette.responses import JSONResponse


def add_health_routes(server: MCPServer) -> None:
    @server.custom_route("/healthz", methods=["GET"])
    async def healthz(_: Request) -> JSONResponse:
        """Liveness: the process answers HTTP."""
        return JSONResponse({"status": "ok"})


async def serve_http(server: MCPServer, *, host: str, port: int) -> None:
    """Run until cancelled; binds 127.0.0.1 unless the operator chose otherwise."""
    add_health_routes(server)
    app = server.streamable_http_app(host=host)
    config = uvicorn.Config(app, host=host, port=port, log_level="warning", lifespan="on")
    await uvicorn.Server(config).serve()

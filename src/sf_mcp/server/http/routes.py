"""``route``: the SDK's ``custom_route`` decorator with a type (the SDK leaves its return type open)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TypeVar

from mcp.server.mcpserver import MCPServer
from starlette.requests import Request
from starlette.responses import Response

Handler = TypeVar("Handler", bound=Callable[[Request], Awaitable[Response]])


def route(server: MCPServer, path: str, *, methods: list[str]) -> Callable[[Handler], Handler]:
    """Add the decorated handler to ``server``'s HTTP app at ``path``, beside /mcp."""

    def register(handler: Handler) -> Handler:
        server.custom_route(path, methods=methods)(handler)
        return handler

    return register

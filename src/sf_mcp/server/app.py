"""The MCP server object: tools, resources and the lifespan that owns the running parts."""

from __future__ import annotations

import weakref
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING, Any

from mcp.server.mcpserver import MCPServer
from mcp.server.request_state import RequestStateSecurity

from sf_mcp import package_version
from sf_mcp.config import Settings
from sf_mcp.server import ops, prompts, resources, tools_chain, tools_community, tools_generate
from sf_mcp.server.arguments import SfMcpServer
from sf_mcp.server.notify import ReplicaBus, ResourceNotifier
from sf_mcp.server.services import Services, open_services

if TYPE_CHECKING:
    from sf_mcp.server.http import HttpSurface

INSTRUCTIONS = """\
sf-mcp creates AI images and videos paid on the Sonic chain and enters them in a weekly
community contest. Use generate_image / generate_video with a payment: {"method": "free"}
for the daily free quota, {"method": "credits"}, or {"method": "crypto", "tx_hash": ...}
after paying the SonicAIGenerationPayment contract. Give a request_id to make a call safe to
retry. A task still running when a tool answers: get_generation(task_id) waits for it.
Results live at generation://{task_id}; media bytes at content://{sha256}."""


def build_server(settings: Settings, *, http: "HttpSurface | None" = None) -> MCPServer[Services]:
    """Build the server for ``settings``; nothing is opened until a client connects.

    Over stdio (``http=None``) there is no auth: the caller is the configured wallet. With an
    ``HttpSurface`` (``server.http``) /mcp requires a Sign-In with Ethereum bearer token, tool calls
    are rate limited and measured, and the sign-in, health and metrics routes are added.
    """
    bus = ReplicaBus()
    notifier = ResourceNotifier(bus)
    running: list[Services] = []  # the lifespan's services while a client is connected
    # One per server: its counters join the HTTP metrics registry (served at /metrics) when there is one.
    alerts = ops.PaymentAlerts(settings, registry=http.metrics.registry if http is not None else None)

    @asynccontextmanager
    async def lifespan(_: MCPServer[Services]) -> AsyncIterator[Services]:
        async with open_services(settings, notifier, alerts=alerts) as services:
            running.append(services)
            if http is not None:
                services.over_http = True
                http.attach(services)
            try:
                yield services
            finally:
                if http is not None:
                    http.detach(services)
                running.remove(services)

    options: dict[str, Any] = http.server_options() if http is not None else {}
    if settings.request_state_key_list:  # replicas share the keys, so any of them opens another's requestState
        options["request_state_security"] = RequestStateSecurity(keys=settings.request_state_key_list)
    server: MCPServer[Services] = SfMcpServer(
        "sf-mcp",
        instructions=INSTRUCTIONS,
        version=package_version(),
        lifespan=lifespan,
        subscriptions=bus,
        **options,
    )
    notifier.install(server)
    tools_generate.register(server)
    tools_chain.register(server)
    tools_community.register(server)
    prompts.register(server)
    if settings.dev_tools:
        tools_chain.register_dev(server)
    resources.register(server, lambda: running[-1])
    tools_chain.register_resources(server, lambda: running[-1])
    ops.register_resources(server, lambda: running[-1])
    _RUNNING[server] = running
    if http is not None:
        http.install(server)
    return server


_RUNNING: "weakref.WeakKeyDictionary[MCPServer[Services], list[Services]]" = weakref.WeakKeyDictionary()


def running_services(server: MCPServer[Services]) -> Services:
    """The services of ``server`` while a client is connected (tests and in-process embedding)."""
    running = _RUNNING.get(server)
    if not running:
        raise RuntimeError("the server is not running: no client is connected")
    return running[-1]

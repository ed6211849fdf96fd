"""The MCP server object: tools, resources and the lifespan that owns the running parts."""

from __future__ import annotations

import gc
import signal
import time
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from types import FrameType
from typing import Any

import anyio
import uvicorn
from mcp.server.mcpserver import MCPServer
from mcp.server.request_state import RequestStateSecurity
from starlette.types import ASGIApp

from sf_mcp import package_version
from sf_mcp.config import Settings
from sf_mcp.server import apps
from sf_mcp.server import mcp as mcp_surface
from sf_mcp.server.http.observability import Metrics
from sf_mcp.server.http.surface import HttpSurface
from sf_mcp.server.mcp.arguments import SfMcpServer
from sf_mcp.server.notify import ReplicaBus, ResourceNotifier
from sf_mcp.server.ops import AlertCounters
from sf_mcp.server.services import Services, open_services
from sf_mcp.waits import Sleep

INSTRUCTIONS = """\
sf-mcp creates AI images and videos paid on the Sonic chain and enters them in a weekly
community contest. Use generate_image / generate_video with a payment: {"method": "free"}
for the daily free quota, {"method": "credits"}, {"method": "crypto", "tx_hash": ...}
after paying the SonicAIGenerationPayment contract, or {"method": "x402"} to pay per call with
signed USDC (x402: the answer gives the terms to sign). quote gives the prices; max_price caps
what a call may charge. Give a request_id to make a call safe to retry. A task still running
when a tool answers: get_generation(task_id) waits for it.
Results live at generation://{task_id}; media bytes at content://{sha256}."""

Lifespan = Callable[[MCPServer[Services]], AbstractAsyncContextManager[Services]]


def build_server(
    settings: Settings, *, http: HttpSurface | None = None, services: Services | None = None
) -> MCPServer[Services]:
    """Build the server for ``settings``.

    By default nothing is opened until a client connects: the lifespan opens the services
    (``open_services``) for the connection and closes them after. Given ``services`` that the
    caller opened (and closes), every connection shares them instead.

    Over stdio (``http=None``) there is no auth: the caller is the configured wallet. With an
    ``HttpSurface`` (built on the services ``open_http_app`` opened) /mcp requires a Sign-In with
    Ethereum bearer token, tool calls are rate limited and measured, and the sign-in, health and
    metrics routes are added.
    """
    if http is not None:
        services = http.services
    notifier = services.notifier if services is not None else ResourceNotifier(ReplicaBus())
    lifespan = _shared(services) if services is not None else _owning(settings, notifier)
    options = http.server_options() if http is not None else {}
    if settings.http.request_state_key_list:  # replicas share the keys, so any of them opens another's requestState
        options["request_state_security"] = RequestStateSecurity(keys=settings.http.request_state_key_list)
    server: MCPServer[Services] = SfMcpServer(
        "sf-mcp",
        instructions=INSTRUCTIONS,
        version=package_version(),
        lifespan=lifespan,
        subscriptions=notifier.bus,
        middleware=[mcp_surface.ServicesMiddleware(), *options.pop("middleware", [])],
        extensions=[apps.extension(settings)],
        **options,
    )
    notifier.install(server)
    mcp_surface.register(server, settings)
    if http is not None:
        http.install(server)
    return server


def _owning(settings: Settings, notifier: ResourceNotifier) -> Lifespan:
    @asynccontextmanager
    async def lifespan(_: MCPServer[Services]) -> AsyncIterator[Services]:
        async with open_services(settings, notifier=notifier) as services:
            yield services

    return lifespan


def _shared(services: Services) -> Lifespan:
    @asynccontextmanager
    async def lifespan(_: MCPServer[Services]) -> AsyncIterator[Services]:
        yield services

    return lifespan


@asynccontextmanager
async def open_http_app(
    settings: Settings, *, clock: Callable[[], float] = time.time,
    indexer_sleep: Sleep = anyio.sleep,
) -> AsyncIterator[tuple[ASGIApp, HttpSurface]]:
    """Open the services, then build the whole HTTP application on them; closes them on exit.

    The services open first because the HTTP surface (sign-in, OAuth, readiness, metrics) is
    built by its constructor on them, and the MCP server's constructor takes its token verifier.
    ``clock`` times sign-in, tokens and OAuth codes; ``indexer_sleep`` is how the indexer waits (``open_services``).
    """
    metrics = Metrics()
    async with open_services(settings, notifier=ResourceNotifier(ReplicaBus()), over_http=True,
                             alert_counters=AlertCounters(metrics.registry),
                             on_finished=[metrics.on_finished], indexer_sleep=indexer_sleep) as services:
        surface = HttpSurface(settings, services, metrics=metrics, clock=clock)
        yield surface.asgi_app(build_server(settings, http=surface)), surface


def freeze_startup_heap() -> None:
    """Keep the garbage collector off what start-up built, once the services are open.

    The chain client's contracts and ABIs, pydantic's validators and (embedded chain) py-evm leave
    a large heap of objects that live as long as the process. Every full collection walked all of
    it: under load that was a pause of about 170 ms once or twice a second, which every request in
    flight (and /healthz) waited out. Frozen, start-up's objects are never walked again; what
    requests allocate is collected as before.
    """
    gc.collect()
    gc.freeze()


class _AnnouncingServer(uvicorn.Server):
    """uvicorn that says so once it accepts connections, so scripts can wait for that line.

    A SIGTERM or SIGINT stops serving as in uvicorn, but uvicorn would raise the signal again as
    soon as it stops, which (SIGTERM) ends the process before the services close. Here the signals
    are kept in ``signals`` and ``serve_http`` raises them once the services are closed.
    """

    def __init__(self, config: uvicorn.Config, announce: Callable[[], None] | None) -> None:
        super().__init__(config)
        self._announce = announce
        self.signals: list[int] = []

    async def startup(self, sockets: list[Any] | None = None) -> None:
        await super().startup(sockets=sockets)
        if self.started and self._announce is not None:
            self._announce()

    def handle_exit(self, sig: int, frame: FrameType | None) -> None:
        if self.should_exit and sig == signal.SIGINT:
            self.force_exit = True  # a second Ctrl-C: stop without waiting for open connections
        else:
            self.should_exit = True
        self.signals.append(sig)


async def serve_http(
    settings: Settings, *, sockets: list[Any] | None = None, announce: Callable[[], None] | None = None
) -> None:
    """Run until cancelled; binds 127.0.0.1 unless the operator chose otherwise.

    ``announce`` is called once the socket is bound and the app has started.
    """
    async with open_http_app(settings) as (app, _):
        freeze_startup_heap()
        config = uvicorn.Config(app, host=settings.http.host, port=settings.http.port, log_level="warning",
                                lifespan="on")
        server = _AnnouncingServer(config, announce)
        await server.serve(sockets=sockets)
    for sig in reversed(server.signals):  # what uvicorn does, now that the services are closed
        signal.raise_signal(sig)

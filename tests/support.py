"""Helpers for tests that talk to the server like a client does."""

from __future__ import annotations

import asyncio
import importlib.util
import json
import os
import socket
import subprocess
import sys
import threading
import time
import warnings
import weakref
from collections import defaultdict, deque
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from contextlib import asynccontextmanager, contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import anyio
import uvicorn
from mcp.client import Client
from mcp_types import ResourceUpdatedNotification

if TYPE_CHECKING:
    from sf_mcp.jobs import JobRunner
    from sf_mcp.server.http.surface import HttpSurface
    from sf_mcp.server.services import Services
    from sf_mcp.store import GenerationRow

T = TypeVar("T")


class UpdateWatcher:
    """Receives resource-updated notifications in either protocol era.

    The URIs queue in a deque, not a memory object stream: a watcher lives as long as its test and nothing
    would close the stream's two ends, which then warned as unclosed resources when collected.
    """

    def __init__(self) -> None:
        self._uris: deque[str] = deque()
        self._arrived: anyio.Event | None = None  # set by the next URI while next_update waits

    async def message_handler(self, message: Any) -> None:
        root = getattr(message, "root", message)
        if isinstance(root, ResourceUpdatedNotification):
            self.feed(str(root.params.uri))

    def feed(self, uri: str) -> None:
        self._uris.append(uri)
        if self._arrived is not None:
            self._arrived.set()

    async def next_update(self, *, timeout: float = 30) -> str:
        with anyio.fail_after(timeout):
            while not self._uris:
                self._arrived = anyio.Event()
                await self._arrived.wait()
        return self._uris.popleft()


@asynccontextmanager
async def subscribed(client: Client, watcher: UpdateWatcher, mode: str, uri: str) -> AsyncIterator[None]:
    """Subscribe to ``uri``: ``resources/subscribe`` in legacy mode, ``subscriptions/listen`` otherwise."""
    if mode == "legacy":
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # deprecated in 2026-07-28, still how 2025-era clients subscribe
            await client.session.subscribe_resource(uri)
        yield
        return
    async with client.listen(resource_subscriptions=[uri]) as sub, anyio.create_task_group() as tg:

        async def pump() -> None:
            async for event in sub:
                watcher.feed(str(event.uri))

        tg.start_soon(pump)
        yield
        tg.cancel_scope.cancel()


async def read_json(client: Client, uri: str) -> Any:
    result = await client.read_resource(uri, cache_mode="bypass")
    return json.loads(result.contents[0].text)


async def generate(client: Client, prompt: str = "a red fox", *, payment: dict | None = None, **args: Any):
    arguments = {"prompt": prompt, "payment": payment or {"method": "free"}, "width": 256, "height": 256, **args}
    return await client.call_tool("generate_image", arguments)


def wait_until_serving(process: subprocess.Popen[bytes], *, timeout: float = 60) -> str:
    """Read ``sf-mcp serve --transport http``'s stderr until it says it accepts connections.

    The server prints that line only once its socket is bound, so nothing is polled.
    """
    seen = []
    deadline = threading.Timer(timeout, process.kill)  # a hung start fails the test instead of hanging it
    deadline.start()
    try:
        for raw in process.stderr:
            line = raw.decode(errors="replace")
            seen.append(line)
            if "serving MCP at" in line:
                # Keep draining the server's log so a full pipe never blocks it.
                threading.Thread(target=process.stderr.read, daemon=True).start()
                return line
    finally:
        deadline.cancel()
    raise AssertionError("sf-mcp serve exited before serving:\n" + "".join(seen)[-3000:])


# -- sf-mcp's HTTP app in a thread -----------------------------------------------------------------
SERVER_ENV = ("HF_TOKEN", "SF_HF_TOKEN", "SF_WALLET", "SF_AGENT_KEY", "SF_RPC_URL", "SF_CONFIG_FILE", "SF_JWT_SECRET",
              "SF_PUBLIC_URL", "SF_HOST", "SF_PORT", "SF_DEV_TOOLS")


class _Uvicorn(uvicorn.Server):
    def __init__(self, config: uvicorn.Config) -> None:
        super().__init__(config)
        self.ready = threading.Event()
        self.loop: asyncio.AbstractEventLoop | None = None

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        await super().startup(sockets=sockets)
        self.loop = asyncio.get_running_loop()
        self.ready.set()

    def install_signal_handlers(self) -> None:  # not the main thread
        pass


class ThreadedHttpServer:
    """The running app: its URL, its surface (metrics, limits), and a way to look at its services."""

    def __init__(self, url: str, surface: HttpSurface, uv: _Uvicorn) -> None:
        self.url, self.surface, self._uv = url, surface, uv

    def run(self, fn: Callable[[Services], Awaitable[T]]) -> T:
        """Run ``fn(services)`` on the server's own loop (setup and inspection, as an operator would)."""
        assert self._uv.loop is not None
        return asyncio.run_coroutine_threadsafe(fn(self.surface.services), self._uv.loop).result(timeout=60)


@contextmanager
def http_server_thread(data_dir: Path, *, clock: Callable[[], float] = time.time,
                       **overrides: Any) -> Iterator[ThreadedHttpServer]:
    """sf-mcp's whole HTTP app on a loopback port, in a thread with its own event loop, as `serve` runs it."""
    from sf_mcp.config import load_settings
    from sf_mcp.server import open_http_app

    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    saved = {name: os.environ.pop(name) for name in SERVER_ENV if name in os.environ}
    try:
        settings = load_settings(data_dir=data_dir, host="127.0.0.1", port=port, **overrides)
    finally:
        os.environ.update(saved)
    handle: list[tuple[HttpSurface, _Uvicorn]] = []
    opened = threading.Event()  # the services are open and uvicorn is built, or the start failed

    async def serve_app() -> None:
        async with open_http_app(settings, clock=clock) as (app, surface):
            handle.append((surface, _Uvicorn(uvicorn.Config(app, log_level="warning", lifespan="on"))))
            opened.set()
            await handle[0][1].serve(sockets=[sock])

    def serve() -> None:
        try:
            asyncio.run(serve_app())
        finally:
            opened.set()  # also when start-up failed, so the caller does not wait in vain
            for _, uv in handle:
                uv.ready.set()

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        opened.wait(timeout=60)
        if not handle:
            raise AssertionError("the HTTP server's services did not open (see the log above)")
        surface, uv = handle[0]
        uv.ready.wait(timeout=60)
        if not uv.started or uv.loop is None:
            raise AssertionError("the HTTP server did not start (see the log above)")
        yield ThreadedHttpServer(f"http://127.0.0.1:{port}", surface, uv)
    finally:
        for _, uv in handle:
            uv.should_exit = True
        thread.join(timeout=30)
        sock.close()


class Settled:
    """The last of a runner's finished-job hooks: a test waits until every hook before it ran for a job.

    The runner wakes ``wait_finished`` before its hooks (entering the contest, resource updates) run; a test
    that checks what a hook did waits here instead. Attach it before the jobs it waits for can finish.
    """

    def __init__(self, runner: JobRunner) -> None:
        self.runner = runner
        self.done: defaultdict[str, anyio.Event] = defaultdict(anyio.Event)
        runner.on_finished.append(self.hook)

    async def hook(self, row: GenerationRow) -> None:
        self.done[row.task_id].set()

    async def wait(self, task_id: str) -> GenerationRow:
        """The job's row once every earlier hook ran for it."""
        await self.done[task_id].wait()
        return await self.runner.wait_finished(task_id)


_settled: weakref.WeakKeyDictionary[JobRunner, Settled] = weakref.WeakKeyDictionary()


def settled(runner: JobRunner) -> Settled:
    """The runner's :class:`Settled` hook (``connected`` attaches one when the services open)."""
    if runner not in _settled:
        _settled[runner] = Settled(runner)
    return _settled[runner]


@asynccontextmanager
async def connected(settings: Any, *, mode: str = "auto", **client_options: Any) -> AsyncIterator[tuple[Client, Services]]:
    """A client session on a server whose services the test opened itself, so it can inspect them."""
    from sf_mcp.server import build_server
    from sf_mcp.server.services import open_services

    async with open_services(settings) as services:
        settled(services.runner)
        async with Client(build_server(settings, services=services), mode=mode, **client_options) as client:
            yield client, services


def load_example(name: str) -> Any:
    """``examples/<name>.py`` as a fresh module named ``name``: tests drive the examples' own helpers."""
    spec = importlib.util.spec_from_file_location(name, Path(__file__).resolve().parents[1] / "examples" / f"{name}.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module

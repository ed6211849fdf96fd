"""Helpers for tests that talk to the server like a client does."""

from __future__ import annotations

import json
import subprocess
import threading
import warnings
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import anyio
from mcp.client import Client
from mcp_types import ResourceUpdatedNotification


class UpdateWatcher:
    """Receives resource-updated notifications in either protocol era."""

    def __init__(self) -> None:
        self._send, self._receive = anyio.create_memory_object_stream[str](100)

    async def message_handler(self, message: Any) -> None:
        root = getattr(message, "root", message)
        if isinstance(root, ResourceUpdatedNotification):
            await self._send.send(str(root.params.uri))

    def feed(self, uri: str) -> None:
        self._send.send_nowait(uri)

    async def next_update(self, *, timeout: float = 30) -> str:
        with anyio.fail_after(timeout):
            return await self._receive.receive()


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


def wait_until_serving(process: "subprocess.Popen[bytes]", *, timeout: float = 60) -> str:
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

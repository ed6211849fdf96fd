"""A real uvicorn server on 127.0.0.1 (a free port) per test module, and clients that sign in to it.

The server runs in a thread with its own event loop, exactly as ``sf-mcp serve
--transport http`` runs it; tests talk to it over loopback HTTP only. A module
may set ``SERVER_SETTINGS = {...}`` to override settings (rate limits, quota).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from http_support import LiveServer, MovableClock

from support import http_server_thread


@pytest.fixture(scope="module")
def live_server(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    overrides: dict[str, Any] = dict(getattr(request.module, "SERVER_SETTINGS", {}))
    clock = MovableClock()
    with http_server_thread(tmp_path_factory.mktemp("http-data"), clock=clock, **overrides) as running:
        yield LiveServer(running, clock)


@pytest.fixture
def server(live_server: LiveServer) -> LiveServer:
    return live_server

"""A real uvicorn server on 127.0.0.1 (a free port) per test module, and clients that sign in to it.

The server runs in a thread with its own event loop, exactly as ``sf-mcp serve
--transport http`` runs it; tests talk to it over loopback HTTP only. A module
may set ``SERVER_SETTINGS = {...}`` to override settings (rate limits, quota).
"""

from __future__ import annotations

import asyncio
import socket
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import uvicorn
from http_support import _ENV, LiveServer, _Uvicorn

from sf_mcp.config import load_settings
from sf_mcp.server.http import build_http_app


@pytest.fixture(scope="module")
def live_server(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    overrides: dict[str, Any] = dict(getattr(request.module, "SERVER_SETTINGS", {}))
    data_dir: Path = tmp_path_factory.mktemp("http-data")
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    with pytest.MonkeyPatch.context() as mp:
        for name in _ENV:
            mp.delenv(name, raising=False)
        settings = load_settings(data_dir=data_dir, host="127.0.0.1", port=port, **overrides)
    app, surface = build_http_app(settings)
    uv = _Uvicorn(uvicorn.Config(app, log_level="warning", lifespan="on"))
    def serve() -> None:
        try:
            asyncio.run(uv.serve(sockets=[sock]))
        finally:
            uv.ready.set()  # also when start-up failed, so the fixture does not wait in vain

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        uv.ready.wait(timeout=60)
        if not uv.started or uv.loop is None:
            pytest.fail("the HTTP server did not start (see the log above)")
        yield LiveServer(surface, uv, f"http://127.0.0.1:{port}")
    finally:
        uv.should_exit = True
        thread.join(timeout=30)
        sock.close()


@pytest.fixture
def server(live_server: LiveServer) -> LiveServer:
    return live_server

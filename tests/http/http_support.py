"""Helpers for tests/http: the live server handle and signing (a unique module name, unlike conftest).

The server runs in a thread with its own event loop, exactly as ``sf-mcp serve
--transport http`` runs it; tests talk to it over loopback HTTP only. A module
may set ``SERVER_SETTINGS = {...}`` to override settings (rate limits, quota).
"""

from __future__ import annotations

import asyncio
import socket
import threading
from collections.abc import AsyncIterator, Awaitable, Callable
from concurrent.futures import Future
from contextlib import asynccontextmanager
from typing import Any, TypeVar

import httpx2
import uvicorn
from eth_account import Account
from eth_account.messages import encode_defunct
from eth_account.signers.local import LocalAccount
from mcp.client import Client
from mcp.client.streamable_http import streamable_http_client

from sf_mcp.server.http import HttpSurface
from sf_mcp.server.services import Services

T = TypeVar("T")

_ENV = ("HF_TOKEN", "SF_HF_TOKEN", "SF_WALLET", "SF_AGENT_KEY", "SF_RPC_URL", "SF_CONFIG_FILE", "SF_JWT_SECRET",
        "SF_PUBLIC_URL", "SF_HOST", "SF_PORT")


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


class LiveServer:
    """The running server: its URL, its surface (metrics, limits) and helpers to sign in and connect."""

    def __init__(self, surface: HttpSurface, uv: _Uvicorn, base_url: str) -> None:
        self.surface = surface
        self._uv = uv
        self.base_url = base_url
        self.mcp_url = f"{base_url}/mcp"

    @property
    def settings(self):
        return self.surface.settings

    def run(self, fn: Callable[[Services], Awaitable[T]]) -> T:
        """Run ``fn(services)`` on the server's own loop (setup and inspection, like an operator would)."""
        assert self._uv.loop is not None
        future: Future[T] = asyncio.run_coroutine_threadsafe(fn(self.surface.services()), self._uv.loop)
        return future.result(timeout=30)

    def http(self, **kwargs: Any) -> httpx2.AsyncClient:
        return httpx2.AsyncClient(base_url=self.base_url, timeout=30, **kwargs)

    async def nonce(self, http: httpx2.AsyncClient, account: LocalAccount) -> dict[str, Any]:
        response = await http.get("/auth/nonce", params={"address": account.address})
        assert response.status_code == 200, response.text
        return response.json()

    async def verify(self, http: httpx2.AsyncClient, message: str, account: LocalAccount) -> httpx2.Response:
        return await http.post("/auth/verify", json={"message": message, "signature": sign(account, message)})

    async def sign_in(self, account: LocalAccount) -> str:
        async with self.http() as http:
            issued = await self.nonce(http, account)
            response = await self.verify(http, issued["message"], account)
            assert response.status_code == 200, response.text
            return response.json()["token"]

    @asynccontextmanager
    async def mcp(self, token: str, *, mode: str = "legacy") -> AsyncIterator[Client]:
        async with httpx2.AsyncClient(headers={"Authorization": f"Bearer {token}"}, timeout=60) as http:
            async with Client(streamable_http_client(self.mcp_url, http_client=http), mode=mode, cache=None) as c:
                yield c


def sign(account: LocalAccount, message: str) -> str:
    return "0x" + bytes(account.sign_message(encode_defunct(text=message)).signature).hex()


def new_account() -> LocalAccount:
    return Account.create()

"""Helpers for tests/http: the live server handle and signing (a unique module name, unlike conftest).

The server runs in a thread with its own event loop, exactly as ``sf-mcp serve
--transport http`` runs it; tests talk to it over loopback HTTP only. A module
may set ``SERVER_SETTINGS = {...}`` to override settings (rate limits, quota).
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import httpx2
from eth_account import Account
from eth_account.messages import encode_defunct
from eth_account.signers.local import LocalAccount
from mcp.client import Client
from mcp.client.streamable_http import streamable_http_client

from support import ThreadedHttpServer


class MovableClock:
    """The server's sign-in clock: the wall clock plus ``offset`` seconds a test may set (monkeypatch resets it)."""

    def __init__(self) -> None:
        self.offset = 0.0

    def __call__(self) -> float:
        return time.time() + self.offset


class LiveServer:
    """The running server (see ``support.http_server_thread``) and helpers to sign in and connect."""

    def __init__(self, running: ThreadedHttpServer, clock: MovableClock) -> None:
        self.surface = running.surface
        self.clock = clock
        self.run = running.run
        self.base_url = running.url
        self.mcp_url = f"{running.url}/mcp"

    @property
    def settings(self):
        return self.surface.settings

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

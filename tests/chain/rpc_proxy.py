"""A loopback JSON-RPC proxy in front of a node that a test can break: drop every request, or all after N,
or change what the node answers (``rewrite``: a node that lies or serves damaged data), or answer a request
without asking the node (``intercept``: a node that refuses a transaction, or accepts it and then loses it)."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import aiohttp
from aiohttp import web

from sf_mcp.chain.devnet import free_port


class RpcProxy:
    def __init__(self, upstream: str) -> None:
        self.upstream = upstream
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.down = False
        self.allow: int | None = None  # when set, requests after this many are dropped
        self.requests = 0
        self.methods: list[str] = []
        # (request, answer) -> the answer to give instead; called for every single (non-batch) request
        self.rewrite: Callable[[dict[str, Any], dict[str, Any]], dict[str, Any]] | None = None
        # request -> the answer to give without forwarding it, "drop" to kill the connection, None to forward
        self.intercept: Callable[[dict[str, Any]], dict[str, Any] | str | None] | None = None
        self._runner: web.AppRunner | None = None
        self._session: aiohttp.ClientSession | None = None

    async def __aenter__(self) -> RpcProxy:
        app = web.Application()
        app.router.add_post("/", self._forward)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        await web.TCPSite(self._runner, "127.0.0.1", self.port).start()
        self._session = aiohttp.ClientSession()
        return self

    async def __aexit__(self, *exc: object) -> None:
        assert self._runner is not None and self._session is not None
        await self._session.close()
        await self._runner.cleanup()

    def drop_after(self, n: int) -> None:
        """Let ``n`` more requests through, then drop every connection (the node dies mid-call)."""
        self.allow = self.requests + n

    async def _forward(self, request: web.Request) -> web.StreamResponse:
        self.requests += 1
        body = await request.read()
        try:
            call = json.loads(body)
            self.methods.append(call.get("method", "?"))
        except Exception:
            call = None
            self.methods.append("?")
        own = self.intercept(call) if self.intercept is not None and isinstance(call, dict) else None
        if isinstance(own, dict):
            return web.json_response({"jsonrpc": "2.0", "id": call["id"], **own})  # type: ignore[index]
        if own == "drop" or self.down or (self.allow is not None and self.requests > self.allow):
            assert request.transport is not None
            request.transport.close()  # the connection just dies, as when the node is killed
            raise web.HTTPServiceUnavailable()
        assert self._session is not None
        async with self._session.post(self.upstream, data=body, headers={"Content-Type": "application/json"}) as up:
            answer = await up.read()
            if self.rewrite is not None and isinstance(call, dict):
                answer = json.dumps(self.rewrite(call, json.loads(answer))).encode()
            return web.Response(body=answer, status=up.status, content_type="application/json")

"""Limits over real HTTP: tool calls per wallet and per IP, sign-in requests per IP, Host/Origin, body size."""

from __future__ import annotations

import pytest
from http_support import LiveServer, new_account

pytestmark = pytest.mark.anyio

SERVER_SETTINGS = {
    "rate_limit_wallet": 3,
    "rate_limit_ip": 6,
    "rate_limit_auth_ip": 9,
    "max_request_body_bytes": 4096,
    "allowed_origins": ["https://app.example"],
}
# A call that costs nothing: no credits, so the tool refuses it, but it is a tool call all the same.
CALL = {"prompt": "a cat", "payment": {"method": "credits"}, "width": 64, "height": 64}
MCP_HEADERS = {"Accept": "application/json, text/event-stream", "Content-Type": "application/json"}
PING = {"jsonrpc": "2.0", "id": 1, "method": "ping"}


async def test_tool_calls_are_limited_per_wallet_then_per_ip(server: LiveServer) -> None:
    a, b, c = new_account(), new_account(), new_account()
    tokens = [await server.sign_in(x) for x in (a, b, c)]  # 6 of the 9 sign-in requests
    async with server.mcp(tokens[0]) as client:
        for _ in range(3):
            result = await client.call_tool("generate_image", CALL)
            assert result.is_error and "rate limit" not in result.content[0].text
        refused = await client.call_tool("generate_image", CALL)
        assert refused.is_error
        text = refused.content[0].text
        assert text.startswith("rate limit: 3 tool calls per 15 minutes per wallet") and "try again in" in text
    async with server.mcp(tokens[1]) as client:  # B has its own wallet budget; the IP has 3 calls left
        for _ in range(3):
            assert "rate limit" not in (await client.call_tool("generate_image", CALL)).content[0].text
        refused = await client.call_tool("generate_image", CALL)
        assert refused.content[0].text.startswith("rate limit: 6 tool calls per 15 minutes per IP address")
    async with server.mcp(tokens[2]) as client:  # a fresh wallet from the same IP is refused too
        refused = await client.call_tool("generate_image", CALL)
        assert refused.is_error and "per IP address" in refused.content[0].text
        # Reads are not tool calls: the client can still look around.
        assert (await client.list_tools()).tools
    async with server.http() as http:
        metrics = (await http.get("/metrics")).text
    assert 'sf_mcp_rate_limited_total{limit="tool_wallet"} 1.0' in metrics
    assert 'sf_mcp_rate_limited_total{limit="tool_ip"} 2.0' in metrics


async def test_sign_in_requests_are_limited_per_ip_with_retry_after(server: LiveServer) -> None:
    async with server.http() as http:
        statuses = []
        for _ in range(12):
            response = await http.get("/auth/nonce", params={"address": new_account().address})
            statuses.append(response.status_code)
            if response.status_code == 429:
                break
        assert statuses[-1] == 429, statuses
        wait = int(response.headers["retry-after"])  # a token comes back every 100 s (9 per 15 minutes)
        assert 1 <= wait <= 100 and f"try again in {wait} s" in response.json()["error_description"]
        assert "sign-in requests per 15 minutes per IP address" in response.json()["error_description"]


async def test_foreign_origin_and_host_are_refused(server: LiveServer) -> None:
    async with server.http() as http:
        evil = await http.post("/mcp", json=PING, headers={**MCP_HEADERS, "Origin": "http://evil.example"})
        assert evil.status_code == 403
        evil_auth = await http.get("/auth/nonce", params={"address": new_account().address},
                                   headers={"Origin": "http://evil.example"})
        assert evil_auth.status_code == 403
        rebinding = await http.get("/healthz", headers={"Host": "evil.example"})
        assert rebinding.status_code == 421
        allowed = await http.get("/healthz", headers={"Origin": "https://app.example"})
        assert allowed.status_code == 200
        local = await http.get("/healthz", headers={"Origin": f"http://localhost:{server.settings.http.port}"})
        assert local.status_code == 200


async def test_large_bodies_are_refused(server: LiveServer) -> None:
    big = b'{"message": "' + b"x" * 10_000 + b'", "signature": "0x00"}'
    async with server.http() as http:
        assert (await http.post("/auth/verify", content=big, headers={"content-type": "application/json"})
                ).status_code == 413
        # The size is refused before the token is looked at (a signed-in caller gets 413 too: see
        # test_http_auth.py::test_a_body_over_the_limit_is_413_for_a_signed_in_caller).
        assert (await http.post("/mcp", content=big, headers=MCP_HEADERS)).status_code == 413

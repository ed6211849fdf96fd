"""/metrics, /readyz, /healthz and the JSON logs over real HTTP."""

from __future__ import annotations

import io
import json
import logging
import re
from collections.abc import Iterator

import pytest
from http_support import LiveServer, new_account

from sf_mcp.server.http.observability import JsonFormatter

pytestmark = pytest.mark.anyio

JWT_SECRET = "the observability tests' jwt secret, 32+ characters"
SERVER_SETTINGS = {"rate_limit_auth_ip": 1000, "jwt_secret": JWT_SECRET}
SECRET_PROMPT = "a very private prompt about a purple giraffe"


@pytest.fixture
def json_log() -> Iterator[io.StringIO]:
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonFormatter())
    handler.setLevel(logging.INFO)
    root = logging.getLogger()
    old_level = root.level
    root.addHandler(handler)
    root.setLevel(logging.INFO)
    try:
        yield stream
    finally:
        root.removeHandler(handler)
        root.setLevel(old_level)


async def test_metrics_count_calls_generations_and_payments(server: LiveServer, json_log: io.StringIO) -> None:
    account = new_account()
    token = await server.sign_in(account)
    async with server.mcp(token) as client:
        done = await client.call_tool(
            "generate_image", {"prompt": SECRET_PROMPT, "payment": {"method": "free"}, "width": 64, "height": 64}
        )
        assert not done.is_error
        refused = await client.call_tool("generate_image", {"prompt": "x", "payment": {"method": "credits"}})
        assert refused.is_error
    async with server.http() as http:
        response = await http.get("/metrics")
    assert response.status_code == 200 and response.headers["content-type"].startswith("text/plain")
    text = response.text
    assert 'sf_mcp_tool_calls_total{outcome="ok",tool="generate_image"} 1.0' in text
    assert 'sf_mcp_tool_calls_total{outcome="tool_error",tool="generate_image"} 1.0' in text
    assert 'sf_mcp_tool_call_seconds_count{tool="generate_image"} 2.0' in text
    assert re.search(r'sf_mcp_generations_total\{kind="image",model="[^"]+",outcome="succeeded"\} 1\.0', text)
    assert 'sf_mcp_payments_total{method="free",outcome="settled"} 1.0' in text
    assert 'sf_mcp_sign_ins_total{outcome="ok"} 1.0' in text
    assert 'sf_mcp_token_checks_total{outcome="ok"}' in text
    assert 'sf_mcp_http_requests_total{route="/mcp",status="200"}' in text

    lines = [json.loads(line) for line in json_log.getvalue().splitlines()]
    calls = [e for e in lines if e["msg"] == "tool call"]
    assert len(calls) == 2
    assert calls[0]["wallet"] == account.address.lower() and calls[0]["tool"] == "generate_image"
    assert calls[0]["request_id"] and calls[0]["outcome"] == "ok"
    http_lines = [e for e in lines if e["msg"] == "http request" and e["path"] == "/mcp"]
    assert http_lines and all("request_id" in e for e in http_lines)
    everything = json_log.getvalue()
    assert SECRET_PROMPT not in everything and token not in everything
    assert JWT_SECRET not in everything


async def test_request_id_is_echoed(server: LiveServer) -> None:
    async with server.http() as http:
        mine = await http.get("/healthz", headers={"X-Request-ID": "abc-123"})
        assert mine.headers["x-request-id"] == "abc-123"
        made = await http.get("/healthz", headers={"X-Request-ID": "bad id with spaces"})
        assert made.headers["x-request-id"] != "bad id with spaces" and len(made.headers["x-request-id"]) == 32


async def test_readyz_reports_database_chain_and_providers(server: LiveServer) -> None:
    async with server.http() as http:
        health = await http.get("/healthz")
        ready = await http.get("/readyz")
    assert health.json() == {"status": "ok"}
    assert ready.status_code == 200, ready.text
    body = ready.json()
    assert body["status"] == "ready"
    assert {"database", "chain", "providers"} <= set(body["checks"])
    assert all(check["ok"] for check in body["checks"].values())


async def test_readyz_fails_when_every_provider_is_open(server: LiveServer) -> None:
    async def open_all(services):
        for provider in services.providers.providers:
            breaker = services.providers.breaker(provider.name)
            for _ in range(services.settings.providers.breaker_failures):
                breaker.record_failure()

    async def close_all(services):
        for provider in services.providers.providers:
            services.providers.breaker(provider.name).record_success()

    server.run(open_all)
    try:
        async with server.http() as http:
            ready = await http.get("/readyz")
        assert ready.status_code == 503
        assert ready.json()["checks"]["providers"]["ok"] is False
    finally:
        server.run(close_all)

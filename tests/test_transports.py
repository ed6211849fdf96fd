"""The real entry points: `sf-mcp serve` over stdio (Python SDK and MCP Inspector) and over HTTP."""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
from pathlib import Path

import httpx2
import pytest
from mcp import StdioServerParameters
from mcp.client import Client

from support import wait_until_serving

pytestmark = pytest.mark.anyio

ROOT = Path(__file__).resolve().parents[1]
INSPECTOR = ROOT / "tests" / "inspector" / "node_modules" / ".bin" / "mcp-inspector"


def _server_env(data_dir: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SF_") and k not in ("HF_TOKEN",)}
    env["SF_DATA_DIR"] = str(data_dir)
    return env


async def test_stdio_answers_the_python_sdk_client(data_dir: Path, mode: str) -> None:
    params = StdioServerParameters(
        command=sys.executable, args=["-m", "sf_mcp.cli", "serve", "--transport", "stdio"], env=_server_env(data_dir)
    )
    async with Client(params, mode=mode) as client:
        tools = {t.name: t for t in (await client.list_tools()).tools}
        assert tools["generate_image"].input_schema["type"] == "object"
        result = await client.call_tool(
            "generate_image", {"prompt": "over stdio", "payment": {"method": "free"}, "width": 128, "height": 128}
        )
        assert not result.is_error
        assert result.content[0].type == "image"
        assert result.structured_content["status"] == "succeeded"


def _inspector(data_dir: Path, *args: str) -> dict:
    if not INSPECTOR.exists():
        pytest.fail(f"{INSPECTOR} is missing: run `make test` (it runs npm ci in tests/inspector)")
    node = shutil.which("node")
    assert node, "node is required for the MCP Inspector"
    completed = subprocess.run(
        # The Inspector does not pass its environment on to the server: the data dir goes as a flag.
        # A loaded machine can take longer than the Inspector's default 15 s to start the server.
        [str(INSPECTOR), "--cli", "--connect-timeout", "100000", sys.executable, "-m", "sf_mcp.cli",
         "--data-dir", str(data_dir), "serve", "--transport", "stdio", *args],
        capture_output=True, text=True, timeout=120, env=_server_env(data_dir), check=False,
    )
    assert completed.returncode == 0, completed.stderr[-2000:]
    return json.loads(completed.stdout)


def test_stdio_answers_the_mcp_inspector(data_dir: Path) -> None:
    listed = _inspector(data_dir, "--method", "tools/list")
    tool = next(t for t in listed["tools"] if t["name"] == "generate_image")
    assert tool["inputSchema"]["required"] == ["prompt"]  # payment may come as _meta["x402/payment"] alone
    assert "payment" in tool["inputSchema"]["properties"]
    assert not tool["description"].startswith(" ")

    called = _inspector(
        data_dir, "--method", "tools/call", "--tool-name", "generate_image",
        "--tool-arg", "prompt=inspected fox", "--tool-arg", 'payment={"method": "free"}',
        "--tool-arg", "width=128", "--tool-arg", "height=128",
    )
    assert not called.get("isError")
    assert [c["type"] for c in called["content"]][:2] == ["image", "resource_link"]
    assert called["structuredContent"]["status"] == "succeeded"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_http_serves_mcp_and_healthz_on_loopback(data_dir: Path) -> None:
    port = _free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "sf_mcp.cli", "serve", "--transport", "http", "--port", str(port)],
        env=_server_env(data_dir), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
    )
    try:
        wait_until_serving(proc)
        base = f"http://127.0.0.1:{port}"
        health = httpx2.get(f"{base}/healthz")
        assert health.status_code == 200 and health.json()["status"] == "ok"
        probe = httpx2.post(f"{base}/mcp", json={})
        assert probe.status_code == 401  # the MCP endpoint exists and wants a Sign-In with Ethereum token
        assert "resource_metadata" in probe.headers["www-authenticate"]
    finally:
        proc.terminate()
        proc.wait(timeout=30)

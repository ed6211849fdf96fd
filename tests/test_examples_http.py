"""Every HTTP client configuration in examples/ reaches a working server, exactly as the client would.

The server is started the way the configurations' comments and docs/http.md say
(``sf-mcp serve --transport http --port P``), the token comes from ``sf-mcp login``,
and each configuration's URL and headers are used as written, with its token
placeholder (``${env:SF_TOKEN}``, ``${input:sf-token}``, ``${SF_TOKEN}``) filled in
the way that client fills it. Claude Desktop only starts stdio servers, so its
configuration runs the documented ``mcp-remote`` bridge; the test checks the URL and
header it hands the bridge (the bridge itself is an npm package, not run here).
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx2
import pytest
from mcp.client import Client
from mcp.client.streamable_http import streamable_http_client

from sf_mcp.chain.accounts import DEV_ADDRESSES, DEV_KEYS
from support import wait_until_serving

pytestmark = pytest.mark.anyio

ROOT = Path(__file__).resolve().parents[1]
DOCUMENTED_PORT = 8000
SF_MCP = str(Path(sys.executable).with_name("sf-mcp"))


def _config(name: str) -> dict:
    return json.loads((ROOT / "examples" / name).read_text())


def _cursor(token: str) -> tuple[str, dict[str, str]]:
    entry = _config("cursor_mcp_http.json")["mcpServers"]["sf-mcp"]
    env = {"SF_TOKEN": token}  # Cursor fills ${env:NAME} from its environment
    return entry["url"], {k: _fill(v, "${env:", env) for k, v in entry["headers"].items()}


def _vscode(token: str) -> tuple[str, dict[str, str]]:
    config = _config("vscode_mcp_http.json")
    entry = config["servers"]["sf-mcp"]
    assert entry["type"] == "http"
    inputs = {i["id"]: token for i in config["inputs"]}  # VS Code prompts for each input (a password field)
    assert all(i["password"] for i in config["inputs"])
    return entry["url"], {k: _fill(v, "${input:", inputs) for k, v in entry["headers"].items()}


def _claude_desktop(token: str) -> tuple[str, dict[str, str]]:
    entry = _config("claude_desktop_http_config.json")["mcpServers"]["sf-mcp"]
    assert entry["command"] == "npx" and entry["args"][:2] == ["-y", "mcp-remote"]
    url, rest = entry["args"][2], entry["args"][3:]
    headers: dict[str, str] = {}
    env = {**entry["env"], "SF_TOKEN": token}  # mcp-remote fills ${NAME} in --header from its environment
    while rest:
        flag, value, *rest = rest
        assert flag == "--header"
        name, _, text = value.partition(":")
        headers[name.strip()] = _fill(text.strip(), "${", env)
    return url, headers


def _fill(text: str, opener: str, values: dict[str, str]) -> str:
    while opener in text:
        start = text.index(opener)
        end = text.index("}", start)
        text = text[:start] + values[text[start + len(opener):end]] + text[end + 1:]
    return text


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[int, str]]:
    """``sf-mcp serve --transport http --port P`` and a token from ``sf-mcp login``."""
    port = _free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("SF_")}
    env["SF_DATA_DIR"] = str(tmp_path_factory.mktemp("http-examples"))
    server = subprocess.Popen([SF_MCP, "serve", "--transport", "http", "--port", str(port)], env=env,
                              stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        wait_until_serving(server)
        login = subprocess.run([SF_MCP, "login", "--key-env", "MY_KEY", "--url", f"http://127.0.0.1:{port}"],
                               env={**env, "MY_KEY": DEV_KEYS[1]}, capture_output=True, text=True, timeout=60)
        assert login.returncode == 0, login.stderr
        yield port, login.stdout.strip()
    finally:
        server.terminate()
        try:
            server.wait(timeout=10)
        except subprocess.TimeoutExpired:
            server.kill()


@pytest.mark.parametrize("configure", [_claude_desktop, _cursor, _vscode], ids=["claude_desktop", "cursor", "vscode"])
async def test_http_config_lists_tools_and_generates(configure, served: tuple[int, str]) -> None:
    port, token = served
    url, headers = configure(token)
    assert url == f"http://127.0.0.1:{DOCUMENTED_PORT}/mcp"  # what the docs tell users to run
    url = url.replace(f":{DOCUMENTED_PORT}/", f":{port}/")
    assert headers == {"Authorization": f"Bearer {token}"}
    async with httpx2.AsyncClient(headers=headers, timeout=httpx2.Timeout(30, read=120)) as http:
        async with Client(streamable_http_client(url, http_client=http), mode="legacy", cache=None) as client:
            names = {t.name for t in (await client.list_tools()).tools}
            assert {"generate_image", "stake", "vote", "contest", "send_transaction"} <= names
            assert "dev_advance_time" not in names  # dev tools only where SF_DEV_TOOLS asks for them
            result = await client.call_tool(
                "generate_image", {"prompt": f"from {configure.__name__}", "payment": {"method": "free"},
                                   "width": 64, "height": 64})
            assert not result.is_error, result.content
            assert result.structured_content["wallet"] == DEV_ADDRESSES[1]


async def test_without_the_token_the_server_says_how_to_sign_in(served: tuple[int, str]) -> None:
    port, _ = served
    async with httpx2.AsyncClient(timeout=10) as http:
        response = await http.post(f"http://127.0.0.1:{port}/mcp", json={"jsonrpc": "2.0", "id": 1, "method": "ping"})
    assert response.status_code == 401 and "Bearer" in response.headers.get("www-authenticate", "")

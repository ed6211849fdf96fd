"""The whole OAuth flow with a real browser: an outside OAuth client, `sf-mcp serve --transport http`, chromium.

The MCP Python SDK's client OAuth provider (``mcp.client.auth``) discovers the server,
registers, and hands the authorization URL to its redirect handler; here that handler runs
``tests/browser/login.mjs`` (playwright-core driving Debian's chromium, installed by
``make test``). A test EIP-1193 provider injected into the page signs with an eth-account
key held by this test; the page returns to the client's loopback redirect URI with the
code, which the client exchanges before calling tools with its token.

Screenshots of the login page at desktop and phone widths go to ``test-output/oauth/``.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import anyio
import httpx2
import pytest
from eth_account import Account
from eth_account.messages import encode_defunct
from eth_account.signers.local import LocalAccount
from mcp.client import Client
from mcp.client.auth import OAuthClientProvider
from mcp.client.streamable_http import streamable_http_client
from mcp.shared.auth import AuthorizationCodeResult, OAuthClientInformationFull, OAuthClientMetadata, OAuthToken
from oauth_support import OAuthFlow, pkce, query

from support import wait_until_serving

pytestmark = pytest.mark.anyio

ROOT = Path(__file__).resolve().parents[2]
BROWSER = ROOT / "tests" / "browser"
SHOTS = ROOT / "test-output" / "oauth"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Serving:
    """`sf-mcp serve --transport http` in a subprocess, as a user runs it."""

    def __init__(self, port: int) -> None:
        self.base_url = f"http://127.0.0.1:{port}"
        self.mcp_url = f"{self.base_url}/mcp"

    def http(self) -> httpx2.AsyncClient:
        return httpx2.AsyncClient(base_url=self.base_url, timeout=30)


@pytest.fixture(scope="module")
def serving(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Serving]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SF_") and k != "HF_TOKEN"}
    env["SF_DATA_DIR"] = str(tmp_path_factory.mktemp("oauth-browser"))
    port = _free_port()
    process = subprocess.Popen([sys.executable, "-m", "sf_mcp.cli", "serve", "--transport", "http", "--port", str(port)],
                               env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        wait_until_serving(process)
        yield Serving(port)
    finally:
        process.terminate()
        process.wait(timeout=30)


def drive_login(url: str, *, mode: str, account: LocalAccount, callback_prefix: str,
                untick: tuple[str, ...] = ()) -> dict[str, Any]:
    """Run login.mjs on ``url``, signing what the page asks with ``account``; its final report."""
    SHOTS.mkdir(parents=True, exist_ok=True)
    node = subprocess.Popen(["node", "login.mjs", url, callback_prefix, str(SHOTS), account.address, mode,
                             ",".join(untick)],
                            cwd=BROWSER, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True)
    deadline = threading.Timer(120, node.kill)  # a hung browser fails the test instead of hanging it
    deadline.start()
    try:
        assert node.stdin is not None and node.stdout is not None and node.stderr is not None
        for line in node.stdout:
            said = json.loads(line)
            if "sign" in said:
                signable = (encode_defunct(primitive=bytes.fromhex(said["sign"][2:])) if said["encoding"] == "hex"
                            else encode_defunct(text=said["sign"]))
                signature = "0x" + bytes(account.sign_message(signable).signature).hex()
                node.stdin.write(json.dumps({"signature": signature}) + "\n")
                node.stdin.flush()
            elif "done" in said:
                node.stdin.close()
                node.wait(timeout=60)
                return said["done"]
        raise AssertionError("the browser script ended early:\n" + node.stderr.read()[-3000:])
    finally:
        deadline.cancel()
        if node.poll() is None:
            node.kill()


class MemoryStorage:
    """The SDK client's TokenStorage, in memory."""

    def __init__(self) -> None:
        self.tokens: OAuthToken | None = None
        self.client: OAuthClientInformationFull | None = None

    async def get_tokens(self) -> OAuthToken | None:
        return self.tokens

    async def set_tokens(self, tokens: OAuthToken) -> None:
        self.tokens = tokens

    async def get_client_info(self) -> OAuthClientInformationFull | None:
        return self.client

    async def set_client_info(self, client_info: OAuthClientInformationFull) -> None:
        self.client = client_info


def check_page(report: dict[str, Any], *, client_name: str) -> None:
    """What the browser saw on the login page, whatever the signing path."""
    headers = report["headers"]
    assert "frame-ancestors 'none'" in headers["content-security-policy"]
    assert headers["x-frame-options"] == "DENY"
    assert "Connect wallet" not in report["framedText"]  # the framed copy stayed empty
    assert report["problems"] == []  # no script error, no CSP violation
    assert report["foreign"] == []  # nothing fetched from anywhere but sf-mcp
    assert client_name in report["page"]["text"] and "127.0.0.1" in report["page"]["text"]
    for scope in ("read", "generate", "pay", "vote", "stake"):
        assert scope in report["page"]["text"]
    assert report["phone"]["overflows"] is False  # no sideways scrolling at 390 px
    assert report["phone"]["buttonHeight"] >= 44  # a thumb-sized target


def browser_client(
    serving: Serving, account: LocalAccount, *, unticks: list[tuple[str, ...]]
) -> tuple[OAuthClientProvider, MemoryStorage, list[dict[str, Any]]]:
    """The SDK's OAuth client whose redirect handler signs in through chromium with ``account``.

    The n-th sign-in unticks the scopes ``unticks[n]`` on the page; every browser report is appended.
    """
    callback = f"http://127.0.0.1:{_free_port()}/callback"
    reports: list[dict[str, Any]] = []

    async def redirect_handler(url: str) -> None:
        untick = unticks[len(reports)]
        reports.append(await anyio.to_thread.run_sync(
            lambda: drive_login(url, mode="wallet", account=account, callback_prefix=callback, untick=untick)))

    async def callback_handler() -> AuthorizationCodeResult:
        answer = query(reports[-1]["callback"])
        return AuthorizationCodeResult(code=answer["code"], state=answer.get("state"), iss=answer.get("iss"))

    storage = MemoryStorage()
    provider = OAuthClientProvider(
        server_url=serving.mcp_url,
        client_metadata=OAuthClientMetadata(
            client_name="Browser Test Assistant", redirect_uris=[callback],  # type: ignore[list-item]
            grant_types=["authorization_code", "refresh_token"], response_types=["code"],
            token_endpoint_auth_method="none",
        ),
        storage=storage, redirect_handler=redirect_handler, callback_handler=callback_handler,
    )
    return provider, storage, reports


async def test_an_oauth_client_signs_in_through_the_browser_wallet_and_calls_tools(serving: Serving) -> None:
    account = Account.create()
    provider, storage, reports = browser_client(serving, account, unticks=[()])
    async with httpx2.AsyncClient(auth=provider, timeout=60) as http:
        async with Client(streamable_http_client(serving.mcp_url, http_client=http), mode="legacy") as client:
            image = await client.call_tool("generate_image", {
                "prompt": "a lighthouse at dusk", "payment": {"method": "free"}, "width": 128, "height": 128})
            assert not image.is_error, image.content
            assert image.structured_content["status"] == "succeeded"
            mine = await client.call_tool("account", {})
            assert mine.structured_content["wallet"] == account.address.lower()
    [report] = reports
    check_page(report, client_name="Browser Test Assistant")
    assert query(report["callback"])["iss"] == serving.base_url
    assert storage.tokens is not None and storage.tokens.refresh_token
    assert storage.tokens.scope == "read generate pay vote stake"
    for name in ("login-wallet-desktop.png", "login-wallet-phone.png"):
        assert (SHOTS / name).stat().st_size > 10_000


async def test_a_scope_left_unticked_is_asked_for_again_when_a_tool_needs_it(serving: Serving) -> None:
    """The insufficient_scope challenge with a real client: it steps up through the browser, then the call runs."""
    account = Account.create()
    provider, storage, reports = browser_client(serving, account, unticks=[("pay",), ()])
    async with httpx2.AsyncClient(auth=provider, timeout=60) as http:
        async with Client(streamable_http_client(serving.mcp_url, http_client=http), mode="auto") as client:
            assert storage.tokens is not None and storage.tokens.scope == "read generate vote stake"
            paid = await client.call_tool("generate_image", {
                "prompt": "a paid fox", "payment": {"method": "crypto", "tx_hash": "0x" + "ab" * 32},
                "width": 128, "height": 128})
    # The 403 made the client ask the user again; this time "pay" stayed ticked, and the call reached
    # the tool, which looked for the (made-up) payment instead of refusing the scope.
    assert len(reports) == 2
    assert storage.tokens.scope == "read generate pay vote stake"
    text = " ".join(getattr(c, "text", "") for c in paid.content)
    assert paid.is_error and "scope" not in text and "0x" + "ab" * 32 in text.lower(), text


async def test_without_a_browser_wallet_a_pasted_signature_signs_in_for_the_scopes_left_ticked(serving: Serving) -> None:
    account = Account.create()
    async with serving.http() as http:
        flow = OAuthFlow(serving, http)  # type: ignore[arg-type]
        client = await flow.register(client_name="Phone Assistant", redirect_uris=["https://app.example/cb"])
        verifier, challenge = pkce()
        started = await flow.authorize(client["client_id"], challenge, scope="read generate",
                                       redirect_uri="https://app.example/cb")
        report = await anyio.to_thread.run_sync(lambda: drive_login(
            started.headers["location"], mode="manual", account=account, callback_prefix="https://app.example/cb",
            untick=("generate",)))
        answer = query(report["callback"])
        assert answer["iss"] == serving.base_url and answer["state"] == "st4te"
        tokens = await flow.token(grant_type="authorization_code", code=answer["code"], client_id=client["client_id"],
                                  code_verifier=verifier, redirect_uri="https://app.example/cb")
        assert tokens.status_code == 200, tokens.text
        assert tokens.json()["scope"] == "read"  # the user unticked "generate" on the page
        assert await flow.mcp_status(tokens.json()["access_token"]) == 200
    assert "No browser wallet found" in report["page"]["text"] and "Phone Assistant" in report["page"]["text"]
    assert report["headers"]["x-frame-options"] == "DENY" and report["problems"] == [] and report["foreign"] == []
    assert report["phone"]["overflows"] is False
    assert (SHOTS / "login-manual-phone-message.png").stat().st_size > 10_000

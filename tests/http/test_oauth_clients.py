"""OAuth clients by Client ID Metadata Document: fetched with limits, refused by name; every tool has a scope."""

from __future__ import annotations

import json
import threading
from collections.abc import AsyncIterator, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import anyio
import httpx2
import pytest
from http_support import LiveServer, new_account
from oauth_support import CALLBACK, OAuthFlow, pkce

from sf_mcp.config import load_settings
from sf_mcp.server.app import build_server
from sf_mcp.server.http.scopes import TOOL_SCOPES
from sf_mcp.server.oauth import ClientMetadataError, MetadataDocuments, clients

pytestmark = pytest.mark.anyio

# Development setting: the metadata documents below are served from loopback over plain http.
SERVER_SETTINGS = {"rate_limit_auth_ip": 10_000, "oauth_allow_private_client_metadata": True}


class Documents:
    """A loopback HTTP server answering GET <path> with the bodies tests put in ``pages``."""

    def __init__(self) -> None:
        self.pages: dict[str, bytes] = {}
        pages = self.pages

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                body = pages.get(self.path)
                self.send_response(200 if body is not None else 404)
                self.send_header("Content-Type", "application/json")
                self.end_headers()
                self.wfile.write(body or b"{}")

            def log_message(self, *_: object) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.base = f"http://127.0.0.1:{self.httpd.server_address[1]}"

    def publish(self, path: str, document: dict | bytes) -> str:
        url = f"{self.base}{path}"
        if isinstance(document, dict):
            document = json.dumps({"client_id": url, **document}).encode()
        self.pages[path] = document
        return url


@pytest.fixture(scope="module")
def documents() -> Iterator[Documents]:
    docs = Documents()
    thread = threading.Thread(target=docs.httpd.serve_forever, daemon=True)
    thread.start()
    yield docs
    docs.httpd.shutdown()
    thread.join(timeout=10)


@pytest.fixture
async def flow(server: LiveServer) -> AsyncIterator[OAuthFlow]:
    async with server.http() as http:
        yield OAuthFlow(server, http)


async def test_a_client_identified_by_its_metadata_document_completes_the_flow(
    flow: OAuthFlow, documents: Documents
) -> None:
    client_id = documents.publish("/apps/assistant.json", {
        "client_name": "Hosted Assistant", "redirect_uris": [CALLBACK], "token_endpoint_auth_method": "none"})
    _, challenge = pkce()
    login = (await flow.authorize(client_id, challenge)).headers["location"]
    page = await flow.http.get(login)
    assert "Hosted Assistant" in page.text and "metadata document at 127.0.0.1" in page.text
    grant = await flow.grant(new_account(), client={"client_id": client_id})
    tokens = await flow.exchange(grant)
    assert tokens.status_code == 200, tokens.text
    assert await flow.mcp_status(tokens.json()["access_token"]) == 200


@pytest.mark.parametrize(("document", "problem"), [
    (b"{" + b" " * 20_000 + b"}", "larger than 16384 bytes"),
    (b"not json", "not JSON"),
    ({"redirect_uris": [CALLBACK], "token_endpoint_auth_method": "client_secret_post"}, "is not supported"),
    ({"redirect_uris": ["http://evil.example/cb"]}, "plain http and not a loopback"),
])
async def test_a_bad_metadata_document_is_refused_by_name(
    flow: OAuthFlow, documents: Documents, document: dict | bytes, problem: str
) -> None:
    path = f"/bad/{abs(hash(problem))}.json"
    client_id = documents.publish(path, document)
    _, challenge = pkce()
    response = await flow.authorize(client_id, challenge)
    assert response.status_code == 400 and "location" not in response.headers
    assert response.json()["error"] == "invalid_client" and problem in response.json()["error_description"]


async def test_a_document_naming_another_client_id_is_refused(flow: OAuthFlow, documents: Documents) -> None:
    documents.pages["/imposter.json"] = json.dumps({"client_id": "https://trusted.example/app.json",
                                                    "redirect_uris": [CALLBACK]}).encode()
    _, challenge = pkce()
    response = await flow.authorize(f"{documents.base}/imposter.json", challenge)
    assert response.status_code == 400 and "another client_id" in response.json()["error_description"]


async def test_private_and_loopback_addresses_are_not_fetched_by_default() -> None:
    docs = MetadataDocuments(allow_private=False)
    for url, problem in [
        ("https://localhost/app.json", "loopback"),
        ("https://127.0.0.1:8443/app.json", "loopback"),
        ("https://10.1.2.3/app.json", "private"),
        ("https://169.254.169.254/latest/meta-data", "reserved"),
        ("http://app.example/app.json", "must be https"),
        ("https://app.example/", "needs a path"),
    ]:
        with pytest.raises(ClientMetadataError, match=problem):
            await docs.get(url)


async def test_a_document_that_does_not_arrive_in_time_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(clients, "FETCH_TIMEOUT_S", 0.05)
    never = anyio.Event()

    async def hang(request: httpx2.Request) -> httpx2.Response:
        await never.wait()
        raise AssertionError("unreachable")

    docs = MetadataDocuments(allow_private=True, transport=httpx2.MockTransport(hang))
    with pytest.raises(ClientMetadataError, match="did not arrive within 0.05 s"):
        await docs.get("https://app.example/app.json")


async def test_documents_are_cached(documents: Documents) -> None:
    url = documents.publish("/cached.json", {"client_name": "Cached", "redirect_uris": [CALLBACK]})
    docs = MetadataDocuments(allow_private=True)
    first = await docs.get(url)
    documents.pages["/cached.json"] = b"gone"
    assert (await docs.get(url)).client_name == first.client_name == "Cached"


def test_every_tool_the_server_registers_has_a_scope(tmp_path) -> None:
    settings = load_settings(data_dir=tmp_path, dev_tools=True)
    server = build_server(settings)

    async def names() -> set[str]:
        return {tool.name for tool in await server.list_tools()}

    registered = anyio.run(names)
    assert registered <= set(TOOL_SCOPES), f"classify these tools in server/http/scopes.py: {registered - set(TOOL_SCOPES)}"


async def test_login_request_of_an_unknown_id_shows_an_error_page(flow: OAuthFlow) -> None:
    page = await flow.http.get("/oauth/login", params={"request": "nope"})
    assert page.status_code == 404 and "start again from your app" in page.text
    assert page.headers["x-frame-options"] == "DENY"

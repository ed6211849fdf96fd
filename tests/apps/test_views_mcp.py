"""The views as MCP sees them, without a browser: the ui:// resources, the tool bindings, hosts without Apps.

A host that does not speak MCP Apps must get exactly today's answers from the bound tools
(text, image, resource link, structured output); a host that does finds each tool's view
through ``_meta.ui.resourceUri`` and reads it as ``text/html;profile=mcp-app`` with its CSP.
Both protocol eras (``mode``) are covered by the shared ``client`` fixtures' parameters.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from typing import Any

import pytest
from mcp.client import Client, advertise
from mcp.server.apps import APP_MIME_TYPE, EXTENSION_ID

from sf_mcp.config import Settings, load_settings
from sf_mcp.server import build_server
from sf_mcp.server.apps import BOUND_TOOLS, VIEWS, csp, page, tool_meta

pytestmark = pytest.mark.anyio

APPS = advertise(EXTENSION_ID, {"mimeTypes": [APP_MIME_TYPE]})


@pytest.fixture
async def apps_client(settings: Settings, mode: str) -> AsyncIterator[Client]:
    """A client that advertises MCP Apps, beside the plain ``client`` of conftest (same server settings)."""
    async with Client(build_server(settings), mode=mode, extensions=[APPS]) as c:
        yield c


def _shape(result: Any) -> tuple[list[str], set[str], bool]:
    return [c.type for c in result.content], set(result.structured_content or {}), bool(result.is_error)


async def test_hosts_with_and_without_apps_get_the_same_answers(client: Client, apps_client: Client) -> None:
    image = {"prompt": "a lantern in fog", "payment": {"method": "free"}, "width": 96, "height": 96}
    plain, rich = await client.call_tool("generate_image", image), await apps_client.call_tool("generate_image", image)
    assert _shape(plain) == _shape(rich)
    assert _shape(plain)[0] == ["image", "resource_link", "text"]  # today's answer: preview, link, summary
    assert plain.structured_content["prompt"] == rich.structured_content["prompt"] == "a lantern in fog"
    for name, args in (("gallery", {"limit": 5}), ("leaderboard", {}),
                       ("get_generation", {"task_id": rich.structured_content["task_id"], "wait_s": 0})):
        a, b = await client.call_tool(name, args), await apps_client.call_tool(name, args)
        assert _shape(a) == _shape(b) and not a.is_error, (name, a.content)
        assert "text" in _shape(a)[0]  # hosts without Apps still read the answer as text


async def test_bound_tools_name_their_view_and_the_views_are_mcp_app_pages(apps_client: Client) -> None:
    tools = {t.name: t for t in (await apps_client.list_tools()).tools}
    for name, view in BOUND_TOOLS.items():
        assert tools[name].meta == {"ui": {"resourceUri": view.uri}, "ui/resourceUri": view.uri}
    assert tools["contest_status"].meta == {"ui": {"resourceUri": "ui://sf-mcp/contest.html", "visibility": ["app"]}}
    assert tools["vote"].meta is None and tool_meta("vote") is None
    listed = {str(r.uri): r for r in (await apps_client.list_resources()).resources}
    for view in VIEWS:
        assert listed[view.uri].mime_type == APP_MIME_TYPE
        read = await apps_client.read_resource(view.uri)
        (content,) = read.contents
        assert content.mime_type == APP_MIME_TYPE
        assert content.meta == {"ui": {"csp": {"connectDomains": [], "resourceDomains": [], "frameDomains": [],
                                               "baseUriDomains": []}, "prefersBorder": True}}
        html = content.text
        assert "connect-src 'none'" in html and "default-src 'none'" in html
        assert not re.search(r"<script[^>]+src=|<link[^>]+href=|https?://", html.split("<script>", 1)[0])
        assert "McpApps" in html and f"{view.name}.js" not in html  # the App bundle and the view's script inline


async def test_the_contest_status_tool_answers_for_the_caller(apps_client: Client) -> None:
    status = await apps_client.call_tool("contest_status", {})
    assert not status.is_error, status.content
    data = status.structured_content
    assert data["wallet"] == "0xf39fd6e51aad88f6f4ce6ab8827279cfffb92266"  # the embedded dev wallet over stdio
    assert data["contest_id"] == 1 and data["finalizable_contest_id"] is None and data["can_claim"] is False
    assert 0 < data["ends_in_s"] == data["contest_end"] - data["now"]
    assert data["voting_power"] == 0


def test_media_from_a_public_content_store_are_allowed_by_the_csp(tmp_path) -> None:
    settings = load_settings(storage={"data_dir": tmp_path, "content_backend": "s3", "s3_bucket": "media",
                                      "s3_public_base_url": "https://media.example.org/sf/"})
    html = page(VIEWS[0], settings)
    assert "img-src data: https://media.example.org;" in html
    assert "media-src data: https://media.example.org;" in html
    assert csp(settings).resource_domains == ["https://media.example.org"]
    assert csp(load_settings(storage={"data_dir": tmp_path})).resource_domains == []

"""Every client configuration in examples/ starts a working server exactly as the client would."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import pytest
from mcp import StdioServerParameters
from mcp.client import Client

pytestmark = pytest.mark.anyio

ROOT = Path(__file__).resolve().parents[1]
PLACEHOLDER = "/path/to/sf-mcp/.venv/bin/sf-mcp"
STDIO_CONFIGS = ["claude_desktop_config.json", "cursor_mcp.json", "vscode_mcp.json"]


def _stdio_entry(name: str) -> dict:
    config = json.loads((ROOT / "examples" / name).read_text())
    servers = config.get("mcpServers") or config["servers"]
    return servers["sf-mcp"]


@pytest.mark.parametrize("name", STDIO_CONFIGS)
async def test_stdio_config_starts_a_working_server(name: str, tmp_path: Path) -> None:
    entry = _stdio_entry(name)
    assert entry["command"] == PLACEHOLDER  # the README tells users what to put there
    command = str(Path(sys.executable).with_name("sf-mcp"))
    env = {k: v for k, v in os.environ.items() if not k.startswith("SF_")}
    env.update(entry.get("env", {}), SF_DATA_DIR=str(tmp_path))
    params = StdioServerParameters(command=command, args=entry["args"], env=env)
    async with Client(params, mode="legacy") as client:
        names = {t.name for t in (await client.list_tools()).tools}
        assert {"generate_image", "generate_video"} <= names
        result = await client.call_tool(
            "generate_image", {"prompt": "from an example config", "payment": {"method": "free"},
                               "width": 64, "height": 64}
        )
        assert not result.is_error
        assert result.structured_content["wallet"] == entry["env"]["SF_WALLET"].lower()

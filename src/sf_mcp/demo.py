"""``sf-mcp demo``: a short, real MCP session against this server on the embedded defaults.

It launches ``sf-mcp serve --transport stdio`` as a subprocess (exactly as an
assistant would), lists the tools, generates an image with the free tier, reads
the task's resource and the wallet's history, and prints a readable transcript.
"""

from __future__ import annotations

import base64
import json
import os
import sys
from pathlib import Path

from mcp import StdioServerParameters
from mcp.client import Client

from sf_mcp.config import Settings


def _say(text: str = "") -> None:
    print(text, flush=True)


async def run_demo(settings: Settings, *, out_dir: Path) -> None:
    out_dir.mkdir(parents=True, exist_ok=True)
    env = {**os.environ, "SF_DATA_DIR": str(settings.data_dir)}
    params = StdioServerParameters(command=sys.executable, args=["-m", "sf_mcp.cli", "serve", "--transport", "stdio"], env=env)
    _say(f"sf-mcp demo: data in {settings.data_dir}, images in {out_dir.resolve()}")
    async with Client(params, mode="legacy") as client:
        _say(f"connected to {client.server_info.name} {client.server_info.version} (protocol {client.protocol_version})")
        tools = await client.list_tools()
        _say("\n> tools/list")
        for tool in tools.tools:
            _say(f"  {tool.name}: {(tool.description or '').splitlines()[0]}")

        prompt = "a neon fox running across the Sonic blockchain at night"
        _say(f'\n> tools/call generate_image prompt="{prompt}" payment={{"method": "free"}} 512x512')
        result = await client.call_tool(
            "generate_image", {"prompt": prompt, "payment": {"method": "free"}, "width": 512, "height": 512, "seed": 7}
        )
        if result.is_error:
            raise RuntimeError(f"generate_image failed: {result.content[0].text}")
        info = result.structured_content
        for block in result.content:
            if block.type == "image":
                _say(f"  preview: {block.mime_type}, {len(base64.b64decode(block.data))} bytes")
            elif block.type == "resource_link":
                _say(f"  link: {block.uri}")
            elif block.type == "text":
                _say(f"  {block.text}")
        _say(f"  task {info['task_id']}: {info['status']}, model {info['model']}, attempts {len(info['attempts'])}")

        _say(f"\n> resources/read {info['resource_uri']}")
        task = json.loads((await client.read_resource(info["resource_uri"])).contents[0].text)
        _say(f"  status={task['status']} content={task['content_uri']} payment={task['payment']['method']}")

        _say(f"\n> resources/read {task['content_uri']}")
        media = (await client.read_resource(task["content_uri"])).contents[0]
        data = base64.b64decode(media.blob)
        path = out_dir / f"{info['task_id']}.png"
        path.write_bytes(data)
        _say(f"  {media.mime_type}, {len(data)} bytes -> {path}")

        history_uri = f"generations://wallet/{task['wallet']}"
        _say(f"\n> resources/read {history_uri}")
        history = json.loads((await client.read_resource(history_uri, cache_mode="bypass")).contents[0].text)
        for item in history[:5]:
            _say(f"  {item['task_id']} {item['status']:<9} {item['kind']} {item['prompt'][:50]!r}")
    _say(f"\ndone: the image is in {out_dir.resolve()}")

"""``sf-mcp demo``: a short, real MCP session against this server on the embedded defaults.

It launches ``sf-mcp serve --transport stdio`` as a subprocess (exactly as an
assistant would), lists the tools, generates an image with the free tier, reads
the task's resource, then pays 3 S on the embedded chain, verifies the payment,
generates with it (and shows that retrying does not pay twice), reads the
leaderboard and the wallet's history, and prints a readable transcript.

The server runs as a local agent with development account #0's key, a public
test key that only exists on the embedded chain, so it signs the payment itself.
"""

from __future__ import annotations

import base64
import json
import os
import sys
from pathlib import Path
from typing import Any

from mcp import StdioServerParameters
from mcp.client import Client
from mcp_types import BlobResourceContents, CallToolResult, ReadResourceResult, TextContent, TextResourceContents

from sf_mcp.chain.accounts import DEV_KEYS
from sf_mcp.config import Settings


def _say(text: str = "") -> None:
    print(text, flush=True)


async def run_demo(settings: Settings, *, out_dir: Path) -> None:
    out_dir.mkdir(parents=True, exist_ok=True)
    env = {k: v for k, v in os.environ.items() if k not in ("SF_WALLET", "SF_RPC_URL")}
    env.update(SF_DATA_DIR=str(settings.storage.data_dir), SF_AGENT_KEY=DEV_KEYS[0])
    params = StdioServerParameters(command=sys.executable, args=["-m", "sf_mcp.cli", "serve", "--transport", "stdio"], env=env)
    _say(f"sf-mcp demo: data in {settings.storage.data_dir}, images in {out_dir.resolve()}")
    async with Client(params, mode="legacy") as client:
        server = client.server_info
        name = f"{server.name} {server.version}" if server is not None else "the server"
        _say(f"connected to {name} (protocol {client.protocol_version})")
        tools = await client.list_tools()
        _say("\n> tools/list")
        for tool in tools.tools:
            _say(f"  {tool.name}: {(tool.description or '').splitlines()[0]}")

        prompt = "a neon fox running across the Sonic blockchain at night"
        _say(f'\n> tools/call generate_image prompt="{prompt}" payment={{"method": "free"}} 512x512')
        result = await client.call_tool(
            "generate_image", {"prompt": prompt, "payment": {"method": "free"}, "width": 512, "height": 512, "seed": 7}
        )
        info = _structured(result, "generate_image")
        for block in result.content:
            if block.type == "image":
                _say(f"  preview: {block.mime_type}, {len(base64.b64decode(block.data))} bytes")
            elif block.type == "resource_link":
                _say(f"  link: {block.uri}")
            elif block.type == "text":
                _say(f"  {block.text}")
        _say(f"  task {info['task_id']}: {info['status']}, model {info['model']}, attempts {len(info['attempts'])}")

        _say(f"\n> resources/read {info['resource_uri']}")
        task = json.loads(_text(await client.read_resource(info["resource_uri"])))
        _say(f"  status={task['status']} content={task['content_uri']} payment={task['payment']['method']}")

        _say(f"\n> resources/read {task['content_uri']}")
        media = _blob(await client.read_resource(task["content_uri"]))
        data = base64.b64decode(media.blob)
        path = out_dir / f"{info['task_id']}.png"
        path.write_bytes(data)
        _say(f"  {media.mime_type}, {len(data)} bytes -> {path}")

        await _paid_generation(client, out_dir)

        history_uri = f"generations://wallet/{task['wallet']}"
        _say(f"\n> resources/read {history_uri}")
        history = json.loads(_text(await client.read_resource(history_uri, cache_mode="bypass")))
        for item in history[:5]:
            _say(f"  {item['task_id']} {item['status']:<9} {item['kind']} {item['payment']['method']:<7} "
                 f"{item['prompt'][:50]!r}")
    _say(f"\ndone: the images are in {out_dir.resolve()}")


async def _paid_generation(client: Client, out_dir: Path) -> None:
    """Pay 3 S on the embedded chain, check the payment, generate with it, and retry without paying twice."""
    prompt = "a golden lighthouse guiding ships through a storm"
    _say(f'\n> tools/call prepare_payment method=S generation_type=image prompt="{prompt}"')
    paid = (await _call(client, "prepare_payment", {"method": "S", "prompt": prompt, "generation_type": "image"}))
    tx_hash = paid["sent"]["transactions"][-1]["tx_hash"]
    _say(f"  {paid['summary']}")
    _say(f"  the agent key signed and sent it: {tx_hash}")

    _say(f"\n> tools/call verify_payment tx_hash={tx_hash[:18]}...")
    verdict = await _call(client, "verify_payment", {"tx_hash": tx_hash, "generation_type": "image", "prompt": prompt})
    _say(f"  valid={verdict['valid']} payer={verdict['payer']} amount={verdict['amount_display']} "
         f"request_id={verdict['request_id']}")

    args = {"prompt": prompt, "payment": {"method": "crypto", "tx_hash": tx_hash}, "width": 512, "height": 512}
    _say(f'\n> tools/call generate_image payment={{"method": "crypto", "tx_hash": "{tx_hash[:18]}..."}}')
    first = await _call(client, "generate_image", args)
    _say(f"  task {first['task_id']}: {first['status']}, {first['content_uri']}")
    _say("\n> the same call again (an agent retrying after a dropped connection)")
    again = await _call(client, "generate_image", args)
    _say(f"  task {again['task_id']}: replay={again['payment']['replay']} (nothing charged twice)")

    media = _blob(await client.read_resource(first["content_uri"]))
    path = out_dir / f"{first['task_id']}.png"
    path.write_bytes(base64.b64decode(media.blob))
    _say(f"  {media.mime_type} -> {path}")

    _say("\n> tools/call leaderboard period=week")
    board = await _call(client, "leaderboard", {"period": "week"})
    _say(f"  contest {board['contest_id']}: prize pool {board['prize_pool_s']} S (15 % of each payment), "
         f"{len(board['entries'])} ranked creators so far (votes come from stakers), as of block {board['as_of_block']}")


async def _call(client: Client, tool: str, arguments: dict[str, Any]) -> dict[str, Any]:
    return _structured(await client.call_tool(tool, arguments), tool)


def _structured(result: CallToolResult, tool: str) -> dict[str, Any]:
    """The tool's structured answer; its text as the error when the call failed."""
    if result.is_error or result.structured_content is None:
        texts = [block.text for block in result.content if isinstance(block, TextContent)]
        raise RuntimeError(f"{tool} failed: {' '.join(texts) or 'no structured answer'}")
    answer: dict[str, Any] = result.structured_content
    return answer


def _text(result: ReadResourceResult) -> str:
    contents = result.contents[0]
    if not isinstance(contents, TextResourceContents):
        raise RuntimeError(f"{contents.uri}: expected text, got {type(contents).__name__}")
    return contents.text


def _blob(result: ReadResourceResult) -> BlobResourceContents:
    contents = result.contents[0]
    if not isinstance(contents, BlobResourceContents):
        raise RuntimeError(f"{contents.uri}: expected bytes, got {type(contents).__name__}")
    return contents

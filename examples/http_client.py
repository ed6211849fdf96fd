"""Connect to an sf-mcp HTTP server with the MCP Python SDK, as a signed-in wallet.

Sign in first (the key stays on your machine; only a signature is sent):

    export MY_KEY=0x...                      # the wallet's private key
    export SF_TOKEN=$(.venv/bin/sf-mcp login --key-env MY_KEY --url http://127.0.0.1:8000)
    .venv/bin/python examples/http_client.py --url http://127.0.0.1:8000

The token goes in the ``Authorization: Bearer`` header of every request: give the
SDK's streamable HTTP transport an httpx2 client that carries it.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys

import httpx2
from mcp.client import Client
from mcp.client.streamable_http import streamable_http_client


async def main(url: str, token: str, generate: str | None) -> int:
    headers = {"Authorization": f"Bearer {token}"}
    async with httpx2.AsyncClient(headers=headers, timeout=httpx2.Timeout(30, read=300)) as http:
        async with Client(streamable_http_client(f"{url}/mcp", http_client=http), mode="legacy") as client:
            tools = await client.list_tools()
            print("tools:", ", ".join(t.name for t in tools.tools))
            if generate:
                result = await client.call_tool(
                    "generate_image", {"prompt": generate, "payment": {"method": "free"}, "width": 256, "height": 256}
                )
                if result.is_error:
                    print("refused:", result.content[0].text)
                    return 1
                task = result.structured_content
                print(f"task {task['task_id']}: {task['status']} by {task['model']} -> {task['content_uri']}")
                wallet = task["wallet"]
                history = await client.read_resource(f"generations://wallet/{wallet}")
                print(f"{wallet} has {len(json.loads(history.contents[0].text))} generation(s)")
    return 0


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--url", default="http://127.0.0.1:8000", help="the server's base URL")
    parser.add_argument("--token", default=os.environ.get("SF_TOKEN"), help="bearer token (env SF_TOKEN)")
    parser.add_argument("--generate", metavar="PROMPT", help="also generate an image with the free daily quota")
    args = parser.parse_args()
    if not args.token:
        sys.exit("no token: run `sf-mcp login --key-env VAR --url URL` and pass --token or set SF_TOKEN")
    sys.exit(asyncio.run(main(args.url.rstrip("/"), args.token, args.generate)))

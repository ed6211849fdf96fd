"""generate_image through an in-memory MCP client: latency, throughput and the server's own overhead.

Local renderer, 512x512, free tier. Prints p50/p99 latency and calls/s serially and
with 16 concurrent callers, and how much of each call is spent outside the provider
(payment gate, job row, content store, preview, MCP framing).

    .venv/bin/python bench/bench_generate.py [--calls 200]
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

import anyio
from mcp.client import Client

from sf_mcp.config import load_settings
from sf_mcp.server import build_server


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


async def run(calls: int, concurrency: int, client: Client) -> tuple[list[float], list[float], float]:
    latencies: list[float] = []
    provider: list[float] = []
    limiter = anyio.Semaphore(concurrency)

    async def one(i: int) -> None:
        async with limiter:
            start = time.perf_counter()
            result = await client.call_tool(
                "generate_image",
                {"prompt": f"bench {i}", "payment": {"method": "free"}, "width": 512, "height": 512, "seed": i},
            )
            latencies.append(time.perf_counter() - start)
            assert not result.is_error, result.content
            provider.append(sum(a["ms"] for a in result.structured_content["attempts"]) / 1000)

    began = time.perf_counter()
    async with anyio.create_task_group() as tg:
        for i in range(calls):
            tg.start_soon(one, i)
    return latencies, provider, time.perf_counter() - began


async def main(calls: int) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        settings = load_settings(data_dir=Path(tmp), free_daily_quota=10 * calls, workers=4)
        async with Client(build_server(settings)) as client:
            await run(4, 1, client)  # warm up
            print(f"generate_image, local renderer 512x512, {calls} calls per row")
            print(f"{'callers':>8} {'p50 ms':>8} {'p99 ms':>8} {'calls/s':>8} {'provider ms':>12} {'overhead ms':>12}")
            for concurrency in (1, 16):
                lat, prov, wall = await run(calls, concurrency, client)
                overhead = [l - p for l, p in zip(lat, prov)]
                print(
                    f"{concurrency:>8} {pct(lat, .5) * 1e3:>8.1f} {pct(lat, .99) * 1e3:>8.1f} {calls / wall:>8.1f} "
                    f"{statistics.median(prov) * 1e3:>12.1f} {statistics.median(overhead) * 1e3:>12.1f}"
                )


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--calls", type=int, default=200)
    anyio.run(main, parser.parse_args().calls)

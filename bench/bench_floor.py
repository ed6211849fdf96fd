"""The floor of the HTTP benchmarks: a trivial tool on the same SDK, uvicorn and client loop, auth off.

Whatever sf-mcp does per request comes on top of what this costs: the MCP SDK's
streamable HTTP transport, uvicorn, JSON-RPC framing and the benchmark's own
client loop, all on the same (shared, noisy) machine. ``bench_http.py`` runs it
first and prints every figure of its own beside this one and as a ratio, so a
run on a busy machine still says how close sf-mcp is to what is possible.

    python bench/bench_floor.py                      # 50 clients, 15 s
    python bench/bench_floor.py --serve --port 8123  # only the server (what bench_http starts)

The load loop, percentiles and the /healthz probe live here and are imported by
``bench_http.py``: both measure with the same code.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import socket
import subprocess
import sys
import time
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import httpx2
from mcp.client import Client
from mcp.client.streamable_http import streamable_http_client
from pydantic import BaseModel

Op = tuple[str, str, dict]  # (label, "tool" | "resource", arguments)


class Echo(BaseModel):
    """The floor tool's structured result: small, like the answers sf-mcp's light tools give."""

    text: str
    at: float


@dataclass
class Stats:
    latencies: dict[str, list[float]] = field(default_factory=lambda: defaultdict(list))
    ok: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    refused: dict[str, int] = field(default_factory=lambda: defaultdict(int))  # expected tool errors (unknown tx)
    rate_limited: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    errors: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    error_samples: list[str] = field(default_factory=list)


@dataclass
class LoadResult:
    """One load run: every request's latency per operation, the /healthz probes and the wall time."""

    stats: Stats
    health: list[float]
    elapsed: float

    @property
    def total(self) -> int:
        return sum(len(v) for v in self.stats.latencies.values())

    @property
    def rate(self) -> float:
        return self.total / self.elapsed if self.elapsed else 0.0

    def all_latencies(self) -> list[float]:
        return [x for v in self.stats.latencies.values() for x in v]

    def health_finite(self) -> list[float]:
        return [h for h in self.health if h != float("inf")]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def pct(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


@dataclass
class Start:
    """Sessions connect first; the measured window opens once all are connected (or failed to)."""

    sessions: int
    duration: float
    connected: int = 0
    go: asyncio.Event = field(default_factory=asyncio.Event)
    began: float = 0.0
    deadline: float = 0.0

    def arrived(self) -> None:
        self.connected += 1
        if self.connected == self.sessions:
            self.began = time.perf_counter()
            self.deadline = self.began + self.duration
            self.go.set()


async def client_loop(url: str, token: str | None, start: Start, stats: Stats, ops: list[Op]) -> None:
    """One MCP session calling ``ops`` in turn for the measured window; what every HTTP figure is measured with.

    The session is opened (initialize) and each operation called once before the window: on a
    loaded machine fifty handshakes at once would otherwise eat the window and hide the per-request
    cost, and a session's first call of a tool also lists the server's tools and compiles that
    tool's output schema in this client (sf-mcp lists 14 tools, 70 KB): one-time costs of a
    session, not of a request.
    """
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    async with httpx2.AsyncClient(headers=headers, timeout=60) as http:
        try:
            session = Client(streamable_http_client(f"{url}/mcp", http_client=http), mode="legacy", cache=None)
            c = await session.__aenter__()
            for label, kind, args in ops:  # warm-up, not measured
                await (c.call_tool(label, args) if kind == "tool" else c.read_resource(args["uri"]))
        except BaseException:
            start.arrived()
            raise
        try:
            start.arrived()
            await start.go.wait()
            i = 0
            while time.perf_counter() < start.deadline:
                label, kind, args = ops[i % len(ops)]
                i += 1
                started = time.perf_counter()
                try:
                    if kind == "tool":
                        result = await c.call_tool(label, args)
                        text = result.content[0].text if result.is_error and result.content else ""
                        if result.is_error and text.startswith("rate limit:"):
                            stats.rate_limited[label] += 1
                        elif result.is_error:
                            stats.refused[label] += 1
                        else:
                            stats.ok[label] += 1
                    else:
                        await c.read_resource(args["uri"])
                        stats.ok[label] += 1
                except Exception as exc:  # transport failures, protocol errors: the errors that count
                    stats.errors[label] += 1
                    if len(stats.error_samples) < 5:
                        stats.error_samples.append(f"{label}: {type(exc).__name__}: {str(exc)[:120]}")
                stats.latencies[label].append(time.perf_counter() - started)
        finally:
            await session.__aexit__(None, None, None)


async def probe(url: str, start: Start, samples: list[float]) -> None:
    """/healthz every 0.25 s while the load runs: does the server's event loop still answer?

    The probe runs in a process of its own: probed from this one, whose event loop is kept busy by
    the load's sessions, it would measure this process's own lag as much as the server's.
    """
    await start.go.wait()
    child = await asyncio.create_subprocess_exec(
        sys.executable, str(Path(__file__).resolve()), "--probe", url, "--duration", str(start.duration),
        stdout=asyncio.subprocess.PIPE)
    out, _ = await child.communicate()
    samples.extend(json.loads(out or b"[]"))


def probe_here(url: str, duration: float) -> list[float]:
    """The probe process: one keep-alive connection, a GET every 0.25 s; seconds per answer (inf: failed)."""
    samples: list[float] = []
    deadline = time.perf_counter() + duration
    with httpx2.Client(timeout=10) as http:
        while time.perf_counter() < deadline:
            started = time.perf_counter()
            try:
                http.get(f"{url}/healthz").raise_for_status()
                samples.append(time.perf_counter() - started)
            except httpx2.HTTPError:
                samples.append(float("inf"))
            time.sleep(0.25)
    return samples


async def load(url: str, tokens: list[str | None], ops: list[Op], duration: float) -> LoadResult:
    """One session per token, all calling ``ops`` for ``duration`` seconds once every session is open, with the
    /healthz probe beside them."""
    stats, health = Stats(), []
    start = Start(len(tokens), duration)
    await asyncio.gather(probe(url, start, health), *(client_loop(url, t, start, stats, ops) for t in tokens))
    return LoadResult(stats, health, time.perf_counter() - start.began)


async def wait_ready(url: str, process: subprocess.Popen, path: str, *, within_s: float = 120) -> bool:
    """Poll ``path`` until it answers 200 (the process may have to start a chain first)."""
    async with httpx2.AsyncClient(timeout=30) as http:
        start_by = time.perf_counter() + within_s
        while True:
            if process.poll() is not None:
                return False
            try:
                if (await http.get(f"{url}{path}")).status_code == 200:
                    return True
            except httpx2.HTTPError:
                pass
            if time.perf_counter() > start_by:
                return False
            await asyncio.sleep(0.1)


def stop(process: subprocess.Popen) -> None:
    process.terminate()
    try:
        process.wait(timeout=20)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


FLOOR_OPS: list[Op] = [("ping", "tool", {"text": "x"})]


async def measure_floor(clients: int, duration: float) -> LoadResult | None:
    """Start the floor server in its own process (as bench_http starts sf-mcp) and load it."""
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    server = subprocess.Popen([sys.executable, str(Path(__file__).resolve()), "--serve", "--port", str(port)],
                              stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        if not await wait_ready(url, server, "/healthz", within_s=60):
            print(server.stderr.read().decode()[-2000:] if server.poll() is not None else "floor did not start",
                  file=sys.stderr)
            return None
        return await load(url, [None] * clients, FLOOR_OPS, duration)
    finally:
        stop(server)


def serve(port: int) -> None:
    """The floor server: one tool with a structured result and /healthz, nothing else."""
    import uvicorn
    from mcp.server import MCPServer
    from starlette.requests import Request
    from starlette.responses import JSONResponse

    server = MCPServer("floor")

    @server.tool(structured_output=True)
    async def ping(text: str) -> Echo:
        """Answer the text back."""
        return Echo(text=text, at=time.time())

    @server.custom_route("/healthz", methods=["GET"])
    async def healthz(_: Request) -> JSONResponse:
        return JSONResponse({"status": "ok"})

    app = server.streamable_http_app(host="127.0.0.1")
    uvicorn.run(app, host="127.0.0.1", port=port, log_level="warning", lifespan="on")


def report_floor(floor: LoadResult, clients: int, duration: float, print_: Callable[[str], None] = print) -> None:
    lat = floor.stats.latencies["ping"]
    health = floor.health_finite()
    print_(f"floor (trivial tool, same SDK/uvicorn/client loop, auth off): {clients} clients x {duration:g} s")
    print_(f"  {floor.total} requests in {floor.elapsed:.1f} s = {floor.rate:.0f} req/s; p50 {pct(lat, .5) * 1e3:.1f} ms, "
           f"p99 {pct(lat, .99) * 1e3:.1f} ms; errors {sum(floor.stats.errors.values())}")
    print_(f"  /healthz during load: p50 {pct(health, .5) * 1e3:.1f} ms, p99 {pct(health, .99) * 1e3:.1f} ms, "
           f"max {max(health, default=float('nan')) * 1e3:.1f} ms")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--serve", action="store_true", help="only run the floor server")
    parser.add_argument("--probe", metavar="URL", help="only probe URL's /healthz for --duration s (prints JSON)")
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--clients", type=int, default=50)
    parser.add_argument("--duration", type=float, default=15.0)
    args = parser.parse_args()
    if args.serve:
        serve(args.port or free_port())
        return 0
    if args.probe:
        print(json.dumps(probe_here(args.probe, args.duration)))  # a failed probe is Infinity, which json reads back
        return 0
    args.clients = max(1, min(args.clients, 500))
    args.duration = max(1.0, min(args.duration, 600.0))
    floor = asyncio.run(measure_floor(args.clients, args.duration))
    if floor is None:
        return 1
    report_floor(floor, args.clients, args.duration)
    return 1 if sum(floor.stats.errors.values()) else 0


if __name__ == "__main__":
    sys.exit(main())

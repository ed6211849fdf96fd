"""Load test of the HTTP server from a second process on loopback.

Starts ``sf-mcp serve --transport http`` on a free loopback port (embedded
defaults, a throw-away data dir), signs in ``--clients`` wallets, and has each
call ``leaderboard`` and ``verify_payment`` in turn over its own MCP session
for ``--duration`` seconds (falling back to reading ``generations://recent``
and calling ``generate_image`` with no credits if those tools are not
registered). A probe reads /healthz every 0.25 s to show the server stays
responsive. Prints requests/s, p50/p99 per operation, errors other than
rate-limit refusals, and the cost of auth per request (JWT verification).

    python bench/bench_http.py                  # 50 clients, 15 s, limits raised
    python bench/bench_http.py --duration 60    # the issue's 60 s run
    python bench/bench_http.py --default-limits # keep 100 calls / 15 min / IP: expect refusals
    python bench/bench_http.py --light          # no chain reads: the cost of HTTP, auth and limits alone

Bounded: at most --clients sessions for --duration seconds, loopback only.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import re
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

import httpx2
from eth_account import Account
from eth_account.messages import encode_defunct
from mcp.client import Client
from mcp.client.streamable_http import streamable_http_client

RANDOM_TX = "0x" + "5a" * 32


@dataclass
class Stats:
    latencies: dict[str, list[float]] = field(default_factory=lambda: defaultdict(list))
    ok: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    refused: dict[str, int] = field(default_factory=lambda: defaultdict(int))  # expected tool errors (unknown tx)
    rate_limited: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    errors: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    error_samples: list[str] = field(default_factory=list)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def pct(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


async def sign_in(http: httpx2.AsyncClient) -> str:
    account = Account.create()
    issued = (await http.get("/auth/nonce", params={"address": account.address})).json()
    signature = account.sign_message(encode_defunct(text=issued["message"])).signature
    verified = await http.post("/auth/verify", json={"message": issued["message"],
                                                     "signature": "0x" + bytes(signature).hex()})
    verified.raise_for_status()
    return verified.json()["token"]


async def client_loop(url: str, token: str, deadline: float, stats: Stats, ops: list[tuple[str, str, dict]]) -> None:
    headers = {"Authorization": f"Bearer {token}"}
    async with httpx2.AsyncClient(headers=headers, timeout=60) as http:
        async with Client(streamable_http_client(f"{url}/mcp", http_client=http), mode="legacy", cache=None) as c:
            i = 0
            while time.perf_counter() < deadline:
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


async def probe(url: str, deadline: float, samples: list[float]) -> None:
    async with httpx2.AsyncClient(timeout=10) as http:
        while time.perf_counter() < deadline:
            started = time.perf_counter()
            try:
                (await http.get(f"{url}/healthz")).raise_for_status()
                samples.append(time.perf_counter() - started)
            except httpx2.HTTPError:
                samples.append(float("inf"))
            await asyncio.sleep(0.25)


def jwt_cost(iterations: int = 20_000) -> float:
    """Seconds per verification of a token shaped like the server's (HS256, same claims)."""
    import jwt

    secret = os.urandom(48)
    now = int(time.time())
    claims = {"iss": "http://127.0.0.1:8000", "aud": "http://127.0.0.1:8000/mcp", "sub": "0x" + "ab" * 20,
              "jti": "f" * 32, "iat": now, "nbf": now, "exp": now + 3600, "chain_id": 146}
    token = jwt.encode(claims, secret, algorithm="HS256")
    started = time.perf_counter()
    for _ in range(iterations):
        jwt.decode(token, secret, algorithms=["HS256"], audience=claims["aud"], issuer=claims["iss"],
                   options={"require": ["exp", "iat", "sub", "jti", "iss", "aud"]})
    return (time.perf_counter() - started) / iterations


async def run(args: argparse.Namespace) -> int:
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    data_dir = Path(tempfile.mkdtemp(prefix="sf-mcp-bench-"))
    env = {k: v for k, v in os.environ.items() if not k.startswith("SF_") and k != "HF_TOKEN"}
    env.update(SF_DATA_DIR=str(data_dir), SF_RATE_LIMIT_AUTH_IP="100000")
    if not args.default_limits:
        env.update(SF_RATE_LIMIT_IP="10000000", SF_RATE_LIMIT_WALLET="10000000")
    server = subprocess.Popen(
        [sys.executable, "-m", "sf_mcp.cli", "serve", "--transport", "http", "--host", "127.0.0.1",
         "--port", str(port)],
        env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
    )
    try:
        async with httpx2.AsyncClient(base_url=url, timeout=30) as http:
            start_by = time.perf_counter() + 120
            while True:  # the server process starts the embedded chain first: wait for it to answer
                if server.poll() is not None:
                    print(server.stderr.read().decode()[-2000:], file=sys.stderr)
                    return 1
                try:
                    if (await http.get("/readyz")).status_code == 200:
                        break
                except httpx2.HTTPError:
                    pass
                if time.perf_counter() > start_by:
                    print("server did not become ready in 120 s", file=sys.stderr)
                    return 1
                await asyncio.sleep(0.1)

            async with Client(streamable_http_client(f"{url}/mcp", http_client=httpx2.AsyncClient(
                    headers={"Authorization": f"Bearer {await sign_in(http)}"})), mode="legacy") as c:
                tools = {t.name for t in (await c.list_tools()).tools}
            ops: list[tuple[str, str, dict]] = []
            if args.light:
                ops = [("generations://recent", "resource", {"uri": "generations://recent"}),
                       ("generate_image", "tool", {"prompt": "x", "payment": {"method": "credits"}})]
            elif "leaderboard" in tools:
                ops.append(("leaderboard", "tool", {"period": "week", "limit": 10}))
            else:
                ops.append(("generations://recent", "resource", {"uri": "generations://recent"}))
            if args.light:
                pass
            elif "verify_payment" in tools:
                ops.append(("verify_payment", "tool", {"tx_hash": RANDOM_TX}))
            else:
                ops.append(("generate_image", "tool", {"prompt": "x", "payment": {"method": "credits"}}))

            signin_started = time.perf_counter()
            tokens = await asyncio.gather(*(sign_in(http) for _ in range(args.clients)))
            signin_s = time.perf_counter() - signin_started

        stats, health = Stats(), []
        began = time.perf_counter()
        deadline = began + args.duration
        await asyncio.gather(probe(url, deadline, health),
                             *(client_loop(url, t, deadline, stats, ops) for t in tokens))
        elapsed = time.perf_counter() - began

        async with httpx2.AsyncClient(timeout=10) as http:
            metrics = (await http.get(f"{url}/metrics")).text
    finally:
        server.terminate()
        try:
            server.wait(timeout=20)
        except subprocess.TimeoutExpired:
            server.kill()

    total = sum(len(v) for v in stats.latencies.values())
    limits = "server defaults (100 tool calls / 15 min / IP)" if args.default_limits else "raised for the bench"
    print(f"sf-mcp HTTP load: {args.clients} clients x {args.duration:g} s on loopback, rate limits {limits}")
    print(f"  sign-in of {args.clients} wallets: {signin_s * 1000:.0f} ms")
    print(f"  {total} requests in {elapsed:.1f} s = {total / elapsed:.0f} req/s")
    print(f"  {'operation':<24}{'count':>8}{'ok':>8}{'refused':>9}{'limited':>9}{'errors':>8}{'p50 ms':>9}{'p99 ms':>9}")
    for label, _, _ in ops:
        lat = stats.latencies[label]
        print(f"  {label:<24}{len(lat):>8}{stats.ok[label]:>8}{stats.refused[label]:>9}"
              f"{stats.rate_limited[label]:>9}{stats.errors[label]:>8}"
              f"{pct(lat, 0.5) * 1000:>9.1f}{pct(lat, 0.99) * 1000:>9.1f}")
    finite = [h for h in health if h != float("inf")]
    print(f"  /healthz during load: {len(health)} probes, {len(health) - len(finite)} failed, "
          f"p50 {pct(finite, 0.5) * 1000:.1f} ms, max {max(finite, default=float('nan')) * 1000:.1f} ms")
    errors = sum(stats.errors.values())
    print(f"  errors other than rate-limit refusals: {errors}")
    for sample in stats.error_samples:
        print(f"    {sample}")
    per_verify = jwt_cost()
    m_sum = re.search(r"^sf_mcp_token_verify_seconds_sum (\S+)$", metrics, re.M)
    m_count = re.search(r"^sf_mcp_token_verify_seconds_count (\S+)$", metrics, re.M)
    server_side = float(m_sum.group(1)) / float(m_count.group(1)) if m_sum and m_count and float(m_count.group(1)) else 0
    print(f"  auth per request: JWT verify {per_verify * 1e6:.1f} us in this process; "
          f"{server_side * 1e6:.1f} us measured in the server over {int(float(m_count.group(1))) if m_count else 0} "
          f"requests (+ a session lookup at most every 30 s per token)")
    if stats.latencies:
        mean = statistics.mean(x for v in stats.latencies.values() for x in v)
        print(f"  auth share of mean request latency: {server_side / mean * 100:.2f} %")
    return 1 if errors else 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--clients", type=int, default=50, help="concurrent MCP sessions (default 50, max 500)")
    parser.add_argument("--duration", type=float, default=15.0, help="seconds of load (default 15, max 600)")
    parser.add_argument("--default-limits", action="store_true", help="keep the server's default rate limits")
    parser.add_argument("--light", action="store_true",
                        help="call cheap operations (a resource read, a refused tool call) to measure the HTTP stack")
    args = parser.parse_args()
    args.clients = max(1, min(args.clients, 500))
    args.duration = max(1.0, min(args.duration, 600.0))
    return asyncio.run(run(args))


if __name__ == "__main__":
    sys.exit(main())

"""Load test of the HTTP server from a second process on loopback, beside its floor.

First the floor (``bench_floor.py``: a trivial tool on the same SDK, uvicorn and
client loop, auth off) is loaded the same way; every figure below is printed
beside it and as a ratio, because on a shared machine only ratios from one run
compare. Then, for each backend (SQLite, and PostgreSQL on a throwaway cluster
started like the tests start theirs) and each chain (the embedded chain, the default of a server started with
no settings; and anvil from the contracts' npm toolchain with ``sf-mcp deploy --dev``, the way a deployment
reads a node over JSON-RPC), it starts ``sf-mcp serve --transport http`` on a free loopback port (a throw-away
data dir), signs in ``--clients`` wallets, and has each
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
    python bench/bench_http.py --backend sqlite # one backend only (default both)
    python bench/bench_http.py --chain anvil    # against anvil, as a deployment reads a node (default both)

Bounded: at most --clients sessions for --duration seconds, loopback only.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import re
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from contextlib import nullcontext
from pathlib import Path

import httpx2
from eth_account import Account
from eth_account.messages import encode_defunct
from mcp.client import Client
from mcp.client.streamable_http import streamable_http_client

from sf_mcp.chain.devnet import start_anvil

from bench_floor import LoadResult, Op, free_port, load, measure_floor, pct, report_floor, stop, wait_ready

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
from pg_support import pg_server  # noqa: E402  (the tests' throwaway PostgreSQL)

RANDOM_TX = "0x" + "5a" * 32


async def sign_in(http: httpx2.AsyncClient) -> str:
    account = Account.create()
    issued = (await http.get("/auth/nonce", params={"address": account.address})).json()
    signature = account.sign_message(encode_defunct(text=issued["message"])).signature
    verified = await http.post("/auth/verify", json={"message": issued["message"],
                                                     "signature": "0x" + bytes(signature).hex()})
    verified.raise_for_status()
    return verified.json()["token"]


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


async def sign_in_many(url: str, n: int) -> tuple[list[str], float, set[str]]:
    """``n`` fresh wallets signed in (and the tool names the server lists)."""
    async with httpx2.AsyncClient(base_url=url, timeout=30) as http:
        async with Client(streamable_http_client(f"{url}/mcp", http_client=httpx2.AsyncClient(
                headers={"Authorization": f"Bearer {await sign_in(http)}"})), mode="legacy") as c:
            tools = {t.name for t in (await c.list_tools()).tools}
        started = time.perf_counter()
        tokens = await asyncio.gather(*(sign_in(http) for _ in range(n)))
        return list(tokens), time.perf_counter() - started, tools


def choose_ops(tools: set[str], light: bool) -> list[Op]:
    if light:
        return [("generations://recent", "resource", {"uri": "generations://recent"}),
                ("generate_image", "tool", {"prompt": "x", "payment": {"method": "credits"}})]
    ops: list[Op] = []
    if "leaderboard" in tools:
        ops.append(("leaderboard", "tool", {"period": "week", "limit": 10}))
    else:
        ops.append(("generations://recent", "resource", {"uri": "generations://recent"}))
    if "verify_payment" in tools:
        ops.append(("verify_payment", "tool", {"tx_hash": RANDOM_TX}))
    else:
        ops.append(("generate_image", "tool", {"prompt": "x", "payment": {"method": "credits"}}))
    return ops


async def measure_sfmcp(args: argparse.Namespace, backend: str, pg, rpc_url: str | None = None,
                        ) -> tuple[LoadResult, list[Op], float, str] | None:
    """Start ``sf-mcp serve --transport http`` on ``backend`` (and the node at ``rpc_url``, else the embedded
    chain) and load it like the floor."""
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    data_dir = Path(tempfile.mkdtemp(prefix="sf-mcp-bench-"))
    env = {k: v for k, v in os.environ.items() if not k.startswith("SF_") and k != "HF_TOKEN"}
    env.update(SF_DATA_DIR=str(data_dir), SF_RATE_LIMIT_AUTH_IP="100000")
    if not args.default_limits:
        env.update(SF_RATE_LIMIT_IP="10000000", SF_RATE_LIMIT_WALLET="10000000")
    database = None
    if backend == "postgres":
        database = pg.create(template=None)
        env["SF_DATABASE_URL"] = database
        subprocess.run([sys.executable, "-m", "sf_mcp.cli", "migrate"], env=env, check=True, capture_output=True)
    if rpc_url is not None:
        subprocess.run([sys.executable, "-m", "sf_mcp.cli", "deploy", "--dev", "--rpc-url", rpc_url], env=env,
                       check=True, capture_output=True)
        env["SF_RPC_URL"] = rpc_url
    server = subprocess.Popen(
        [sys.executable, "-m", "sf_mcp.cli", "serve", "--transport", "http", "--host", "127.0.0.1",
         "--port", str(port)],
        env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
    )
    try:
        if not await wait_ready(url, server, "/readyz"):
            print(server.stderr.read().decode()[-2000:] if server.poll() is not None else
                  "server did not become ready in 120 s", file=sys.stderr)
            return None
        tokens, signin_s, tools = await sign_in_many(url, args.clients)
        ops = choose_ops(tools, args.light)
        result = await load(url, list(tokens), ops, args.duration)
        async with httpx2.AsyncClient(timeout=10) as http:
            metrics = (await http.get(f"{url}/metrics")).text
    finally:
        stop(server)
        if database is not None:
            pg.drop(database)
    return result, ops, signin_s, metrics


def ratio(value: float, floor: float) -> str:
    return f"{value / floor * 100:.0f} %" if floor else "n/a"


def report(args: argparse.Namespace, backend: str, run_: tuple[LoadResult, list[Op], float, str],
           floor: LoadResult, chain: str = "embedded chain") -> int:
    result, ops, signin_s, metrics = run_
    stats = result.stats
    floor_lat = floor.stats.latencies["ping"]
    f50, f99 = pct(floor_lat, 0.5), pct(floor_lat, 0.99)
    limits = "server defaults (100 tool calls / 15 min / IP)" if args.default_limits else "raised for the bench"
    mix = "light mix" if args.light else "default mix"
    print(f"sf-mcp HTTP load, {backend}, {chain}, {mix}: {args.clients} clients x {args.duration:g} s on loopback, "
          f"rate limits {limits}")
    print(f"  sign-in of {args.clients} wallets: {signin_s * 1000:.0f} ms")
    print(f"  {result.total} requests in {result.elapsed:.1f} s = {result.rate:.0f} req/s; floor {floor.rate:.0f} req/s "
          f"in this run: {ratio(result.rate, floor.rate)} of the floor (target >= 50 %)")
    print(f"  {'operation':<24}{'count':>8}{'ok':>8}{'refused':>9}{'limited':>9}{'errors':>8}{'p50 ms':>9}"
          f"{'p99 ms':>9}{'p50/floor':>11}{'p99/floor':>11}")
    for label, _, _ in ops:
        lat = stats.latencies[label]
        print(f"  {label:<24}{len(lat):>8}{stats.ok[label]:>8}{stats.refused[label]:>9}"
              f"{stats.rate_limited[label]:>9}{stats.errors[label]:>8}"
              f"{pct(lat, 0.5) * 1000:>9.1f}{pct(lat, 0.99) * 1000:>9.1f}"
              f"{pct(lat, 0.5) / f50:>10.1f}x{pct(lat, 0.99) / f99:>10.1f}x")
    print(f"  {'floor: ping':<24}{len(floor_lat):>8}{floor.stats.ok['ping']:>8}{'':>9}{'':>9}"
          f"{floor.stats.errors['ping']:>8}{f50 * 1000:>9.1f}{f99 * 1000:>9.1f}{'1.0':>10}x{'1.0':>10}x")
    if "leaderboard" in stats.latencies:
        print(f"  leaderboard p99 = {pct(stats.latencies['leaderboard'], 0.99) / f99:.1f} x the floor's p99 "
              "(target <= 3x)")
    finite, ffinite = result.health_finite(), floor.health_finite()
    print(f"  /healthz during load: {len(result.health)} probes, {len(result.health) - len(finite)} failed, "
          f"p50 {pct(finite, 0.5) * 1000:.1f} ms, p99 {pct(finite, 0.99) * 1000:.1f} ms, "
          f"max {max(finite, default=float('nan')) * 1000:.1f} ms (target p99 < 50 ms; floor p99 "
          f"{pct(ffinite, 0.99) * 1000:.1f} ms)")
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
        mean = statistics.mean(result.all_latencies())
        print(f"  auth share of mean request latency: {server_side / mean * 100:.2f} %")
    return errors


async def run(args: argparse.Namespace) -> int:
    print("All figures are from this one run on a shared machine: compare the ratios to the floor, not the "
          "absolute numbers.")
    floor = await measure_floor(args.clients, args.duration)
    if floor is None:
        return 1
    report_floor(floor, args.clients, args.duration)
    backends = ["sqlite", "postgres"] if args.backend == "both" else [args.backend]
    chains = ["embedded", "anvil"] if args.chain == "both" else [args.chain]
    errors = 0
    with pg_server() if "postgres" in backends else nullcontext() as pg:
        for chain in chains:
            node = start_anvil() if chain == "anvil" else None
            try:
                for backend in backends:
                    measured = await measure_sfmcp(args, backend, pg, node.url if node else None)
                    if measured is None:
                        return 1
                    errors += report(args, backend, measured, floor, "anvil" if node else "embedded chain")
            finally:
                if node is not None:
                    node.stop()
    return 1 if errors else 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--clients", type=int, default=50, help="concurrent MCP sessions (default 50, max 500)")
    parser.add_argument("--duration", type=float, default=15.0, help="seconds of load (default 15, max 600)")
    parser.add_argument("--default-limits", action="store_true", help="keep the server's default rate limits")
    parser.add_argument("--backend", choices=["sqlite", "postgres", "both"], default="both",
                        help="the database behind the server (postgres: a throwaway cluster, as the tests start)")
    parser.add_argument("--chain", choices=["embedded", "anvil", "both"], default="both",
                        help="the chain behind the server: the embedded one, anvil (npm toolchain), or both in turn")
    parser.add_argument("--light", action="store_true",
                        help="call cheap operations (a resource read, a refused tool call) to measure the HTTP stack")
    args = parser.parse_args()
    args.clients = max(1, min(args.clients, 500))
    args.duration = max(1.0, min(args.duration, 600.0))
    # A SIGTERM unwinds like Ctrl-C, so the servers and the throwaway PostgreSQL are stopped on the way out.
    signal.signal(signal.SIGTERM, lambda *_: (_ for _ in ()).throw(KeyboardInterrupt()))
    return asyncio.run(run(args))


if __name__ == "__main__":
    sys.exit(main())

"""Tool calls/s and p50/p99 with 1, 2 and 3 replicas on one PostgreSQL, and the single SQLite process.

All runs share one anvil (``sf-mcp deploy --dev``) and use the bench_http client mix (``leaderboard``
and ``verify_payment`` in turn, one MCP session per wallet), with the clients spread round-robin over
the replicas as a load balancer would. Rate limits are raised. After each run it prints where the CPU
went (a profile by process, from /proc: the replicas, PostgreSQL's processes, anvil, and this load
generator), because on a 2-core machine more replicas cannot add cores: the ratios say how much the
replicas cost, the CPU split says what saturates.

    python bench/bench_scale.py                    # 30 clients, 15 s per configuration
    python bench/bench_scale.py --duration 60

Bounded: at most --clients sessions for --duration seconds per configuration, loopback only.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import resource
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from bench_floor import LoadResult, Stats, free_port, load, pct, stop, wait_ready
from bench_http import choose_ops, sign_in_many

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
from pg_support import pg_server  # noqa: E402  (the tests' throwaway PostgreSQL)

from sf_mcp.chain.devnet import start_anvil  # noqa: E402

TICK = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of one process (0 when it is gone)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / TICK


def children_of(ppid: int) -> list[int]:
    out = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1]) == ppid:
                    out.append(int(entry.name))
            except (OSError, IndexError, ValueError):
                continue
    return out


class CpuProfile:
    """CPU seconds per role between two snapshots (PostgreSQL: the postmaster and every backend)."""

    def __init__(self, roles: dict[str, list[int]], postmaster: int | None) -> None:
        self.roles, self.postmaster = roles, postmaster
        self.before = self._snapshot()

    def _snapshot(self) -> dict[str, float]:
        snap = {role: sum(cpu_seconds(p) for p in pids) for role, pids in self.roles.items()}
        if self.postmaster is not None:
            snap["postgresql"] = sum(cpu_seconds(p) for p in [self.postmaster, *children_of(self.postmaster)])
        usage = resource.getrusage(resource.RUSAGE_SELF)
        snap["load generator"] = usage.ru_utime + usage.ru_stime
        return snap

    def report(self, elapsed: float) -> str:
        after = self._snapshot()
        used = {role: after[role] - self.before.get(role, 0.0) for role in after}
        total = sum(used.values())
        parts = ", ".join(f"{role} {sec / elapsed:.2f} cores ({sec / total * 100:.0f} %)"
                          for role, sec in sorted(used.items(), key=lambda kv: -kv[1]))
        return f"  CPU by process: {parts}; total {total / elapsed:.2f} of {os.cpu_count()} cores"


@contextmanager
def replicas(count: int, env: dict[str, str], root: Path) -> Iterator[tuple[list[str], list[subprocess.Popen]]]:
    ports = [free_port() for _ in range(count)]
    urls = [f"http://127.0.0.1:{port}" for port in ports]
    procs = []
    try:
        for i, port in enumerate(ports):
            procs.append(subprocess.Popen(
                [sys.executable, "-m", "sf_mcp.cli", "serve", "--transport", "http", "--port", str(port)],
                # one public URL (the load balancer's): tokens and sign-in messages are valid on every replica
                env={**env, "SF_DATA_DIR": str(root / f"r{count}-{i}"), "SF_PUBLIC_URL": urls[0]},
                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
        yield urls, procs
    finally:
        for proc in procs:
            stop(proc)


def merge(results: list[LoadResult]) -> LoadResult:
    stats = Stats()
    for r in results:
        for label, lat in r.stats.latencies.items():
            stats.latencies[label].extend(lat)
        for name in ("ok", "refused", "rate_limited", "errors"):
            for label, n in getattr(r.stats, name).items():
                getattr(stats, name)[label] += n
        stats.error_samples.extend(r.stats.error_samples[:2])
    return LoadResult(stats, [h for r in results for h in r.health], max(r.elapsed for r in results))


async def measure(label: str, count: int, env: dict[str, str], root: Path, args: argparse.Namespace,
                  postmaster: int | None, anvil_pid: int) -> LoadResult | None:
    with replicas(count, env, root) as (urls, procs):
        for url, proc in zip(urls, procs):
            if not await wait_ready(url, proc, "/readyz", within_s=180):
                print(f"{label}: a replica did not become ready", file=sys.stderr)
                return None
        tokens, _, tools = await sign_in_many(urls[0], args.clients)
        ops = choose_ops(tools, light=False)
        spread: list[list[str | None]] = [[] for _ in urls]
        for i, token in enumerate(tokens):
            spread[i % len(urls)].append(token)
        profile = CpuProfile({"replicas": [p.pid for p in procs], "anvil": [anvil_pid]}, postmaster)
        result = merge(await asyncio.gather(*(load(u, t, ops, args.duration) for u, t in zip(urls, spread))))
        lat = result.all_latencies()
        errors = sum(result.stats.errors.values())
        print(f"{label}: {result.total} tool calls in {result.elapsed:.1f} s = {result.rate:.1f} calls/s, "
              f"p50 {pct(lat, 0.5) * 1000:.1f} ms, p99 {pct(lat, 0.99) * 1000:.1f} ms, errors {errors}")
        for sample in result.stats.error_samples[:3]:
            print(f"    {sample}")
        print(profile.report(result.elapsed))
        return result


async def run(args: argparse.Namespace) -> int:
    root = Path(tempfile.mkdtemp(prefix="sf-mcp-scale-"))
    node = start_anvil()
    base = {k: v for k, v in os.environ.items() if not k.startswith("SF_") and k != "HF_TOKEN"}
    try:
        subprocess.run([sys.executable, "-m", "sf_mcp.cli", "--data-dir", str(root / "deploy"), "deploy", "--dev",
                        "--rpc-url", node.url], env=base, check=True, capture_output=True, timeout=180)
        env = {**base, "SF_RPC_URL": node.url, "SF_DEPLOYMENT_FILE": str(root / "deploy" / "deployment.json"),
               "SF_JWT_SECRET": "j" * 48, "SF_RATE_LIMIT_IP": "10000000", "SF_RATE_LIMIT_WALLET": "10000000",
               "SF_RATE_LIMIT_AUTH_IP": "10000000", "SF_LOCAL_RENDERER": "true"}
        print(f"bench_scale: {args.clients} clients x {args.duration:g} s per configuration, bench_http mix, "
              f"{os.cpu_count()} cores (shared): compare ratios within this run")
        results: dict[str, LoadResult] = {}
        sqlite = await measure("sqlite, 1 process", 1, env, root, args, None, node.process.pid)
        if sqlite is None:
            return 1
        results["sqlite"] = sqlite
        with pg_server() as pg:
            postmaster = int((pg.folder / "data" / "postmaster.pid").read_text().split()[0])
            for count in (1, 2, 3):
                database = pg.create(template=None)
                pg_env = {**env, "SF_DATABASE_URL": database}
                subprocess.run([sys.executable, "-m", "sf_mcp.cli", "migrate"], env=pg_env, check=True,
                               capture_output=True, timeout=120)
                measured = await measure(f"postgresql, {count} replica{'s' if count > 1 else ''}", count, pg_env,
                                         root, args, postmaster, node.process.pid)
                pg.drop(database)
                if measured is None:
                    return 1
                results[f"pg{count}"] = measured
        base_rate = results["pg1"].rate
        print("ratios (calls/s): " + ", ".join(
            f"{name} {r.rate / base_rate:.2f}x" for name, r in results.items()) + " (of postgresql, 1 replica)")
        print(json.dumps({name: round(r.rate, 1) for name, r in results.items()}))
        return 0
    finally:
        node.stop()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--clients", type=int, default=30, help="concurrent MCP sessions (default 30, max 300)")
    parser.add_argument("--duration", type=float, default=15.0, help="seconds of load per configuration (max 600)")
    args = parser.parse_args()
    args.clients = max(1, min(args.clients, 300))
    args.duration = max(1.0, min(args.duration, 600.0))
    return asyncio.run(run(args))


if __name__ == "__main__":
    sys.exit(main())

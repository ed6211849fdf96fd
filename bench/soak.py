"""Soak: the mixed load over three replicas on one PostgreSQL while faults are injected, then the books.

For ``--minutes`` (default 10): wallets call ``generate_image`` paid with the free tier, with credits
and with crypto (``payWithS`` then the tool call), and dApp payments arrive with no tool call, spread
over the replicas. Meanwhile an RPC outage of 60 s (the replicas reach anvil through a proxy that
drops every connection), a provider that fails every other call, and a replica SIGKILLed and
restarted every 2 minutes. Then the load stops, the system settles, and the books are checked:

- every payment has exactly one job (indexed payments and tool-call payments alike);
- every failed job is refunded exactly once (credits and free slots in the database, crypto on chain);
- every credit and free slot is accounted for (grants - spent + refunded = balance, by the ledger);
- no job is left without an owner (nothing queued or running with a dead lease after settling).

It prints the counts and exits 1 when a check fails.

    python bench/soak.py               # 10 minutes
    python bench/soak.py --minutes 3   # shorter

Bounded: a few dozen sessions, loopback only; every process it starts is stopped at the end.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

import httpx2
from eth_account import Account

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))
sys.path.insert(0, str(ROOT))

from fakes._server import Behavior  # noqa: E402
from fakes.huggingface import FakeHuggingFace  # noqa: E402
from pg_support import pg_server  # noqa: E402
from tests.chain.rpc_proxy import RpcProxy  # noqa: E402
from tests.http.http_support import sign  # noqa: E402
from tests.test_replicas_e2e import MODEL, Cluster, mcp_client  # noqa: E402

from sf_mcp.chain import Signer  # noqa: E402
from sf_mcp.chain.accounts import DEV_KEYS  # noqa: E402
from sf_mcp.chain.devnet import start_anvil  # noqa: E402
from sf_mcp.store import OperatorAction, Store  # noqa: E402

CREDITS_EACH = 1000
WALLETS = 6


async def sign_in(url: str, key: str) -> str:
    account = Account.from_key(key)
    async with httpx2.AsyncClient(base_url=url, timeout=60) as http:
        issued = (await http.get("/auth/nonce", params={"address": account.address})).json()
        answer = await http.post("/auth/verify", json={"message": issued["message"],
                                                       "signature": sign(account, issued["message"])})
        answer.raise_for_status()
        return answer.json()["token"]


class Soak:
    def __init__(self, cluster: Cluster, store: Store, payment: str, rpc: str) -> None:
        self.cluster, self.store, self.payment, self.rpc = cluster, store, payment, rpc
        self.counts: Counter[str] = Counter()
        self.paid_txs: list[str] = []
        self.stop_at = 0.0
        self.down: set[int] = set()

    async def pay(self, key: str, prompt: str) -> str:
        """payWithS straight to anvil (the user's wallet is not behind the replicas' proxy)."""
        from web3 import AsyncHTTPProvider, AsyncWeb3

        w3 = AsyncWeb3(AsyncHTTPProvider(self.rpc))
        contract = w3.eth.contract(address=w3.to_checksum_address(self.payment), abi=[{
            "type": "function", "name": "payWithS", "stateMutability": "payable", "outputs": [],
            "inputs": [{"name": "prompt", "type": "string"}, {"name": "generationType", "type": "string"}]}])
        signer = Signer(key)
        sender = w3.to_checksum_address(signer.address)
        async with _NONCES[key]:
            tx = await contract.functions.payWithS(prompt, "image").build_transaction({
                "from": sender, "value": 3 * 10**18, "nonce": await w3.eth.get_transaction_count(sender, "pending"),
                "gas": 400_000})
            sent = await w3.eth.send_raw_transaction(signer.sign(tx))
        await w3.eth.wait_for_transaction_receipt(sent, timeout=120)
        return sent.to_0x_hex().lower()

    async def wallet_loop(self, index: int, key: str) -> None:
        while time.monotonic() < self.stop_at:
            replica = random.choice([i for i in range(len(self.cluster.procs)) if i not in self.down] or [0])
            method = random.choice(["free", "credits", "credits", "crypto", "dapp"])
            try:
                if method == "dapp":  # paid in a dApp: no tool call at all
                    self.paid_txs.append(await self.pay(key, f"dapp {index} {time.time()}"))
                    self.counts["dapp payments"] += 1
                    continue
                payment: dict = {"method": method}
                if method == "crypto":
                    prompt = f"crypto {index} {time.time()}"
                    tx = await self.pay(key, prompt)
                    self.paid_txs.append(tx)
                    payment["tx_hash"] = tx
                else:
                    prompt = f"{method} {index} {time.time()}"
                token = await sign_in(self.cluster.url(replica), key)
                async with mcp_client(self.cluster, replica, token) as client:
                    answer = await client.call_tool("generate_image", {"prompt": prompt, "payment": payment,
                                                                       "width": 64, "height": 64})
                self.counts[f"{method} calls {'refused' if answer.is_error else 'answered'}"] += 1
            except Exception as exc:  # a killed replica, the RPC outage: the call failed, the books must not
                self.counts[f"{method} calls cut ({type(exc).__name__})"] += 1
                await asyncio.sleep(0.5)

    async def faults(self, proxy: RpcProxy, fake: FakeHuggingFace, minutes: float) -> None:
        start = time.monotonic()
        fake.program(MODEL, *([Behavior(status=500, body={"error": "boom"}), Behavior()] * 100_000))
        # The outage falls between two kills, so a restarting replica can reach the chain.
        outage_at, next_kill, victim = start + (150.0 if minutes >= 5 else minutes * 30), start + 120.0, 0
        outage_done = False
        while time.monotonic() < self.stop_at:
            now = time.monotonic()
            if not outage_done and now >= outage_at:
                proxy.down = True
                self.counts["rpc outages (60 s)"] += 1
                await asyncio.sleep(60)
                proxy.down = False
                outage_done = True
            if now >= next_kill:
                self.down.add(victim)
                self.cluster.kill(victim)
                self.counts["replicas SIGKILLed"] += 1
                await asyncio.sleep(2)
                while True:
                    try:
                        await asyncio.to_thread(self.cluster.start, victim)
                        break
                    except AssertionError:  # it could not start (the chain was unreachable): again
                        self.counts["replica restarts retried"] += 1
                self.down.discard(victim)
                victim, next_kill = (victim + 1) % len(self.cluster.procs), next_kill + 120.0
            await asyncio.sleep(1)
        fake.reset(MODEL)


_NONCES: dict[str, asyncio.Lock] = {}


async def settle(store: Store, txs: list[str], within_s: float = 300) -> None:
    """Until every payment has its job, nothing is queued or running, and no crypto refund is pending."""
    deadline = time.monotonic() + within_s
    while time.monotonic() < deadline:
        rows = await store.generations.recent(limit=100_000)
        keyed = {r.payment.get("tx_hash", "").lower() for r in rows}
        busy = [r for r in rows if r.status in ("queued", "running")]
        unsubmitted = await store.generations.unsubmitted()
        if set(txs) <= keyed and not busy and not await store.generations.pending_onchain_refunds() \
                and not unsubmitted:
            return
        await asyncio.sleep(2)


async def books(store: Store, txs: list[str], wallets: list[str], chain_id: int) -> tuple[dict[str, int], list[str]]:
    rows = await store.generations.recent(limit=100_000)
    problems: list[str] = []
    by_status = Counter(r.status for r in rows)
    by_method = Counter(r.payment_method for r in rows)
    jobs_per_tx = Counter(r.payment.get("tx_hash", "").lower() for r in rows if r.payment_method == "crypto")
    for tx in txs:
        if jobs_per_tx[tx] != 1:
            problems.append(f"payment {tx} has {jobs_per_tx[tx]} jobs")
    events = await store.chain.events(chain_id, event="GenerationRequested", limit=100_000)
    with_job = {r.payment_key for r in rows}
    for ev in events:
        if ev.payment_key not in with_job:
            problems.append(f"indexed payment {ev.tx_hash} has no job")
    refunds_sent = 0
    for r in rows:
        if r.status == "failed":
            problems.append(f"job {r.task_id} ({r.payment_method}) failed and is not refunded")
        if r.status in ("queued", "running"):
            problems.append(f"job {r.task_id} is still {r.status} (no owner finished it)")
        for action in ("refund", "submit"):
            op = await store.operator_txs.get(r.task_id, OperatorAction(action))
            if op is not None:
                refunds_sent += action == "refund"
                if len(op.hashes) != 1 or op.status != "mined":
                    problems.append(f"{action} of {r.task_id}: {op.status}, {len(op.hashes)} transactions")
    for wallet in wallets:
        mine = [r for r in rows if r.wallet == wallet]
        spent = sum(1 for r in mine if r.payment_method == "credits" and r.status != "refunded")
        balance = await store.accounts.credits(wallet)
        if balance != CREDITS_EACH - spent:
            problems.append(f"{wallet}: {balance} credits, expected {CREDITS_EACH} - {spent}")
        ledger = sum(e["delta"] for e in await store.accounts.ledger(wallet, limit=100_000))
        if ledger != balance:
            problems.append(f"{wallet}: ledger sums to {ledger}, balance is {balance}")
        free_used = sum(1 for r in mine if r.payment_method == "free" and r.status != "refunded")
        if await store.accounts.free_used_today(wallet) != free_used:
            problems.append(f"{wallet}: free slots used {await store.accounts.free_used_today(wallet)}, "
                            f"jobs holding one {free_used}")
    counts = {"jobs": len(rows), **{f"jobs {k}": v for k, v in by_status.items()},
              **{f"paid by {k}": v for k, v in by_method.items()}, "crypto payments": len(txs),
              "indexed GenerationRequested": len(events), "on-chain refunds": refunds_sent,
              "lease takeovers (runs > 1)": sum(1 for r in rows if r.run_count > 1)}
    return counts, problems


async def run(args: argparse.Namespace) -> int:
    root = Path(tempfile.mkdtemp(prefix="sf-mcp-soak-"))
    node = start_anvil()
    base = {k: v for k, v in os.environ.items() if not k.startswith("SF_") and k != "HF_TOKEN"}
    keys = DEV_KEYS[1:1 + WALLETS]
    for key in keys:
        _NONCES[key] = asyncio.Lock()
    try:
        subprocess.run([sys.executable, "-m", "sf_mcp.cli", "--data-dir", str(root / "deploy"), "deploy", "--dev",
                        "--rpc-url", node.url], env=base, check=True, capture_output=True, timeout=180)
        deployment = json.loads((root / "deploy" / "deployment.json").read_text())
        payment = deployment["contracts"]["SonicAIGenerationPayment"]["address"]
        with pg_server() as pg, FakeHuggingFace() as fake:
            url = pg.create(template=None)
            env = {**base, "SF_DATABASE_URL": url}
            subprocess.run([sys.executable, "-m", "sf_mcp.cli", "migrate"], env=env, check=True, capture_output=True)
            async with RpcProxy(node.url) as proxy:
                env.update({
                    "SF_RPC_URL": proxy.url, "SF_DEPLOYMENT_FILE": str(root / "deploy" / "deployment.json"),
                    "SF_JWT_SECRET": "j" * 48, "SF_HF_BASE_URL": fake.base_url, "SF_IMAGE_MODELS": json.dumps([MODEL]),
                    "SF_LOCAL_RENDERER": "false", "SF_INDEXER_POLL_S": "0.5", "SF_LEADER_LEASE_S": "2",
                    "SF_JOB_LEASE_S": "5", "SF_FREE_DAILY_QUOTA": "100000", "SF_RATE_LIMIT_WALLET": "1000000",
                    "SF_RATE_LIMIT_IP": "1000000", "SF_RATE_LIMIT_AUTH_IP": "1000000",
                })
                cluster = Cluster(env, root)
                store = await Store.open(url)
                wallets = [Account.from_key(k).address.lower() for k in keys]
                for wallet in wallets:
                    await store.accounts.add_credits(wallet, CREDITS_EACH, reason="soak grant")
                try:
                    for i in range(3):
                        await asyncio.to_thread(cluster.start, i)
                    soak = Soak(cluster, store, payment, node.url)
                    soak.stop_at = time.monotonic() + args.minutes * 60
                    started = time.monotonic()
                    await asyncio.gather(soak.faults(proxy, fake, args.minutes),
                                         *(soak.wallet_loop(i, k) for i, k in enumerate(keys)))
                    print(f"soak: {args.minutes:g} min of load over 3 replicas in {time.monotonic() - started:.0f} s; "
                          "settling")
                    await settle(store, soak.paid_txs)
                    counts, problems = await books(store, soak.paid_txs, wallets, deployment["chain_id"])
                    for name, value in sorted({**soak.counts, **counts}.items()):
                        print(f"  {name}: {value}")
                    for problem in problems[:30]:
                        print(f"  PROBLEM: {problem}")
                    print("books: " + ("balanced" if not problems else f"{len(problems)} problems"))
                    return 1 if problems else 0
                finally:
                    cluster.stop()
                    await store.close()
    finally:
        node.stop()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--minutes", type=float, default=10.0, help="minutes of load (default 10, max 60)")
    args = parser.parse_args()
    args.minutes = max(1.0, min(args.minutes, 60.0))
    return asyncio.run(run(args))


if __name__ == "__main__":
    sys.exit(main())

"""Benchmark: verify_payment against anvil, and the indexer's ingest rate.

    .venv/bin/python bench/bench_chain.py [--payments 10000] [--verify 500] [--concurrency 16] [--backend both]

Starts anvil from the contracts' npm toolchain, deploys with the dev mocks, and
makes ``--payments`` payWithS payments from the ten dev accounts (automine off,
mined in full blocks). Then it measures

- verification: ``ChainPaymentVerifier.verify_for`` (receipt, decoding, block
  number, the store's payment-key lookup) one at a time (p50/p99 latency) and
  ``--concurrency`` at a time (verifications/s), with the JSON-RPC requests
  per verification counted at the provider;
- ingest: a fresh indexer (and a fresh database: SQLite, then PostgreSQL on a
  throwaway cluster, as the tests start it) reading every block with
  ``eth_getLogs`` in ranges of 2000 blocks, storing the decoded events, their
  read-model rows and one job per payment: events/s and payments/s.

Beside each, the floor measured on the same anvil in the same run: raw
``eth_getLogs`` over the same ranges decoded with eth_abi alone (no web3
formatting, no store) for ingest, and raw ``AsyncWeb3`` receipt lookups at the
same concurrency for verification. Figures are printed with their ratio to the
floor: on a shared machine only ratios from one run compare.

Prints its figures; asserts nothing about speed.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from contextlib import nullcontext
from pathlib import Path

import anyio
from eth_abi import decode as abi_decode
from eth_utils import event_abi_to_log_topic

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

from sf_mcp.chain import ChainClient, ChainPaymentVerifier, Indexer, Signer, deploy  # noqa: E402
from sf_mcp.chain.accounts import DEV_ADDRESSES, DEV_KEYS  # noqa: E402
from sf_mcp.chain.client import http_web3  # noqa: E402
from sf_mcp.chain.contracts import PAYMENT, STAKING, VOTING, abi  # noqa: E402
from sf_mcp.chain.devnet import start_anvil  # noqa: E402
from sf_mcp.store import Store  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
from pg_support import pg_server  # noqa: E402  (the tests' throwaway PostgreSQL)


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q * (len(ordered) - 1))))]


class Counter:
    def __init__(self) -> None:
        self.calls = 0


def counted_client(url: str, deployment, counter: Counter) -> ChainClient:
    w3 = http_web3(url)
    inner, inner_batch = w3.provider.make_request, w3.provider.make_batch_request

    async def make_request(method, params):  # type: ignore[no-untyped-def]
        counter.calls += 1
        return await inner(method, params)

    async def make_batch_request(requests):  # type: ignore[no-untyped-def]
        counter.calls += 1  # one HTTP request, however many calls it carries
        return await inner_batch(requests)

    w3.provider.make_request = make_request  # type: ignore[method-assign]
    w3.provider.make_batch_request = make_batch_request  # type: ignore[method-assign]
    return ChainClient(w3, deployment, confirmations=0, operator=Signer(DEV_KEYS[0]))


async def make_payments(url: str, deployment, n: int) -> list[tuple[str, str, str]]:
    """``n`` payWithS payments spread over the ten dev accounts; returns (tx hash, payer, prompt)."""
    w3 = http_web3(url, timeout_s=60)
    rpc = w3.provider.make_request
    chain_id = await w3.eth.chain_id
    client = ChainClient(w3, deployment, confirmations=0)
    pay = client.payment.functions
    await rpc("evm_setAutomine", [False])
    signers = [Signer(k) for k in DEV_KEYS]
    nonces = [await w3.eth.get_transaction_count(w3.to_checksum_address(a), "pending") for a in DEV_ADDRESSES]
    base = (await w3.eth.get_block("latest"))["baseFeePerGas"]
    template = await pay.payWithS("x" * 40, "image").build_transaction(
        {"from": w3.to_checksum_address(DEV_ADDRESSES[0]), "value": 3 * 10**18, "gas": 400_000,
         "maxFeePerGas": 0, "maxPriorityFeePerGas": 0, "nonce": 0, "chainId": chain_id})
    out: list[tuple[str, str, str]] = []
    per_block = 150
    for i in range(n):
        who = i % len(signers)
        prompt = f"bench payment {i:06d} " + "x" * 20
        data = pay.payWithS(prompt, "image")._encode_transaction_data()
        tx = {**template, "data": data, "nonce": nonces[who], "maxFeePerGas": 4 * base + 10**9,
              "maxPriorityFeePerGas": 10**9}
        tx.pop("from", None)
        nonces[who] += 1
        tx_hash = await w3.eth.send_raw_transaction(signers[who].sign(tx))
        out.append((tx_hash.to_0x_hex(), DEV_ADDRESSES[who], prompt))
        if (i + 1) % per_block == 0:
            await rpc("evm_mine", [])
    await rpc("evm_mine", [])
    await rpc("evm_setAutomine", [True])
    last = await w3.eth.get_transaction_receipt(out[-1][0])
    assert last["status"] == 1
    await w3.provider.disconnect()
    return out


async def raw_logs_decoded(url: str, deployment, end: int, batch: int = 2000) -> tuple[int, float]:
    """The ingest floor: ``eth_getLogs`` of the three contracts by ranges of ``batch``, decoded with eth_abi only."""
    w3 = http_web3(url, timeout_s=120)
    table: dict[str, tuple[list[str], list[str]]] = {}
    for name in (PAYMENT, STAKING, VOTING):
        for entry in abi(name):
            if entry.get("type") == "event" and not entry.get("anonymous"):
                topic = "0x" + event_abi_to_log_topic(entry).hex()
                table[topic] = ([i["type"] for i in entry["inputs"] if i["indexed"]],
                                [i["type"] for i in entry["inputs"] if not i["indexed"]])
    addresses = [deployment.address(n) for n in (PAYMENT, STAKING, VOTING)]
    decoded = 0
    t = time.perf_counter()
    for start in range(deployment.start_block, end + 1, batch):
        logs = (await w3.provider.make_request("eth_getLogs", [{
            "fromBlock": hex(start), "toBlock": hex(min(end, start + batch - 1)), "address": addresses}]))["result"]
        for log in logs:
            found = table.get(log["topics"][0])
            if found is None:
                continue
            indexed, plain = found
            [abi_decode([typ], bytes.fromhex(topic[2:]))[0] for typ, topic in zip(indexed, log["topics"][1:])]
            abi_decode(plain, bytes.fromhex(log["data"][2:]))
            decoded += 1
    took = time.perf_counter() - t
    await w3.provider.disconnect()
    return decoded, took


async def raw_receipts(url: str, hashes: list[str], concurrency: int) -> float:
    """The verification floor: ``AsyncWeb3`` receipt lookups, ``concurrency`` at a time; receipts/s."""
    w3 = http_web3(url, timeout_s=60)
    limiter = anyio.CapacityLimiter(concurrency)

    async def one(tx_hash: str) -> None:
        async with limiter:
            await w3.eth.get_transaction_receipt(tx_hash)

    t = time.perf_counter()
    async with anyio.create_task_group() as tg:
        for tx_hash in hashes:
            tg.start_soon(one, tx_hash)
    took = time.perf_counter() - t
    await w3.provider.disconnect()
    return len(hashes) / took


async def measure_ingest(url: str, deployment, backend: str, pg) -> None:
    """A fresh indexer on a fresh database of ``backend`` reads every block; then the raw floor on the same blocks."""
    with tempfile.TemporaryDirectory() as tmp:
        database = pg.create(template=None) if backend == "postgres" else None
        try:
            store = await Store.open(database or Path(tmp) / "ingest.db", migrate=True)
            counter = Counter()
            client = counted_client(url, deployment, counter)
            indexer = Indexer(client, store, batch_blocks=2000)
            t = time.perf_counter()
            await indexer.sync()
            took = time.perf_counter() - t
            await client.close()
            await store.close()
        finally:
            if database is not None:
                pg.drop(database)
    cp = indexer.checkpoint
    raw_events, raw_took = await raw_logs_decoded(url, deployment, cp.last_block_processed)
    raw_rate, rate = raw_events / raw_took, cp.events_indexed / took
    print(f"indexer ingest ({backend}): {cp.events_indexed} events and {cp.jobs_created} jobs from "
          f"{cp.last_block_processed} blocks in {took:.2f} s: {rate:.0f} events/s, "
          f"{cp.jobs_created / took:.0f} payments/s, {counter.calls} JSON-RPC requests")
    print(f"  floor (raw eth_getLogs + eth_abi decoding of the same blocks, right after): {raw_events} events in "
          f"{raw_took:.2f} s = {raw_rate:.0f} events/s; ingest is {ratio(rate, raw_rate)} of it "
          "(target >= 60 %, jobs included)")


def ratio(value: float, floor: float) -> str:
    return f"{value / floor * 100:.0f} %" if floor else "n/a"


async def main(args: argparse.Namespace) -> None:
    print("All figures are from this one run on a shared machine: compare the ratios to the floors.")
    node = start_anvil()
    try:
        w3 = http_web3(node.url)
        t0 = time.perf_counter()
        deployment = await deploy(w3, Signer(DEV_KEYS[0]), dev=True)
        await w3.provider.disconnect()
        print(f"anvil {node.url}: deployed in {time.perf_counter() - t0:.2f} s")

        t0 = time.perf_counter()
        payments = await make_payments(node.url, deployment, args.payments)
        took = time.perf_counter() - t0
        print(f"made {len(payments)} payWithS payments in {took:.1f} s ({len(payments) / took:.0f}/s, "
              "sent as raw transactions, mined 150 per block)")

        with tempfile.TemporaryDirectory() as tmp:
            store = await Store.open(Path(tmp) / "bench.db")
            counter = Counter()
            client = counted_client(node.url, deployment, counter)
            verifier = ChainPaymentVerifier(client, store)
            sample = payments[: args.verify]

            latencies = []
            counter.calls = 0
            for tx_hash, payer, prompt in sample:
                t = time.perf_counter()
                await verifier.verify_for(tx_hash, wallet=payer, kind="image", prompt=prompt)
                latencies.append((time.perf_counter() - t) * 1000)
            calls_per = counter.calls / len(sample)
            print(f"verify_for, one at a time, {len(sample)} payments: p50 {percentile(latencies, 0.5):.2f} ms, "
                  f"p99 {percentile(latencies, 0.99):.2f} ms, mean {statistics.mean(latencies):.2f} ms; "
                  f"{calls_per:.2f} JSON-RPC requests per verification")

            limiter = anyio.CapacityLimiter(args.concurrency)

            async def one(item: tuple[str, str, str]) -> None:
                async with limiter:
                    await verifier.verify_for(item[0], wallet=item[1], kind="image", prompt=item[2])

            floor_rate = await raw_receipts(node.url, [p[0] for p in sample], args.concurrency)
            t = time.perf_counter()
            async with anyio.create_task_group() as tg:
                for item in sample:
                    tg.start_soon(one, item)
            took = time.perf_counter() - t
            rate = len(sample) / took
            print(f"verify_for, {args.concurrency} concurrent: {rate:.0f} verifications/s; floor (raw AsyncWeb3 "
                  f"receipts, {args.concurrency} concurrent, same run) {floor_rate:.0f}/s: {ratio(rate, floor_rate)} "
                  "of the floor (target >= 60 %)")
            await client.close()
            await store.close()

        backends = ["sqlite", "postgres"] if args.backend == "both" else [args.backend]
        with pg_server() if "postgres" in backends else nullcontext() as pg:
            for backend in backends:
                await measure_ingest(node.url, deployment, backend, pg)
    finally:
        node.stop()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--payments", type=int, default=10_000)
    parser.add_argument("--verify", type=int, default=500)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--backend", choices=["sqlite", "postgres", "both"], default="both",
                        help="the indexer's database (postgres: a throwaway cluster, as the tests start)")
    anyio.run(main, parser.parse_args())

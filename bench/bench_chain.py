"""Benchmark: verify_payment against anvil, and the indexer's ingest rate.

    .venv/bin/python bench/bench_chain.py [--payments 10000] [--verify 500] [--concurrency 16]

Starts anvil from the contracts' npm toolchain, deploys with the dev mocks, and
makes ``--payments`` payWithS payments from the ten dev accounts (automine off,
mined in full blocks). Then it measures

- verification: ``ChainPaymentVerifier.verify_for`` (receipt, decoding, block
  number, the store's payment-key lookup) one at a time (p50/p99 latency) and
  ``--concurrency`` at a time (verifications/s), with the JSON-RPC requests
  per verification counted at the provider;
- ingest: a fresh indexer (and a fresh database) reading every block with
  ``eth_getLogs`` in ranges of 2000 blocks, storing the decoded events and
  creating one job per payment: events/s and payments/s.

Prints its figures; asserts nothing about speed.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

import anyio

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

from sf_mcp.chain import ChainClient, ChainPaymentVerifier, Indexer, Signer, deploy  # noqa: E402
from sf_mcp.chain.accounts import DEV_ADDRESSES, DEV_KEYS  # noqa: E402
from sf_mcp.chain.client import http_web3  # noqa: E402
from sf_mcp.chain.devnet import start_anvil  # noqa: E402
from sf_mcp.store import Store  # noqa: E402


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q * (len(ordered) - 1))))]


class Counter:
    def __init__(self) -> None:
        self.calls = 0


def counted_client(url: str, deployment, counter: Counter) -> ChainClient:
    w3 = http_web3(url)
    inner = w3.provider.make_request

    async def make_request(method, params):  # type: ignore[no-untyped-def]
        counter.calls += 1
        return await inner(method, params)

    w3.provider.make_request = make_request  # type: ignore[method-assign]
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


async def main(args: argparse.Namespace) -> None:
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

            t = time.perf_counter()
            async with anyio.create_task_group() as tg:
                for item in sample:
                    tg.start_soon(one, item)
            took = time.perf_counter() - t
            print(f"verify_for, {args.concurrency} concurrent: {len(sample) / took:.0f} verifications/s")
            await client.close()

            counter = Counter()
            client = counted_client(node.url, deployment, counter)
            indexer = Indexer(client, store, batch_blocks=2000)
            t = time.perf_counter()
            await indexer.sync()
            took = time.perf_counter() - t
            cp = indexer.checkpoint
            print(f"indexer ingest: {cp.events_indexed} events and {cp.jobs_created} jobs from "
                  f"{cp.last_block_processed} blocks in {took:.1f} s: {cp.events_indexed / took:.0f} events/s, "
                  f"{cp.jobs_created / took:.0f} payments/s, {counter.calls} JSON-RPC requests")
            await client.close()
            await store.close()
    finally:
        node.stop()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--payments", type=int, default=10_000)
    parser.add_argument("--verify", type=int, default=500)
    parser.add_argument("--concurrency", type=int, default=16)
    anyio.run(main, parser.parse_args())

"""Benchmark: the embedded chain kept in a data dir and shared by processes.

    .venv/bin/python bench/bench_embedded.py [--payments 200]

In one process, on a temporary data dir, it measures

- start-up: a new chain (genesis, funding, deployment, journal seeded), a second
  new chain in the same process (the deployment is copied), a restart from the
  journal, and a second process joining a running owner (an RPC client of it);
- transactions: ``--payments`` payWithS payments sent by the owner and by a
  follower (through the owner's loopback RPC), one at a time: payments/s, beside
  the same payments on a private in-memory chain (no journal, no RPC: the floor);
- takeover: the owner leaves and the follower's next request makes it the owner;
- the journal's size per payment, and a restart after all of them.

Prints its figures; asserts nothing about speed.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import anyio

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

from sf_mcp.chain import ChainClient, Signer, start_embedded  # noqa: E402
from sf_mcp.chain.accounts import DEV_KEYS  # noqa: E402


async def _timed(what: str, start) -> tuple[ChainClient, float]:
    began = time.perf_counter()
    client = await start()
    took = time.perf_counter() - began
    print(f"{what:48} {took * 1000:9.1f} ms")
    return client, took


async def _pay(client: ChainClient, n: int, key: str, tag: str) -> float:
    price = await client.call(client.payment.functions.priceS())
    began = time.perf_counter()
    for i in range(n):
        await client.send(Signer(key), client.payment.functions.payWithS(f"{tag} {i}", "image"), value=price)
    return n / (time.perf_counter() - began)


async def main(payments: int) -> None:
    home = Path(tempfile.mkdtemp(prefix="sf-mcp-bench-")) / "chain"
    other = Path(tempfile.mkdtemp(prefix="sf-mcp-bench-")) / "chain"
    owner, _ = await _timed("new chain (first in this process)", lambda: start_embedded(home=home))
    second, _ = await _timed("new chain (second in this process)", lambda: start_embedded(home=other))
    await second.close()
    follower, _ = await _timed("joining a running owner", lambda: start_embedded(home=home))
    private, _ = await _timed("private in-memory chain (no data dir)", lambda: start_embedded())

    floor = await _pay(private, payments, DEV_KEYS[1], "private")
    own = await _pay(owner, payments, DEV_KEYS[1], "owner")
    via = await _pay(follower, payments, DEV_KEYS[2], "follower")
    print(f"{'payments/s, private chain (floor)':48} {floor:9.1f}")
    print(f"{'payments/s, owner (journaled)':48} {own:9.1f}   {own / floor:5.2f} x floor")
    print(f"{'payments/s, follower (loopback RPC)':48} {via:9.1f}   {via / floor:5.2f} x floor")
    size = (home / "state.journal").stat().st_size
    print(f"{'journal size':48} {size / 1024:9.1f} KiB ({size / (2 * payments) / 1024:.1f} KiB per payment)")

    head = await owner.block_number()
    await owner.close()
    began = time.perf_counter()
    assert await follower.block_number() == head
    print(f"{'takeover: first request after the owner left':48} {(time.perf_counter() - began) * 1000:9.1f} ms")
    await follower.close()
    again, _ = await _timed(f"restart from the journal ({head} blocks)", lambda: start_embedded(home=home))
    await again.close()
    await private.close()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--payments", type=int, default=200)
    anyio.run(main, parser.parse_args().payments)

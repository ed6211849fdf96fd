"""The search behind the at-most-once proof: which block used the operator's nonce n, from block-pinned nonce reads.

``block_that_used`` is the pure part of ``OperatorActions``' proof (the chain part is tests/chain/
test_operator_once.py): checked against a linear scan on every small history, including nonces used in blocks
0 and 1 and several transactions in one block, with the number of reads it may make.
"""

from __future__ import annotations

import itertools
import math
import random

import pytest

from sf_mcp.chain.operator import block_that_used

pytestmark = pytest.mark.anyio


def _linear(history: list[int], nonce: int, top: int) -> int | None:
    """The plain answer: the first block whose nonce is past ``nonce``."""
    return next((b for b in range(top + 1) if history[b] > nonce), None)


async def _search(history: list[int], nonce: int, top: int) -> tuple[int | None, list[int]]:
    reads: list[int] = []

    async def count(block: int) -> int:
        assert 0 <= block <= top, f"read block {block} outside 0..{top}"  # never past the confirmed head
        reads.append(block)
        return history[block]

    return await block_that_used(nonce, top, count), reads


async def test_every_small_history_gives_the_block_a_linear_scan_gives() -> None:
    # Every nondecreasing history of up to 6 blocks with 0-2 transactions of ours per block.
    for blocks in range(1, 7):
        for per_block in itertools.product(range(3), repeat=blocks):
            history = list(itertools.accumulate(per_block))
            for top in range(-1, blocks):
                for nonce in range(history[-1] + 2):
                    found, _ = await _search(history, nonce, top)
                    assert found == _linear(history, nonce, top), (history, nonce, top)


async def test_a_nonce_used_at_the_start_of_a_long_chain_is_found() -> None:
    history = [1, 2] + [2] * 5000 + [3]
    assert (await _search(history, 0, len(history) - 1))[0] == 0
    assert (await _search(history, 1, len(history) - 1))[0] == 1
    assert (await _search(history, 2, len(history) - 1))[0] == len(history) - 1
    assert (await _search(history, 3, len(history) - 1))[0] is None


@pytest.mark.parametrize("distance", [1, 2, 3, 7, 100, 4096, 100_000])
async def test_reads_grow_with_the_log_of_the_distance_to_the_head(distance: int) -> None:
    rng = random.Random(distance)
    top = distance + 50_000
    used_in = top - distance
    history = [0 if b < used_in else 1 + (rng.random() < 0.01) for b in range(top + 1)]
    found, reads = await _search(history, 0, top)
    assert found == used_in
    assert len(reads) <= 2 * math.ceil(math.log2(distance + 1)) + 3, (distance, len(reads))
    assert len(reads) == len(set(reads))  # no block is read twice

"""The embedded chain answers from a worker thread: while py-evm computes, the event loop serves others; and
reads that many callers need at once are made once."""

from __future__ import annotations

import anyio
import pytest
from anyio import wait_all_tasks_blocked

from sf_mcp.chain.embedded import start_embedded
from sf_mcp.chain.views import Contracts

pytestmark = pytest.mark.anyio


async def test_a_request_in_progress_leaves_the_event_loop_free() -> None:
    chain = await start_embedded()
    provider = chain.embedded.provider
    answers: list[int] = []

    async def ask() -> None:
        answers.append(await chain.block_number())

    try:
        async with anyio.create_task_group() as tg:
            with provider.tester_lock:  # py-evm busy, as during a long transaction
                tg.start_soon(ask)
                await wait_all_tasks_blocked()
                assert answers == []  # the request waits in its worker while this task runs on
                before = chain.embedded.tester.get_block_by_number("latest")["number"]  # a control: same lock
            # released: the request completes
        assert answers == [before]
    finally:
        await chain.close()


async def test_a_request_is_answered_by_the_tester_in_place_when_it_started() -> None:
    """A test's lagging-node router replaces make_request and swaps ``ethereum_tester`` around one request;
    requests run one at a time under ``provider.requests``, so no other request sees the swapped tester."""
    chain = await start_embedded()
    provider = chain.embedded.provider
    real, lagging = provider.make_request, chain.embedded.tester.__deepcopy__({})
    chain.embedded.mine(2)
    seen: list[int] = []
    asked: list[str] = []

    async def swapped(method, params):
        asked.append(str(method))
        if method != "eth_blockNumber" or asked.count("eth_blockNumber") > 1:  # the first head read lags
            return await real(method, params)
        mine, provider.ethereum_tester = provider.ethereum_tester, lagging
        try:
            await wait_all_tasks_blocked()  # the other requests get as far as they can meanwhile
            return await real(method, params)
        finally:
            provider.ethereum_tester = mine

    provider.make_request = swapped
    try:
        async with anyio.create_task_group() as tg:
            async def one() -> None:
                seen.append(await chain.block_number())

            for _ in range(4):
                tg.start_soon(one)
        head = chain.embedded.tester.get_block_by_number("latest")["number"]
        assert sorted(seen) == [head - 2, head, head, head]
    finally:
        await chain.close()


async def test_the_contest_schedule_is_read_once_by_callers_asking_at_once() -> None:
    chain = await start_embedded()
    provider = chain.embedded.provider
    windows: list[tuple[int, int]] = []

    async def requests_for(callers: int) -> int:
        contracts, before = Contracts(chain), provider.calls

        async def window() -> None:
            windows.append(await contracts.contest_window(3))

        async with anyio.create_task_group() as tg:
            for _ in range(callers):
                tg.start_soon(window)
        return provider.calls - before

    try:
        assert await requests_for(10) == await requests_for(1) > 0  # ten at once read it as one does
        start, end = await chain.call(chain.voting.functions.contestWindow(3))
        assert windows == [(start, end)] * 11  # what the contract answers
    finally:
        await chain.close()


async def test_owner_and_follower_answer_batches_alike(tmp_path) -> None:
    """A receipt, a pending check and view calls go as JSON-RPC batches: the owner answers them in wire form, a
    second process's client (here a second provider on the data dir) sends them to the owner."""
    owner = await start_embedded(home=tmp_path)
    follower = await start_embedded(home=tmp_path)
    try:
        assert owner.embedded.provider.owner and not follower.embedded.provider.owner
        signer = owner.operator
        assert signer is not None
        sent = await owner.send(signer, owner.payment.functions.setPrices(4 * 10**18, 2 * 10**6), what="setting prices")
        tx_hash = sent["transactionHash"].to_0x_hex()
        block = await owner.block_number()
        views = [(owner.payment, "priceS", ()), (owner.payment, "priceUSDC", ())]
        for client in (owner, follower):
            receipt, head = await client.receipt_and_head(tx_hash)
            assert receipt is not None and receipt["status"] == 1 and receipt["blockNumber"] <= head == block
            assert await client.is_known(tx_hash) and not await client.is_known("0x" + "5a" * 32)
            assert await client.receipt_and_head("0x" + "5a" * 32) == (None, block)
            assert await client.call_many(views, block=block) == [4 * 10**18, 2 * 10**6]
    finally:
        await follower.close()
        await owner.close()

"""The embedded chain is a sandbox kept in the data dir: it survives restarts, and every `sf-mcp serve` on one
data dir shares it (one owns it, the others use its RPC, and one of them takes over when the owner exits)."""

from __future__ import annotations

import json
import os
import shutil
import signal
import sqlite3
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import anyio
import pytest
from eth_account import Account
from mcp import StdioServerParameters
from mcp.client import Client
from tests.chain.conftest import DEV0, Session, structured
from tests.chain.test_tools import sign_and_send
from web3 import Web3

from sf_mcp.chain.accounts import DEV_KEYS
from sf_mcp.chain.journal import JournalDB
from sf_mcp.config import Settings
from support import connected

pytestmark = pytest.mark.anyio
SMALL = {"width": 64, "height": 64}


@asynccontextmanager
async def _serve(settings: Settings) -> AsyncIterator[Session]:
    async with connected(settings, mode="auto") as (client, services):
        yield Session(client=client, services=services)


async def _pay_and_generate(s: Session, prompt: str) -> tuple[str, dict[str, Any]]:
    tx = await s.pay_s(prompt)
    answer = structured(await s.call("generate_image", {
        "prompt": prompt, "payment": {"method": "crypto", "tx_hash": tx}, **SMALL}))
    return tx, answer


async def test_a_stake_and_a_paid_task_survive_a_restart(settings: Settings) -> None:
    async with _serve(settings) as s:
        plan = structured(await s.call("stake", {"action": "stake", "token_ids": [1, 2]}))["plan"]
        await sign_and_send(s, plan, DEV_KEYS[0])
        tx, first = await _pay_and_generate(s, "paid before the restart")
        head = await s.chain.block_number()
    async with _serve(settings) as s:  # a new process would do the same: load the journal, no new chain
        me = s.chain.w3.to_checksum_address(DEV0)
        assert await s.chain.call(s.chain.staking.functions.stakedBalanceOf(me)) == 2
        assert await s.chain.block_number() >= head
        await s.indexer.sync()
        assert s.indexer.checkpoint.reorgs == 0
        assert await s.services.store.chain.staked_tokens(s.chain.chain_id, DEV0) == [1, 2]
        again = structured(await s.call("generate_image", {
            "prompt": "paid before the restart", "payment": {"method": "crypto", "tx_hash": tx}, **SMALL}))
        assert again["task_id"] == first["task_id"] and again["payment"]["replay"] is True
        later, _ = await _pay_and_generate(s, "paid after the restart")
        assert later != tx  # the account's nonce went on: no hash of the old chain comes back


async def test_a_new_embedded_chain_never_answers_an_old_task(settings: Settings) -> None:
    tasks = []
    for _ in range(2):
        async with _serve(settings) as s:
            tx, answer = await _pay_and_generate(s, "same prompt every run")
            assert answer["payment"]["replay"] is False
            tasks.append((tx, answer["task_id"]))
        shutil.rmtree(settings.storage.data_dir / "chain")  # the sandbox is thrown away; the database stays
    assert tasks[0][0] == tasks[1][0]  # the new chain repeats the same deterministic transaction hash
    assert tasks[0][1] != tasks[1][1]  # but it is a new task


def test_a_torn_journal_write_is_cut_off_and_the_rest_kept(tmp_path: Path) -> None:
    path = tmp_path / "state.journal"
    db = JournalDB.open(path)
    db[b"a"] = b"1"
    db.flush()
    db[b"b"] = b"2"
    del db[b"a"]
    db.flush()
    db.close()
    whole = path.read_bytes()
    path.write_bytes(whole + (64).to_bytes(8, "big") + b"half a batch")  # a crash in the middle of an append
    again = JournalDB.open(path)
    assert dict(again.kv_store) == {b"b": b"2"}
    assert path.stat().st_size == len(whole)
    again.close()


# -- many processes on one data dir ------------------------------------------------------------------
def _params(data_dir: Path) -> StdioServerParameters:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SF_") and k != "HF_TOKEN"}
    env["SF_DATA_DIR"] = str(data_dir)
    return StdioServerParameters(command=sys.executable, args=["-m", "sf_mcp.cli", "serve", "--transport", "stdio"],
                                 env=env)


async def _pay_over(client: Client, prompt: str) -> str:
    """What a wallet does over stdio: get the plan, sign it, relay it through the server."""
    plan = (await client.call_tool("prepare_payment", {"method": "S", "prompt": prompt, "generation_type": "image"}))
    (tx,) = plan.structured_content["plan"]["transactions"]
    fields = {"chainId": tx["chain_id"], "nonce": tx["nonce"], "to": Web3.to_checksum_address(tx["to"]),
              "value": int(tx["value"]),
              "data": tx["data"], "gas": tx["gas"], "type": 2, "maxFeePerGas": int(tx["max_fee_per_gas"]),
              "maxPriorityFeePerGas": int(tx["max_priority_fee_per_gas"])}
    raw = Account.from_key(DEV_KEYS[0]).sign_transaction(fields).raw_transaction
    sent = await client.call_tool("send_transaction", {"signed_tx": raw.to_0x_hex()})
    assert not sent.is_error, sent.content
    return sent.structured_content["sent"]["transactions"][0]["tx_hash"]


@pytest.mark.parametrize("owner_ends", ["exits", "is-killed"])
async def test_two_serve_processes_on_one_data_dir_share_one_chain_and_one_job_per_payment(
    data_dir: Path, owner_ends: str
) -> None:
    opened, leave, left = anyio.Event(), anyio.Event(), anyio.Event()
    clients: list[Client] = []

    async def first_server() -> None:  # its own task, so that it can end while the second runs on
        try:
            async with Client(_params(data_dir), mode="legacy") as client:
                clients.append(client)
                opened.set()
                await leave.wait()
        except Exception:  # its process was killed under it
            assert owner_ends == "is-killed"
        left.set()

    async with anyio.create_task_group() as tg:
        tg.start_soon(first_server)
        await opened.wait()
        first = clients[0]
        async with Client(_params(data_dir), mode="legacy") as second:
            tx = await _pay_over(second, "one payment, two servers")
            args = {"prompt": "one payment, two servers", "payment": {"method": "crypto", "tx_hash": tx}, **SMALL}
            one = await first.call_tool("generate_image", args)
            two = await second.call_tool("generate_image", args)
            assert not one.is_error and not two.is_error, (one.content, two.content)
            assert one.structured_content["task_id"] == two.structured_content["task_id"]
            assert [one.structured_content["payment"]["replay"], two.structured_content["payment"]["replay"]] \
                == [False, True]
            for client in (first, second):  # both keep working
                free = await client.call_tool("generate_image", {"prompt": "free", "payment": {"method": "free"},
                                                                 **SMALL})
                assert not free.is_error, free.content
            # The owner (the first to start) exits, or dies; the other takes the chain over from the journal.
            if owner_ends == "is-killed":
                owner = json.loads((data_dir / "chain" / "endpoint.json").read_text())["pid"]
                os.kill(owner, signal.SIGKILL)
            else:
                leave.set()
                await left.wait()
            verdict = structured_of(await second.call_tool("verify_payment", {"tx_hash": tx}))
            assert verdict["consumed_by"] == one.structured_content["task_id"], verdict
            later = await _pay_over(second, "after the takeover")
            assert later != tx
            leave.set()
    with sqlite3.connect(data_dir / "sf-mcp.db") as db:
        (jobs,) = db.execute("SELECT COUNT(*) FROM ai_generations WHERE payment_key LIKE ?", (f"%{tx.lower()}%",)) \
            .fetchone()
        (orphaned,) = db.execute("SELECT COUNT(*) FROM ai_generations WHERE payment_orphaned_at IS NOT NULL") \
            .fetchone()
    assert jobs == 1 and orphaned == 0  # one job for one payment; no false reorg held anything


def structured_of(result: Any) -> dict[str, Any]:
    assert not result.is_error, result.content
    return result.structured_content

"""The core flows against a real anvil from the contracts' npm toolchain, deployed with `sf-mcp deploy --dev`."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import urllib.request
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import anyio
import pytest
from tests.chain.conftest import DEV0, Session, error_text, structured
from tests.chain.rpc_proxy import RpcProxy
from web3.logs import DISCARD

from sf_mcp.chain import Signer
from sf_mcp.chain.accounts import DEV_ADDRESSES, DEV_KEYS
from sf_mcp.chain.devnet import Anvil, find_anvil, start_anvil
from sf_mcp.config import load_settings
from support import connected, settled

pytestmark = [
    pytest.mark.anyio,
    pytest.mark.anvil,
    pytest.mark.skipif(find_anvil() is None, reason="anvil binary absent: run `npm ci` in contracts/ (or set SF_ANVIL_BIN)"),
]

CAST = Path(__file__).resolve().parents[2] / "contracts/node_modules/@foundry-rs/cast-linux-amd64/bin/cast"


@pytest.fixture(scope="module")
def anvil(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Anvil, Path]]:
    node = start_anvil()
    deploy_dir = tmp_path_factory.mktemp("deployment")
    try:
        completed = subprocess.run(
            [sys.executable, "-m", "sf_mcp.cli", "--data-dir", str(deploy_dir), "deploy", "--dev", "--rpc-url", node.url],
            capture_output=True, text=True, timeout=120, env={k: v for k, v in __import__("os").environ.items()
                                                               if not k.startswith("SF_")},
        )
        assert completed.returncode == 0, completed.stderr
        assert "SonicAIGenerationPayment" in completed.stdout
        yield node, deploy_dir / "deployment.json"
    finally:
        node.stop()


def _settings(data_dir: Path, rpc_url: str, deployment: Path, monkeypatch: pytest.MonkeyPatch):
    for name in ("HF_TOKEN", "SF_HF_TOKEN", "SF_WALLET", "SF_AGENT_KEY", "SF_RPC_URL", "SF_CONFIG_FILE", "SF_OPERATOR_KEY"):
        monkeypatch.delenv(name, raising=False)
    return load_settings(data_dir=data_dir, rpc_url=rpc_url, deployment_file=deployment, local_renderer=True,
                         wallet=DEV0, indexer_poll_s=0.2)


@pytest.fixture
async def proxy(anvil) -> AsyncIterator[RpcProxy]:
    async with RpcProxy(anvil[0].url) as p:
        yield p


@pytest.fixture
async def node_session(anvil, proxy: RpcProxy, data_dir: Path, mode: str, monkeypatch) -> AsyncIterator[Session]:
    async with connected(_settings(data_dir, proxy.url, anvil[1], monkeypatch), mode=mode) as (client, services):
        yield Session(client=client, services=services)


def cast_pay(url: str, payment: str, prompt: str, key: str = DEV_KEYS[0]) -> str:
    """payWithS sent by `cast send`, as a user would from a terminal."""
    if not CAST.is_file():
        pytest.skip("cast binary absent")
    out = subprocess.run(
        [str(CAST), "send", payment, "payWithS(string,string)", prompt, "image", "--value", "3ether",
         "--private-key", key, "--rpc-url", url, "--json"], capture_output=True, text=True, timeout=60, check=True,
    )
    return json.loads(out.stdout)["transactionHash"]


async def test_cast_payment_verify_generate_replay_refuse(node_session: Session, anvil) -> None:
    s = node_session
    payment = s.chain.address_of("SonicAIGenerationPayment")
    tx = await anyio.to_thread.run_sync(cast_pay, anvil[0].url, payment, f"an anvil fox {id(s)}")
    verdict = structured(await s.call("verify_payment", {"tx_hash": tx}))
    assert verdict["valid"] and verdict["payer"] == DEV0 and verdict["amount"] == str(3 * 10**18)
    args = {"prompt": f"an anvil fox {id(s)}", "payment": {"method": "crypto", "tx_hash": tx}, "width": 128, "height": 128}
    first = structured(await s.call("generate_image", args))
    assert first["status"] == "succeeded"
    again = structured(await s.call("generate_image", args))
    assert again["task_id"] == first["task_id"] and again["payment"]["replay"]
    assert first["task_id"] in error_text(await s.call("generate_image", {**args, "prompt": "another"}))

    other = await anyio.to_thread.run_sync(cast_pay, anvil[0].url, payment, f"not yours {id(s)}", DEV_KEYS[1])
    await s.indexer.sync()  # the indexer has made DEV1's job: the payment is a used one now
    (job,) = [r for r in await s.services.store.generations.recent(limit=50) if r.payment.get("tx_hash") == other]
    refused = error_text(await s.call("generate_image", {**args, "prompt": f"not yours {id(s)}",
                                                         "payment": {"method": "crypto", "tx_hash": other}}))
    assert f"already paid for task {job.task_id}" in refused
    assert (await s.services.store.generations.get(job.task_id)).wallet == DEV_ADDRESSES[1]
    assert "tx_hash" in error_text(await s.call("verify_payment", {"tx_hash": "0xzz"}))


async def test_payment_without_tool_call_and_twenty_concurrent_calls(anvil, proxy, data_dir, monkeypatch) -> None:
    # No background indexer: the test syncs it itself, so the twenty calls below are the only ones making the job.
    async with connected(_settings(data_dir, proxy.url, anvil[1], monkeypatch)
                         .updated(indexer=False), mode="auto") as (client, services):
        s = Session(client=client, services=services)
        store = s.services.store
        tx = await s.pay_s("dApp payment on anvil", account=2)
        await s.indexer.sync()
        job = next(r for r in await store.generations.recent(limit=50) if r.payment.get("tx_hash") == tx)
        await settled(s.services.runner).wait(job.task_id)
        row = await store.generations.get(job.task_id)
        assert row.status == "succeeded" and row.submission["generation_id"] == job.chain_request_id
        creator, *_ = await s.chain.call(s.chain.voting.functions.getGeneration(job.chain_request_id))
        assert creator.lower() == row.wallet

        tx = await s.pay_s("twenty on anvil")
        args = {"prompt": "twenty on anvil", "payment": {"method": "crypto", "tx_hash": tx}, "width": 128, "height": 128}
        answers = []

        async def one() -> None:
            answers.append(await s.call("generate_image", args))

        async with anyio.create_task_group() as tg:
            for _ in range(20):
                tg.start_soon(one)
        jobs = [r for r in await store.generations.recent(limit=100) if r.payment.get("tx_hash") == tx]
        assert len(jobs) == 1
        assert len(answers) == 20
        assert [structured(a)["task_id"] for a in answers] == [jobs[0].task_id] * 20
        assert sum(1 for a in answers if not a.structured_content["payment"]["replay"]) == 1  # one made it


async def test_rpc_killed_mid_call_is_retryable_and_consumes_nothing(anvil, proxy, data_dir, monkeypatch) -> None:
    async with connected(_settings(data_dir, proxy.url, anvil[1], monkeypatch)
                          .updated(indexer=False), mode="auto") as (client, services):
        s = Session(client=client, services=services)
        tx = await s.pay_s("killed mid call")
        args = {"prompt": "killed mid call", "payment": {"method": "crypto", "tx_hash": tx}, "width": 128, "height": 128}
        proxy.drop_after(0)  # the node dies: the receipt and the head are one batched request
        text = error_text(await s.call("generate_image", args))
        assert "unreachable" in text and "try again" in text
        assert await s.services.store.generations.by_payment_key(f"crypto:31337:{tx}:1") is None
        assert [r for r in await s.services.store.generations.recent(limit=50) if r.payment.get("tx_hash") == tx] == []
        proxy.allow = None
        ok = structured(await s.call("generate_image", args))
        assert ok["status"] == "succeeded"


async def test_a_payment_not_mined_yet_is_retryable_and_consumes_nothing(anvil, proxy, data_dir, monkeypatch) -> None:
    async with connected(_settings(data_dir, proxy.url, anvil[1], monkeypatch).updated(indexer=False),
                         mode="auto") as (client, services):
        s = Session(client=client, services=services)
        chain, rpc = s.chain, s.chain.w3.provider.make_request
        signer = Signer(DEV_KEYS[0])
        tx = await chain.build_tx(signer.address, chain.payment.functions.payWithS("still pending", "image"),
                                  value=await chain.call(chain.payment.functions.priceS()))
        assert (await rpc("evm_setAutomine", [False]))["result"] is None
        try:
            sent = (await chain.w3.eth.send_raw_transaction(signer.sign(tx))).to_0x_hex()
            args = {"prompt": "still pending", "payment": {"method": "crypto", "tx_hash": sent}}
            text = error_text(await s.call("generate_image", args))
            assert f"transaction {sent} is not mined yet" in text and text.endswith("(temporary: try again)")
            verdict = structured(await s.call("verify_payment", {"tx_hash": sent}))
            assert verdict["valid"] is False and "not mined yet" in verdict["reason"]
            assert [r for r in await s.services.store.generations.recent(limit=50)
                    if r.payment.get("tx_hash") == sent] == []
            await rpc("evm_mine", [])
        finally:
            await rpc("evm_setAutomine", [True])
        ok = structured(await s.call("generate_image", {**args, "width": 128, "height": 128}))
        assert ok["status"] == "succeeded" and ok["payment"]["replay"] is False


async def test_a_log_that_fails_to_decode_is_skipped_and_the_rest_indexed(anvil, proxy, data_dir, monkeypatch,
                                                                             caplog) -> None:
    async with connected(_settings(data_dir, proxy.url, anvil[1], monkeypatch).updated(indexer=False),
                         mode="auto") as (client, services):
        s = Session(client=client, services=services)
        chain, store = s.chain, s.services.store
        await s.indexer.sync()
        tx = await s.pay_s("a damaged log")
        receipt = await chain.w3.eth.get_transaction_receipt(tx)
        (requested,) = chain.payment.events.GenerationRequested().process_receipt(receipt, errors=DISCARD)
        topic = receipt["logs"][requested["logIndex"] - receipt["logs"][0]["logIndex"]]["topics"][0].to_0x_hex()

        def damage(call: dict, answer: dict) -> dict:  # the node serves that one log with its data cut off
            if call.get("method") == "eth_getLogs":
                for log in answer.get("result") or []:
                    if log["topics"] and log["topics"][0] == topic:
                        log["data"] = "0x00"
            return answer

        proxy.rewrite = damage
        try:
            await s.indexer.sync()
        finally:
            proxy.rewrite = None
        assert "could not decode a log of" in caplog.text and tx[2:] in caplog.text.lower()
        assert [e.tx_hash for e in await store.chain.events(chain.chain_id) if e.tx_hash == tx
                and e.event == "GenerationRequested"] == []
        assert [e.event for e in await store.chain.events(chain.chain_id) if e.tx_hash == tx] != []  # the rest
        assert s.indexer.checkpoint.last_block_processed == await chain.block_number()
        # The payment itself is intact on chain: the tool call still generates it.
        ok = structured(await s.call("generate_image", {"prompt": "a damaged log", "width": 128, "height": 128,
                                                        "payment": {"method": "crypto", "tx_hash": tx}}))
        assert ok["status"] == "succeeded"


async def test_a_reorg_right_after_the_cursor_check_is_caught_by_the_parent_hash(anvil, proxy, data_dir,
                                                                                  monkeypatch) -> None:
    async with connected(_settings(data_dir, proxy.url, anvil[1], monkeypatch).updated(indexer=False),
                         mode="auto") as (client, services):
        s = Session(client=client, services=services)
        chain, store, indexer = s.chain, s.services.store, s.indexer
        rpc = chain.w3.provider.make_request
        await indexer.sync()
        snap = (await rpc("evm_snapshot", []))["result"]
        tx = await s.pay_s("anvil vanishing payment", account=2)
        await indexer.sync()
        (job,) = [r for r in await store.generations.recent(limit=20) if r.payment.get("tx_hash") == tx]
        cursor = hex((await store.chain.cursor(chain.chain_id)).block_number)
        await rpc("anvil_mine", [2])  # blocks for the next poll to read after its cursor check
        armed = True

        def reorg_after_the_check(call: dict, answer: dict) -> dict:
            """The node answers the cursor check from the old chain, then switches to a fork without the payment."""
            nonlocal armed
            if armed and call.get("method") == "eth_getBlockByNumber" and call["params"][0] == cursor:
                armed = False
                for method, params in (("evm_revert", [snap]), ("anvil_mine", [4])):
                    request = urllib.request.Request(anvil[0].url, data=json.dumps(
                        {"jsonrpc": "2.0", "id": 1, "method": method, "params": params}).encode(),
                        headers={"Content-Type": "application/json"})
                    urllib.request.urlopen(request, timeout=30).read()
            return answer

        proxy.rewrite = reorg_after_the_check
        try:
            assert await indexer.poll_once() is False
        finally:
            proxy.rewrite = None
        assert not armed and indexer.checkpoint.reorgs == 1
        await indexer.sync()
        assert [e for e in await store.chain.events(chain.chain_id) if e.tx_hash == tx] == []
        assert (await store.generations.get(job.task_id)).payment_orphaned_at is not None
        assert any(i.kind == "payment_reorged" and i.task_id == job.task_id for i in await store.review.items())


async def test_reorg_on_anvil_is_followed(anvil, proxy, data_dir, monkeypatch) -> None:
    async with connected(_settings(data_dir, proxy.url, anvil[1], monkeypatch).updated(indexer=False), mode="auto") as (client, services):
        s = Session(client=client, services=services)
        chain, store = s.chain, s.services.store
        rpc = chain.w3.provider.make_request
        await s.indexer.sync()
        snap = (await rpc("evm_snapshot", []))["result"]
        await s.pay_s("anvil losing fork", account=3)
        signer = Signer(DEV_KEYS[4])
        tx = await chain.build_tx(signer.address, chain.payment.functions.payWithS("anvil mined twice", "image"),
                                  value=3 * 10**18)
        raw = signer.sign({**tx, "gas": 400_000})
        sent = (await chain.w3.eth.send_raw_transaction(raw)).to_0x_hex()
        await chain.w3.eth.wait_for_transaction_receipt(sent)
        await s.indexer.sync()
        before = {e.args["prompt"]: e for e in await store.chain.events(chain.chain_id, event="GenerationRequested")}
        assert {"anvil losing fork", "anvil mined twice"} <= set(before)
        head, next_id = await chain.block_number(), [(chain.payment, "nextRequestId", ())]
        [counted] = await chain.call_many(next_id, block=head)  # cached for this block number

        assert (await rpc("evm_revert", [snap]))["result"] is True
        await rpc("anvil_mine", [3])
        await chain.w3.eth.send_raw_transaction(raw)
        await chain.w3.eth.wait_for_transaction_receipt(sent)
        await s.indexer.sync()
        after = {e.args["prompt"]: e for e in await store.chain.events(chain.chain_id, event="GenerationRequested")}
        assert "anvil losing fork" not in after
        assert after["anvil mined twice"].block_number != before["anvil mined twice"].block_number
        assert s.indexer.checkpoint.reorgs == 1
        # Block `head` was replaced by one without the two payments: the answer cached for it is gone.
        assert await chain.call_many(next_id, block=head) == [counted - 2]
        await s.indexer.sync()
        rows = [e for e in await store.chain.events(chain.chain_id, event="GenerationRequested")
                if e.args["prompt"] == "anvil mined twice"]
        assert len(rows) == 1
        jobs = [r for r in await store.generations.recent(limit=100) if r.payment.get("tx_hash") == sent]
        assert len(jobs) == 1


def test_unknown_or_mismatched_chain_is_refused(anvil, data_dir: Path, tmp_path: Path, monkeypatch) -> None:
    env = {k: v for k, v in __import__("os").environ.items() if not k.startswith("SF_")}
    run = lambda *a: subprocess.run([sys.executable, "-m", "sf_mcp.cli", "--data-dir", str(data_dir), *a],  # noqa: E731
                                    capture_output=True, text=True, timeout=60, env=env)
    completed = run("indexer", "--rpc-url", anvil[0].url)
    assert completed.returncode == 2 and "unknown to this server" in completed.stderr
    data = json.loads(anvil[1].read_text())
    data["chain_id"] = 146
    data_dir.mkdir(parents=True, exist_ok=True)
    (data_dir / "deployment.json").write_text(json.dumps(data))
    completed = run("indexer", "--rpc-url", anvil[0].url)
    assert completed.returncode == 2 and "refusing to treat one chain as another" in completed.stderr
    shutil.rmtree(data_dir)


async def test_x402_per_call_on_anvil(anvil, proxy, data_dir, monkeypatch) -> None:
    """`sf-mcp deploy` checked the USDC's EIP-712 domain and enabled x402; a wallet with USDC and no S pays per call."""
    from eth_account import Account
    from tests.chain.x402_client import META_RESPONSE, pay

    from sf_mcp.chain.contracts import USDC
    from sf_mcp.chain.devnet import check_x402

    recorded = json.loads(anvil[1].read_text())["x402"]
    assert recorded == {"enabled": True, "token_name": "USDC", "token_version": "2"}
    settings = _settings(data_dir, proxy.url, anvil[1], monkeypatch)
    wrong = await check_x402(settings.updated(x402_token_version="1"))
    assert not wrong["enabled"] and "SF_X402_TOKEN_VERSION" in wrong["problem"]

    async with connected(settings, mode="auto") as (client, services):
        s = Session(client=client, services=services)
        fresh = Account.create()
        price = int(await s.chain.call(s.chain.payment.functions.priceUSDC()))
        await s.chain.send(Signer(DEV_KEYS[0]), s.chain.contract(USDC).functions.mint(fresh.address, price))
        args = {"prompt": "an anvil x402 owl", "payment": {"method": "x402"}, "width": 64, "height": 64}
        terms = await client.call_tool("generate_image", args)
        assert terms.is_error and terms.structured_content["accepts"][0]["network"] == f"eip155:{s.chain.chain_id}"
        meta = await pay(fresh.key.to_0x_hex(), terms)
        paid = await client.call_tool("generate_image", args, meta=meta)
        assert not paid.is_error, paid.content
        assert paid.meta[META_RESPONSE]["success"] and paid.meta[META_RESPONSE]["payer"] == fresh.address
        again = await client.call_tool("generate_image", args, meta=meta)
        assert again.structured_content["task_id"] == paid.structured_content["task_id"]
        assert again.structured_content["payment"]["replay"]
        await s.indexer.sync()
        mine = [r for r in await s.services.store.generations.recent(limit=50) if r.wallet == fresh.address.lower()]
        assert len(mine) == 1
        assert int(await s.chain.call(s.chain.contract(USDC).functions.balanceOf(fresh.address))) == 0
        assert await s.chain.w3.eth.get_balance(fresh.address) == 0


async def test_live_reads_are_one_batched_request_each(anvil, proxy, data_dir, monkeypatch) -> None:
    """The account's live figures (cached per block) and a payment's verification (receipt + head).

    The indexer is driven by hand, so the proxy sees only the test's own requests until it syncs."""
    async with connected(_settings(data_dir, proxy.url, anvil[1], monkeypatch).updated(indexer=False),
                         mode="auto") as (client, services):
        s = Session(client=client, services=services)
        chain = s.chain
        me = chain.w3.to_checksum_address(DEV0)
        head = await chain.block_number()
        calls = [(chain.voting, "getUserVotingPower", (me,)), (chain.staking, "earned", (me,)),
                 (chain.staking, "pendingRewards", (me,)), (chain.payment, "priceS", ())]
        mark = len(proxy.methods)
        batched = await chain.call_many(calls, block=head)
        sent = proxy.methods[mark:]
        assert sent.count("?") == 1 and "eth_call" not in sent  # four calls, one JSON-RPC batch (a list body)
        one_by_one = [await getattr(c.functions, name)(*args).call(block_identifier=head) for c, name, args in calls]
        assert [tuple(v) if isinstance(v, (list, tuple)) else v for v in one_by_one] == batched
        assert batched[3] == 3 * 10**18
        mark = len(proxy.methods)
        assert await chain.call_many(calls, block=head) == batched  # cached for this block: nothing sent
        assert "?" not in proxy.methods[mark:] and "eth_call" not in proxy.methods[mark:]
        tx = await s.pay_s("verified in one request")
        mark = len(proxy.methods)
        verdict = structured(await s.call("verify_payment", {"tx_hash": tx}))
        sent = proxy.methods[mark:]
        assert sent.count("?") == 1 and "eth_getTransactionReceipt" not in sent, sent
        assert verdict["confirmations"] >= 0 and verdict["prompt"] == "verified in one request"
        # Last: syncing makes jobs of the payments on this anvil, whose submissions then use the node too.
        await s.indexer.sync()
        account = structured(await s.call("account", {}))
        assert account["as_of_block"] == s.indexer.checkpoint.last_block_processed and account["note"] is None

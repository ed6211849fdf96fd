"""prepare_payment, stake, vote and leaderboard: plans signed by a wallet, and an agent key that sends itself."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest
from eth_account import Account
from tests.chain.conftest import DEV0, DEV1, Session, error_text, structured

from sf_mcp.chain.accounts import DEV_KEYS
from sf_mcp.config import Settings, load_settings
from support import UpdateWatcher, connected, settled, subscribed

pytestmark = pytest.mark.anyio

WEEK = 7 * 24 * 3600


async def sign_and_send(s: Session, plan: dict[str, Any], key: str) -> list[str]:
    """What a wallet does with a TxPlan: sign each transaction in order and send it."""
    hashes = []
    for tx in plan["transactions"]:
        fields = {"chainId": tx["chain_id"], "nonce": tx["nonce"], "to": s.chain.w3.to_checksum_address(tx["to"]),
                  "value": int(tx["value"]), "data": tx["data"], "gas": tx["gas"], "type": 2,
                  "maxFeePerGas": int(tx["max_fee_per_gas"]), "maxPriorityFeePerGas": int(tx["max_priority_fee_per_gas"])}
        raw = Account.from_key(key).sign_transaction(fields).raw_transaction
        tx_hash = await s.chain.w3.eth.send_raw_transaction(raw)
        receipt = await s.chain.w3.eth.wait_for_transaction_receipt(tx_hash)
        assert receipt["status"] == 1, tx["summary"]
        hashes.append(tx_hash.to_0x_hex())
    return hashes


async def test_prepare_payment_plans_sign_and_pay_with_s_and_usdc(session: Session) -> None:
    s = session
    answer = structured(await s.call("prepare_payment", {"method": "S", "prompt": "planned <i>owl</i>", "generation_type": "image"}))
    assert answer["mode"] == "plan"
    plan = answer["plan"]
    assert plan["wallet"] == DEV0 and plan["chain_id"] == s.chain.chain_id
    (tx,) = plan["transactions"]
    assert tx["value"] == str(3 * 10**18) and tx["to"] == s.chain.address_of("SonicAIGenerationPayment")
    assert tx["call"]["function"] == "payWithS" and tx["call"]["args"] == ["planned owl", "image"]
    assert tx["gas"] > 21000 and "3 S" in tx["summary"] and tx["from"] == DEV0 and tx["type"] == 2
    (pay_hash,) = await sign_and_send(s, plan, DEV_KEYS[0])
    verdict = structured(await s.call("verify_payment", {"tx_hash": pay_hash, "prompt": "planned <i>owl</i>"}))
    assert verdict["valid"], verdict

    answer = structured(await s.call("prepare_payment", {"method": "USDC", "prompt": "usdc owl", "generation_type": "video"}))
    txs = answer["plan"]["transactions"]
    assert [t["call"]["function"] for t in txs] == ["approve", "payWithUSDC"]
    assert txs[1]["call"]["args"] == ["usdc owl", "video", 10**6]  # maxAmount: the price the plan was made at
    assert txs[1]["nonce"] == txs[0]["nonce"] + 1
    hashes = await sign_and_send(s, answer["plan"], DEV_KEYS[0])
    verdict = structured(await s.call("verify_payment", {"tx_hash": hashes[1], "generation_type": "video"}))
    assert verdict["valid"] and verdict["token"] == "USDC" and verdict["amount"] == "1000000"

    answer = await s.call("prepare_payment", {"method": "credits", "prompt": "x", "generation_type": "image"})
    assert "no on-chain credits" in error_text(answer)


@pytest.fixture
def agent_settings(data_dir, monkeypatch: pytest.MonkeyPatch) -> Settings:
    for name in ("HF_TOKEN", "SF_HF_TOKEN", "SF_WALLET", "SF_AGENT_KEY", "SF_RPC_URL", "SF_CONFIG_FILE"):
        monkeypatch.delenv(name, raising=False)
    return load_settings(data_dir=data_dir, agent_key=DEV_KEYS[1], agent_max_s_per_tx=5, agent_max_s_per_day=5)


@pytest.fixture
async def agent(agent_settings: Settings) -> AsyncIterator[Session]:
    async with connected(agent_settings, mode="auto") as (client, services):
        yield Session(client=client, services=services)


async def test_a_payment_sent_here_shows_in_the_leaderboard_before_the_next_poll(data_dir, monkeypatch) -> None:
    """Read your own writes: the indexer polls once an hour here, so only the nudge a mined transaction gives
    it can bring the 3 S payment's prize-pool share into leaderboard://week (and tell its subscribers)."""
    for name in ("HF_TOKEN", "SF_HF_TOKEN", "SF_WALLET", "SF_AGENT_KEY", "SF_RPC_URL", "SF_CONFIG_FILE"):
        monkeypatch.delenv(name, raising=False)
    settings = load_settings(data_dir=data_dir, agent_key=DEV_KEYS[1], indexer_poll_s=3600)
    watcher = UpdateWatcher()
    async with connected(settings, mode="legacy", message_handler=watcher.message_handler) as (client, services):
        await services.indexer.sync()
        before = structured(await client.call_tool("leaderboard", {"period": "week"}))
        assert before["prize_pool_s"] == "0"
        async with subscribed(client, watcher, "legacy", "leaderboard://week"):
            paid = structured(await client.call_tool(
                "prepare_payment", {"method": "S", "prompt": "a lighthouse", "generation_type": "image"}))
            assert paid["mode"] == "sent"
            assert await watcher.next_update() == "leaderboard://week"
        after = structured(await client.call_tool("leaderboard", {"period": "week"}))
        block = paid["sent"]["transactions"][-1]["block"]
        assert after["as_of_block"] >= block > before["as_of_block"]
        assert float(after["prize_pool_s"]) == pytest.approx(0.45)  # 15 % of 3 S


async def test_a_payment_alone_tells_leaderboard_subscribers_that_the_prize_pool_grew(settings: Settings) -> None:
    """The payment's block funds the contest's pool, which leaderboard://week shows: its subscribers hear of it from
    the poll that indexes the payment, before any vote or entry (nothing polls here but the test)."""
    watcher = UpdateWatcher()
    quiet = settings.model_copy(update={"chain": settings.chain.model_copy(update={"indexer": False})})
    async with connected(quiet, mode="legacy", message_handler=watcher.message_handler) as (client, services):
        s = Session(client=client, services=services)
        await s.indexer.sync()
        async with subscribed(client, watcher, "legacy", "leaderboard://week"):
            await s.pay_s("a pool, no entry yet", account=2)
            await s.indexer.sync()
            assert await watcher.next_update() == "leaderboard://week"
        week = structured(await client.call_tool("leaderboard", {"period": "week"}))
        assert float(week["prize_pool_s"]) == pytest.approx(0.45) and week["entries"] == []


async def test_agent_stakes_votes_and_the_leaderboard_follows(agent: Session) -> None:
    s = agent
    answer = structured(await s.call("stake", {"action": "stake", "token_ids": [4, 5]}))
    assert answer["mode"] == "sent"
    assert [t["status"] for t in answer["sent"]["transactions"]] == ["success", "success"]  # approval + stakeBatch
    staking = s.chain.staking.functions
    assert await s.chain.call(staking.stakedBalanceOf(s.chain.w3.to_checksum_address(DEV1))) == 2
    assert "belongs to" in error_text(await s.call("stake", {"action": "stake", "token_ids": [1]}))

    await s.chain.advance_time(WEEK + 60)  # the next contest: the NFTs now count
    await s.pay_s("a contest entry", account=0)
    await s.indexer.sync()
    job = next(r for r in await s.services.store.generations.recent(limit=5) if r.payment_method == "crypto")
    done = await settled(s.services.runner).wait(job.task_id)
    assert done.status == "succeeded"
    assert (await s.services.store.generations.get(job.task_id)).submission is not None

    voted = structured(await s.call("vote", {"generation_id": job.task_id}))
    assert voted["mode"] == "sent" and voted["sent"]["transactions"][0]["status"] == "success"
    assert "already voted" in error_text(await s.call("vote", {"generation_id": job.chain_request_id}))
    assert "not in the contest" in error_text(await s.call("vote", {"generation_id": 999}))

    await s.indexer.sync()
    week = structured(await s.call("leaderboard", {"period": "week"}))
    assert week["contest_id"] == 2
    assert week["entries"][0] == {"rank": 1, "creator": DEV0, "points": 2, "votes": 1, "generations": 1}
    assert float(week["prize_pool_s"]) == pytest.approx(0.45)  # 15 % of the 3 S paid in this contest
    total = structured(await s.call("leaderboard", {"period": "all", "limit": 5}))
    assert total["entries"][0]["creator"] == DEV0 and total["entries"][0]["points"] == 2
    resource = await s.client.read_resource("leaderboard://week")
    assert DEV0 in resource.contents[0].text

    unstaked = structured(await s.call("stake", {"action": "unstake", "token_ids": [4]}))
    assert unstaked["sent"]["transactions"][0]["status"] == "success"
    await s.indexer.sync()
    assert await s.services.store.chain.staked_tokens(s.chain.chain_id, DEV1) == [5]
    me = s.chain.w3.to_checksum_address(DEV1)
    assert await s.chain.call(staking.earned(me)) == [75 * 10**16, 0]  # the stakers' 25 % of the 3 S paid
    claimed = structured(await s.call("stake", {"action": "claim"}))
    assert claimed["mode"] == "sent" and claimed["sent"]["transactions"][0]["status"] == "success"
    assert "claim 0.75 S and 0 USDC" in claimed["summary"]
    assert await s.chain.call(staking.earned(me)) == [0, 0]
    assert "no staking rewards to claim yet" in error_text(await s.call("stake", {"action": "claim"}))


async def test_agent_limits_refuse_whole_transactions(agent: Session) -> None:
    s = agent
    balance = await s.chain.w3.eth.get_balance(s.chain.w3.to_checksum_address(DEV1))
    first = structured(await s.call("prepare_payment", {"method": "S", "prompt": "one", "generation_type": "image"}))
    assert first["mode"] == "sent"
    second = await s.call("prepare_payment", {"method": "S", "prompt": "two", "generation_type": "image"})
    text = error_text(second)
    assert "daily limit is 5 S" in text and "3 S spent today" in text and "nothing was sent" in text
    assert await s.services.store.chain.spent_today(wallet=DEV1, token="S") == 3 * 10**18
    spent = balance - await s.chain.w3.eth.get_balance(s.chain.w3.to_checksum_address(DEV1))
    assert 3 * 10**18 <= spent < 3 * 10**18 + 10**17  # one payment plus gas


async def test_agent_per_transaction_limit_refuses_a_larger_payment(agent_settings: Settings) -> None:
    async with connected(agent_settings.updated(agent_max_s_per_tx=2, agent_max_s_per_day=10),
                         mode="auto") as (client, services):
        s = Session(client=client, services=services)
        balance = await s.chain.w3.eth.get_balance(s.chain.w3.to_checksum_address(DEV1))
        text = error_text(await s.call("prepare_payment", {"method": "S", "prompt": "three", "generation_type": "image"}))
        assert "at most 2 S" in text and "nothing was sent" in text
        assert await s.chain.w3.eth.get_balance(s.chain.w3.to_checksum_address(DEV1)) == balance
        assert await s.services.store.chain.spent_today(wallet=DEV1, token="S") == 0


async def test_plans_for_a_wallet_without_a_key(auto_session: Session) -> None:
    s = auto_session
    answer = structured(await s.call("stake", {"action": "stake", "token_ids": [1, 2]}))
    plan = answer["plan"]
    assert [t["call"]["function"] for t in plan["transactions"]] == ["setApprovalForAll", "stakeBatch"]
    await sign_and_send(s, plan, DEV_KEYS[0])
    assert await s.chain.call(s.chain.staking.functions.stakedBalanceOf(s.chain.w3.to_checksum_address(DEV0))) == 2
    assert "no staking rewards" in error_text(await s.call("stake", {"action": "claim"}))
    assert "token_ids" in error_text(await s.call("stake", {"action": "unstake"}))
    assert "not staked by you" in error_text(await s.call("stake", {"action": "unstake", "token_ids": [9]}))

"""send_transaction (relaying a wallet's own signed plan), contest finalize / claim, and the dev-only clock tool."""

from __future__ import annotations

import json
from typing import Any

import pytest
from eth_account import Account
from eth_utils import to_checksum_address
from mcp.client import Client
from tests.chain.conftest import DEV0, Session, error_text, structured

from sf_mcp.chain.accounts import DEV_KEYS
from sf_mcp.config import load_settings
from sf_mcp.server import build_server

pytestmark = pytest.mark.anyio

WEEK = 7 * 24 * 3600


def _sign(tx: dict[str, Any], key: str, **changes: Any) -> str:
    fields = {"type": 2, "chainId": tx["chain_id"], "nonce": tx["nonce"], "to": to_checksum_address(tx["to"]),
              "value": int(tx["value"]), "data": tx["data"], "gas": tx["gas"],
              "maxFeePerGas": int(tx["max_fee_per_gas"]), "maxPriorityFeePerGas": int(tx["max_priority_fee_per_gas"])}
    fields.update(changes)
    return "0x" + bytes(Account.from_key(key).sign_transaction(fields).raw_transaction).hex()


async def test_send_transaction_relays_only_the_callers_own_transactions_to_our_contracts(auto_session: Session) -> None:
    s = auto_session
    plan = structured(await s.call("prepare_payment", {"method": "S", "prompt": "relayed owl", "generation_type": "image"}))
    (tx,) = plan["plan"]["transactions"]

    refused = error_text(await s.call("send_transaction", {"signed_tx": _sign(tx, DEV_KEYS[1])}))
    assert "not by your wallet" in refused
    refused = error_text(await s.call("send_transaction", {"signed_tx": _sign(tx, DEV_KEYS[0], chainId=146)}))
    assert "chain id 146" in refused
    refused = error_text(await s.call("send_transaction", {"signed_tx": _sign(tx, DEV_KEYS[0], to="0x" + "11" * 20)}))
    assert "not an sf-mcp contract" in refused
    assert "0x-prefixed hex" in error_text(await s.call("send_transaction", {"signed_tx": "0xnothex"}))
    assert "EIP-1559" in error_text(await s.call("send_transaction", {"signed_tx": "0x" + "02" * 40}))

    signed = _sign(tx, DEV_KEYS[0])
    sent = structured(await s.call("send_transaction", {"signed_tx": signed}))
    assert sent["mode"] == "sent" and sent["sent"]["wallet"] == DEV0
    (receipt,) = sent["sent"]["transactions"]
    assert receipt["status"] == "success"
    again = structured(await s.call("send_transaction", {"signed_tx": signed}))  # a retry is harmless
    assert again["sent"]["transactions"][0]["tx_hash"] == receipt["tx_hash"]
    verdict = structured(await s.call("verify_payment", {"tx_hash": receipt["tx_hash"], "prompt": "relayed owl"}))
    assert verdict["payer"] == DEV0 and verdict["amount"] == str(3 * 10**18)


async def test_contest_finalize_and_claim_say_what_is_missing(auto_session: Session) -> None:
    s = auto_session
    assert "no contest has ended yet" in error_text(await s.call("contest", {"action": "finalize"}))
    assert "ends in" in error_text(await s.call("contest", {"action": "finalize", "contest_id": 1}))
    assert "no contest prizes" in error_text(await s.call("contest", {"action": "claim"}))

    await s.chain.advance_time(WEEK + 1)
    plan = structured(await s.call("contest", {"action": "finalize"}))
    (tx,) = plan["plan"]["transactions"]
    assert tx["call"]["function"] == "finalizeContest" and tx["call"]["args"] == [1]
    assert "rolls over" in plan["summary"]  # nobody received votes in contest 1
    await s.call("send_transaction", {"signed_tx": _sign(tx, DEV_KEYS[0])})
    assert "already finalized" in error_text(await s.call("contest", {"action": "finalize", "contest_id": 1}))


async def test_dev_clock_tool_only_when_asked_for(settings, data_dir) -> None:
    async with Client(build_server(settings), mode="auto") as client:
        assert "dev_advance_time" not in {t.name for t in (await client.list_tools()).tools}
    dev = load_settings(data_dir=data_dir, dev_tools=True)
    async with Client(build_server(dev), mode="auto") as client:
        assert "dev_advance_time" in {t.name for t in (await client.list_tools()).tools}
        first = structured(await client.call_tool("dev_advance_time", {"seconds": 1}))
        later = structured(await client.call_tool("dev_advance_time", {"seconds": first["contest_end"] - first["timestamp"]}))
        assert later["contest_id"] == first["contest_id"] + 1 and later["timestamp"] >= first["contest_end"]
        assert later["timestamp_iso"].endswith("Z") and first["contest_end_iso"].endswith("Z")


async def test_contest_finalize_plans_earlier_open_contests_in_order(auto_session: Session) -> None:
    # Contests are finalized in order on chain: asking for contest 3 plans 1, 2 and 3; an empty contest's
    # pool goes to the next contest (never to the one open when someone finalizes late).
    s = auto_session
    await s.chain.advance_time(3 * WEEK + 1)
    plan = structured(await s.call("contest", {"action": "finalize", "contest_id": 3}))
    txs = plan["plan"]["transactions"]
    assert [t["call"]["args"] for t in txs] == [[1], [2], [3]]
    assert "rolls over to contest 2" in txs[0]["summary"] and "rolls over to contest 4" in txs[2]["summary"]
    for tx in txs:
        sent = structured(await s.call("send_transaction", {"signed_tx": _sign(tx, DEV_KEYS[0])}))
        assert sent["sent"]["transactions"][0]["status"] == "success"
    assert await s.chain.call(s.chain.voting.functions.nextContestToFinalize()) == 4


async def test_claim_recipient_must_be_an_address(auto_session: Session) -> None:
    s = auto_session
    for bad in ("0x1234", "0x" + "00" * 20, "0x" + "zz" * 20):
        text = error_text(await s.call("contest", {"action": "claim", "recipient": bad}))
        assert "recipient" in text and "20-byte address" in text
    assert "recipient" in error_text(await s.call("stake", {"action": "claim", "recipient": "nope"}))


async def test_stake_claim_pays_each_token_to_the_named_recipient(auto_session: Session) -> None:
    s = auto_session
    staking = s.chain.staking.functions
    for tool, args in (("stake", {"action": "stake", "token_ids": [1]}),
                       ("prepare_payment", {"method": "S", "prompt": "a paid fox", "generation_type": "image"})):
        for tx in structured(await s.call(tool, args))["plan"]["transactions"]:
            await s.call("send_transaction", {"signed_tx": _sign(tx, DEV_KEYS[0])})
    await s.chain.advance_time(int(await s.chain.call(staking.minStakePeriod())) + 1)
    other = Account.from_key(DEV_KEYS[3]).address.lower()
    before = await s.chain.w3.eth.get_balance(to_checksum_address(other))
    answer = structured(await s.call("stake", {"action": "claim", "recipient": other}))
    (tx,) = answer["plan"]["transactions"]  # S only: no USDC was paid
    assert tx["call"]["function"] == "claimRewardTo"
    assert [str(a).lower() for a in tx["call"]["args"]] == ["0x" + "ee" * 20, other]
    await s.call("send_transaction", {"signed_tx": _sign(tx, DEV_KEYS[0])})
    paid = await s.chain.w3.eth.get_balance(to_checksum_address(other)) - before
    assert paid == int(answer["payout"]["s_wei"]) == 75 * 10**16  # the stakers' 25 % of 3 S, to the recipient


async def test_contest_times_are_also_iso_8601(auto_session: Session) -> None:
    from datetime import datetime

    def unix(iso: str) -> int:
        assert iso.endswith("Z")
        return int(datetime.fromisoformat(iso.replace("Z", "+00:00")).timestamp())

    s = auto_session
    board = structured(await s.call("leaderboard", {"period": "week"}))
    assert unix(board["contest_start_iso"]) == board["contest_start"]
    assert unix(board["contest_end_iso"]) == board["contest_end"]
    resource = json.loads((await s.client.read_resource("leaderboard://week")).contents[0].text)
    assert resource["contest_end_iso"] == board["contest_end_iso"]
    assert structured(await s.call("leaderboard", {"period": "all"}))["contest_end_iso"] is None
    early = error_text(await s.call("contest", {"action": "finalize", "contest_id": 1}))
    assert f"at {board['contest_end_iso']}, unix time {board['contest_end']}" in early

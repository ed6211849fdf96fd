"""The crypto payment gate and verify_payment on the embedded chain."""

from __future__ import annotations

from collections.abc import AsyncIterator

import anyio
import pytest
from tests.chain.conftest import DEV0, DEV1, Session, error_text, structured

from sf_mcp.chain import Signer
from sf_mcp.chain.accounts import DEV_KEYS
from sf_mcp.config import Settings
from support import connected

pytestmark = pytest.mark.anyio


@pytest.fixture
async def no_indexer(settings: Settings) -> AsyncIterator[Session]:
    """A session whose server runs no indexer: only tool calls make jobs, so each outcome is exact."""
    async with connected(settings.updated(indexer=False), mode="auto") as (client, services):
        yield Session(client=client, services=services)


async def test_pay_verify_generate_replay_and_refuse_other_prompt(session: Session) -> None:
    tx = await session.pay_s("a red fox in the snow")
    verdict = structured(await session.call("verify_payment", {"tx_hash": tx}))
    assert verdict["valid"] is True, verdict
    assert verdict["payer"] == DEV0
    assert verdict["amount"] == str(3 * 10**18) and verdict["token"] == "S" and verdict["amount_display"] == "3 S"
    assert verdict["request_id"] == 1 and verdict["generation_type"] == "image"
    assert verdict["consumed_by"] is None

    args = {"prompt": "a red fox in the snow", "payment": {"method": "crypto", "tx_hash": tx}, "width": 256, "height": 256}
    first = structured(await session.call("generate_image", args))
    assert first["status"] == "succeeded"
    again = structured(await session.call("generate_image", args))
    assert again["task_id"] == first["task_id"] and again["payment"]["replay"] is True

    other = await session.call("generate_image", {**args, "prompt": "a blue whale"})
    assert first["task_id"] in error_text(other)

    verdict = structured(await session.call("verify_payment", {"tx_hash": tx}))
    assert verdict["consumed_by"] == first["task_id"] and verdict["valid"] is True
    assert first["task_id"] in verdict["reason"]


async def test_rejected_payments_say_why(auto_session: Session) -> None:
    s = auto_session
    chain = s.chain
    # Another wallet's payment.
    tx_other = await s.pay_s("someone else's cat", account=1)
    answer = await s.call("generate_image", {"prompt": "someone else's cat", "payment": {"method": "crypto", "tx_hash": tx_other}})
    assert DEV1 in error_text(answer) and "not by you" in error_text(answer)
    verdict = structured(await s.call("verify_payment", {"tx_hash": tx_other}))
    assert verdict["valid"] is False and "not by you" in verdict["reason"]

    # A transaction to another contract (a USDC mint).
    usdc = chain.contract("MockUSDC")
    receipt = await chain.send(Signer(DEV_KEYS[0]), usdc.functions.mint(chain.w3.to_checksum_address(DEV0), 5))
    foreign = receipt["transactionHash"].to_0x_hex()
    answer = await s.call("generate_image", {"prompt": "x", "payment": {"method": "crypto", "tx_hash": foreign}})
    assert f"was sent to {usdc.address.lower()}, not to the sf-mcp payment contract" in error_text(answer)
    # A transaction to the payment contract that paid for nothing (a view function sent as a transaction).
    receipt = await chain.send(Signer(DEV_KEYS[0]), chain.payment.functions.priceS())
    unpaid = receipt["transactionHash"].to_0x_hex()
    verdict = structured(await s.call("verify_payment", {"tx_hash": unpaid}))
    assert verdict["valid"] is False and "called the payment contract but did not pay for a generation" in verdict["reason"]

    # A failed transaction: sent with a fixed gas limit so it is mined and reverts (too little S).
    w3 = chain.w3
    signer = Signer(DEV_KEYS[0])
    base = (await w3.eth.get_block("latest"))["baseFeePerGas"]
    tx = {"chainId": chain.chain_id, "nonce": await w3.eth.get_transaction_count(w3.to_checksum_address(DEV0)),
          "to": chain.payment.address, "data": chain.payment.encode_abi("payWithS", args=["cheap", "image"]), "value": 1, "gas": 300_000,
          "maxFeePerGas": 2 * base + 10**9, "maxPriorityFeePerGas": 10**9, "type": 2}
    failed = (await w3.eth.send_raw_transaction(signer.sign(tx))).to_0x_hex()
    answer = await s.call("generate_image", {"prompt": "cheap", "payment": {"method": "crypto", "tx_hash": failed}})
    assert "failed on chain" in error_text(answer)

    # Unknown and malformed hashes.
    unknown = "0x" + "ab" * 32
    assert "unknown" in error_text(await s.call("generate_image", {"prompt": "x", "payment": {"method": "crypto", "tx_hash": unknown}}))
    assert structured(await s.call("verify_payment", {"tx_hash": unknown}))["valid"] is False
    bad = await s.call("verify_payment", {"tx_hash": "0x1234"})
    assert "tx_hash" in error_text(bad)
    bad = await s.call("generate_image", {"prompt": "x", "payment": {"method": "crypto", "tx_hash": "nope"}})
    assert bad.is_error

    # Type and prompt mismatches on a fresh payment of our own.
    mine = await s.pay_s("a small boat")
    verdict = structured(await s.call("verify_payment", {"tx_hash": mine, "generation_type": "video"}))
    assert verdict["valid"] is False and "video" in verdict["reason"]
    verdict = structured(await s.call("verify_payment", {"tx_hash": mine, "prompt": "a big ship"}))
    assert verdict["valid"] is False and "a small boat" in verdict["reason"]
    answer = await s.call("generate_image", {"prompt": "a big ship", "payment": {"method": "crypto", "tx_hash": mine}})
    assert "a small boat" in error_text(answer)
    long_prompt = "a very long prompt about a small boat on a calm sea at dawn, " * 2  # 122 characters
    long_paid = await s.pay_s(long_prompt)
    verdict = structured(await s.call("verify_payment", {"tx_hash": long_paid, "prompt": "a big ship"}))
    assert f"paid for the prompt {long_prompt.strip()[:80]!r}, not 'a big ship'" in verdict["reason"]  # cut at 80
    # The refusals consumed nothing: the right request still works.
    ok = await s.call("generate_image", {"prompt": "a  small <b>boat</b>", "payment": {"method": "crypto", "tx_hash": mine},
                                         "width": 128, "height": 128})
    assert structured(ok)["status"] == "succeeded"


async def test_usdc_and_on_chain_credit_payments_are_verified_in_their_token(auto_session: Session) -> None:
    s = auto_session
    chain, signer = s.chain, Signer(DEV_KEYS[0])
    await chain.send(signer, chain.contract("MockUSDC").functions.approve(chain.payment.address, 10**6))
    receipt = await chain.send(signer, chain.payment.functions.payWithUSDC("a fox paid in USDC", "image", 10**6))
    verdict = structured(await s.call("verify_payment", {"tx_hash": receipt["transactionHash"].to_0x_hex()}))
    assert verdict["valid"] is True and verdict["token"] == "USDC"
    assert verdict["token_address"] == chain.contract("MockUSDC").address.lower()
    assert verdict["amount"] == str(10**6) and verdict["amount_display"] == "1 USDC"

    await chain.send(signer, chain.payment.functions.addCredits(chain.w3.to_checksum_address(DEV0), 2))  # the owner
    receipt = await chain.send(signer, chain.payment.functions.useCredits("a fox paid in credits", "image"))
    verdict = structured(await s.call("verify_payment", {"tx_hash": receipt["transactionHash"].to_0x_hex()}))
    assert verdict["valid"] is True and verdict["token"] == "credits" and verdict["amount_display"] == "1 credit"


async def test_twenty_concurrent_calls_make_one_generation(no_indexer: Session) -> None:
    s = no_indexer
    tx = await s.pay_s("twenty at once")
    args = {"prompt": "twenty at once", "payment": {"method": "crypto", "tx_hash": tx}, "width": 128, "height": 128}
    answers: list = []

    async def one(i: int) -> None:
        answers.append(await s.call("generate_image", args))

    async with anyio.create_task_group() as tg:
        for i in range(20):
            tg.start_soon(one, i)
    rows = await s.services.store.generations.recent(limit=50)
    paid = [r for r in rows if r.payment_method == "crypto"]
    assert len(paid) == 1
    task = paid[0].task_id
    assert len(answers) == 20
    assert [structured(answer)["task_id"] for answer in answers] == [task] * 20  # each one answered with the task
    assert sum(1 for a in answers if not a.structured_content["payment"]["replay"]) == 1  # one made it, 19 replays
    # Once used, the payment refuses any other request and names its task.
    other = await s.call("generate_image", {**args, "prompt": "something else"})
    assert task in error_text(other)


async def test_rpc_outage_is_retryable_and_consumes_nothing(no_indexer: Session) -> None:
    s = no_indexer
    tx = await s.pay_s("during an outage")
    s.chain.embedded.down = True
    try:
        answer = await s.call("generate_image", {"prompt": "during an outage", "payment": {"method": "crypto", "tx_hash": tx}})
        text = error_text(answer)
        assert "unreachable" in text and "try again" in text
        assert "unreachable" in error_text(await s.call("verify_payment", {"tx_hash": tx}))
    finally:
        s.chain.embedded.down = False
    assert await s.services.store.generations.recent(limit=10) == []  # the outage consumed nothing
    ok = await s.call("generate_image", {"prompt": "during an outage", "payment": {"method": "crypto", "tx_hash": tx},
                                         "width": 128, "height": 128})
    assert structured(ok)["status"] == "succeeded"


async def test_a_crypto_replay_with_other_settings_says_the_first_settings_stand(auto_session: Session) -> None:
    s = auto_session
    tx = await s.pay_s("a paid fox")
    pay = {"method": "crypto", "tx_hash": tx}
    first = structured(await s.call("generate_image", {"prompt": "a paid fox", "payment": pay, "width": 128,
                                                        "height": 128}))
    again = await s.call("generate_image", {"prompt": "a paid fox", "payment": pay, "width": 512, "height": 128,
                                            "seed": 7})
    replay = structured(again)
    assert replay["task_id"] == first["task_id"] and replay["payment"]["replay"] is True
    (note,) = replay["notes"]
    assert "the first request's settings stand" in note and "width 128 (asked 512)" in note and "seed" in note
    assert note in again.content[-1].text
    same = structured(await s.call("generate_image", {"prompt": "a paid fox", "payment": pay, "width": 128,
                                                       "height": 128}))
    assert same["payment"]["replay"] is True and same["notes"] == []

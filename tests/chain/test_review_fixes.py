"""Fixes from the chain review: single refunds, kept agent bookings, reorg-stable payment keys, embedded restarts,
amounts, argument bounds, gas allowances, relay limits, early-unstake warnings, smart-wallet payments."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import anyio
import pytest
from eth_account import Account
from tests.chain.conftest import DEV0, Session, error_text, structured
from tests.chain.operator_support import proxied_chain
from tests.chain.test_tools import sign_and_send

from sf_mcp.chain import OperatorActions, Signer
from sf_mcp.chain.accounts import DEV_KEYS
from sf_mcp.chain.payments import crypto_payment_key, display_amount
from sf_mcp.chain.txplan import Limits, Step, TxPlanner
from sf_mcp.chain.units import format_units
from sf_mcp.domain import Payout
from sf_mcp.errors import ChainError, ChainUnavailable, GenerationError, InsufficientFunds, NotFound, SfMcpError
from sf_mcp.store import ChainEvent, Cursor, JobFromPayment, OperatorAction, Store

pytestmark = pytest.mark.anyio


# -- 7. amounts -------------------------------------------------------------------------------------
def test_format_units_is_exact_and_keeps_whole_numbers() -> None:
    assert format_units(10 * 10**18, 18) == "10"
    assert format_units(1_500_000, 6) == "1.5"
    assert format_units(0, 18) == "0"
    assert format_units(1, 18) == "0.000000000000000001"
    assert format_units(100, 0) == "100"
    assert format_units(-25, 1) == "-2.5"
    assert display_amount("S", 10 * 10**18) == "10 S"
    assert display_amount("USDC", 1_500_000) == "1.5 USDC"
    assert Payout.of(10 * 10**18, 20 * 10**6).s == "10" and Payout.of(0, 20 * 10**6).usdc == "20"


# -- 2. the agent's daily limit ------------------------------------------------------------------------
class _TimesOutAfterBroadcast:
    chain_id = 146
    broadcast = 0

    async def send(self, signer, fn, *, value=0, what=None, on_sent=None):
        type(self).broadcast += 1
        if on_sent is not None:
            await on_sent("0x" + "11" * 32)
        raise ChainUnavailable("waiting for payWithS: the RPC endpoint is unreachable (TimeExhausted)")


class _RefusedBeforeBroadcast:
    chain_id = 146

    async def send(self, signer, fn, *, value=0, what=None, on_sent=None):
        raise ChainError("sending payWithS: the contract refused: InsufficientPayment()")


class _Fn:
    fn_name = "payWithS"
    args = ()


async def test_a_broadcast_payment_keeps_its_booking_when_the_receipt_wait_fails(tmp_path: Path) -> None:
    store = await Store.open(tmp_path / "db.sqlite")
    try:
        agent = Signer(DEV_KEYS[0])
        limits = Limits(s_per_tx=3 * 10**18, s_per_day=6 * 10**18, usdc_per_tx=0, usdc_per_day=0)
        step = Step(fn=_Fn(), contract="P", summary="pay", value=3 * 10**18, spends_s=3 * 10**18)
        refused = TxPlanner(_RefusedBeforeBroadcast(), store, agent=agent, limits=limits)  # type: ignore[arg-type]
        with pytest.raises(ChainError):
            await refused.execute(agent.address, [step], "pay")
        assert await store.chain.spent_today(wallet=agent.address, token="S") == 0  # nothing left: released

        planner = TxPlanner(_TimesOutAfterBroadcast(), store, agent=agent, limits=limits)  # type: ignore[arg-type]
        outcomes = []
        for _ in range(4):
            try:
                await planner.execute(agent.address, [step], "pay")
            except InsufficientFunds:
                outcomes.append("refused")
            except ChainUnavailable:
                outcomes.append("timeout")
        assert outcomes == ["timeout", "timeout", "refused", "refused"]
        assert _TimesOutAfterBroadcast.broadcast == 2  # 6 S a day: two payments of 3 S, never more
        assert await store.chain.spent_today(wallet=agent.address, token="S") == 6 * 10**18
    finally:
        await store.close()


# -- 3. reorg-stable payment keys (store level) --------------------------------------------------------
CID, TX = 146, "0x" + "ab" * 32
PAYER = "0x" + "11" * 20


def _requested(log_index: int, block: int, request_id: int) -> ChainEvent:
    return ChainEvent(
        chain_id=CID, tx_hash=TX, log_index=log_index, block_number=block, block_hash="0x%064x" % block,
        contract="SonicAIGenerationPayment", event="GenerationRequested", payment_key=crypto_payment_key(CID, TX),
        args={"requestId": request_id, "user": PAYER, "generationType": "image", "prompt": "a cat",
              "paymentToken": "0x" + "ee" * 20, "amount": 3},
    )


def _job(request_id: int) -> JobFromPayment:
    return JobFromPayment(payment_key=crypto_payment_key(CID, TX), wallet=PAYER, kind="image", prompt="a cat",
                          params={}, payment={"method": "crypto", "chain_id": CID, "tx_hash": TX},
                          chain_request_id=request_id)


async def test_a_payment_re_mined_at_another_log_index_is_one_job_held_while_it_is_off_chain(tmp_path: Path) -> None:
    store = await Store.open(tmp_path / "db.sqlite")
    try:
        first = await store.chain.apply(CID, events=[_requested(3, 100, 7)], jobs=[_job(7)], block_number=100,
                                        block_hash="0xaa")
        (job,) = first.jobs
        await store.generations.mark_failed(job.task_id, owner=None, error="boom", attempts=[])
        await store.chain.rollback(CID, to=Cursor(chain_id=CID, block_number=99, block_hash="0x99"))
        held = await store.generations.get(job.task_id)
        assert held is not None and held.payment_orphaned_at is not None
        assert await store.generations.pending_onchain_refunds() == []  # no refund for a vanished payment
        items = await store.review.items()
        assert [(i.kind, i.task_id) for i in items] == [("payment_reorged", job.task_id)]

        again = await store.chain.apply(CID, events=[_requested(0, 101, 9)], jobs=[_job(9)], block_number=101,
                                        block_hash="0xbb")
        assert again.jobs == [] and [j.task_id for j in again.joined] == [job.task_id]
        back = await store.generations.get(job.task_id)
        assert back.payment_orphaned_at is None and back.chain_request_id == 9
        assert [j.task_id for j in await store.generations.pending_onchain_refunds()] == [job.task_id]
        assert [i.kind for i in await store.review.items()] == ["refund_failed"]
    finally:
        await store.close()


async def test_record_refund_only_refunds_a_failed_job_once(tmp_path: Path) -> None:
    store = await Store.open(tmp_path / "db.sqlite")
    try:
        (job,) = (await store.chain.apply(CID, events=[_requested(0, 5, 1)], jobs=[_job(1)], block_number=5,
                                          block_hash="0x05")).jobs
        with pytest.raises(NotFound):
            await store.generations.record_refund(job.task_id, {"tx_hash": "0x01"})  # queued, not failed
        await store.generations.mark_failed(job.task_id, owner=None, error="boom", attempts=[])
        row = await store.generations.record_refund(job.task_id, {"tx_hash": "0x01"})
        assert row.status == "refunded"
        assert (await store.generations.record_refund(job.task_id, {"tx_hash": "0x01"})).status == "refunded"
        with pytest.raises(NotFound):
            await store.generations.record_refund(job.task_id, {"tx_hash": "0x02"})  # a second refund
        with pytest.raises(NotFound):
            await store.generations.record_refund("nope", {"tx_hash": "0x01"})
    finally:
        await store.close()


# -- 1. refunds are sent once ---------------------------------------------------------------------------
async def _failed_crypto_job(s: Session, monkeypatch: pytest.MonkeyPatch, prompt: str):
    async def fail(request, *, on_attempt=None):
        raise GenerationError("every provider failed (test)")

    async def no_refund(job):
        raise ChainUnavailable("simulated outage")

    monkeypatch.setattr(s.services.providers, "run", fail)
    monkeypatch.setattr(s.services.operator, "refund", no_refund)
    tx = await s.pay_s(prompt)
    answer = await s.call("generate_image", {"prompt": prompt, "payment": {"method": "crypto", "tx_hash": tx}})
    job = await s.services.store.generations.get(answer.structured_content["task_id"])
    assert job is not None and job.status == "failed"
    return job


async def _credits(s: Session) -> int:
    return int(await s.chain.call(s.chain.payment.functions.credits(s.chain.w3.to_checksum_address(DEV0))))


async def test_two_processes_refunding_one_job_send_one_transaction(auto_session: Session,
                                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    s = auto_session
    job = await _failed_crypto_job(s, monkeypatch, "refund me once")
    before = await _credits(s)
    serve, indexer = OperatorActions(s.chain, s.services.store), OperatorActions(s.chain, s.services.store)
    results: list[Any] = []

    async def refund(op: OperatorActions) -> None:
        try:
            results.append(await op.refund(job))
        except SfMcpError as exc:
            results.append(exc)

    async with anyio.create_task_group() as tg:
        tg.start_soon(refund, serve)
        tg.start_soon(refund, indexer)
    assert await _credits(s) == before + 1
    records = [r for r in results if isinstance(r, dict)]
    assert records, results
    # The loser, asked again once the winner is done, answers the same transaction instead of sending one.
    later = await indexer.refund(job)
    assert later["tx_hash"] == records[0]["tx_hash"] and await _credits(s) == before + 1
    row = await s.services.store.generations.record_refund(job.task_id, later)
    assert row.status == "refunded"
    assert (await serve.refund(row))["tx_hash"] == later["tx_hash"] and await _credits(s) == before + 1


async def test_a_crash_after_broadcast_finds_the_recorded_hash_instead_of_resending(
    auto_session: Session, monkeypatch: pytest.MonkeyPatch
) -> None:
    s = auto_session
    job = await _failed_crypto_job(s, monkeypatch, "crash after broadcast")
    before = await _credits(s)
    async with proxied_chain(s) as (proxy, client):
        sent: list[str] = []

        def die_after_the_broadcast(call: dict[str, Any]) -> str | None:
            if call["method"] == "eth_sendRawTransaction":
                sent.append(call["method"])
                return None
            return "drop" if sent else None

        proxy.intercept = die_after_the_broadcast  # the node takes the refund, then dies: no receipt is heard
        with pytest.raises(ChainUnavailable):
            await OperatorActions(client, s.services.store).refund(job)
    row = await s.services.store.operator_txs.get(job.task_id, OperatorAction.REFUND)
    assert row is not None and row.status == "sent" and row.nonce is not None and len(row.hashes) == 1
    restarted = OperatorActions(s.chain, s.services.store)
    record = await restarted.refund(job)
    assert record["tx_hash"] == row.tx_hash and await _credits(s) == before + 1


async def test_a_stuck_refund_is_replaced_with_the_same_nonce(auto_session: Session,
                                                               monkeypatch: pytest.MonkeyPatch) -> None:
    s = auto_session
    job = await _failed_crypto_job(s, monkeypatch, "stuck refund")
    before = await _credits(s)
    tester = s.chain.embedded.tester
    tester.disable_auto_mine_transactions()
    try:
        with pytest.raises(ChainError, match="pending"):
            await OperatorActions(s.chain, s.services.store, receipt_wait_s=0).refund(job)
        first = await s.services.store.operator_txs.get(job.task_id, OperatorAction.REFUND)
        assert first is not None
        # Ten minutes and a second later (the default resend_after_s), another pass finds it still pending.
        later = OperatorActions(s.chain, s.services.store, receipt_wait_s=0, clock=lambda: time.time() + 601)
        with pytest.raises(ChainError, match="pending"):
            await later.refund(job)
        second = await s.services.store.operator_txs.get(job.task_id, OperatorAction.REFUND)
        assert second is not None and second.nonce == first.nonce and second.hashes == (first.tx_hash, second.tx_hash)
    finally:
        tester.enable_auto_mine_transactions()
    s.chain.embedded.mine(1)
    monkeypatch.undo()
    assert await _credits(s) == before + 1
    record = await OperatorActions(s.chain, s.services.store).refund(job)
    assert record["tx_hash"] in second.hashes and await _credits(s) == before + 1


# -- 3. a reorg between the cursor check and eth_getLogs: tests/chain/test_anvil.py (a node that reorgs right
#    after answering the check, through the loopback proxy)


# -- 6. the embedded chain restarted on the same data dir: tests/chain/test_embedded_sandbox.py ---------------


# -- 8. bounds ----------------------------------------------------------------------------------------
async def test_out_of_range_integers_are_refused_by_name(auto_session: Session) -> None:
    s = auto_session
    assert "token_ids" in error_text(await s.call("stake", {"action": "stake", "token_ids": [2**256]}))
    assert "token_ids" in error_text(await s.call("stake", {"action": "stake", "token_ids": [-1]}))
    assert "contest_id" in error_text(await s.call("contest", {"action": "finalize", "contest_id": 2**63}))
    assert "contest_id" in error_text(await s.call("leaderboard", {"contest_id": 2**64}))
    assert "generation_id" in error_text(await s.call("vote", {"generation_id": 2**70}))
    assert "generation_id" in error_text(await s.call("vote", {"generation_id": str(2**70)}))


# -- 4. first-time stake of many NFTs ----------------------------------------------------------------------
async def test_a_first_stake_of_six_nfts_has_gas_enough(auto_session: Session) -> None:
    s = auto_session
    chain = s.chain
    nft = chain.contract("BanditKidz").functions
    me = chain.w3.to_checksum_address(DEV0)
    await chain.send(Signer(DEV_KEYS[0]), nft.mintBatch(me, 3))
    mine = []
    for token_id in range(1, 40):
        try:
            if str(await chain.call(nft.ownerOf(token_id))).lower() == DEV0:
                mine.append(token_id)
        except ChainError:
            break
    assert len(mine) == 6
    plan = structured(await s.call("stake", {"action": "stake", "token_ids": mine}))["plan"]
    approve, stake = plan["transactions"]
    assert stake["call"]["function"] == "stakeBatch" and stake["gas"] >= 150_000 * 6  # not estimated: no approval yet
    await sign_and_send(s, plan, DEV_KEYS[0])
    assert await chain.call(chain.staking.functions.stakedBalanceOf(me)) == 6


# -- 10. early unstake ---------------------------------------------------------------------------------------
async def test_an_early_unstake_plan_says_what_it_forfeits(auto_session: Session) -> None:
    s = auto_session
    plan = structured(await s.call("stake", {"action": "stake", "token_ids": [1]}))["plan"]
    await sign_and_send(s, plan, DEV_KEYS[0])
    await s.pay_s("fees for stakers", account=1)  # 25 % of it goes to stakers
    answer = structured(await s.call("stake", {"action": "unstake", "token_ids": [1]}))
    assert "early: forfeits ~0.75 S / 0 USDC" in answer["summary"]  # 25 % of 3 S, all locked in NFT #1
    assert any(n.startswith("early:") for n in answer["plan"]["notes"])
    account = structured(await s.call("account", {}))
    assert account["locked_rewards"]["s"]["amount"] == "0.75" and account["claimable_rewards"]["s"]["amount"] == "0"


# -- 9. relay limits ----------------------------------------------------------------------------------------
async def test_relay_refuses_token_transfers_but_relays_our_approvals(auto_session: Session) -> None:
    s = auto_session
    chain, w3 = s.chain, s.chain.w3
    usdc = chain.contract("MockUSDC")
    base = (await w3.eth.get_block("latest"))["baseFeePerGas"]
    nonce = await w3.eth.get_transaction_count(w3.to_checksum_address(DEV0))

    def signed(fn: Any, n: int) -> str:
        tx = {"chainId": chain.chain_id, "nonce": n, "to": usdc.address, "data": usdc.encode_abi(fn.fn_name, args=fn.args),
              "value": 0, "gas": 100_000, "maxFeePerGas": 2 * base + 10**9, "maxPriorityFeePerGas": 10**9, "type": 2}
        return "0x" + bytes(Account.from_key(DEV_KEYS[0]).sign_transaction(tx).raw_transaction).hex()

    transfer = usdc.functions.transfer(w3.to_checksum_address("0x" + "22" * 20), 5)
    assert "transfers" in error_text(await s.call("send_transaction", {"signed_tx": signed(transfer, nonce)}))
    stranger = usdc.functions.approve(w3.to_checksum_address("0x" + "22" * 20), 5)
    assert "approval of the" in error_text(await s.call("send_transaction", {"signed_tx": signed(stranger, nonce)}))
    ours = usdc.functions.approve(chain.payment.address, 5)
    sent = structured(await s.call("send_transaction", {"signed_tx": signed(ours, nonce)}))
    assert sent["sent"]["transactions"][0]["status"] == "success"


# -- 5. a payment made through a contract wallet ---------------------------------------------------------------
async def test_a_payment_sent_through_another_contract_is_found_by_its_event(auto_session: Session,
                                                                            monkeypatch: pytest.MonkeyPatch) -> None:
    s = auto_session
    tx = await s.pay_s("paid by my safe")
    real = s.chain.w3.eth.get_transaction_receipt

    async def via_wallet(tx_hash):  # as a Safe's execTransaction receipt: sent to the wallet, our log inside
        receipt = dict(await real(tx_hash))
        receipt["to"] = "0x" + "5a" * 20
        return receipt

    monkeypatch.setattr(s.chain.w3.eth, "get_transaction_receipt", via_wallet)
    verdict = structured(await s.call("verify_payment", {"tx_hash": tx, "prompt": "paid by my safe"}))
    assert verdict["valid"] is True, verdict
    answer = structured(await s.call("generate_image", {"prompt": "paid by my safe", "width": 64, "height": 64,
                                                        "payment": {"method": "crypto", "tx_hash": tx}}))
    row = await s.services.store.generations.get(answer["task_id"])
    assert row.payment_key == crypto_payment_key(s.chain.chain_id, tx)

"""The operator's resume and replace paths, each run for real: a reverted transaction, one that vanished in a
reorg, one the node lost (re-broadcast), one the node refused, one whose broadcast answer was lost, a stuck one
replaced only once it is old, a claim another live process holds, a contest entry that is already there.

No private method is patched: the node's misbehaviour comes from a loopback JSON-RPC proxy in front of the
embedded chain (tests/chain/operator_support.py), reorgs and stuck pools from the embedded chain's own
controls (snapshot/revert, automine off), and time from the operator's ``clock`` / ``resend_after_s`` /
``claim_stale_s`` / ``receipt_wait_s`` constructor arguments.
"""

from __future__ import annotations

import time
from typing import Any

import pytest
from eth_account.typed_transactions.typed_transaction import TypedTransaction
from hexbytes import HexBytes
from tests.chain.conftest import Session
from tests.chain.operator_support import paid_image_not_yet_submitted, proxied_chain, refuse, swallow
from tests.chain.test_review_fixes import _credits, _failed_crypto_job

from sf_mcp.chain import OperatorActions
from sf_mcp.errors import ChainError, ChainUnavailable
from sf_mcp.store import OperatorAction, OperatorTx, OperatorTxState

pytestmark = pytest.mark.anyio
REFUND = OperatorAction.REFUND


async def _nonce(s: Session) -> int:
    return int(await s.chain.w3.eth.get_transaction_count(s.chain.w3.to_checksum_address(s.chain.operator.address)))


async def _row(s: Session, task_id: str, action: OperatorAction = REFUND) -> OperatorTx:
    row = await s.services.store.operator_txs.get(task_id, action)
    assert row is not None
    return row


def _operator(s: Session, client: Any = None, **options: Any) -> OperatorActions:
    return OperatorActions(client or s.chain, s.services.store, **options)


async def test_a_reverted_refund_is_sent_once_more_with_a_new_nonce(auto_session: Session,
                                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    s = auto_session
    job = await _failed_crypto_job(s, monkeypatch, "reverted refund")
    before, nonce = await _credits(s), await _nonce(s)
    async with proxied_chain(s) as (proxy, client):
        # A node that under-estimates gas: the refund is mined, runs out of gas and reverts.
        proxy.rewrite = lambda call, answer: {**answer, "result": hex(23_000)} \
            if call["method"] == "eth_estimateGas" else answer
        with pytest.raises(ChainError, match="reverted on chain"):
            await _operator(s, client).refund(job)
    first = await _row(s, job.task_id)
    assert first.status is OperatorTxState.SENT and (await s.chain.receipt(first.tx_hash))["status"] == 0
    assert await _credits(s) == before and await _nonce(s) == nonce + 1

    record = await _operator(s).refund(job)  # the revert is the proof: a new nonce cannot double the credit
    row = await _row(s, job.task_id)
    assert record["tx_hash"] == row.tx_hash != first.tx_hash and row.hashes == (first.tx_hash, row.tx_hash)
    assert row.status is OperatorTxState.MINED and row.nonce == first.nonce + 1
    assert await _credits(s) == before + 1 and await _nonce(s) == nonce + 2
    assert (await _operator(s).refund(job))["tx_hash"] == record["tx_hash"]  # asked again: nothing new is sent
    assert await _credits(s) == before + 1 and await _nonce(s) == nonce + 2


async def test_a_mined_refund_that_a_reorg_removed_is_held_not_sent_again(auto_session: Session,
                                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    s = auto_session
    job = await _failed_crypto_job(s, monkeypatch, "reorged refund")
    before, nonce = await _credits(s), await _nonce(s)
    snapshot = s.chain.embedded.snapshot()
    mined = await _operator(s).refund(job)
    assert await _credits(s) == before + 1 and (await _row(s, job.task_id)).status is OperatorTxState.MINED
    s.chain.embedded.revert(snapshot)  # the block with the refund left the chain
    assert await s.chain.receipt(mined["tx_hash"]) is None and await _credits(s) == before

    with pytest.raises(ChainError, match="no longer on chain"):
        await _operator(s).refund(job)
    row = await _row(s, job.task_id)
    assert row.status is OperatorTxState.MINED and row.hashes == (mined["tx_hash"],)
    assert await _credits(s) == before and await _nonce(s) == nonce  # held: nothing signed or sent


async def test_a_refund_the_node_lost_is_broadcast_again_with_the_same_bytes(auto_session: Session,
                                                                             monkeypatch: pytest.MonkeyPatch) -> None:
    s = auto_session
    job = await _failed_crypto_job(s, monkeypatch, "lost by the node")
    before, nonce = await _credits(s), await _nonce(s)
    lost: list[str] = []
    async with proxied_chain(s) as (proxy, client):
        proxy.intercept = swallow(lost)  # answered with its hash, never mined
        with pytest.raises(ChainError, match="pending"):
            await _operator(s, client, receipt_wait_s=0).refund(job)
    first = await _row(s, job.task_id)
    assert lost == [first.tx_hash] and await s.chain.receipt(first.tx_hash) is None
    assert await _nonce(s) == nonce and await _credits(s) == before

    record = await _operator(s).refund(job)  # not old enough to replace, nonce unused: the same bytes again
    assert record["tx_hash"] == first.tx_hash and (await _row(s, job.task_id)).hashes == (first.tx_hash,)
    assert await _credits(s) == before + 1 and await _nonce(s) == nonce + 1


async def test_a_pending_refund_is_replaced_with_the_same_nonce_only_once_it_is_old(
    auto_session: Session, monkeypatch: pytest.MonkeyPatch
) -> None:
    s = auto_session
    job = await _failed_crypto_job(s, monkeypatch, "replaced when old")
    before, nonce = await _credits(s), await _nonce(s)
    tester = s.chain.embedded.tester
    tester.disable_auto_mine_transactions()
    try:
        with pytest.raises(ChainError, match="pending"):
            await _operator(s, receipt_wait_s=0).refund(job)
        first = await _row(s, job.task_id)
        young = _operator(s, receipt_wait_s=0, resend_after_s=60, clock=lambda: time.time() + 45)
        with pytest.raises(ChainError, match="still pending"):
            await young.refund(job)
        assert (await _row(s, job.task_id)).hashes == (first.tx_hash,)  # re-broadcast, not replaced
        old = _operator(s, receipt_wait_s=0, resend_after_s=60, clock=lambda: time.time() + 61)
        with pytest.raises(ChainError, match="pending"):
            await old.refund(job)
        second = await _row(s, job.task_id)
        assert second.hashes == (first.tx_hash, second.tx_hash) and second.nonce == first.nonce
        was, now = (TypedTransaction.from_bytes(HexBytes(r.signed)).as_dict() for r in (first, second))
        assert now["nonce"] == was["nonce"] and now["data"] == was["data"] and now["to"] == was["to"]
        for fee in ("maxPriorityFeePerGas", "maxFeePerGas"):  # nodes take a replacement paying >= 10 % more
            assert now[fee] * 10 >= was[fee] * 11, fee
    finally:
        tester.enable_auto_mine_transactions()
    s.chain.embedded.mine(1)
    assert await _credits(s) == before + 1 and await _nonce(s) == nonce + 1
    record = await _operator(s).refund(job)
    assert record["tx_hash"] in second.hashes and await _credits(s) == before + 1


async def test_a_refund_the_node_refuses_releases_its_claim_and_is_sent_later(
    auto_session: Session, monkeypatch: pytest.MonkeyPatch
) -> None:
    s = auto_session
    job = await _failed_crypto_job(s, monkeypatch, "refused by the node")
    before, nonce = await _credits(s), await _nonce(s)
    async with proxied_chain(s) as (proxy, client):
        proxy.intercept = refuse("insufficient funds for gas * price + value")
        with pytest.raises(ChainError, match="insufficient funds") as refused:
            await _operator(s, client).refund(job)
    assert not isinstance(refused.value, ChainUnavailable)
    assert await s.services.store.operator_txs.get(job.task_id, REFUND) is None  # nothing reached the chain
    assert await _credits(s) == before and await _nonce(s) == nonce

    record = await _operator(s).refund(job)
    row = await _row(s, job.task_id)
    assert row.hashes == (record["tx_hash"],) and row.nonce == nonce
    assert await _credits(s) == before + 1 and await _nonce(s) == nonce + 1


@pytest.mark.parametrize("answer", ["dropped", "already-known"])
async def test_a_broadcast_that_may_have_reached_the_node_keeps_its_claim(
    auto_session: Session, monkeypatch: pytest.MonkeyPatch, answer: str
) -> None:
    """The connection died during the broadcast, or the node says it has it: the bytes are kept and sent again,
    never a new transaction."""
    s = auto_session
    job = await _failed_crypto_job(s, monkeypatch, f"broadcast {answer}")
    before, nonce = await _credits(s), await _nonce(s)
    async with proxied_chain(s) as (proxy, client):
        if answer == "dropped":
            proxy.intercept = lambda call: "drop" if call["method"] == "eth_sendRawTransaction" else None
            with pytest.raises(ChainUnavailable):
                await _operator(s, client).refund(job)
        else:
            proxy.intercept = refuse("already known")
            with pytest.raises(ChainError, match="pending"):
                await _operator(s, client, receipt_wait_s=0).refund(job)
    row = await _row(s, job.task_id)
    assert row.status is OperatorTxState.SENT and len(row.hashes) == 1 and await _nonce(s) == nonce

    record = await _operator(s).refund(job)
    assert record["tx_hash"] == row.tx_hash and await _credits(s) == before + 1 and await _nonce(s) == nonce + 1


async def test_a_claim_another_process_holds_is_taken_over_only_once_stale(
    auto_session: Session, monkeypatch: pytest.MonkeyPatch
) -> None:
    s = auto_session
    job = await _failed_crypto_job(s, monkeypatch, "claimed elsewhere")
    before, nonce = await _credits(s), await _nonce(s)
    assert await s.services.store.operator_txs.claim(job.task_id, REFUND, s.chain.chain_id, "another:process") is None
    with pytest.raises(ChainError, match="being sent by another process"):
        await _operator(s, claim_stale_s=60, clock=lambda: time.time() + 45).refund(job)
    assert (await _row(s, job.task_id)).owner == "another:process" and await _nonce(s) == nonce

    record = await _operator(s, claim_stale_s=60, clock=lambda: time.time() + 61).refund(job)
    row = await _row(s, job.task_id)
    assert row.status is OperatorTxState.MINED and row.owner != "another:process" and row.tx_hash == record["tx_hash"]
    assert await _credits(s) == before + 1 and await _nonce(s) == nonce + 1


async def test_a_generation_the_contest_already_has_is_recorded_without_a_transaction(
    auto_session: Session, monkeypatch: pytest.MonkeyPatch
) -> None:
    s = auto_session
    task_id = await paid_image_not_yet_submitted(s, monkeypatch, "entered twice")
    job = await s.services.store.generations.get(task_id)
    first = await _operator(s).submit(job)
    assert first is not None and first["tx_hash"]
    async with s.services.store.db.transaction() as t:  # a database restored from before the submission
        await t.execute("UPDATE ai_generations SET submission = NULL WHERE task_id = ?", (task_id,))
        await t.execute("DELETE FROM operator_txs WHERE task_id = ?", (task_id,))
    nonce = await _nonce(s)

    again = await _operator(s).submit(await s.services.store.generations.get(task_id))
    assert again == {"generation_id": first["generation_id"], "result_url": first["result_url"],
                     "chain_id": s.chain.chain_id, "note": "already submitted"}
    assert (await s.services.store.generations.get(task_id)).submission == again
    assert await s.services.store.operator_txs.get(task_id, OperatorAction.SUBMIT) is None  # released
    assert await _nonce(s) == nonce


async def test_a_job_paid_on_another_chain_is_neither_refunded_nor_submitted_here(
    auto_session: Session, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A database shared with a server on another network holds jobs whose payments this chain never saw."""
    s = auto_session
    done = await paid_image_not_yet_submitted(s, monkeypatch, "paid elsewhere, done")
    failed = await _failed_crypto_job(s, monkeypatch, "paid elsewhere, failed")  # providers fail from here on
    async with s.services.store.db.transaction() as t:  # the same payments, keyed by another chain's id
        for task_id in (failed.task_id, done):
            await t.execute("UPDATE ai_generations SET payment_key = replace(payment_key, ?, 'crypto:999:') "
                            "WHERE task_id = ?", (f"crypto:{s.chain.chain_id}:", task_id))
    before, nonce = await _credits(s), await _nonce(s)

    with pytest.raises(ChainError, match="nothing to refund"):
        await _operator(s).refund(await s.services.store.generations.get(failed.task_id))
    job = await s.services.store.generations.get(done)
    assert job is not None and job.status == "succeeded" and job.chain_request_id is not None
    assert await _operator(s).submit(job) is None
    assert await _credits(s) == before and await _nonce(s) == nonce
    assert (await s.services.store.generations.get(done)).submission is None


async def test_a_failed_job_is_refunded_and_never_entered_into_the_contest(auto_session: Session,
                                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    s = auto_session
    job = await _failed_crypto_job(s, monkeypatch, "failed, not a contest entry")
    assert job.chain_request_id is not None  # a paid job: only its status keeps it out of the contest
    before, nonce = await _credits(s), await _nonce(s)
    assert await _operator(s).submit(job) is None
    assert await _nonce(s) == nonce
    await _operator(s).refund(job)
    assert await _operator(s).submit(job) is None
    assert await _credits(s) == before + 1 and await _nonce(s) == nonce + 1
    assert await s.services.store.operator_txs.get(job.task_id, OperatorAction.SUBMIT) is None


def _base_fee(fee: int) -> Any:
    """A ``rewrite`` for a node that reports ``fee`` as the latest block's base fee (fees rose or fell)."""
    def rewrite(call: dict[str, Any], answer: dict[str, Any]) -> dict[str, Any]:
        if call["method"] == "eth_getBlockByNumber" and isinstance(answer.get("result"), dict):
            return {**answer, "result": {**answer["result"], "baseFeePerGas": hex(fee)}}
        return answer
    return rewrite


async def test_a_replacement_outbids_its_predecessor_and_twice_the_current_base_fee(
    auto_session: Session, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Signed while the base fee was high, replaced after it fell (12.5 % over the old fees decides), then
    replaced again during a spike (twice the new base fee plus the tip decides)."""
    s = auto_session
    job = await _failed_crypto_job(s, monkeypatch, "fees moved")
    before = await _credits(s)
    high, spike = 10**12, 10**13
    tester = s.chain.embedded.tester
    tester.disable_auto_mine_transactions()
    try:
        async with proxied_chain(s) as (proxy, client):
            proxy.rewrite = _base_fee(high)
            with pytest.raises(ChainError, match="pending"):
                await _operator(s, client, receipt_wait_s=0).refund(job)
            fees = [TypedTransaction.from_bytes(HexBytes((await _row(s, job.task_id)).signed)).as_dict()]
            assert fees[0]["maxFeePerGas"] >= 2 * high
            for base in (None, spike):  # the real (low) base fee, then a spike
                proxy.rewrite = _base_fee(base) if base else None
                later = _operator(s, client, receipt_wait_s=0, clock=lambda: time.time() + 601)
                with pytest.raises(ChainError, match="pending"):
                    await later.refund(job)
                fees.append(TypedTransaction.from_bytes(HexBytes((await _row(s, job.task_id)).signed)).as_dict())
        was, fell, spiked = fees
        assert len((await _row(s, job.task_id)).hashes) == 3 and was["nonce"] == fell["nonce"] == spiked["nonce"]
        for old, new in ((was, fell), (fell, spiked)):
            for fee in ("maxPriorityFeePerGas", "maxFeePerGas"):
                assert new[fee] * 10 >= old[fee] * 11, fee
        assert spiked["maxFeePerGas"] >= 2 * spike + spiked["maxPriorityFeePerGas"]
    finally:
        tester.enable_auto_mine_transactions()
    s.chain.embedded.mine(1)
    assert await _credits(s) == before + 1

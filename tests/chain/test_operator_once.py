"""A refund is sent at most once per job: a transaction mined between two reads, answers from a lagging node,
a crash between any two steps of claim -> sign+record -> broadcast -> mined -> marked.

The interleavings are made deterministic at the RPC layer of the embedded chain: automine off, blocks mined
exactly when a given request arrives, and requests of chosen methods answered by a frozen copy of the chain
(a node that lags behind).
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

import pytest
from tests.chain.conftest import Session
from tests.chain.operator_support import paid_image_not_yet_submitted, proxied_chain, swallow
from tests.chain.test_review_fixes import _credits, _failed_crypto_job

from sf_mcp.chain import OperatorActions, Signer
from sf_mcp.chain.accounts import DEV_ADDRESSES, DEV_KEYS
from sf_mcp.errors import ChainError
from sf_mcp.store import OperatorAction

pytestmark = pytest.mark.anyio


class Router:
    """Runs ``before(method)`` ahead of every RPC request of the embedded chain (it may return another tester, a
    lagging node, to answer that request) and ``after(method, response)`` once the chain answered it."""

    def __init__(self, s: Session, monkeypatch: pytest.MonkeyPatch) -> None:
        self.before: Callable[[str], Any] = lambda method: None
        self.after: Callable[[str, Any], None] = lambda method, response: None
        provider = s.chain.embedded.provider
        real = provider.make_request

        async def make_request(method: Any, params: Any) -> Any:
            other = self.before(str(method))
            mine = provider.ethereum_tester
            provider.ethereum_tester = other if other is not None else mine
            try:
                response = await real(method, params)
            finally:
                provider.ethereum_tester = mine
            self.after(str(method), response)
            return response

        monkeypatch.setattr(provider, "make_request", make_request)
        monkeypatch.setattr(provider, "_request_func_cache", (None, None))  # web3 keeps the bound method


async def _pending_refund(s: Session, monkeypatch: pytest.MonkeyPatch, prompt: str):
    """A failed job whose refund one process signed, recorded and broadcast; still pending (automine off)."""
    job = await _failed_crypto_job(s, monkeypatch, prompt)
    before = await _credits(s)
    s.chain.embedded.tester.disable_auto_mine_transactions()
    first = OperatorActions(s.chain, s.services.store, receipt_wait_s=0)  # gives up waiting at once
    with pytest.raises(ChainError, match="pending"):
        await first.refund(job)
    row = await s.services.store.operator_txs.get(job.task_id, OperatorAction.REFUND)
    assert row is not None and row.status == "sent"
    return job, before, row


async def test_a_refund_mined_between_the_receipt_read_and_the_nonce_read_is_not_sent_again(
    auto_session: Session, monkeypatch: pytest.MonkeyPatch
) -> None:
    s = auto_session
    job, before, row = await _pending_refund(s, monkeypatch, "mined between two reads")
    tester = s.chain.embedded.tester
    armed = True

    def mine_before_nonce_read(method: str) -> None:
        nonlocal armed
        if armed and method == "eth_getTransactionCount":  # the receipt read saw nothing; now the block comes
            armed = False
            tester.mine_blocks(1)
            tester.enable_auto_mine_transactions()

    Router(s, monkeypatch).before = mine_before_nonce_read
    second = OperatorActions(s.chain, s.services.store)
    record = await second.refund(job)  # the nonce read is pinned below that block: "not yet used", then awaited
    assert not armed and record["tx_hash"] == row.tx_hash and await _credits(s) == before + 1


@pytest.mark.parametrize("lagging_methods", [
    {"eth_getTransactionReceipt"},
    {"eth_getTransactionReceipt", "eth_getTransactionCount", "eth_getBlockByNumber"},
], ids=["receipts-from-lagging-node", "all-but-head-from-lagging-node"])
async def test_a_lagging_node_never_makes_a_mined_refund_look_dropped(
    auto_session: Session, monkeypatch: pytest.MonkeyPatch, lagging_methods: set[str]
) -> None:
    s = auto_session
    job, before, row = await _pending_refund(s, monkeypatch, "lagging node")
    tester = s.chain.embedded.tester
    lagging = copy.deepcopy(tester)  # a node that stops here: the refund still pending
    tester.mine_blocks(2)
    tester.enable_auto_mine_transactions()
    assert await _credits(s) == before + 1
    router = Router(s, monkeypatch)
    router.before = lambda method: lagging if method in lagging_methods else None
    second = OperatorActions(s.chain, s.services.store)
    for _ in range(2):
        with pytest.raises(ChainError):
            await second.refund(job)
    assert await _credits(s) == before + 1
    assert (await s.services.store.operator_txs.get(job.task_id, OperatorAction.REFUND)).hashes == (row.tx_hash,)
    router.before = lambda method: None  # the node caught up
    record = await second.refund(job)
    assert record["tx_hash"] == row.tx_hash and await _credits(s) == before + 1


async def test_a_refund_whose_nonce_another_transaction_took_is_sent_once_more(
    auto_session: Session, monkeypatch: pytest.MonkeyPatch
) -> None:
    s = auto_session
    job = await _failed_crypto_job(s, monkeypatch, "lost refund")
    before = await _credits(s)
    lost: list[str] = []
    async with proxied_chain(s) as (proxy, client):
        proxy.intercept = swallow(lost)  # the node accepted it, then dropped it from its pool
        with pytest.raises(ChainError, match="pending"):
            await OperatorActions(client, s.services.store, receipt_wait_s=0.3).refund(job)
    row = await s.services.store.operator_txs.get(job.task_id, OperatorAction.REFUND)
    assert row is not None and lost == [row.tx_hash]
    other = await s.chain.send(Signer(DEV_KEYS[0]), to=DEV_ADDRESSES[5], what="an unrelated transfer")
    assert (await s.chain.w3.eth.get_transaction(other["transactionHash"]))["nonce"] == row.nonce
    record = await OperatorActions(s.chain, s.services.store).refund(job)
    assert record["tx_hash"] != row.tx_hash and await _credits(s) == before + 1
    assert (await OperatorActions(s.chain, s.services.store).refund(job))["tx_hash"] == record["tx_hash"]
    assert await _credits(s) == before + 1


class Crash(BaseException):
    """The process dies here: no cleanup handler of ours runs."""


def _crash_after(target: Any, name: str, m: pytest.MonkeyPatch) -> None:
    """The store's ``name`` step is done, then the process dies."""
    real = getattr(target, name)

    async def then_crash(*args: Any, **kwargs: Any) -> Any:
        await real(*args, **kwargs)
        raise Crash(name)

    m.setattr(target, name, then_crash)


@pytest.mark.parametrize("step", ["claimed", "signed", "broadcast", "mined", "marked"])
async def test_a_crash_between_any_two_steps_refunds_once(auto_session: Session, monkeypatch: pytest.MonkeyPatch,
                                                          step: str) -> None:
    s = auto_session
    job = await _failed_crypto_job(s, monkeypatch, f"crash after {step}")
    before = await _credits(s)
    txs = s.services.store.operator_txs
    crashing = OperatorActions(s.chain, s.services.store)
    with monkeypatch.context() as m:
        if step in ("claimed", "signed", "marked"):
            _crash_after(txs, {"claimed": "claim", "signed": "record_signed", "marked": "mark_mined"}[step], m)
        else:  # the chain took the refund (broadcast) or mined it (its receipt came back); the process dies
            sent = False

            def die(method: str, response: Any) -> None:
                nonlocal sent
                if method == "eth_sendRawTransaction":
                    sent = True
                    if step == "broadcast":
                        raise Crash(step)
                elif sent and method == "eth_getTransactionReceipt" and response.get("result"):
                    raise Crash(step)

            Router(s, m).after = die
        with pytest.raises(Crash):
            await crashing.refund(job)
    restarted = OperatorActions(s.chain, s.services.store, claim_stale_s=0.0)  # the crashed claimant is gone
    record = await restarted.refund(job)
    assert await _credits(s) == before + 1
    assert (await OperatorActions(s.chain, s.services.store).refund(job))["tx_hash"] == record["tx_hash"]
    assert await _credits(s) == before + 1


async def test_a_submission_mined_between_the_receipt_read_and_the_nonce_read_is_not_sent_again(
    auto_session: Session, monkeypatch: pytest.MonkeyPatch
) -> None:
    s = auto_session
    task_id = await paid_image_not_yet_submitted(s, monkeypatch, "submit me once")  # two processes submit below
    job = await s.services.store.generations.get(task_id)
    assert job is not None and job.status == "succeeded" and job.submission is None
    operator = s.chain.w3.to_checksum_address(s.chain.operator.address)
    nonce = await s.chain.w3.eth.get_transaction_count(operator)
    tester = s.chain.embedded.tester
    tester.disable_auto_mine_transactions()
    first = OperatorActions(s.chain, s.services.store, receipt_wait_s=0)  # gives up waiting at once
    with pytest.raises(ChainError, match="pending"):
        await first.submit(job)
    row = await s.services.store.operator_txs.get(job.task_id, OperatorAction.SUBMIT)
    armed = True

    def mine_before_nonce_read(method: str) -> None:
        nonlocal armed
        if armed and method == "eth_getTransactionCount":
            armed = False
            tester.mine_blocks(1)
            tester.enable_auto_mine_transactions()

    Router(s, monkeypatch).before = mine_before_nonce_read
    submission = await OperatorActions(s.chain, s.services.store).submit(job)
    assert not armed and submission["tx_hash"] == row.tx_hash
    assert await s.chain.w3.eth.get_transaction_count(operator) == nonce + 1  # one transaction, not two


@pytest.mark.parametrize(("stored", "posted"), [
    ("<img<b> src=x onerror=alert(1)>a red fox", "src=x onerror=alert(1)>a red fox"),  # no tag is left
    ("<b></b><!-- x --><i>", None),
])
async def test_a_stored_prompt_with_markup_is_cleaned_before_it_is_posted_on_chain(
    auto_session: Session, monkeypatch: pytest.MonkeyPatch, stored: str, posted: str | None
) -> None:
    """A row written before prompts were cleaned to a fixpoint never puts markup on chain."""
    s = auto_session
    task_id = await paid_image_not_yet_submitted(s, monkeypatch, "an old row")  # the test submits the old row
    async with s.services.store.db.transaction() as t:  # as the old code stored it
        await t.execute("UPDATE ai_generations SET prompt = ? WHERE task_id = ?", (stored, task_id))
    job = await s.services.store.generations.get(task_id)
    assert job is not None and job.prompt == stored

    submission = await OperatorActions(s.chain, s.services.store).submit(job)

    if posted is None:
        assert submission is None
        assert (await s.services.store.generations.get(task_id)).submission is None
    else:
        on_chain = await s.chain.call(s.chain.voting.functions.getGeneration(submission["generation_id"]))
        assert on_chain[4] == posted

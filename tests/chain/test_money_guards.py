"""The guards on money that no earlier test reached: a used payment presented by another wallet, a chain that
requires confirmations, a reorg deeper than one indexer checkpoint, and the operator's hold on a payment that
left the chain. Each test names the deliberate bug it catches."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from tests.chain.conftest import DEV0, DEV1, DEV2, Session, error_text, structured

from sf_mcp.chain import ChainClient, Indexer, OperatorActions, Signer
from sf_mcp.chain.accounts import DEV_KEYS
from sf_mcp.chain.embedded import start_embedded
from sf_mcp.config import Settings
from sf_mcp.errors import ChainError, PaymentConsumed
from sf_mcp.jobs import CryptoPayment
from sf_mcp.store import Store
from support import connected

pytestmark = pytest.mark.anyio


async def _session(settings: Settings, **update: object) -> AsyncIterator[Session]:
    async with connected(settings.updated(indexer=False, **update), mode="auto") as (client, services):
        yield Session(client=client, services=services)


@pytest.fixture
async def quiet(settings: Settings) -> AsyncIterator[Session]:
    """The embedded chain with no background indexer: the test drives the indexer itself."""
    async for s in _session(settings):
        yield s


@pytest.fixture
async def confirmed(settings: Settings) -> AsyncIterator[Session]:
    """Like Sonic: a payment counts once one block is built on top of it."""
    async for s in _session(settings, confirmations=1):
        yield s


# -- the gate's replay check: job.wallet == wallet ------------------------------------------------------------
async def test_a_payment_the_indexer_started_is_refused_to_another_wallet(quiet: Session) -> None:
    """Kills: dropping ``job.wallet == wallet`` (the other wallet would adopt DEV1's task and its settings)."""
    s = quiet
    tx = await s.pay_s("one wallet's fox", account=1)
    await s.indexer.sync()
    (job,) = [r for r in await s.services.store.generations.recent(limit=10) if r.payment.get("tx_hash") == tx]
    assert job.wallet == DEV1
    text = error_text(await s.call("generate_image", {"prompt": "one wallet's fox", "width": 128, "height": 128,
                                                      "payment": {"method": "crypto", "tx_hash": tx}}))
    assert f"already paid for task {job.task_id}" in text
    after = await s.services.store.generations.get(job.task_id)
    assert after.wallet == DEV1 and after.params == job.params  # the caller's settings were not adopted


async def test_a_payment_a_tool_call_started_is_refused_to_another_wallet(quiet: Session) -> None:
    """Kills: dropping ``job.wallet == wallet`` (DEV1 would get DEV0's task back as a replay), and the kind and
    prompt comparisons of the replay check turned into orderings."""
    s = quiet
    tx = await s.pay_s("a fox of DEV0")
    first = structured(await s.call("generate_image", {"prompt": "a fox of DEV0", "width": 128, "height": 128,
                                                       "payment": {"method": "crypto", "tx_hash": tx}}))
    payment = CryptoPayment(method="crypto", tx_hash=tx)
    with pytest.raises(PaymentConsumed, match=first["task_id"]):
        await s.services.gate.reserve(wallet=DEV1, kind="image", prompt="a fox of DEV0",
                                      params={"width": 128, "height": 128}, payment=payment)
    same = await s.services.gate.reserve(wallet=DEV0, kind="image", prompt="a fox of DEV0",
                                         params={"width": 128, "height": 128}, payment=payment)
    assert same.replay and same.job.task_id == first["task_id"]
    for kind, prompt in (("video", "a fox of DEV0"), ("image", "a fox of DEV0, larger"), ("image", "a cat")):
        with pytest.raises(PaymentConsumed, match=first["task_id"]):  # the payer's own other requests, too
            await s.services.gate.reserve(wallet=DEV0, kind=kind, prompt=prompt, params={}, payment=payment)


# -- confirmations (Sonic requires 1) ----------------------------------------------------------------------
async def test_a_payment_counts_once_it_has_the_required_confirmations(confirmed: Session) -> None:
    """Kills: ``<`` -> ``<=`` in the confirmations check, and ``head - block`` off by one either way."""
    s = confirmed
    assert s.chain.confirmations == 1
    tx = await s.pay_s("wait one block")
    args = {"prompt": "wait one block", "payment": {"method": "crypto", "tx_hash": tx}, "width": 128, "height": 128}
    text = error_text(await s.call("generate_image", args))
    assert "has 0 of the 1 confirmations" in text and "try again" in text
    verdict = structured(await s.call("verify_payment", {"tx_hash": tx}))
    assert verdict["valid"] is False and verdict["confirmations"] == 0 and verdict["required_confirmations"] == 1
    assert await s.services.store.generations.recent(limit=10) == []  # the refusal consumed nothing

    s.chain.embedded.mine(1)
    verdict = structured(await s.call("verify_payment", {"tx_hash": tx}))
    assert verdict["valid"] is True and verdict["confirmations"] == 1
    assert structured(await s.call("generate_image", args))["status"] == "succeeded"


async def test_the_indexer_reads_only_confirmed_blocks(confirmed: Session) -> None:
    """Kills: the indexer's safe head ``head - confirmations`` off by one."""
    s = confirmed
    tx = await s.pay_s("seen after one block", account=2)
    await s.indexer.sync()
    assert s.indexer.checkpoint.last_block_processed == await s.chain.block_number() - 1
    assert [r for r in await s.services.store.generations.recent(limit=10) if r.payment.get("tx_hash") == tx] == []
    s.chain.embedded.mine(1)
    await s.indexer.sync()
    assert [r.wallet for r in await s.services.store.generations.recent(limit=10)
            if r.payment.get("tx_hash") == tx] == [DEV2]


# -- a reorg deeper than one checkpoint ------------------------------------------------------------------
async def test_a_reorg_deeper_than_one_checkpoint_rewinds_to_the_newest_one_still_on_chain(quiet: Session) -> None:
    """Kills: the rewind taking the newest older checkpoint without asking whether it is still on chain."""
    s = quiet
    chain, store, indexer = s.chain, s.services.store, s.indexer
    await indexer.sync()
    base = await store.chain.cursor(chain.chain_id)
    snap = chain.embedded.snapshot()
    for i, account in enumerate((2, 3, 4)):  # three batches, three checkpoints above the fork point
        await s.pay_s(f"lost payment {i}", account=account)
        await indexer.sync()
    assert len(await store.chain.events(chain.chain_id, event="GenerationRequested")) == 3

    chain.embedded.revert(snap)
    chain.embedded.mine(6)  # a longer chain without those payments
    assert await indexer.poll_once() is False  # it saw the reorg and rewound
    cursor = await store.chain.cursor(chain.chain_id)
    assert (cursor.block_number, cursor.block_hash) == (base.block_number, base.block_hash)
    await indexer.sync()
    assert await store.chain.events(chain.chain_id, event="GenerationRequested") == []
    assert indexer.checkpoint.reorgs == 1
    assert indexer.checkpoint.last_block_processed == await chain.block_number()


# -- the operator's hold on a payment that left the chain ----------------------------------------------------
@pytest.fixture
async def private_chain(tmp_path: Path) -> AsyncIterator[tuple[ChainClient, Store]]:
    chain = await start_embedded()
    store = await Store.open(f"sqlite:///{tmp_path / 'db.sqlite'}")
    try:
        yield chain, store
    finally:
        await store.close()
        await chain.close()


async def test_a_reorged_payment_is_neither_refunded_nor_submitted_until_the_indexer_sees_it_again(
    private_chain: tuple[ChainClient, Store],
) -> None:
    """Kills: removing the operator's hold on ``payment_orphaned_at`` (refund and submit).

    The payment is mined again on the new fork, but the indexer has not read it yet: only the hold stops
    the operator, since the payment is on chain and the job's record says it left."""
    chain, store = private_chain
    indexer, operator = Indexer(chain, store), OperatorActions(chain, store)
    payer = Signer(DEV_KEYS[2])
    price = await chain.call(chain.payment.functions.priceS())
    await indexer.sync()
    snap = chain.embedded.snapshot()
    raws = []
    for prompt in ("refund held", "submission held"):
        tx = await chain.build_tx(payer.address, chain.payment.functions.payWithS(prompt, "image"), value=price)
        raw = payer.sign({**tx, "gas": 400_000})
        raws.append(raw)
        await chain.send_raw(raw, what=prompt)
    await indexer.sync()
    jobs = {r.prompt: r for r in await store.generations.recent(limit=10)}
    for _ in jobs:
        claimed = await store.generations.claim_next(owner="w", lease_s=60)
        if claimed.prompt == "refund held":
            await store.generations.mark_failed(claimed.task_id, owner="w", error="boom", attempts=[])
        else:
            await store.generations.mark_succeeded(
                claimed.task_id, owner="w", provider="local", model="m", content_sha256="ab" * 32,
                mime_type="image/png", public_url=None, attempts=[])

    finished = await store.generations.get(jobs["submission held"].task_id)  # as a finished-job hook got it
    chain.embedded.revert(snap)
    chain.embedded.mine(3)
    await indexer.sync()  # the payments left the chain: their jobs are held
    for raw in raws:  # ... and are mined again, in blocks the indexer has not read yet
        await chain.send_raw(raw, what="again")
    operator_nonce = await chain.w3.eth.get_transaction_count(chain.w3.to_checksum_address(chain.operator.address))

    failed = await store.generations.get(jobs["refund held"].task_id)
    succeeded = await store.generations.get(jobs["submission held"].task_id)
    assert failed.payment_orphaned_at is not None and succeeded.payment_orphaned_at is not None
    with pytest.raises(ChainError, match="left the chain in a reorg; its refund is held"):
        await operator.refund(failed)
    assert await operator.submit(succeeded) is None
    assert finished.payment_orphaned_at is None and await operator.submit(finished) is None  # the store's word counts
    assert await chain.w3.eth.get_transaction_count(chain.w3.to_checksum_address(chain.operator.address)) == operator_nonce

    await indexer.sync()  # seen again: the hold ends and the operator acts
    failed = await store.generations.get(failed.task_id)
    assert failed.payment_orphaned_at is None
    assert (await operator.refund(failed))["tx_hash"]
    assert (await operator.submit(await store.generations.get(succeeded.task_id)))["tx_hash"]


# -- failures inside the indexer's retry pass ------------------------------------------------------------
async def _finish(store: Store, prompt: str, *, succeed: bool) -> None:
    claimed = await store.generations.claim_next(owner="w", lease_s=60)
    assert claimed is not None and claimed.prompt == prompt
    if succeed:
        await store.generations.mark_succeeded(claimed.task_id, owner="w", provider="local", model="m",
                                               content_sha256="cd" * 32, mime_type="image/png", public_url=None,
                                               attempts=[])
    else:
        await store.generations.mark_failed(claimed.task_id, owner="w", error="boom", attempts=[])


async def test_the_retry_pass_goes_on_past_a_job_it_cannot_act_on_and_stops_during_an_outage(
    private_chain: tuple[ChainClient, Store],
) -> None:
    """Kills: a failed submission or refund stopping the whole pass (or an outage not stopping it)."""
    chain, store = private_chain
    operator = OperatorActions(chain, store)
    indexer = Indexer(chain, store, operator=operator)
    ghost = "0x" + "9a" * 32  # a payment this chain never had: its jobs cannot be acted on
    for prompt, succeed in (("ghost entry", True), ("ghost refund", False)):
        await store.generations.reserve_keyed(
            payment_key=f"crypto:{chain.chain_id}:{ghost}:{prompt}", wallet=DEV2, kind="image", prompt=prompt,
            params={}, payment={"method": "crypto", "tx_hash": ghost}, chain_request_id=999)
        await _finish(store, prompt, succeed=succeed)
    payer = Signer(DEV_KEYS[2])
    price = await chain.call(chain.payment.functions.priceS())
    for prompt, succeed in (("real entry", True), ("real refund", False)):
        await chain.send(payer, chain.payment.functions.payWithS(prompt, "image"), value=price)
        await indexer.sync()
        await _finish(store, prompt, succeed=succeed)
    credits = chain.payment.functions.credits(chain.w3.to_checksum_address(DEV2))
    before = await chain.call(credits)

    chain.embedded.down = True
    try:
        await indexer.retry_operator_work()  # an outage ends the pass quietly; nothing is marked
    finally:
        chain.embedded.down = False
    assert len(await store.generations.unsubmitted()) == 2 and len(await store.generations.pending_onchain_refunds()) == 2

    await indexer.retry_operator_work()
    assert [j.prompt for j in await store.generations.unsubmitted()] == ["ghost entry"]
    assert [j.prompt for j in await store.generations.pending_onchain_refunds()] == ["ghost refund"]
    assert await chain.call(credits) == before + 1

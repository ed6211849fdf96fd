"""The event sidecar: jobs from payments made elsewhere, contest submissions, reorgs, refunds."""

from __future__ import annotations

import gc
import io

import pytest
from PIL import Image
from tests.chain.conftest import DEV0, DEV1, Session, structured

from sf_mcp.chain import Signer
from sf_mcp.chain import indexer as indexer_module
from sf_mcp.chain.accounts import DEV_KEYS
from sf_mcp.config import Settings
from sf_mcp.errors import GenerationError
from sf_mcp.generation.base import DEFAULT_IMAGE_SIDE_PX
from support import connected, settled

pytestmark = pytest.mark.anyio


async def _finished(s: Session, task_id: str):
    return await settled(s.services.runner).wait(task_id)


async def test_a_payment_with_no_tool_call_makes_one_generation_and_enters_the_contest(auto_session: Session) -> None:
    s = auto_session
    tx = await s.pay_s("paid from a dApp", account=1)
    await s.indexer.sync()
    await s.indexer.sync()  # a second pass changes nothing
    rows = [r for r in await s.services.store.generations.recent(limit=20) if r.payment_method == "crypto"]
    assert len(rows) == 1
    job = rows[0]
    assert job.wallet == DEV1 and job.prompt == "paid from a dApp" and job.chain_request_id == 1
    assert job.payment["tx_hash"] == tx
    done = await _finished(s, job.task_id)
    assert done.status == "succeeded"
    done = await s.services.store.generations.get(job.task_id)
    assert done.submission and done.submission["generation_id"] == 1
    image, _ = await s.services.content.get(done.content_sha256)
    assert Image.open(io.BytesIO(image)).size == (DEFAULT_IMAGE_SIDE_PX, DEFAULT_IMAGE_SIDE_PX)  # no size was paid for
    creator, contest, _, _, prompt, url = await s.chain.call(s.chain.voting.functions.getGeneration(1))
    assert creator.lower() == DEV1 and prompt == "paid from a dApp" and url == f"content://{done.content_sha256}"
    assert len(await s.services.store.chain.events(s.chain.chain_id, event="GenerationRequested")) == 1
    await s.indexer.sync()
    assert len(await s.services.store.chain.events(s.chain.chain_id, event="GenerationSubmitted")) == 1


async def test_the_tool_and_the_indexer_share_one_job(auto_session: Session) -> None:
    s = auto_session
    tx = await s.pay_s("both paths")
    result = structured(await s.call("generate_image", {"prompt": "both paths", "payment": {"method": "crypto", "tx_hash": tx},
                                                        "width": 128, "height": 128}))
    await s.indexer.sync()
    rows = [r for r in await s.services.store.generations.recent(limit=20) if r.payment_method == "crypto"]
    assert [r.task_id for r in rows] == [result["task_id"]]


async def test_reorg_rolls_back_vanished_events_and_applies_remined_once(auto_session: Session) -> None:
    s = auto_session
    chain, store = s.chain, s.services.store
    await s.indexer.sync()
    snap = chain.embedded.snapshot()
    await s.pay_s("on the losing fork", account=2)
    signer = Signer(DEV_KEYS[3])
    fn = chain.payment.functions.payWithS("mined twice", "image")
    tx = await chain.build_tx(signer.address, fn, value=3 * 10**18)
    raw = signer.sign({**tx, "gas": 400_000})  # room for the fork where it is the first payment
    await chain.w3.eth.send_raw_transaction(raw)
    await s.indexer.sync()
    events = await store.chain.events(chain.chain_id, event="GenerationRequested")
    assert {e.args["prompt"] for e in events} == {"on the losing fork", "mined twice"}
    remined = next(e for e in events if e.args["prompt"] == "mined twice")

    chain.embedded.revert(snap)  # the fork: both payments vanish ...
    chain.embedded.mine(3)
    await chain.w3.eth.send_raw_transaction(raw)  # ... and one is mined again, in a different block
    chain.embedded.mine(2)
    await s.indexer.sync()
    events = await store.chain.events(chain.chain_id, event="GenerationRequested")
    assert [e.args["prompt"] for e in events] == ["mined twice"]
    assert events[0].tx_hash == remined.tx_hash and events[0].block_number != remined.block_number
    assert s.indexer.checkpoint.reorgs == 1
    await s.indexer.sync()
    assert len(await store.chain.events(chain.chain_id, event="GenerationRequested")) == 1
    jobs = [r for r in await store.generations.recent(limit=20) if r.payment.get("tx_hash") == remined.tx_hash]
    assert len(jobs) == 1


async def test_all_providers_failing_refunds_on_chain(auto_session: Session, monkeypatch: pytest.MonkeyPatch) -> None:
    s = auto_session

    async def fail(request, *, on_attempt=None):
        raise GenerationError("every provider failed (test)")

    monkeypatch.setattr(s.services.providers, "run", fail)
    payment = s.chain.payment.functions
    me = s.chain.w3.to_checksum_address(DEV0)
    before = await s.chain.call(payment.credits(me))
    tx = await s.pay_s("doomed")
    answer = await s.call("generate_image", {"prompt": "doomed", "payment": {"method": "crypto", "tx_hash": tx}})
    assert answer.is_error
    result = answer.structured_content
    assert result["status"] == "refunded"
    refund = result["payment"]["refund"]
    assert refund["method"] == "onchain_credits" and refund["tx_hash"].startswith("0x")
    assert await s.chain.call(payment.credits(me)) == before + 1
    assert await s.services.store.generations.pending_onchain_refunds() == []


async def test_a_refund_that_fails_stays_reviewable_and_is_retried(settings: Settings,
                                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    """The retry here is the test's own: the services run no indexer, which a mined transaction would nudge into
    retrying the refund at the same time (then this call finds it "being sent by another process")."""
    quiet = settings.model_copy(update={"chain": settings.chain.model_copy(update={"indexer": False})})
    async with connected(quiet, mode="auto") as (client, services):
        s = Session(client=client, services=services)

        async def fail(request, *, on_attempt=None):
            raise GenerationError("every provider failed (test)")

        monkeypatch.setattr(s.services.providers, "run", fail)
        tx = await s.pay_s("refund later")
        operator = s.services.operator
        real_refund = operator.refund

        async def broken(job):
            from sf_mcp.errors import ChainUnavailable

            raise ChainUnavailable("simulated outage")

        monkeypatch.setattr(operator, "refund", broken)
        answer = await s.call("generate_image", {"prompt": "refund later", "payment": {"method": "crypto", "tx_hash": tx}})
        assert answer.structured_content["status"] == "failed"
        pending = await s.services.store.generations.pending_onchain_refunds()
        assert [p.task_id for p in pending] == [answer.structured_content["task_id"]]
        monkeypatch.setattr(operator, "refund", real_refund)
        await s.indexer.retry_operator_work()
        row = await s.services.store.generations.get(answer.structured_content["task_id"])
        assert row.status == "refunded" and row.refund["method"] == "onchain_credits"
        await s.indexer.retry_operator_work()  # nothing twice
        me = s.chain.w3.to_checksum_address(DEV0)
        assert await s.chain.call(s.chain.payment.functions.credits(me)) == 1


async def test_indexer_keeps_polling_through_failures_and_shuts_down_cleanly(auto_session: Session) -> None:
    import anyio

    from sf_mcp.chain import Indexer, IndexerState

    s = auto_session
    failing = anyio.Event()
    backoffs: list[float] = []

    async def sleep(seconds: float) -> None:
        """The indexer's waits: a backoff takes no time here; once running it polls only when nudged."""
        if indexer.state is IndexerState.DEGRADED:
            backoffs.append(seconds)
            if indexer.checkpoint.failures_in_a_row >= 25:  # past the 20 after which it used to give up
                failing.set()
            await anyio.lowlevel.checkpoint()
        else:
            await anyio.sleep_forever()

    indexer = Indexer(s.chain, s.services.store, poll_s=1.0, max_backoff_s=4.0, sleep=sleep)
    s.chain.embedded.down = True
    try:
        async with anyio.create_task_group() as tg:
            await tg.start(indexer.run)
            await failing.wait()
            assert indexer.state is IndexerState.DEGRADED and indexer.checkpoint.outages == 1
            assert "unreachable" in indexer.checkpoint.last_error
            assert backoffs[0] < 2.0 <= max(backoffs) <= 4.0  # half of it doubles up to its cap; never past the cap
            s.chain.embedded.down = False
            indexer.nudge()
            await indexer.sync()
            tg.cancel_scope.cancel()
    finally:
        s.chain.embedded.down = False
    assert indexer.state is IndexerState.STOPPED and indexer.checkpoint.failures_in_a_row == 0
    cursor = await s.services.store.chain.cursor(s.chain.chain_id)
    assert cursor is not None and cursor.block_number == await s.chain.block_number()


async def test_a_nudge_polls_at_once_instead_of_at_the_next_interval(auto_session: Session) -> None:
    import anyio

    from sf_mcp.chain import Indexer

    s = auto_session
    waits: list[float] = []
    paused = [anyio.Event(), anyio.Event()]

    async def sleep(seconds: float) -> None:
        """An interval that never ends by itself: only a nudge can start the next poll."""
        if len(waits) < len(paused):
            paused[len(waits)].set()
        waits.append(seconds)
        await anyio.sleep_forever()

    indexer = Indexer(s.chain, s.services.store, poll_s=3600, sleep=sleep)
    async with anyio.create_task_group() as tg:
        await tg.start(indexer.run)
        with anyio.fail_after(30):
            await paused[0].wait()  # caught up; the next poll is an hour away
            await s.pay_s("paid between polls", account=1)
            indexer.nudge()
            await paused[1].wait()
        tg.cancel_scope.cancel()
    assert waits == [3600, 3600]
    assert indexer.checkpoint.last_block_processed == await s.chain.block_number()  # the nudged poll saw the payment


async def test_a_paid_prompt_that_is_only_markup_is_held_for_review_not_generated(auto_session: Session) -> None:
    s = auto_session
    store = s.services.store
    tx = await s.pay_s("<img<b> src=x onerror=alert(1)><!-- -->", account=1)
    markup_only = await s.pay_s("<img src=x onerror=alert(document.cookie)>")  # by this session's wallet
    await s.indexer.sync()
    jobs = [r for r in await store.generations.recent(limit=20) if r.payment_method == "crypto"]
    assert [j.payment["tx_hash"] for j in jobs] == [tx]
    assert jobs[0].prompt == "src=x onerror=alert(1)>"  # the leftovers of markup are text, never a tag

    (item,) = await store.review.items()
    assert item.kind == "unmatched_payment" and item.tx_hash == markup_only and "prompt is empty" in item.reason

    # The payer's own tool calls cannot turn the raw text into a generation either.
    verdict = structured(await s.call("verify_payment", {"tx_hash": markup_only}))
    assert verdict["valid"] is False and "held for the operator's review" in verdict["reason"]
    answer = await s.client.call_tool("generate_image", {"prompt": "img src=x", "payment": {
        "method": "crypto", "tx_hash": markup_only}})
    assert answer.is_error and "held for the operator's review" in answer.content[0].text
    assert [r.payment.get("tx_hash") for r in await store.generations.recent(limit=20)
            if r.payment_method == "crypto"] == [tx]


async def test_a_large_range_is_written_with_the_cyclic_collector_paused_and_restored(
    auto_session: Session, monkeypatch: pytest.MonkeyPatch,
) -> None:
    s = auto_session
    monkeypatch.setattr(indexer_module, "BULK_LOGS", 1)  # every range with a log counts as large
    store = s.services.store.chain
    apply, paused = store.apply, []

    async def watched(*args, **kwargs):  # type: ignore[no-untyped-def]
        paused.append(not gc.isenabled())
        return await apply(*args, **kwargs)

    monkeypatch.setattr(store, "apply", watched)
    await s.pay_s("paid in a large range", account=1)
    await s.indexer.sync()
    assert paused and all(paused) and gc.isenabled()
    assert [r.prompt for r in await s.services.store.generations.recent(limit=5)] == ["paid in a large range"]

    async def failing(*args, **kwargs):  # type: ignore[no-untyped-def]
        raise RuntimeError("disk full")

    monkeypatch.setattr(store, "apply", failing)
    await s.pay_s("paid when the write fails", account=2)
    with pytest.raises(RuntimeError, match="disk full"):
        await s.indexer.sync()
    assert gc.isenabled()

"""The payment gate with a crypto payment the indexer saw before the caller's tool call."""

from __future__ import annotations

import pytest

from sf_mcp.chain.payments import VerifiedPayment
from sf_mcp.jobs import CryptoPayment, PaymentGate
from sf_mcp.store import Store

pytestmark = pytest.mark.anyio
WALLET = "0x" + "cd" * 20
TX = "0x" + "11" * 32
KEY = f"crypto:1:{TX}"


class _KnownPayment:
    """Stands in for the chain: this one transaction is a valid payment by WALLET."""

    async def verify_for(self, tx_hash: str, *, wallet: str, kind: str, prompt: str) -> VerifiedPayment:
        return VerifiedPayment(payment_key=KEY, payer=WALLET, generation_type="image", prompt="a fox",
                               request_id=7, details={"tx_hash": TX})


@pytest.fixture
async def store(db_url):
    s = await Store.open(db_url)
    yield s
    await s.close()


async def _indexer_job(store: Store):
    job, created = await store.generations.reserve_keyed(
        payment_key=KEY, wallet=WALLET, kind="image", prompt="a fox", params={"width": 1024, "height": 1024},
        payment={"method": "crypto", "tx_hash": TX, "source": "indexer"}, chain_request_id=7,
    )
    assert created
    return job


async def test_a_queued_indexer_job_takes_the_callers_parameters(store: Store) -> None:
    job = await _indexer_job(store)
    gate = PaymentGate(store, free_daily_quota=0, verifier=_KnownPayment())
    params = {"width": 512, "height": 256, "seed": 3}
    first = await gate.reserve(wallet=WALLET, kind="image", prompt="a fox", params=params,
                               payment=CryptoPayment(method="crypto", tx_hash=TX))
    assert first.job.task_id == job.task_id and first.job.params == params and not first.replay
    again = await gate.reserve(wallet=WALLET, kind="image", prompt="a fox", params=params,
                               payment=CryptoPayment(method="crypto", tx_hash=TX))
    assert again.job.task_id == job.task_id and again.replay


async def test_a_started_indexer_job_says_the_parameters_were_not_applied(store: Store) -> None:
    job = await _indexer_job(store)
    assert (await store.generations.claim_next(owner="w", lease_s=60)).task_id == job.task_id
    gate = PaymentGate(store, free_daily_quota=0, verifier=_KnownPayment())
    answer = await gate.reserve(wallet=WALLET, kind="image", prompt="a fox", params={"width": 512},
                                payment=CryptoPayment(method="crypto", tx_hash=TX))
    assert answer.job.task_id == job.task_id and not answer.replay
    assert "default settings" in answer.note and answer.job.params["width"] == 1024
    retry = await gate.reserve(wallet=WALLET, kind="image", prompt="a fox", params={"width": 512},
                               payment=CryptoPayment(method="crypto", tx_hash=TX))
    assert retry.replay  # the caller's own retry is a replay, and it still says its settings were not applied
    assert retry.note and "the first request's settings stand: width 1024 (asked 512)" in retry.note


async def test_parallel_retries_under_one_request_id_charge_once_on_either_database(store: Store) -> None:
    import anyio

    from sf_mcp.jobs import CreditsPayment

    await store.accounts.add_credits(WALLET, 3, reason="test grant")
    gate = PaymentGate(store, free_daily_quota=0)
    answers = []

    async def retry() -> None:
        answers.append(await gate.reserve(wallet=WALLET, kind="image", prompt="a fox", params={"width": 64},
                                          payment=CreditsPayment(method="credits"), request_id="same-key"))

    async with anyio.create_task_group() as tg:
        for _ in range(8):
            tg.start_soon(retry)
    assert len({a.job.task_id for a in answers}) == 1 and sum(not a.replay for a in answers) == 1
    assert await store.accounts.credits(WALLET) == 2
    assert (await store.generations.by_request_id(WALLET, "same-key")).task_id == answers[0].job.task_id


async def test_a_used_payment_refused_to_another_prompt_quotes_the_first_60_characters(store: Store) -> None:
    from sf_mcp.errors import PaymentConsumed

    long_prompt = "a fox " * 15  # 90 characters
    job, _ = await store.generations.reserve_keyed(
        payment_key=KEY, wallet=WALLET, kind="image", prompt=long_prompt, params={"width": 1024, "height": 1024},
        payment={"method": "crypto", "tx_hash": TX, "source": "indexer"}, chain_request_id=7,
    )
    gate = PaymentGate(store, free_daily_quota=0, verifier=_KnownPayment())
    with pytest.raises(PaymentConsumed) as refused:
        await gate.reserve(wallet=WALLET, kind="image", prompt="a fox", params={"width": 512},
                           payment=CryptoPayment(method="crypto", tx_hash=TX))
    assert f"already paid for task {job.task_id} (image, prompt {long_prompt[:60]!r});" in str(refused.value)


async def test_an_x402_payment_without_a_chain_is_refused_by_name(store: Store) -> None:
    from sf_mcp.errors import PaymentRejected
    from sf_mcp.jobs import X402Payment

    gate = PaymentGate(store, free_daily_quota=0)  # no chain: no x402 gate
    with pytest.raises(PaymentRejected, match="x402 payments need a chain connection"):
        await gate.reserve(wallet=WALLET, kind="image", prompt="a fox", params={}, payment=X402Payment(method="x402"))

"""Credits and the free tier: debited atomically, never spent twice, given back when generation fails."""

from __future__ import annotations

import anyio
import pytest
from mcp.client import Client

from fakes.huggingface import FakeHuggingFace
from sf_mcp.config import Settings, load_settings
from sf_mcp.server import build_server
from sf_mcp.server.mcp.identity import DEV_WALLET
from sf_mcp.store import Store
from support import generate, read_json

pytestmark = pytest.mark.anyio

CREDITS = {"method": "credits"}


async def _grant(settings: Settings, wallet: str, amount: int) -> None:
    store = await Store.open(settings.storage.database)
    try:
        await store.accounts.add_credits(wallet, amount, reason="test grant")
    finally:
        await store.close()


async def _balance(settings: Settings, wallet: str) -> tuple[int, list[dict]]:
    store = await Store.open(settings.storage.database)
    try:
        return await store.accounts.credits(wallet), await store.accounts.ledger(wallet, limit=500)
    finally:
        await store.close()


async def test_fifty_parallel_calls_against_ten_credits(settings: Settings) -> None:
    await _grant(settings, DEV_WALLET, 10)
    results = []
    async with Client(build_server(settings)) as client:

        async def call(i: int) -> None:
            results.append(await generate(client, f"parallel {i}", payment=CREDITS, width=64, height=64))

        async with anyio.create_task_group() as tg:
            for i in range(50):
                tg.start_soon(call, i)

        ok = [r for r in results if not r.is_error]
        refused = [r for r in results if r.is_error]
        assert len(ok) == 10 and len(refused) == 40
        assert all("0 credits" in r.content[0].text or "credits" in r.content[0].text for r in refused)
        assert len({r.structured_content["task_id"] for r in ok}) == 10
        history = await read_json(client, f"generations://wallet/{DEV_WALLET}")
        assert len(history) == 10 and all(h["status"] == "succeeded" for h in history)
    balance, ledger = await _balance(settings, DEV_WALLET)
    assert balance == 0
    assert sum(entry["delta"] for entry in ledger) == 0  # +10 grant, ten -1 debits


async def test_no_credits_is_refused_with_the_balance(client: Client) -> None:
    result = await generate(client, payment=CREDITS)
    assert result.is_error and "has 0 credits" in result.content[0].text


@pytest.fixture
def failing_hf():
    with FakeHuggingFace() as fake:
        fake.fail("broken/model", 500, "GPU on fire")
        yield fake


async def test_failed_generation_refunds_credits_and_says_so(data_dir, failing_hf, monkeypatch) -> None:
    monkeypatch.setenv("SF_HF_BASE_URL", failing_hf.base_url)
    monkeypatch.setenv("SF_IMAGE_MODELS", '["broken/model"]')
    monkeypatch.setenv("SF_LOCAL_RENDERER", "false")
    settings = load_settings(data_dir=data_dir)
    await _grant(settings, DEV_WALLET, 2)
    async with Client(build_server(settings)) as client:
        result = await generate(client, payment=CREDITS)
        assert result.is_error
        info = result.structured_content
        assert info["status"] == "refunded"
        assert info["payment"]["refunded"] is True and info["payment"]["refund"]["credits"] == 1
        assert info["attempts"][0]["error_class"] == "unavailable"
        assert "payment was returned" in result.content[-1].text
    balance, ledger = await _balance(settings, DEV_WALLET)
    assert balance == 2
    assert [e["reason"] for e in ledger][:2] == ["refund", "generation"]


async def test_failed_free_generation_gives_the_slot_back(data_dir, failing_hf, monkeypatch) -> None:
    monkeypatch.setenv("SF_HF_BASE_URL", failing_hf.base_url)
    monkeypatch.setenv("SF_IMAGE_MODELS", '["broken/model"]')
    monkeypatch.setenv("SF_LOCAL_RENDERER", "false")
    monkeypatch.setenv("SF_FREE_DAILY_QUOTA", "1")
    settings = load_settings(data_dir=data_dir)
    async with Client(build_server(settings)) as client:
        for _ in range(3):  # each failure returns the one free slot, so the next try is not refused
            result = await generate(client)
            assert result.structured_content["status"] == "refunded"

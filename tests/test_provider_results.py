"""What the provider chain's outcomes look like to an MCP caller: a refusal returns the payment, a fit is noticed."""

from __future__ import annotations

import pytest
from mcp.client import Client

from fakes.cloudflare import FakeCloudflare
from fakes.huggingface import FakeHuggingFace
from sf_mcp.config import load_settings
from sf_mcp.server import build_server
from sf_mcp.server.mcp.identity import DEV_WALLET
from sf_mcp.store import Store
from support import generate

pytestmark = pytest.mark.anyio


@pytest.fixture(autouse=True)
def _no_ambient_keys(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("HF_TOKEN", "SF_HF_TOKEN", "SF_HF_BASE_URL", "SF_CLOUDFLARE_ACCOUNT_ID", "SF_CLOUDFLARE_API_TOKEN",
                 "SF_WALLET", "SF_AGENT_KEY", "SF_RPC_URL", "SF_CONFIG_FILE"):
        monkeypatch.delenv(name, raising=False)


async def _credits(settings, wallet: str, add: int = 0) -> int:  # type: ignore[no-untyped-def]
    store = await Store.open(settings.storage.database)
    try:
        if add:
            await store.accounts.add_credits(wallet, add, reason="test grant")
        return await store.accounts.credits(wallet)
    finally:
        await store.close()


async def test_a_blacked_out_image_is_refused_and_the_credit_returned(data_dir, monkeypatch) -> None:
    with FakeHuggingFace() as fake:
        fake.blacked_out("safe/model")
        monkeypatch.setenv("SF_HF_BASE_URL", fake.base_url)
        monkeypatch.setenv("SF_IMAGE_MODELS", '["safe/model", "other/model"]')
        monkeypatch.setenv("SF_LOCAL_RENDERER", "true")
        settings = load_settings(data_dir=data_dir)
        assert await _credits(settings, DEV_WALLET, add=1) == 1
        async with Client(build_server(settings)) as client:
            result = await generate(client, payment={"method": "credits"})
        assert len(fake.calls("other/model")) == 0, "a refusal is not retried on the next model"
    info = result.structured_content
    assert result.is_error and info["status"] == "refunded" and info["payment"]["refunded"] is True
    assert [a["error_class"] for a in info["attempts"]] == ["refused"]
    assert await _credits(settings, DEV_WALLET) == 1


async def test_the_result_says_what_was_fitted_to_the_model(data_dir, monkeypatch) -> None:
    with FakeCloudflare(token="cf-token") as fake:
        monkeypatch.setenv("SF_CLOUDFLARE_ACCOUNT_ID", fake.account_id)
        monkeypatch.setenv("SF_CLOUDFLARE_API_TOKEN", "cf-token")
        monkeypatch.setenv("SF_CLOUDFLARE_BASE_URL", fake.base_url)
        monkeypatch.setenv("SF_LOCAL_RENDERER", "false")
        settings = load_settings(data_dir=data_dir)
        async with Client(build_server(settings)) as client:
            result = await generate(client, width=1920, height=1080)
    info = result.structured_content
    assert not result.is_error and info["model"] == "@cf/black-forest-labs/flux-1-schnell"
    assert "1024x1024" in info["notice"] and "1920x1080" in info["notice"]

"""build_provider_chain: the settings decide the providers, and the left-out ones are visible."""

from __future__ import annotations

from pathlib import Path

import pytest

from fakes import FakeCloudflare, FakeHuggingFace
from sf_mcp.config import Settings
from sf_mcp.errors import ConfigError
from sf_mcp.generation import ErrorClass, GenerationKind, GenerationRequest, build_provider_chain

from .conftest import CF_TOKEN, HF_TOKEN

pytestmark = pytest.mark.anyio


@pytest.fixture(autouse=True)
def _no_ambient_tokens(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("HF_TOKEN", "SF_HF_TOKEN", "SF_HF_BASE_URL", "SF_CLOUDFLARE_ACCOUNT_ID", "SF_CLOUDFLARE_API_TOKEN",
                 "SF_LOCAL_RENDERER", "SF_RPC_URL"):
        monkeypatch.delenv(name, raising=False)


def test_embedded_defaults_are_local_only_and_say_why(tmp_path: Path) -> None:
    chain = build_provider_chain(Settings(data_dir=tmp_path))
    assert [p.name for p in chain.providers] == ["local"]
    left_out = {row["provider"]: row["left_out"] for row in chain.describe() if "left_out" in row}
    assert "SF_HF_TOKEN" in left_out["huggingface"] and "SF_CLOUDFLARE_API_TOKEN" in left_out["cloudflare"]


def test_nothing_enabled_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="no generation provider"):
        build_provider_chain(Settings(data_dir=tmp_path, local_renderer=False))


async def test_full_chain_from_settings_falls_back_hf_to_cloudflare_to_local(
    tmp_path: Path, fake_hf: FakeHuggingFace, fake_cf: FakeCloudflare
) -> None:
    settings = Settings(data_dir=tmp_path, hf_token=HF_TOKEN, hf_base_url=fake_hf.base_url,
                        cloudflare_account_id=fake_cf.account_id, cloudflare_api_token=CF_TOKEN,
                        cloudflare_base_url=fake_cf.base_url, local_renderer=True)
    chain = build_provider_chain(settings)
    assert [p.name for p in chain.providers] == ["huggingface", "cloudflare", "local"]
    assert chain.models(GenerationKind.IMAGE)[0] == ("huggingface", "black-forest-labs/FLUX.1-schnell")
    for model in settings.providers.image_models:
        fake_hf.loading(model)
    for model in settings.providers.cloudflare_image_models:
        fake_cf.fail(model, 502, "Bad gateway")
    try:
        outcome = await chain.run(GenerationRequest(kind=GenerationKind.IMAGE, prompt="a kite", width=64, height=64))
    finally:
        await chain.aclose()
    assert [(a.provider, a.error_class) for a in outcome.attempts] == (
        [("huggingface", ErrorClass.UNAVAILABLE)] * 3 + [("cloudflare", ErrorClass.UNAVAILABLE)] * 2
        + [("local", None)])
    assert outcome.media.model == "sf-mcp/local-renderer"


async def test_local_video_from_settings(tmp_path: Path) -> None:
    chain = build_provider_chain(Settings(data_dir=tmp_path))
    outcome = await chain.run(GenerationRequest(kind=GenerationKind.VIDEO, prompt="rain", width=128, height=128,
                                                duration_s=0.5))
    assert outcome.media.mime_type == "video/mp4" and outcome.media.provider == "local"

"""`sf-mcp providers check` and serve's start-up warning, against the loopback Hub + router and Workers AI."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from pathlib import Path

import pytest
from pydantic import SecretStr

from fakes import FakeCloudflare, FakeHub, offer, route_hub_to
from sf_mcp.cli import main
from sf_mcp.config import Settings
from sf_mcp.generation import GenerationKind, check_providers, render_report, warn_unserved_in_background

from .conftest import CF_TOKEN, HF_TOKEN

SCHNELL = "black-forest-labs/FLUX.1-schnell"
SDXL = "stabilityai/stable-diffusion-xl-base-1.0"
WAN = "Wan-AI/Wan2.2-TI2V-5B"
ON_THE_HUB = {SCHNELL: [offer("nscale", SCHNELL), offer("fal-ai", "fal-ai/flux/schnell")], SDXL: [],
              WAN: [offer("fal-ai", "fal-ai/wan/v2.2-5b/text-to-video", "text-to-video")]}


@pytest.fixture(autouse=True)
def _no_ambient_keys(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("HF_TOKEN", "SF_HF_TOKEN", "SF_HF_BASE_URL", "SF_CLOUDFLARE_ACCOUNT_ID", "SF_CLOUDFLARE_API_TOKEN",
                 "SF_LOCAL_RENDERER", "SF_RPC_URL", "SF_IMAGE_MODELS", "SF_VIDEO_MODELS", "SF_CONFIG_FILE"):
        monkeypatch.delenv(name, raising=False)


@pytest.fixture
def hub() -> Iterator[FakeHub]:
    with FakeHub(token=HF_TOKEN, models={k: list(v) for k, v in ON_THE_HUB.items()}) as fake, route_hub_to(fake):
        yield fake


def settings(tmp_path: Path, fake_cf: FakeCloudflare, models: list[str]) -> Settings:
    return Settings(data_dir=tmp_path, hf_token=HF_TOKEN, image_models=models, video_models=[WAN],
                    cloudflare_account_id=fake_cf.account_id, cloudflare_api_token=CF_TOKEN,
                    cloudflare_base_url=fake_cf.base_url, local_renderer=True)


@pytest.mark.anyio
async def test_check_shows_routes_skips_and_the_plan_without_generating(tmp_path: Path, hub: FakeHub,
                                                                        fake_cf: FakeCloudflare) -> None:
    report = await check_providers(settings(tmp_path, fake_cf, [SDXL, SCHNELL]))
    text = render_report(report)
    assert f"huggingface/{SDXL} SKIPPED: no inference provider serves {SDXL}" in text
    assert f"huggingface/{SCHNELL} -> nscale ({SCHNELL}), live; also fal-ai" in text
    assert "cloudflare/@cf/black-forest-labs/flux-1-schnell -> Workers AI (Text-to-Image)" in text
    assert "limits: Workers AI schema of flux-1-schnell" in text
    assert report.plan(GenerationKind.IMAGE) == [
        f"huggingface/{SCHNELL} via nscale", "cloudflare/@cf/black-forest-labs/flux-1-schnell",
        "cloudflare/@cf/stabilityai/stable-diffusion-xl-base-1.0", "local/sf-mcp/local-renderer"]
    assert report.plan(GenerationKind.VIDEO)[0] == f"huggingface/{WAN} via fal-ai"
    lookups = [r for r in hub.calls("hub-api") if "/api/models/" in r.path]
    assert lookups and all(r.headers["authorization"] == f"Bearer {HF_TOKEN}" for r in lookups)
    assert hub.calls(SCHNELL) == [] and fake_cf.requests == fake_cf.calls("search"), "nothing is generated"


@pytest.mark.anyio
async def test_live_sends_one_tiny_request_per_provider(tmp_path: Path, hub: FakeHub,
                                                        fake_cf: FakeCloudflare) -> None:
    report = await check_providers(settings(tmp_path, fake_cf, [SDXL, SCHNELL]), live=True)
    assert len(hub.calls(SCHNELL)) == 1 and len(fake_cf.calls("@cf/black-forest-labs/flux-1-schnell")) == 1
    assert hub.calls(SCHNELL)[0].json["size"] == "256x256"
    assert report.live["huggingface"].startswith(f"{SCHNELL}: ok")
    assert report.live["cloudflare"].startswith("@cf/black-forest-labs/flux-1-schnell: ok")
    assert report.live["local"].startswith("sf-mcp/local-renderer: ok")


@pytest.mark.anyio
async def test_check_names_a_workers_ai_model_the_account_does_not_have(tmp_path: Path, hub: FakeHub,
                                                                       fake_cf: FakeCloudflare) -> None:
    config = settings(tmp_path, fake_cf, [SCHNELL]).updated(
        cloudflare_image_models=["@cf/acme/no-such-model", "@cf/black-forest-labs/flux-1-schnell"])
    text = render_report(await check_providers(config))
    assert "cloudflare/@cf/acme/no-such-model SKIPPED: Workers AI has no model @cf/acme/no-such-model" in text
    wrong = config.updated(cloudflare_api_token=SecretStr("cf_wrong_token"))
    text = render_report(await check_providers(wrong))
    assert "SKIPPED: Cloudflare rejected the API token" in text and "cf_wrong_token" not in text


def test_cli_prints_the_plan_and_fails_when_nothing_is_served(tmp_path: Path, hub: FakeHub,
                                                              monkeypatch: pytest.MonkeyPatch,
                                                              capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("SF_HF_TOKEN", HF_TOKEN)
    monkeypatch.setenv("SF_LOCAL_RENDERER", "false")
    monkeypatch.setenv("SF_IMAGE_MODELS", f'["{SCHNELL}"]')
    assert main(["--data-dir", str(tmp_path), "providers", "check"]) == 0
    assert f"a generation will use: huggingface/{SCHNELL} via nscale" in capsys.readouterr().out
    monkeypatch.setenv("SF_IMAGE_MODELS", f'["{SDXL}"]')
    assert main(["--data-dir", str(tmp_path), "providers", "check"]) == 1
    assert "a generation will use: NOTHING" in capsys.readouterr().out


def test_serve_warns_at_start_about_a_model_nobody_serves(tmp_path: Path, hub: FakeHub, fake_cf: FakeCloudflare,
                                                         caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING, logger="sf_mcp.generation.check"):
        thread = warn_unserved_in_background(settings(tmp_path, fake_cf, [SDXL, SCHNELL]))
        assert thread is not None
        thread.join(timeout=60)
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert warnings == [f"configured image model {SDXL} will be skipped: no inference provider serves {SDXL} "
                        "[unsupported]"]


def test_nothing_to_look_up_without_a_hugging_face_token(tmp_path: Path) -> None:
    assert warn_unserved_in_background(Settings(data_dir=tmp_path)) is None


def test_serve_starts_the_check(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import sf_mcp.generation as generation
    import sf_mcp.server as server

    started: list[Settings] = []

    class Idle:
        async def run_stdio_async(self) -> None:
            return None

    monkeypatch.setattr(generation, "warn_unserved_in_background", started.append)
    monkeypatch.setattr(server, "build_server", lambda settings: Idle())
    assert main(["--data-dir", str(tmp_path), "serve"]) == 0
    assert len(started) == 1 and started[0].storage.data_dir == tmp_path

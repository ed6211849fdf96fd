"""The Cloudflare Workers AI provider against a loopback Workers AI server."""

from __future__ import annotations

import httpx2
import pytest
from fakes import FakeCloudflare, tiny_png

from sf_mcp.errors import GenerationError, PromptRefused
from sf_mcp.generation import ErrorClass, FallbackChain, GenerationKind, GenerationRequest
from sf_mcp.generation.providers.cloudflare import CloudflareProvider

from .conftest import CF_TOKEN

pytestmark = pytest.mark.anyio

FLUX = "@cf/black-forest-labs/flux-1-schnell"
SDXL = "@cf/stabilityai/stable-diffusion-xl-base-1.0"
IMAGE = GenerationRequest(kind=GenerationKind.IMAGE, prompt="a tram in Lisbon", width=80, height=48, seed=11)


def provider(fake: FakeCloudflare, token: str = CF_TOKEN) -> CloudflareProvider:
    return CloudflareProvider(account_id=fake.account_id, api_token=token, image_models=[FLUX, SDXL],
                              base_url=fake.base_url)


def chain(cf: CloudflareProvider) -> FallbackChain:
    return FallbackChain([cf], attempt_timeout_s=5, deadline_s=30, breaker_failures=3, breaker_cooldown_s=60)


async def test_json_shape_with_base64_image(fake_cf: FakeCloudflare) -> None:
    cf = provider(fake_cf)
    try:
        media = await cf.generate(IMAGE, model=FLUX)
    finally:
        await cf.aclose()
    assert media.data == tiny_png(64, 64, FLUX)  # FLUX ignores width/height on Workers AI
    (call,) = fake_cf.requests
    assert call.path == f"/client/v4/accounts/{fake_cf.account_id}/ai/run/{FLUX}"
    assert call.headers["authorization"] == f"Bearer {CF_TOKEN}"
    assert call.json == {"prompt": "a tram in Lisbon", "steps": 4, "seed": 11}


async def test_raw_image_shape(fake_cf: FakeCloudflare) -> None:
    cf = provider(fake_cf)
    try:
        media = await cf.generate(IMAGE, model=SDXL)
    finally:
        await cf.aclose()
    assert media.data == tiny_png(80, 48, SDXL) and media.mime_type == "image/png"
    assert fake_cf.requests[0].json == {"prompt": "a tram in Lisbon", "width": 80, "height": 48, "num_steps": 20,
                                        "seed": 11}


async def test_error_json_falls_through_to_next_model(fake_cf: FakeCloudflare) -> None:
    fake_cf.fail(FLUX, 500, "Internal server error", code=3043)
    cf = provider(fake_cf)
    outcome = await chain(cf).run(IMAGE)
    await cf.aclose()
    assert [(a.model, a.error_class) for a in outcome.attempts] == [(FLUX, ErrorClass.UNAVAILABLE), (SDXL, None)]
    assert "Internal server error" in (outcome.attempts[0].message or "")


async def test_success_false_in_a_200_is_a_failure(fake_cf: FakeCloudflare) -> None:
    from fakes import Behavior

    fake_cf.program(FLUX, Behavior(body=FakeCloudflare.error_body(3030, "Capacity temporarily exceeded")))
    cf = provider(fake_cf)
    outcome = await chain(cf).run(IMAGE)
    await cf.aclose()
    assert outcome.attempts[0].error_class is ErrorClass.UNAVAILABLE and outcome.media.model == SDXL


async def test_refused_input(fake_cf: FakeCloudflare) -> None:
    fake_cf.fail(FLUX, 400, "Input prompt contains NSFW content", code=3030)
    cf = provider(fake_cf)
    with pytest.raises(PromptRefused, match="NSFW"):
        await chain(cf).run(IMAGE)
    await cf.aclose()
    assert len(fake_cf.calls(SDXL)) == 0


async def test_bad_token_is_config_and_not_leaked(fake_cf: FakeCloudflare) -> None:
    wrong = "cf_wrong_secret_token_value"
    cf = provider(fake_cf, token=wrong)
    with pytest.raises(GenerationError) as caught:
        await chain(cf).run(IMAGE)
    await cf.aclose()
    (attempt,) = caught.value.attempts
    assert attempt.error_class is ErrorClass.CONFIG
    assert "SF_CLOUDFLARE_API_TOKEN" in (attempt.message or "") and wrong not in str(caught.value)


async def test_injected_transport_and_no_video() -> None:
    def handler(request: httpx2.Request) -> httpx2.Response:
        return httpx2.Response(429, json=FakeCloudflare.error_body(3040, "Too many requests"))

    cf = CloudflareProvider(account_id="a", api_token="t", image_models=[SDXL],
                            transport=httpx2.MockTransport(handler))
    assert cf.models(GenerationKind.VIDEO) == []
    with pytest.raises(GenerationError) as caught:
        await chain(cf).run(IMAGE)
    await cf.aclose()
    assert caught.value.attempts[0].error_class is ErrorClass.RATE_LIMITED

"""The Cloudflare Workers AI provider against a loopback Workers AI that checks the published schemas and codes."""

from __future__ import annotations

import httpx2
import pytest

from fakes import Behavior, FakeCloudflare, tiny_png
from sf_mcp.errors import GenerationError
from sf_mcp.generation import ErrorClass, FallbackChain, GenerationKind, GenerationRequest
from sf_mcp.generation.providers.cloudflare import CloudflareProvider

from .conftest import CF_TOKEN

pytestmark = pytest.mark.anyio

FLUX = "@cf/black-forest-labs/flux-1-schnell"
SDXL = "@cf/stabilityai/stable-diffusion-xl-base-1.0"
IMAGE = GenerationRequest(kind=GenerationKind.IMAGE, prompt="a tram in Lisbon", width=320, height=256, seed=11)


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def provider(fake: FakeCloudflare, token: str = CF_TOKEN, models: list[str] | None = None) -> CloudflareProvider:
    return CloudflareProvider(account_id=fake.account_id, api_token=token, image_models=models or [FLUX, SDXL],
                              base_url=fake.base_url)


def chain(cf: CloudflareProvider, clock: FakeClock | None = None) -> FallbackChain:
    return FallbackChain([cf], attempt_timeout_s=5, deadline_s=30, breaker_failures=3, breaker_cooldown_s=60,
                         **({"clock": clock} if clock else {}))


async def test_flux_gets_only_what_its_schema_allows_and_the_notice_says_1024(fake_cf: FakeCloudflare) -> None:
    cf = provider(fake_cf)
    try:
        media = await cf.generate(IMAGE, model=FLUX)
    finally:
        await cf.aclose()
    (call,) = fake_cf.requests
    assert call.path == f"/client/v4/accounts/{fake_cf.account_id}/ai/run/{FLUX}"
    assert call.headers["authorization"] == f"Bearer {CF_TOKEN}"
    assert call.json == {"prompt": "a tram in Lisbon"}, "no size, seed or steps: additionalProperties is false"
    assert media.data == tiny_png(1024, 1024, FLUX)
    assert "1024x1024" in (media.notice or "") and "320x256" in (media.notice or "") and "seed" in (media.notice or "")


async def test_flux_steps_are_clamped_to_8(fake_cf: FakeCloudflare) -> None:
    outcome = await chain(provider(fake_cf)).run(GenerationRequest(kind=GenerationKind.IMAGE, prompt="a tram",
                                                                   steps=30))
    assert fake_cf.requests[0].json == {"prompt": "a tram", "steps": 8}
    (ok,) = outcome.attempts
    assert ok.outcome == "ok" and "steps 30 -> 8" in (ok.message or "")


async def test_sdxl_size_is_raised_to_its_256_minimum_in_the_raw_shape(fake_cf: FakeCloudflare) -> None:
    cf = provider(fake_cf)
    small = GenerationRequest(kind=GenerationKind.IMAGE, prompt="a tram", width=128, height=96, seed=3, steps=30)
    try:
        media = await cf.generate(small, model=SDXL)
    finally:
        await cf.aclose()
    assert fake_cf.requests[0].json == {"prompt": "a tram", "width": 256, "height": 256, "num_steps": 20, "seed": 3}
    assert media.data == tiny_png(256, 256, SDXL) and media.mime_type == "image/png"
    assert "128x96 -> 256x256" in (media.notice or "") and "steps 30 -> 20" in (media.notice or "")


async def test_unknown_model_5007_moves_on_and_is_recorded_as_unsupported(fake_cf: FakeCloudflare) -> None:
    cf = provider(fake_cf, models=["@cf/acme/no-such-model", SDXL])
    outcome = await chain(cf).run(IMAGE)
    await cf.aclose()
    first = outcome.attempts[0]
    assert (first.error_class, outcome.media.model) == (ErrorClass.UNSUPPORTED, SDXL)
    assert "5007" in (first.message or "") and "no such model" in (first.message or "").lower()


async def test_a_rejected_input_is_not_a_refusal(fake_cf: FakeCloudflare) -> None:
    fake_cf.program(FLUX, Behavior(status=400, body=FakeCloudflare.error_body(5006, "AiError: Bad input: x")))
    cf = provider(fake_cf)
    outcome = await chain(cf).run(IMAGE)
    await cf.aclose()
    assert [(a.model, a.error_class) for a in outcome.attempts] == [(FLUX, ErrorClass.INVALID_INPUT), (SDXL, None)]


@pytest.mark.parametrize(("code", "error_class", "words"), [
    (3040, ErrorClass.RATE_LIMITED, "out of capacity"),
    (3007, ErrorClass.TIMEOUT, "timed out"),
    (5016, ErrorClass.UNSUPPORTED, "terms"),
    (5018, ErrorClass.UNSUPPORTED, "not allowed to access this model"),
    (3041, ErrorClass.UNSUPPORTED, "not allowed to access this model"),
    (3042, ErrorClass.UNSUPPORTED, "model name is invalid"),
    (3023, ErrorClass.CONFIG, "blocked"),
])
async def test_documented_codes_are_named(fake_cf: FakeCloudflare, code: int, error_class: ErrorClass,
                                          words: str) -> None:
    fake_cf.error(FLUX, code)
    cf = provider(fake_cf, models=[FLUX])
    fallback = chain(cf)
    with pytest.raises(GenerationError) as caught:
        await fallback.run(IMAGE)
    await cf.aclose()
    (attempt,) = caught.value.attempts
    assert attempt.error_class is error_class
    assert f"code {code}" in (attempt.message or "") and words in (attempt.message or "")
    counted = 0 if error_class is ErrorClass.UNSUPPORTED else 1
    assert fallback.breaker("cloudflare").consecutive_failures == counted, "a model's own problem is not counted"


async def test_daily_allocation_used_up_holds_cloudflare_without_calls(fake_cf: FakeCloudflare) -> None:
    fake_cf.error(FLUX, 3036)
    cf = provider(fake_cf)
    fallback = chain(cf)
    with pytest.raises(GenerationError) as first:
        await fallback.run(IMAGE)
    assert [a.outcome for a in first.value.attempts] == ["error", "skipped"]
    assert "neurons" in (first.value.attempts[0].message or "")
    with pytest.raises(GenerationError) as second:
        await fallback.run(IMAGE)
    await cf.aclose()
    assert len(fake_cf.requests) == 1, "held until the allocation renews: no second call"
    assert second.value.attempts[0].error_class is ErrorClass.CIRCUIT_OPEN
    assert "Retry-After" in (second.value.attempts[0].message or "")


async def test_retry_after_holds_the_provider_for_that_long(fake_cf: FakeCloudflare) -> None:
    fake_cf.error(FLUX, 3040, headers={"retry-after": "30"})
    clock = FakeClock()
    cf = provider(fake_cf, models=[FLUX])
    fallback = chain(cf, clock)
    with pytest.raises(GenerationError):
        await fallback.run(IMAGE)
    assert fallback.breaker("cloudflare").retry_in_s() == 30
    clock.now += 29
    with pytest.raises(GenerationError) as held:
        await fallback.run(IMAGE)
    assert held.value.attempts[0].error_class is ErrorClass.CIRCUIT_OPEN and len(fake_cf.requests) == 1
    fake_cf.reset()
    clock.now += 2
    outcome = await fallback.run(IMAGE)
    await cf.aclose()
    assert outcome.media.model == FLUX and len(fake_cf.requests) == 2


async def test_success_false_in_a_200_is_a_failure(fake_cf: FakeCloudflare) -> None:
    fake_cf.program(FLUX, Behavior(body=FakeCloudflare.error_body(3043, "Internal server error")))
    cf = provider(fake_cf)
    outcome = await chain(cf).run(IMAGE)
    await cf.aclose()
    assert outcome.attempts[0].error_class is ErrorClass.UNAVAILABLE and outcome.media.model == SDXL


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
        return httpx2.Response(500, json=FakeCloudflare.error_body(1031, "Internal server error"))

    cf = CloudflareProvider(account_id="a", api_token="t", image_models=[SDXL],
                            transport=httpx2.MockTransport(handler))
    assert cf.models(GenerationKind.VIDEO) == []
    with pytest.raises(GenerationError) as caught:
        await chain(cf).run(IMAGE)
    await cf.aclose()
    assert caught.value.attempts[0].error_class is ErrorClass.UNAVAILABLE

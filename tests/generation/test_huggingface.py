"""The Hugging Face provider against a loopback hf-inference server, and video through the hub's mock transport."""

from __future__ import annotations

import json
from collections.abc import Iterator

import httpx2
import huggingface_hub
import pytest
from huggingface_hub.utils import _http as hub_http

from fakes import FakeHuggingFace, tiny_mp4, tiny_png
from sf_mcp.errors import GenerationError, PromptRefused
from sf_mcp.generation import ErrorClass, FallbackChain, GenerationKind, GenerationRequest
from sf_mcp.generation.providers.huggingface import HuggingFaceProvider
from sf_mcp.generation.providers.local import LocalRenderer

from .conftest import HF_TOKEN

pytestmark = pytest.mark.anyio

MODELS = ["black-forest-labs/FLUX.1-schnell", "stabilityai/stable-diffusion-xl-base-1.0",
          "runwayml/stable-diffusion-v1-5"]
IMAGE = GenerationRequest(kind=GenerationKind.IMAGE, prompt="a red fox in snow", width=96, height=64, seed=5)


def provider(fake: FakeHuggingFace, token: str | None = HF_TOKEN) -> HuggingFaceProvider:
    return HuggingFaceProvider(image_models=MODELS, video_models=["Lightricks/LTX-Video"], token=token,
                               base_url=fake.base_url)


def chain(*providers, timeout: float = 5.0, failures: int = 3) -> FallbackChain:  # type: ignore[no-untyped-def]
    return FallbackChain(list(providers), attempt_timeout_s=timeout, deadline_s=60, breaker_failures=failures,
                         breaker_cooldown_s=60)


async def test_wire_format_and_url(fake_hf: FakeHuggingFace) -> None:
    media = await provider(fake_hf).generate(IMAGE, model=MODELS[0])
    (call,) = fake_hf.requests
    assert call.path == f"/models/{MODELS[0]}"
    assert call.headers["authorization"] == f"Bearer {HF_TOKEN}"
    assert call.json["inputs"] == "a red fox in snow"
    assert call.json["parameters"] == {"width": 96, "height": 64, "seed": 5}
    assert media.mime_type == "image/png" and media.provider == "huggingface" and media.model == MODELS[0]
    assert media.data == tiny_png(96, 64, MODELS[0]), "the endpoint's bytes are kept, not re-encoded"


async def test_jpeg_answer_is_kept_as_jpeg(fake_hf: FakeHuggingFace) -> None:
    import io

    from PIL import Image

    from fakes import Behavior

    out = io.BytesIO()
    Image.new("RGB", (96, 64), "navy").save(out, "JPEG")
    fake_hf.program(MODELS[0], Behavior(body=out.getvalue(), content_type="image/jpeg"))
    outcome = await chain(provider(fake_hf)).run(IMAGE)
    assert outcome.media.data == out.getvalue() and outcome.media.mime_type == "image/jpeg"


async def test_first_model_loading_second_serves(fake_hf: FakeHuggingFace) -> None:
    fake_hf.loading(MODELS[0])
    outcome = await chain(provider(fake_hf)).run(IMAGE)
    assert outcome.media.model == MODELS[1] and (outcome.media.width, outcome.media.height) == (96, 64)
    first = outcome.attempts[0]
    assert (first.model, first.error_class) == (MODELS[0], ErrorClass.UNAVAILABLE)
    assert "503" in (first.message or "") and "loading" in (first.message or "")
    assert [len(fake_hf.calls(m)) for m in MODELS] == [1, 1, 0]


async def test_timeout_moves_to_next_model(fake_hf: FakeHuggingFace) -> None:
    fake_hf.hang(MODELS[0])
    outcome = await chain(provider(fake_hf), timeout=0.5).run(IMAGE)
    assert [(a.model, a.error_class) for a in outcome.attempts] == [(MODELS[0], ErrorClass.TIMEOUT), (MODELS[1], None)]


async def test_a_blacked_out_image_is_a_refusal_that_stops_everything(fake_hf: FakeHuggingFace) -> None:
    fake_hf.blacked_out(MODELS[0])
    with pytest.raises(PromptRefused) as caught:
        await chain(provider(fake_hf), LocalRenderer()).run(IMAGE)
    assert [len(fake_hf.calls(m)) for m in MODELS] == [1, 0, 0]
    assert len(caught.value.attempts) == 1 and caught.value.attempts[0].error_class is ErrorClass.REFUSED
    assert "blacked the image out" in str(caught.value)


async def test_a_400_is_an_invalid_parameter_not_a_refusal(fake_hf: FakeHuggingFace) -> None:
    fake_hf.fail(MODELS[0], 400, "Input rejected: the prompt violates the content policy")
    fake_hf.fail(MODELS[1], 422, "width must be a multiple of 8")
    outcome = await chain(provider(fake_hf), LocalRenderer()).run(IMAGE)
    assert [(a.model, a.error_class) for a in outcome.attempts] == [
        (MODELS[0], ErrorClass.INVALID_INPUT), (MODELS[1], ErrorClass.INVALID_INPUT), (MODELS[2], None)]


async def test_rate_limit_and_server_errors_fall_through(fake_hf: FakeHuggingFace) -> None:
    fake_hf.fail(MODELS[0], 429, "Rate limit reached")
    fake_hf.fail(MODELS[1], 500, "CUDA out of memory")
    outcome = await chain(provider(fake_hf)).run(IMAGE)
    assert [a.error_class for a in outcome.attempts] == [ErrorClass.RATE_LIMITED, ErrorClass.UNAVAILABLE, None]


async def test_unknown_model_is_unsupported_not_refused(fake_hf: FakeHuggingFace) -> None:
    fake_hf.fail(MODELS[0], 404, "Model not found")
    outcome = await chain(provider(fake_hf)).run(IMAGE)
    assert outcome.attempts[0].error_class is ErrorClass.UNSUPPORTED and outcome.media.model == MODELS[1]


async def test_garbage_output_is_bad_output(fake_hf: FakeHuggingFace) -> None:
    from fakes import Behavior

    fake_hf.program(MODELS[0], Behavior(body=b"<html>not an image</html>", content_type="image/png"))
    outcome = await chain(provider(fake_hf)).run(IMAGE)
    assert outcome.attempts[0].error_class is ErrorClass.BAD_OUTPUT and outcome.media.model == MODELS[1]


async def test_bad_token_is_a_config_error_without_the_token(fake_hf: FakeHuggingFace) -> None:
    wrong = "hf_wrong_secret_value_abcdef"
    with pytest.raises(GenerationError) as caught:
        await chain(provider(fake_hf, token=wrong)).run(IMAGE)
    (attempt,) = caught.value.attempts  # the other models of the provider are not tried
    assert attempt.error_class is ErrorClass.CONFIG
    assert "rejected the token" in (attempt.message or "") and "SF_HF_TOKEN" in (attempt.message or "")
    assert "misconfigured" in str(caught.value)
    assert wrong not in str(caught.value) and wrong not in repr(caught.value.attempts)
    assert len(fake_hf.requests) == 1


async def test_connection_refused_is_unavailable() -> None:
    with FakeHuggingFace() as gone:
        base = gone.base_url
    dead = HuggingFaceProvider(image_models=MODELS[:1], base_url=base)
    outcome = await chain(dead, LocalRenderer()).run(IMAGE)
    assert outcome.attempts[0].error_class is ErrorClass.UNAVAILABLE and outcome.media.provider == "local"


async def test_breaker_skips_a_dead_provider_without_calling_it(fake_hf: FakeHuggingFace) -> None:
    for model in MODELS:
        fake_hf.hang(model)
    fallback = chain(provider(fake_hf), LocalRenderer(), timeout=0.2, failures=3)
    first = await fallback.run(IMAGE)
    assert [a.error_class for a in first.attempts] == [ErrorClass.TIMEOUT] * 3 + [None]
    calls_after_first = len(fake_hf.requests)

    second = await fallback.run(IMAGE)
    assert len(fake_hf.requests) == calls_after_first, "the open circuit sent no request"
    assert [(a.provider, a.outcome, a.error_class) for a in second.attempts] == [
        ("huggingface", "skipped", ErrorClass.CIRCUIT_OPEN), ("local", "ok", None)]


async def test_endpoint_video_is_posted_in_hf_format(fake_hf: FakeHuggingFace) -> None:
    video = GenerationRequest(kind=GenerationKind.VIDEO, prompt="waves at night", seed=3)
    outcome = await chain(provider(fake_hf)).run(video)
    assert outcome.media.mime_type == "video/mp4" and outcome.media.model == "Lightricks/LTX-Video"
    (call,) = fake_hf.calls("Lightricks/LTX-Video")
    assert call.json == {"inputs": "waves at night", "parameters": {"seed": 3}}


def test_without_token_video_is_not_offered() -> None:
    hf = HuggingFaceProvider(image_models=MODELS, video_models=["Lightricks/LTX-Video"])
    assert hf.models(GenerationKind.VIDEO) == [] and hf.models(GenerationKind.IMAGE) == MODELS


# -- video through Inference Providers, intercepted by the hub's client factories ----------------

VIDEO_MODEL = "Lightricks/LTX-Video"
MP4_URL = "https://replicate.delivery/fake/output.mp4"


@pytest.fixture
def hub_mock() -> Iterator[list[httpx2.Request]]:
    """Route every hub HTTP call (sync and async clients) to an in-memory handler; no network."""
    seen: list[httpx2.Request] = []

    def handler(request: httpx2.Request) -> httpx2.Response:
        seen.append(request)
        if request.url.path == f"/api/models/{VIDEO_MODEL}":
            return httpx2.Response(200, json={"id": VIDEO_MODEL, "inferenceProviderMapping": {
                "replicate": {"status": "live", "providerId": "lightricks/ltx-video", "task": "text-to-video"}}})
        if request.url.path.endswith("/predictions"):
            return httpx2.Response(201, json={"id": "p1", "status": "succeeded", "output": MP4_URL})
        if str(request.url) == MP4_URL:
            return httpx2.Response(200, content=tiny_mp4(), headers={"content-type": "video/mp4"})
        return httpx2.Response(404, json={"error": f"unexpected {request.url}"})

    transport = httpx2.MockTransport(handler)
    saved = (hub_http._GLOBAL_CLIENT_FACTORY, hub_http._GLOBAL_ASYNC_CLIENT_FACTORY)
    huggingface_hub.set_client_factory(lambda: httpx2.Client(transport=transport))
    huggingface_hub.set_async_client_factory(lambda: httpx2.AsyncClient(transport=transport))
    try:
        yield seen
    finally:
        huggingface_hub.set_client_factory(saved[0])
        huggingface_hub.set_async_client_factory(saved[1])


async def test_video_through_inference_providers(hub_mock: list[httpx2.Request]) -> None:
    hf = HuggingFaceProvider(image_models=MODELS, video_models=[VIDEO_MODEL], token=HF_TOKEN,
                             inference_provider="auto")
    video = GenerationRequest(kind=GenerationKind.VIDEO, prompt="a paper boat on a river", seed=9)
    outcome = await chain(hf).run(video)
    assert outcome.media.mime_type == "video/mp4" and outcome.media.data == tiny_mp4()
    prediction = next(r for r in hub_mock if r.url.path.endswith("/predictions"))
    assert prediction.headers["authorization"] == f"Bearer {HF_TOKEN}"
    assert json.loads(prediction.content)["input"]["prompt"] == "a paper boat on a river"

"""Inference Providers through the real huggingface_hub client, against a loopback Hub + router (fakes/hub.py).

Each test names the issue-17 item it holds: routes from the Hub's provider
mapping asked with the token (5), arguments fitted per route with a notice (1, 2),
the current defaults (3), breaker accounting (6), fal's safety flag (7), jobs
polled within the attempt and cancelled when abandoned (8).
"""

from __future__ import annotations

from collections.abc import Iterator

import anyio
import pytest

from fakes import Behavior, FakeHub, offer, route_hub_to
from sf_mcp.config import Settings
from sf_mcp.errors import GenerationError, PromptRefused
from sf_mcp.generation import ErrorClass, FallbackChain, GenerationKind, GenerationRequest
from sf_mcp.generation.providers.huggingface import HuggingFaceProvider
from sf_mcp.generation.providers.local import LocalRenderer

from .conftest import HF_TOKEN

pytestmark = pytest.mark.anyio

SCHNELL = "black-forest-labs/FLUX.1-schnell"
DEV = "black-forest-labs/FLUX.1-dev"
SD3 = "stabilityai/stable-diffusion-3-medium-diffusers"
SDXL = "stabilityai/stable-diffusion-xl-base-1.0"  # on the Hub, served by no provider any more
RUNWAY = "runwayml/stable-diffusion-v1-5"  # deleted from the Hub
WAN = "Wan-AI/Wan2.2-TI2V-5B"

# What hub-docs' task pages show served (text-to-image, text-to-video; August 2026).
ON_THE_HUB = {
    SCHNELL: [offer("nscale", SCHNELL), offer("fal-ai", "fal-ai/flux/schnell")],
    DEV: [offer("fal-ai", "fal-ai/flux/dev"), offer("replicate", "black-forest-labs/flux-dev")],
    SD3: [offer("hf-inference", SD3)],
    SDXL: [],
    WAN: [offer("fal-ai", "fal-ai/wan/v2.2-5b/text-to-video", "text-to-video"),
          offer("replicate", "wan-video/wan-2.2-5b-fast", "text-to-video")],
}
IMAGE = GenerationRequest(kind=GenerationKind.IMAGE, prompt="a lighthouse at dusk", width=1000, height=600,
                          steps=30, seed=7)
VIDEO = GenerationRequest(kind=GenerationKind.VIDEO, prompt="waves on a pier", seed=1)


@pytest.fixture
def hub(monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeHub]:
    for name in ("HF_TOKEN", "HUGGING_FACE_HUB_TOKEN", "SF_IMAGE_MODELS", "SF_VIDEO_MODELS", "SF_CONFIG_FILE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("HF_HUB_DISABLE_IMPLICIT_TOKEN", "1")
    with FakeHub(token=HF_TOKEN, models={k: list(v) for k, v in ON_THE_HUB.items()}) as fake, route_hub_to(fake):
        yield fake


def hf(models: list[str], *, preferred: str = "auto", token: str = HF_TOKEN, video: list[str] | None = None,
       ) -> HuggingFaceProvider:
    return HuggingFaceProvider(image_models=models, video_models=video or [WAN], token=token,
                               inference_provider=preferred, poll_interval_s=0.02)


def chain(*providers, timeout: float = 10.0, failures: int = 3) -> FallbackChain:  # type: ignore[no-untyped-def]
    return FallbackChain(list(providers), attempt_timeout_s=timeout, deadline_s=60, breaker_failures=failures,
                         breaker_cooldown_s=60)


# -- 3: the defaults are served, by the routes the docs show ----------------------------------------

async def test_default_models_route_as_the_docs_show(hub: FakeHub) -> None:
    defaults = Settings(_env_file=None).providers.image_models  # type: ignore[call-arg]
    assert defaults == [SCHNELL, DEV, SD3]
    provider = hf(defaults)
    routes = [(await provider.routes.choose(m, "text-to-image")).provider for m in defaults]
    assert routes == ["nscale", "fal-ai", "hf-inference"]
    for model in defaults:
        outcome = await chain(provider).run(GenerationRequest(kind=GenerationKind.IMAGE, prompt="a kite",
                                                              model=model))
        assert outcome.media.model == model and outcome.attempts[0].outcome == "ok"
    assert Settings(_env_file=None).providers.video_models[0] == WAN  # type: ignore[call-arg]


# -- 5: the mapping lookup, with the token, and what its failures mean ---------------------------

async def test_the_mapping_lookup_carries_the_token(hub: FakeHub) -> None:
    await chain(hf([SCHNELL])).run(IMAGE)
    lookups = [r for r in hub.calls("hub-api") if "/api/models/" in r.path]
    assert lookups and lookups[0].headers["authorization"] == f"Bearer {HF_TOKEN}"
    assert "inferenceProviderMapping" in lookups[0].path


async def test_an_empty_mapping_says_no_provider_serves_the_model(hub: FakeHub) -> None:
    outcome = await chain(hf([SDXL, SCHNELL])).run(IMAGE)
    first = outcome.attempts[0]
    assert first.error_class is ErrorClass.UNSUPPORTED
    assert first.message == f"no inference provider serves {SDXL}"
    assert outcome.media.model == SCHNELL


async def test_a_missing_model_is_not_a_bad_token(hub: FakeHub) -> None:
    outcome = await chain(hf([RUNWAY, SCHNELL])).run(IMAGE)
    first = outcome.attempts[0]
    assert first.error_class is ErrorClass.UNSUPPORTED and "not a model on the Hugging Face Hub" in first.message
    assert "token" not in first.message.split(",")[0]
    assert outcome.media.model == SCHNELL, "the next model still runs: the token is fine"


async def test_a_bad_token_is_config_and_stops_the_provider(hub: FakeHub) -> None:
    wrong = "hf_wrong_token_value_0000"
    with pytest.raises(GenerationError) as caught:
        await chain(hf([RUNWAY, SCHNELL], token=wrong)).run(IMAGE)
    (attempt,) = caught.value.attempts
    assert attempt.error_class is ErrorClass.CONFIG and "rejected the token" in (attempt.message or "")
    assert wrong not in str(caught.value)


async def test_a_model_the_configured_provider_does_not_serve_names_who_does(hub: FakeHub) -> None:
    outcome = await chain(hf([SD3, SCHNELL], preferred="nscale")).run(IMAGE)
    first = outcome.attempts[0]
    assert first.error_class is ErrorClass.UNSUPPORTED and "not served by nscale" in first.message
    assert "hf-inference" in first.message and outcome.media.model == SCHNELL


# -- 1, 2: arguments fitted per route, invalid parameters move on ------------------------------------

async def test_nscale_gets_a_size_string_no_steps_and_the_notice_says_so(hub: FakeHub) -> None:
    outcome = await chain(hf([SCHNELL])).run(IMAGE)
    (call,) = hub.calls(SCHNELL)
    assert call.path.startswith("/router.huggingface.co/nscale/v1/images/generations")
    assert call.json["size"] == "992x592" and "num_inference_steps" not in call.json
    assert (outcome.media.width, outcome.media.height) == (992, 592)
    notice = outcome.attempts[0].message or ""
    assert "steps (30) is not taken" in notice and "1000x600 -> 992x592" in notice


async def test_fal_schnell_steps_are_clamped_to_12_and_the_size_wrapped(hub: FakeHub) -> None:
    outcome = await chain(hf([SCHNELL], preferred="fal-ai")).run(IMAGE)
    (call,) = hub.calls(SCHNELL)
    assert call.path == "/router.huggingface.co/fal-ai/fal-ai/flux/schnell"
    assert call.json["num_inference_steps"] == 12
    assert call.json["image_size"] == {"width": 992, "height": 592} and call.json["seed"] == 7
    assert "steps 30 -> 12" in (outcome.attempts[0].message or "")


async def test_an_invalid_parameter_moves_on_and_is_recorded_as_such(hub: FakeHub) -> None:
    hub.program(SCHNELL, Behavior(status=422, body={"detail": [{"loc": ["body", "guidance_scale"],
                                                                "msg": "Input should be a valid number"}]}))
    outcome = await chain(hf([SCHNELL, DEV], preferred="fal-ai"), LocalRenderer()).run(IMAGE)
    assert [(a.model, a.error_class) for a in outcome.attempts] == [(SCHNELL, ErrorClass.INVALID_INPUT), (DEV, None)]
    assert "guidance_scale" in (outcome.attempts[0].message or "")


# -- 6: a model's own problems do not count against the provider; Retry-After -------------------------

async def test_stale_models_do_not_switch_hugging_face_off(hub: FakeHub) -> None:
    hub.program(SCHNELL, Behavior(status=503, body={"error": "Model is currently loading"}))
    fallback = chain(hf([SCHNELL, RUNWAY, SDXL]), LocalRenderer(), failures=2)
    first = await fallback.run(IMAGE)
    assert [a.error_class for a in first.attempts] == [ErrorClass.UNAVAILABLE, ErrorClass.UNSUPPORTED,
                                                       ErrorClass.UNSUPPORTED, None]
    assert fallback.breaker("huggingface").consecutive_failures == 1
    hub.reset()
    second = await fallback.run(IMAGE)
    assert second.media.model == SCHNELL, "Hugging Face is still on"


async def test_a_429_with_retry_after_holds_the_provider(hub: FakeHub) -> None:
    hub.program(SCHNELL, Behavior(status=429, body={"error": "rate limited"}, headers={"retry-after": "120"}))
    fallback = chain(hf([SCHNELL, DEV]), LocalRenderer())
    first = await fallback.run(IMAGE)
    assert [(a.model, a.outcome, a.error_class) for a in first.attempts[:2]] == [
        (SCHNELL, "error", ErrorClass.RATE_LIMITED), (DEV, "skipped", ErrorClass.CIRCUIT_OPEN)]
    assert 119 <= fallback.breaker("huggingface").retry_in_s() <= 120
    assert len(hub.calls(DEV)) == 0


# -- 7: fal's safety flag is a refusal, not a paid black square ------------------------------------

async def test_fal_has_nsfw_concepts_is_a_refusal(hub: FakeHub) -> None:
    hub.nsfw.add(DEV)
    with pytest.raises(PromptRefused) as caught:
        await chain(hf([DEV, SD3]), LocalRenderer()).run(IMAGE)
    assert "has_nsfw_concepts" in str(caught.value) and len(hub.calls(SD3)) == 0
    assert [a.error_class for a in caught.value.attempts] == [ErrorClass.REFUSED]


# -- 8: long jobs polled within the attempt; abandoned ones cancelled ---------------------------------

async def test_fal_video_is_polled_on_the_queue_until_completed(hub: FakeHub) -> None:
    hub.polls = 3
    outcome = await chain(hf([], preferred="fal-ai")).run(VIDEO)
    assert outcome.media.mime_type == "video/mp4" and outcome.media.model == WAN
    statuses = [r for r in hub.calls("jobs") if r.path.split("?")[0].endswith("/status")]
    assert len(statuses) == 3 and all("_subdomain=queue" in r.path for r in statuses)


async def abandon_once_polled(hub: FakeHub, fallback: FallbackChain) -> None:
    """Run a video generation and abandon it (as a timed-out attempt is) once the provider has been polled."""
    async with anyio.create_task_group() as tg:
        tg.start_soon(fallback.run, VIDEO)
        await anyio.to_thread.run_sync(hub.wait_for_calls, "jobs", 1)
        tg.cancel_scope.cancel()


async def test_an_abandoned_fal_job_is_cancelled_at_fal(hub: FakeHub) -> None:
    hub.polls = -1  # never completes
    await abandon_once_polled(hub, chain(hf([], preferred="fal-ai")))
    (cancel,) = [r for r in hub.calls("jobs") if r.method == "PUT"]
    assert cancel.path.split("?")[0].endswith(f"/requests/{hub.cancelled[0]}/cancel")
    assert cancel.headers["authorization"] == f"Bearer {HF_TOKEN}"


async def test_a_fal_job_past_the_attempt_timeout_is_a_timeout(hub: FakeHub) -> None:
    hub.polls = -1
    provider = hf([], preferred="fal-ai")
    await provider.routes.choose(WAN, "text-to-video")  # looked up before the clock starts: no stray lookup later
    with pytest.raises(GenerationError) as caught:
        await chain(provider, timeout=0.5).run(VIDEO)
    assert caught.value.attempts[0].error_class is ErrorClass.TIMEOUT


async def test_replicate_video_is_polled_past_prefer_wait(hub: FakeHub) -> None:
    hub.polls = 2
    video = GenerationRequest(kind=GenerationKind.VIDEO, prompt="waves on a pier", negative_prompt="people")
    outcome = await chain(hf([], preferred="replicate")).run(video)
    assert outcome.media.mime_type == "video/mp4"
    (create,) = hub.calls(WAN)
    assert create.json["input"]["prompt"] == "waves on a pier" and create.headers["prefer"] == "wait"
    assert create.json["input"]["negative_prompt"] == "people", "the model's schema takes one string"
    polls = [r for r in hub.calls("jobs") if r.method == "GET"]
    assert len(polls) == 2


async def test_an_abandoned_replicate_prediction_is_cancelled(hub: FakeHub) -> None:
    hub.polls = -1
    await abandon_once_polled(hub, chain(hf([], preferred="replicate")))
    assert len(hub.cancelled) == 1
    assert any(r.method == "POST" and r.path.endswith(f"/v1/predictions/{hub.cancelled[0]}/cancel")
               for r in hub.calls("jobs"))


async def test_no_credit_left_is_named_and_stops_the_provider(hub: FakeHub) -> None:
    hub.program(SCHNELL, Behavior(status=402, body={"error": "You have exceeded your monthly included credits"}))
    outcome = await chain(hf([SCHNELL, DEV]), LocalRenderer()).run(IMAGE)
    assert [(a.provider, a.error_class) for a in outcome.attempts] == [("huggingface", ErrorClass.CONFIG),
                                                                       ("local", None)]
    assert "credit is used up" in (outcome.attempts[0].message or "")
